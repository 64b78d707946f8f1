//! Back Office roles and role assignments in SQL.
//!
//! Like accounts, roles are not storefront data: these writes add no outbox rows. A role's permissions
//! are stored as a comma list; for a built-in role they are taken from `BUILTIN_ROLES` instead (see
//! `kontor_domain::acl`), so the stored list of a built-in role is informational only.

use super::{SqlDatabase, insert_all, storage_error};
use crate::entity::acl_audit::{acl_role, backoffice_user_role};
use crate::entity::backoffice_user;
use async_trait::async_trait;
use chrono::DateTime;
use kontor_core::ids::{RoleId, UserId};
use kontor_domain::acl::{AclRepository, BuiltinRole, PermissionSet, Role, UserWithRoles};
use kontor_domain::users::User;
use kontor_domain::{DomainError, FieldError};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait,
};
use std::collections::{HashMap, HashSet};

/// The JSON:API types named in not-found answers.
const ROLE_TYPE: &str = "roles";
const USER_TYPE: &str = "users";

fn role_of(row: acl_role::Model) -> Role {
    let builtin = row.builtin.then(|| BuiltinRole::find(&row.name)).flatten();
    let permissions = match builtin {
        Some(builtin) => builtin.permissions,
        None => stored_permissions(&row.name, &row.permissions),
    };
    Role {
        id: RoleId(row.id),
        name: row.name,
        description: row.description,
        permissions,
        builtin: row.builtin,
    }
}

/// Parses a stored comma list. A name this release does not know (written by a newer one, or of a
/// permission since removed) is skipped with a warning rather than making every role unreadable.
fn stored_permissions(role: &str, raw: &str) -> PermissionSet {
    raw.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .filter_map(|name| match name.parse() {
            Ok(permission) => Some(permission),
            Err(_) => {
                tracing::warn!(role, permission = name, "ignoring an unknown stored permission");
                None
            }
        })
        .collect()
}

fn user_of(row: backoffice_user::Model) -> User {
    User {
        id: UserId(row.id),
        email: row.email,
        is_active: row.is_active,
        created_at: DateTime::from_timestamp_micros(row.created_at).unwrap_or_default(),
    }
}

async fn role_row<C: ConnectionTrait>(connection: &C, id: RoleId) -> Result<acl_role::Model, DomainError> {
    acl_role::Entity::find_by_id(id.0)
        .one(connection)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| DomainError::not_found(ROLE_TYPE, id))
}

/// Locks the user's row until the transaction ends, so that two concurrent replacements of the same
/// user's roles run one after the other; fails with not-found for an unknown user.
async fn lock_user(transaction: &DatabaseTransaction, user: UserId) -> Result<(), DomainError> {
    let found = backoffice_user::Entity::find_by_id(user.0)
        .select_only()
        .column(backoffice_user::Column::Id)
        .lock_exclusive()
        .into_tuple::<i64>()
        .one(transaction)
        .await
        .map_err(storage_error)?;
    found.map(|_| ()).ok_or_else(|| DomainError::not_found(USER_TYPE, user))
}

#[async_trait]
impl AclRepository for SqlDatabase {
    async fn list_roles(&self) -> Result<Vec<Role>, DomainError> {
        // Seeded first, so id order puts the built-in roles first, in the order of `BUILTIN_ROLES`.
        let rows = acl_role::Entity::find()
            .order_by_asc(acl_role::Column::Id)
            .all(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(rows.into_iter().map(role_of).collect())
    }

    async fn find_role(&self, name: &str) -> Result<Option<Role>, DomainError> {
        let row = acl_role::Entity::find()
            .filter(acl_role::Column::Name.eq(name))
            .one(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(row.map(role_of))
    }

    async fn create_role(
        &self,
        name: &str,
        description: &str,
        permissions: &PermissionSet,
    ) -> Result<Role, DomainError> {
        let now = self.now_micros();
        let row = acl_role::ActiveModel {
            id: NotSet,
            name: Set(name.to_owned()),
            description: Set(description.to_owned()),
            permissions: Set(permissions.to_string()),
            builtin: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        };
        // A taken name fails on `uq_acl_role_name`, which maps to a conflict on `/name`.
        let saved = row.insert(self.connection()).await.map_err(storage_error)?;
        Ok(role_of(saved))
    }

    async fn update_role(
        &self,
        id: RoleId,
        description: &str,
        permissions: &PermissionSet,
    ) -> Result<Role, DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        let current = role_of(role_row(&transaction, id).await?);
        if current.builtin && current.permissions != *permissions {
            return Err(DomainError::field(
                "/permissions",
                format!(
                    "the permissions of the built-in role {} cannot be changed",
                    current.name
                ),
            ));
        }
        let row = acl_role::ActiveModel {
            id: Set(id.0),
            description: Set(description.to_owned()),
            permissions: Set(permissions.to_string()),
            updated_at: Set(self.now_micros()),
            ..Default::default()
        };
        let saved = row.update(&transaction).await.map_err(storage_error)?;
        transaction.commit().await.map_err(storage_error)?;
        Ok(role_of(saved))
    }

    async fn delete_role(&self, id: RoleId) -> Result<(), DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        let current = role_row(&transaction, id).await?;
        if current.builtin {
            return Err(DomainError::conflict(
                "/builtin",
                format!("the built-in role {} cannot be deleted", current.name),
            ));
        }
        // Explicit rather than left to ON DELETE CASCADE, so the outcome does not depend on SQLite's
        // foreign-key pragma of whoever opened the database.
        backoffice_user_role::Entity::delete_many()
            .filter(backoffice_user_role::Column::RoleId.eq(id.0))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        acl_role::Entity::delete_by_id(id.0)
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        transaction.commit().await.map_err(storage_error)?;
        Ok(())
    }

