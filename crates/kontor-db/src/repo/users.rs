//! Back Office users and their API tokens in SQL.
//!
//! Accounts are not storefront data, so these writes add no outbox rows. Only a token's SHA-256 is
//! stored; a token counts while its `revoked_at` is null and its user is active.

use super::{SqlDatabase, storage_error};
use crate::entity::{api_token, backoffice_user};
use async_trait::async_trait;
use chrono::DateTime;
use kontor_core::ids::{ApiTokenId, UserId};
use kontor_domain::DomainError;
use kontor_domain::users::{Email, User, UserRepository};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait};

/// The JSON:API types named in not-found answers.
const USER_TYPE: &str = "users";
const API_TOKEN_TYPE: &str = "api-tokens";

fn user_of(row: backoffice_user::Model) -> User {
    User {
        id: UserId(row.id),
        email: row.email,
        is_active: row.is_active,
        created_at: DateTime::from_timestamp_micros(row.created_at).unwrap_or_default(),
    }
}

#[async_trait]
impl UserRepository for SqlDatabase {
    async fn create_user(&self, email: &Email, password_hash: &str) -> Result<User, DomainError> {
        let now = self.now_micros();
        let row = backoffice_user::ActiveModel {
            id: NotSet,
            email: Set(email.as_str().to_owned()),
            password_hash: Set(password_hash.to_owned()),
            is_active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        };
        // A taken address fails on `uq_backoffice_user_email`, which maps to a conflict on `/email`.
        let saved = row.insert(self.connection()).await.map_err(storage_error)?;
        Ok(user_of(saved))
    }

    async fn find_user_by_email(&self, email: &Email) -> Result<Option<(User, String)>, DomainError> {
        let row = backoffice_user::Entity::find()
            .filter(backoffice_user::Column::Email.eq(email.as_str()))
            .one(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(row.map(|mut row| {
            let hash = std::mem::take(&mut row.password_hash);
            (user_of(row), hash)
        }))
    }

    async fn create_api_token(&self, user: UserId, name: &str, token_hash: &str) -> Result<ApiTokenId, DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        // Checked first so that an unknown user is a not-found rather than a foreign-key conflict.
        let users = backoffice_user::Entity::find()
            .filter(backoffice_user::Column::Id.eq(user.0))
            .count(&transaction)
            .await
            .map_err(storage_error)?;
        if users == 0 {
            return Err(DomainError::not_found(USER_TYPE, user.0));
        }
        let row = api_token::ActiveModel {
            id: NotSet,
            user_id: Set(user.0),
            name: Set(name.to_owned()),
            token_hash: Set(token_hash.to_owned()),
            created_at: Set(self.now_micros()),
            revoked_at: Set(None),
        };
        let saved = row.insert(&transaction).await.map_err(storage_error)?;
        transaction.commit().await.map_err(storage_error)?;
        Ok(ApiTokenId(saved.id))
    }

    async fn find_user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>, DomainError> {
        // One indexed read per request: the token lookup is a subquery of the user lookup.
        let owners = api_token::Entity::find()
            .select_only()
            .column(api_token::Column::UserId)
            .filter(api_token::Column::TokenHash.eq(token_hash))
            .filter(api_token::Column::RevokedAt.is_null())
            .into_query();
        let row = backoffice_user::Entity::find()
            .filter(backoffice_user::Column::Id.in_subquery(owners))
            .filter(backoffice_user::Column::IsActive.eq(true))
            .one(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(row.map(user_of))
    }

    async fn revoke_api_token(&self, id: ApiTokenId) -> Result<(), DomainError> {
        let (transaction, _turn) = self.write_transaction().await?;
        // Only a live token is touched, so revoking twice keeps the first revocation time.
        let revoked = api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(self.now_micros()))
            .filter(api_token::Column::Id.eq(id.0))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        if revoked.rows_affected == 0 {
            let exists = api_token::Entity::find()
                .filter(api_token::Column::Id.eq(id.0))
                .count(&transaction)
                .await
                .map_err(storage_error)?;
            if exists == 0 {
                return Err(DomainError::not_found(API_TOKEN_TYPE, id.0));
            }
        }
        transaction.commit().await.map_err(storage_error)?;
        Ok(())
    }
}
