//! SeaORM entities of the scheduler; the tables come from kontor-db's migration
//! `m20261125_000008_scheduler`. Times are epoch microseconds.

/// `scheduler_lease`: who is the active scheduler, until when.
pub mod lease {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scheduler_lease")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub holder: String,
        pub expires_at: i64,
        pub renewed_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `scheduler_run`: one row per run, skipped ones included.
pub mod run {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scheduler_run")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub job: String,
        pub command: String,
        pub node: String,
        pub scheduled_for: Option<i64>,
        pub started_at: i64,
        pub finished_at: Option<i64>,
        /// `running`, `succeeded`, `failed`, `timed_out` or `skipped`.
        pub outcome: String,
        pub output: Option<String>,
        pub error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `scheduler_job_state`: the last handled fire time and the run in progress, per job.
pub mod job_state {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scheduler_job_state")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub job: String,
        /// Every fire time up to and including this one has been handled (run, or skipped).
        pub last_fire_at: i64,
        pub running_run_id: Option<i64>,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
