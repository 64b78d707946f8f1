//! SeaORM entities of the roles and audit log tables (migration `m20261125_000010_acl_audit`).

pub mod acl_role {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "acl_role")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub description: String,
        /// Comma-separated permission names (`catalog.read,catalog.write`).
        pub permissions: String,
        pub builtin: bool,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod backoffice_user_role {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "backoffice_user_role")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: i64,
    }

    /// The role of an assignment, so a user list reads role names with one join.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::acl_role::Entity",
            from = "Column::RoleId",
            to = "super::acl_role::Column::Id"
        )]
        Role,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_log {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: i64,
        /// No foreign key: entries outlive the users they mention.
        pub user_id: Option<i64>,
        pub user_email: Option<String>,
        pub action: String,
        pub method: String,
        pub target: String,
        pub resource_type: Option<String>,
        pub resource_id: Option<String>,
        /// `allowed`, `denied` or `failed`.
        pub outcome: String,
        /// A JSON document, secrets already stripped.
        pub detail: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
