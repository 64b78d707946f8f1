//! SeaORM entities of the carts tables (`cart`, `cart_item`, `cart_idempotency_key`); see the carts
//! migration for the meaning of `default_owner_key` and the cart idempotency migration for the keys.

pub mod cart {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cart")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub uuid: String,
        pub store_id: i64,
        pub customer_reference: Option<String>,
        pub anonymous_id: Option<String>,
        pub default_owner_key: Option<String>,
        pub name: String,
        pub currency_id: i64,
        pub price_mode: String,
        pub is_default: bool,
        pub created_at: i64,
        pub updated_at: i64,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cart_item {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cart_item")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub cart_id: i64,
        pub sku: String,
        pub group_key: String,
        pub quantity: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cart_idempotency_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cart_idempotency_key")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub owner_key: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub idempotency_key: String,
        pub fingerprint: String,
        pub cart_uuid: String,
        pub reply: Option<String>,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
