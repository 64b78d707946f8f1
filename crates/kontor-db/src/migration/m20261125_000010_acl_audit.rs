//! Back Office roles and the audit log (`kontor_domain::acl`).
//!
//! - `acl_role`: a named role; `permissions` is the comma-separated list of permission names
//!   (`catalog.read,catalog.write`), `builtin` marks the four roles seeded here from
//!   `kontor_domain::acl::BUILTIN_ROLES`. Unique by name (`uq_acl_role_name` → `/name`).
//! - `backoffice_user_role`: which user has which role; rows go with their user or role.
//! - `audit_log`: append-only; `at` in epoch microseconds. `user_id` has no foreign key on purpose: the
//!   log outlives the users it mentions. Indexed for the log's own filters: by time, by resource and by
//!   user over time.
//!
//! Every user that exists when this runs becomes an administrator, so an upgraded installation keeps
//! the access it had before roles existed. Later changes to the built-in roles need a migration of
//! their own: this one seeds whatever the list holds when it runs on a fresh database.

use super::schema::TableBuilder;
use kontor_domain::acl::{ADMINISTRATOR, BUILTIN_ROLES};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000010_acl_audit"
    }
}

/// Tables in creation order; dropped in reverse.
const TABLES: &[&str] = &["acl_role", "backoffice_user_role", "audit_log"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::Cascade;
        let backend = manager.get_database_backend();
        TableBuilder::new(backend, "acl_role")
            .id()
            .string("name", 64)
            .string("description", 500)
            .text("permissions")
            .boolean("builtin", false)
            .timestamps()
            .unique(&["name"])
            .create(manager)
            .await?;

        TableBuilder::new(backend, "backoffice_user_role")
            .reference("user_id", "backoffice_user", Cascade)
            .reference("role_id", "acl_role", Cascade)
            .primary_key(&["user_id", "role_id"])
            // The primary key serves lookups by user; this one the cascade from a deleted role.
            .index(&["role_id"])
            .create(manager)
            .await?;

        TableBuilder::new(backend, "audit_log")
            .id()
            .timestamp("at")
            .big_integer_null("user_id")
            .string_null("user_email", 254)
            .string("action", 100)
            .string("method", 16)
            .string("target", 1024)
            .string_null("resource_type", 64)
            .string_null("resource_id", 255)
            .string("outcome", 16)
            .text("detail")
            .index(&["at"])
            .index(&["resource_type", "resource_id"])
            .index(&["user_id", "at"])
            .create(manager)
            .await?;

        let now = chrono::Utc::now().timestamp_micros();
        let mut seed_roles = Query::insert();
        seed_roles.into_table("acl_role").columns([
            "name",
            "description",
            "permissions",
            "builtin",
            "created_at",
            "updated_at",
        ]);
        for role in &BUILTIN_ROLES {
            seed_roles
                .values([
                    role.name.into(),
                    role.description.into(),
                    role.permissions.to_string().into(),
                    true.into(),
                    now.into(),
                    now.into(),
                ])
                .map_err(|error| DbErr::Custom(format!("seed role {}: {error}", role.name)))?;
        }
        manager.exec_stmt(seed_roles).await?;

        // INSERT … SELECT over a cross join: one statement however many users there are.
        let administrators = Query::select()
            .column(("backoffice_user", "id"))
            .column(("acl_role", "id"))
            .from("backoffice_user")
            .cross_join("acl_role")
            .and_where(Expr::col(("acl_role", "name")).eq(ADMINISTRATOR))
            .to_owned();
        let mut grant_existing = Query::insert();
        grant_existing
            .into_table("backoffice_user_role")
            .columns(["user_id", "role_id"])
            .select_from(administrators)
            .map_err(|error| DbErr::Custom(format!("grant administrator to existing users: {error}")))?;
        manager.exec_stmt(grant_existing).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