    async fn set_user_roles(&self, user: UserId, roles: &[RoleId]) -> Result<(), DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        lock_user(&transaction, user).await?;
        let mut wanted: Vec<i64> = roles.iter().map(|role| role.0).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let existing: HashSet<i64> = acl_role::Entity::find()
            .select_only()
            .column(acl_role::Column::Id)
            .filter(acl_role::Column::Id.is_in(wanted.iter().copied()))
            .into_tuple::<i64>()
            .all(&transaction)
            .await
            .map_err(storage_error)?
            .into_iter()
            .collect();
        let unknown: Vec<FieldError> = roles
            .iter()
            .enumerate()
            .filter(|(_, role)| !existing.contains(&role.0))
            .map(|(index, role)| FieldError::new(format!("/roles/{index}"), format!("unknown role {role}")))
            .collect();
        if !unknown.is_empty() {
            return Err(DomainError::Validation(unknown));
        }
        backoffice_user_role::Entity::delete_many()
            .filter(backoffice_user_role::Column::UserId.eq(user.0))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        let assignments = wanted
            .into_iter()
            .map(|role_id| backoffice_user_role::ActiveModel {
                user_id: Set(user.0),
                role_id: Set(role_id),
            })
            .collect();
        insert_all(&transaction, assignments).await?;
        transaction.commit().await.map_err(storage_error)?;
        Ok(())
    }

    async fn roles_of(&self, user: UserId) -> Result<Vec<Role>, DomainError> {
        let assigned = backoffice_user_role::Entity::find()
            .select_only()
            .column(backoffice_user_role::Column::RoleId)
            .filter(backoffice_user_role::Column::UserId.eq(user.0))
            .into_query();
        let rows = acl_role::Entity::find()
            .filter(acl_role::Column::Id.in_subquery(assigned))
            .order_by_asc(acl_role::Column::Name)
            .all(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(rows.into_iter().map(role_of).collect())
    }

    async fn list_users(&self, offset: u64, limit: u64) -> Result<(Vec<UserWithRoles>, u64), DomainError> {
        let total = backoffice_user::Entity::find()
            .count(self.connection())
            .await
            .map_err(storage_error)?;
        let rows = backoffice_user::Entity::find()
            .order_by_asc(backoffice_user::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(self.connection())
            .await
            .map_err(storage_error)?;
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        // The roles of the whole page in one join, however many users it holds.
        let mut role_names: HashMap<i64, Vec<String>> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let assignments: Vec<(i64, String)> = backoffice_user_role::Entity::find()
                .select_only()
                .column(backoffice_user_role::Column::UserId)
                .column(acl_role::Column::Name)
                .join(JoinType::InnerJoin, backoffice_user_role::Relation::Role.def())
                .filter(backoffice_user_role::Column::UserId.is_in(chunk.iter().copied()))
                .order_by_asc(acl_role::Column::Name)
                .into_tuple()
                .all(self.connection())
                .await
                .map_err(storage_error)?;
            for (user_id, name) in assignments {
                role_names.entry(user_id).or_default().push(name);
            }
        }
        let users = rows
            .into_iter()
            .map(|row| UserWithRoles {
                roles: role_names.remove(&row.id).unwrap_or_default(),
                user: user_of(row),
            })
            .collect();
        Ok((users, total))
    }

    async fn set_user_active(&self, user: UserId, active: bool) -> Result<(), DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        let updated = backoffice_user::Entity::update_many()
            .col_expr(backoffice_user::Column::IsActive, Expr::value(active))
            .col_expr(backoffice_user::Column::UpdatedAt, Expr::value(self.now_micros()))
            .filter(backoffice_user::Column::Id.eq(user.0))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        // MariaDB counts changed rows only, so zero may also mean "already so": look before failing.
        if updated.rows_affected == 0 {
            let exists = backoffice_user::Entity::find_by_id(user.0)
                .count(&transaction)
                .await
                .map_err(storage_error)?;
            if exists == 0 {
                return Err(DomainError::not_found(USER_TYPE, user));
            }
        }
        transaction.commit().await.map_err(storage_error)?;
        Ok(())
    }

    async fn find_user(&self, user: UserId) -> Result<Option<User>, DomainError> {
        let row = backoffice_user::Entity::find_by_id(user.0)
            .one(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(row.map(user_of))
    }
}
