//! SeaORM entities of the table queue; the tables are created by kontor-db's migration
//! `m20261125_000002_queue` (the one migration history of the application database).

/// `queue_message`: ready, delayed and leased messages.
pub mod message {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "queue_message")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub queue: String,
        pub payload: Vec<u8>,
        pub attempt: i32,
        pub enqueued_at: i64,
        /// When the message may be claimed; while leased, the lease expiry.
        pub available_at: i64,
        /// Set by the claim that holds the message; acks and nacks must present it.
        pub lease_token: Option<i64>,
        pub first_failed_at: Option<i64>,
        pub last_failed_at: Option<i64>,
        pub last_error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `queue_dead_letter`: the `<queue>.error` queues.
pub mod dead_letter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "queue_dead_letter")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub queue: String,
        pub payload: Vec<u8>,
        pub attempts: i32,
        pub reason: String,
        pub enqueued_at: i64,
        pub first_failed_at: i64,
        pub last_failed_at: i64,
        pub dead_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `queue_subscription`: which queues receive a copy of what is published to a topic.
pub mod subscription {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "queue_subscription")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub topic: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub queue: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
