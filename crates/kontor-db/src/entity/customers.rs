//! SeaORM entities of the customers tables (migration `m20261125_000004_customers`).

pub mod customer_reference_sequence {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_reference_sequence")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub store_id: i64,
        pub last_number: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod customer {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub customer_reference: String,
        pub store_id: i64,
        /// Lower-case; a unique placeholder once the account is anonymised.
        pub email: String,
        pub salutation: String,
        pub first_name: String,
        pub last_name: String,
        pub gender: Option<String>,
        pub date_of_birth: Option<String>,
        pub password_hash: String,
        /// Set when the account was anonymised; such rows are never found by reference or e-mail.
        pub deleted_at: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod customer_address {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_address")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The resource id clients see.
        pub uuid: String,
        pub customer_id: i64,
        pub salutation: String,
        pub first_name: String,
        pub last_name: String,
        pub address1: String,
        pub address2: Option<String>,
        pub address3: Option<String>,
        pub zip_code: String,
        pub city: String,
        pub country: String,
        pub iso2_code: String,
        pub company: Option<String>,
        pub phone: Option<String>,
        pub is_default_shipping: bool,
        pub is_default_billing: bool,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod customer_refresh_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_refresh_token")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub customer_id: i64,
        /// SHA-256 hex of the token.
        pub token_hash: String,
        pub created_at: i64,
        pub expires_at: i64,
        /// Set when the token was rotated; presenting it again is a theft signal.
        pub used_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod customer_password_reset {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_password_reset")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub customer_id: i64,
        /// SHA-256 hex of the key.
        pub key_hash: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub used_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod customer_login_failure {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_login_failure")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The e-mail as presented, lower-cased: unknown accounts are throttled too.
        pub email: String,
        pub client_ip: Option<String>,
        pub failed_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
