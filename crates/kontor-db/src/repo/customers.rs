//! Customer accounts in SQL: the `CustomerRepository` port of `kontor_domain::customer`.
//!
//! Every write runs in one write transaction. Customers are not storefront data, so no outbox rows.
//! Conditional updates (`… WHERE used_at IS NULL AND expires_at > now`) decide single use of refresh
//! tokens and reset keys, so two concurrent presentations of the same secret cannot both succeed on
//! any engine. Anonymised customers keep their row (orders refer to the reference) but are never found.

use super::{SqlDatabase, WriteTurn, contains_ignoring_case, starts_with, storage_error};
use crate::entity::customers::{
    customer, customer_address, customer_login_failure, customer_password_reset, customer_reference_sequence,
    customer_refresh_token,
};
use crate::entity::store;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use kontor_domain::DomainError;
use kontor_domain::customer::{
    CustomerId, CustomerRecord, CustomerRepository, LoginFailures, LoginSuccess, NewCustomer, ProfileFields,
    RefreshRotation,
};
use kontor_domain::gateway::Address;
use kontor_domain::users::Email;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, SqlErr,
};

/// The JSON:API type named in not-found errors.
const CUSTOMER_TYPE: &str = "customers";
/// Failed sign-ins older than this are deleted when new ones are recorded; far beyond any window.
const LOGIN_FAILURE_RETENTION_HOURS: i64 = 24;

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn time_of(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// A unique violation on the e-mail index is a taken address; anything else is a storage error.
fn customer_error(error: DbErr) -> DomainError {
    if let Some(SqlErr::UniqueConstraintViolation(message)) = error.sql_err()
        && (message.contains("uq_customer_email") || message.contains("customer.email"))
    {
        return DomainError::conflict("/email", "this e-mail address is already taken");
    }
    storage_error(error)
}

fn record_of(row: customer::Model) -> Result<CustomerRecord, DomainError> {
    let email = Email::parse(&row.email)
        .map_err(|_| DomainError::Storage(format!("stored e-mail of customer {} is invalid", row.id)))?;
    Ok(CustomerRecord {
        id: CustomerId(row.id),
        reference: row.customer_reference,
        profile: ProfileFields {
            email,
            salutation: row.salutation,
            first_name: row.first_name,
            last_name: row.last_name,
            gender: row.gender,
            date_of_birth: row.date_of_birth,
        },
        password_hash: row.password_hash,
        created_at: time_of(row.created_at),
        updated_at: time_of(row.updated_at),
    })
}

fn address_of(row: customer_address::Model) -> Address {
    Address {
        id: row.uuid,
        salutation: row.salutation,
        first_name: row.first_name,
        last_name: row.last_name,
        address1: row.address1,
        address2: row.address2,
        address3: row.address3,
        zip_code: row.zip_code,
        city: row.city,
        country: row.country,
        iso2_code: row.iso2_code,
        company: row.company,
        phone: row.phone,
        is_default_shipping: row.is_default_shipping,
        is_default_billing: row.is_default_billing,
    }
}

/// The columns of an address that its owner edits.
fn address_values(address: &Address, row: &mut customer_address::ActiveModel) {
    row.salutation = Set(address.salutation.clone());
    row.first_name = Set(address.first_name.clone());
    row.last_name = Set(address.last_name.clone());
    row.address1 = Set(address.address1.clone());
    row.address2 = Set(address.address2.clone());
    row.address3 = Set(address.address3.clone());
    row.zip_code = Set(address.zip_code.clone());
    row.city = Set(address.city.clone());
    row.country = Set(address.country.clone());
    row.iso2_code = Set(address.iso2_code.clone());
    row.company = Set(address.company.clone());
    row.phone = Set(address.phone.clone());
    row.is_default_shipping = Set(address.is_default_shipping);
    row.is_default_billing = Set(address.is_default_billing);
}

/// Live customers only.
fn live() -> sea_orm::Select<customer::Entity> {
    customer::Entity::find().filter(customer::Column::DeletedAt.is_null())
}

async fn commit(transaction: DatabaseTransaction, _turn: WriteTurn) -> Result<(), DomainError> {
    transaction.commit().await.map_err(storage_error)
}

/// Revokes every live refresh token of a customer.
async fn revoke_tokens_of(transaction: &DatabaseTransaction, customer: i64, now: i64) -> Result<(), DomainError> {
    customer_refresh_token::Entity::update_many()
        .col_expr(customer_refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(customer_refresh_token::Column::CustomerId.eq(customer))
        .filter(customer_refresh_token::Column::RevokedAt.is_null())
        .exec(transaction)
        .await
        .map_err(storage_error)?;
    Ok(())
}

/// Sets the password hash of a live customer; `false` when there is none.
async fn set_password_hash(
    transaction: &DatabaseTransaction,
    customer: i64,
    password_hash: &str,
    now: i64,
) -> Result<bool, DomainError> {
    let updated = customer::Entity::update_many()
        .col_expr(customer::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(customer::Column::UpdatedAt, Expr::value(now))
        .filter(customer::Column::Id.eq(customer))
        .filter(customer::Column::DeletedAt.is_null())
        .exec(transaction)
        .await
        .map_err(storage_error)?;
    Ok(updated.rows_affected > 0)
}

/// Clears a default flag on the customer's addresses other than `except`.
async fn clear_default(
    transaction: &DatabaseTransaction,
    customer: i64,
    except: Option<i64>,
    column: customer_address::Column,
) -> Result<(), DomainError> {
    let mut update = customer_address::Entity::update_many()
        .col_expr(column, Expr::value(false))
        .filter(customer_address::Column::CustomerId.eq(customer))
        .filter(column.eq(true));
    if let Some(except) = except {
        update = update.filter(customer_address::Column::Id.ne(except));
    }
    update.exec(transaction).await.map_err(storage_error)?;
    Ok(())
}

async fn clear_other_defaults(
    transaction: &DatabaseTransaction,
    customer: i64,
    except: Option<i64>,
    address: &Address,
) -> Result<(), DomainError> {
    if address.is_default_shipping {
        clear_default(
            transaction,
            customer,
            except,
            customer_address::Column::IsDefaultShipping,
        )
        .await?;
    }
    if address.is_default_billing {
        clear_default(
            transaction,
            customer,
            except,
            customer_address::Column::IsDefaultBilling,
        )
        .await?;
    }
    Ok(())
}

/// The next reference of a store: its sequence advanced past numbers already taken (by imports).
async fn next_reference(transaction: &DatabaseTransaction, store_id: i64, store: &str) -> Result<String, DomainError> {
    let first = customer_reference_sequence::ActiveModel {
        id: NotSet,
        store_id: Set(store_id),
        last_number: Set(0),
    };
    customer_reference_sequence::Entity::insert(first)
        .on_conflict(
            OnConflict::column(customer_reference_sequence::Column::StoreId)
                .do_nothing_on([customer_reference_sequence::Column::StoreId])
                .to_owned(),
        )
        .exec_without_returning(transaction)
        .await
        .map_err(storage_error)?;
    loop {
        // The update locks the store's sequence row until commit, so concurrent registrations queue.
        customer_reference_sequence::Entity::update_many()
            .col_expr(
                customer_reference_sequence::Column::LastNumber,
                Expr::col(customer_reference_sequence::Column::LastNumber).add(1),
            )
            .filter(customer_reference_sequence::Column::StoreId.eq(store_id))
            .exec(transaction)
            .await
            .map_err(storage_error)?;
        let number: Option<i64> = customer_reference_sequence::Entity::find()
            .select_only()
            .column(customer_reference_sequence::Column::LastNumber)
            .filter(customer_reference_sequence::Column::StoreId.eq(store_id))
            .into_tuple()
            .one(transaction)
            .await
            .map_err(storage_error)?;
        let number = number.ok_or_else(|| DomainError::Storage(format!("no reference sequence for store {store}")))?;
        let reference = format!("{store}--{number}");
        let taken = customer::Entity::find()
            .filter(customer::Column::CustomerReference.eq(reference.as_str()))
            .count(transaction)
            .await
            .map_err(storage_error)?;
        if taken == 0 {
            return Ok(reference);
        }
    }
}

#[async_trait]
impl CustomerRepository for SqlDatabase {
    async fn store_exists(&self, store_name: &str) -> Result<bool, DomainError> {
        let count = store::Entity::find()
            .filter(store::Column::Name.eq(store_name))
            .count(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(count > 0)
    }

    async fn create_customer(&self, new: &NewCustomer, now: DateTime<Utc>) -> Result<CustomerRecord, DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let store_id: Option<i64> = store::Entity::find()
            .select_only()
            .column(store::Column::Id)
            .filter(store::Column::Name.eq(new.store.as_str()))
            .into_tuple()
            .one(&transaction)
            .await
            .map_err(storage_error)?;
        let store_id = store_id.ok_or_else(|| DomainError::field("/store", "unknown store"))?;
        let reference = next_reference(&transaction, store_id, &new.store).await?;
        let profile = &new.profile;
        let row = customer::ActiveModel {
            id: NotSet,
            customer_reference: Set(reference),
            store_id: Set(store_id),
            email: Set(profile.email.as_str().to_owned()),
            salutation: Set(profile.salutation.clone()),
            first_name: Set(profile.first_name.clone()),
            last_name: Set(profile.last_name.clone()),
            gender: Set(profile.gender.clone()),
            date_of_birth: Set(profile.date_of_birth.clone()),
            password_hash: Set(new.password_hash.clone()),
            deleted_at: Set(None),
            created_at: Set(micros(now)),
            updated_at: Set(micros(now)),
        }
        .insert(&transaction)
        .await
        .map_err(customer_error)?;
        commit(transaction, turn).await?;
        record_of(row)
    }

    async fn find_customer_by_reference(&self, reference: &str) -> Result<Option<CustomerRecord>, DomainError> {
        let row = live()
            .filter(customer::Column::CustomerReference.eq(reference))
            .one(self.connection())
            .await
            .map_err(storage_error)?;
        row.map(record_of).transpose()
    }

    async fn find_customer_by_email(&self, email: &Email) -> Result<Option<CustomerRecord>, DomainError> {
        let row = live()
            .filter(customer::Column::Email.eq(email.as_str()))
            .one(self.connection())
            .await
            .map_err(storage_error)?;
        row.map(record_of).transpose()
    }

    async fn list_customers(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<CustomerRecord>, u64), DomainError> {
        let mut matching = live();
        if let Some(search) = search.map(str::trim).filter(|search| !search.is_empty()) {
            // References are stored upper-case (`DE--7`); e-mail addresses and names in any case.
            matching = matching.filter(
                Condition::any()
                    .add(contains_ignoring_case(customer::Column::Email, search))
                    .add(contains_ignoring_case(customer::Column::FirstName, search))
                    .add(contains_ignoring_case(customer::Column::LastName, search))
                    .add(starts_with(customer::Column::CustomerReference, &search.to_uppercase())),
            );
        }
        let total = matching.clone().count(self.connection()).await.map_err(storage_error)?;
        let rows = matching
            .order_by_desc(customer::Column::CreatedAt)
            .order_by_desc(customer::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(self.connection())
            .await
            .map_err(storage_error)?;
        let customers = rows.into_iter().map(record_of).collect::<Result<Vec<_>, _>>()?;
        Ok((customers, total))
    }

    async fn update_customer(
        &self,
        id: CustomerId,
        profile: &ProfileFields,
        now: DateTime<Utc>,
    ) -> Result<CustomerRecord, DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let updated = customer::Entity::update_many()
            .col_expr(customer::Column::Email, Expr::value(profile.email.as_str()))
            .col_expr(customer::Column::Salutation, Expr::value(profile.salutation.as_str()))
            .col_expr(customer::Column::FirstName, Expr::value(profile.first_name.as_str()))
            .col_expr(customer::Column::LastName, Expr::value(profile.last_name.as_str()))
            .col_expr(customer::Column::Gender, Expr::value(profile.gender.clone()))
            .col_expr(
                customer::Column::DateOfBirth,
                Expr::value(profile.date_of_birth.clone()),
            )
            .col_expr(customer::Column::UpdatedAt, Expr::value(micros(now)))
            .filter(customer::Column::Id.eq(id.0))
            .filter(customer::Column::DeletedAt.is_null())
            .exec(&transaction)
            .await
            .map_err(customer_error)?;
        if updated.rows_affected == 0 {
            return Err(DomainError::not_found(CUSTOMER_TYPE, id));
        }
        let row = customer::Entity::find_by_id(id.0)
            .one(&transaction)
            .await
            .map_err(storage_error)?
            .ok_or_else(|| DomainError::not_found(CUSTOMER_TYPE, id))?;
        commit(transaction, turn).await?;
        record_of(row)
    }

    async fn anonymise_customer(
        &self,
        id: CustomerId,
        placeholder_email: &str,
        unusable_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let Some(row) = live()
            .filter(customer::Column::Id.eq(id.0))
            .one(&transaction)
            .await
            .map_err(storage_error)?
        else {
            return Err(DomainError::not_found(CUSTOMER_TYPE, id));
        };
        let now = micros(now);
        let no_text: Option<String> = None;
        customer::Entity::update_many()
            .col_expr(customer::Column::Email, Expr::value(placeholder_email))
            .col_expr(customer::Column::Salutation, Expr::value(""))
            .col_expr(customer::Column::FirstName, Expr::value(""))
            .col_expr(customer::Column::LastName, Expr::value(""))
            .col_expr(customer::Column::Gender, Expr::value(no_text.clone()))
            .col_expr(customer::Column::DateOfBirth, Expr::value(no_text))
            .col_expr(customer::Column::PasswordHash, Expr::value(unusable_hash))
            .col_expr(customer::Column::DeletedAt, Expr::value(now))
            .col_expr(customer::Column::UpdatedAt, Expr::value(now))
            .filter(customer::Column::Id.eq(id.0))
            .exec(&transaction)
            .await
            .map_err(customer_error)?;
        revoke_tokens_of(&transaction, id.0, now).await?;
        customer_password_reset::Entity::delete_many()
            .filter(customer_password_reset::Column::CustomerId.eq(id.0))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        customer_address::Entity::delete_many()
            .filter(customer_address::Column::CustomerId.eq(id.0))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        customer_login_failure::Entity::delete_many()
            .filter(customer_login_failure::Column::Email.eq(row.email))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        commit(transaction, turn).await
    }

    async fn change_password(
        &self,
        id: CustomerId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let now = micros(now);
        if !set_password_hash(&transaction, id.0, password_hash, now).await? {
            return Err(DomainError::not_found(CUSTOMER_TYPE, id));
        }
        revoke_tokens_of(&transaction, id.0, now).await?;
        commit(transaction, turn).await
    }

    async fn login_failures_since(
        &self,
        email: &str,
        client_ip: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<LoginFailures, DomainError> {
        let since = micros(since);
        let by_account = customer_login_failure::Entity::find()
            .filter(customer_login_failure::Column::Email.eq(email))
            .filter(customer_login_failure::Column::FailedAt.gte(since))
            .count(self.connection())
            .await
            .map_err(storage_error)?;
        let by_client = match client_ip {
            Some(ip) => customer_login_failure::Entity::find()
                .filter(customer_login_failure::Column::ClientIp.eq(ip))
                .filter(customer_login_failure::Column::FailedAt.gte(since))
                .count(self.connection())
                .await
                .map_err(storage_error)?,
            None => 0,
        };
        Ok(LoginFailures { by_account, by_client })
    }

    async fn record_login_failure(
        &self,
        email: &str,
        client_ip: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        customer_login_failure::ActiveModel {
            id: NotSet,
            email: Set(email.to_owned()),
            client_ip: Set(client_ip.map(str::to_owned)),
            failed_at: Set(micros(at)),
        }
        .insert(&transaction)
        .await
        .map_err(storage_error)?;
        let forgotten = at - Duration::hours(LOGIN_FAILURE_RETENTION_HOURS);
        customer_login_failure::Entity::delete_many()
            .filter(customer_login_failure::Column::FailedAt.lt(micros(forgotten)))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        commit(transaction, turn).await
    }

    async fn record_login_success(&self, success: LoginSuccess<'_>) -> Result<(), DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let now = micros(success.now);
        customer_login_failure::Entity::delete_many()
            .filter(customer_login_failure::Column::Email.eq(success.email))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        if let Some(password_hash) = success.rehashed_password
            && !set_password_hash(&transaction, success.customer.0, password_hash, now).await?
        {
            return Err(DomainError::not_found(CUSTOMER_TYPE, success.customer));
        }
        customer_refresh_token::ActiveModel {
            id: NotSet,
            customer_id: Set(success.customer.0),
            token_hash: Set(success.refresh_token_hash.to_owned()),
            created_at: Set(now),
            expires_at: Set(micros(success.refresh_expires_at)),
            used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&transaction)
        .await
        .map_err(storage_error)?;
        commit(transaction, turn).await
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        new_hash: &str,
        new_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RefreshRotation, DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let now = micros(now);
        // Only one presentation of a live token can flip `used_at`; every other one sees 0 rows.
        let claimed = customer_refresh_token::Entity::update_many()
            .col_expr(customer_refresh_token::Column::UsedAt, Expr::value(now))
            .filter(customer_refresh_token::Column::TokenHash.eq(presented_hash))
            .filter(customer_refresh_token::Column::UsedAt.is_null())
            .filter(customer_refresh_token::Column::RevokedAt.is_null())
            .filter(customer_refresh_token::Column::ExpiresAt.gt(now))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        let Some(token) = customer_refresh_token::Entity::find()
            .filter(customer_refresh_token::Column::TokenHash.eq(presented_hash))
            .one(&transaction)
            .await
            .map_err(storage_error)?
        else {
            return Ok(RefreshRotation::Invalid);
        };
        if claimed.rows_affected == 0 {
            if token.used_at.is_none() {
                return Ok(RefreshRotation::Invalid);
            }
            revoke_tokens_of(&transaction, token.customer_id, now).await?;
            commit(transaction, turn).await?;
            return Ok(RefreshRotation::Reused);
        }
        let reference: Option<String> = live()
            .select_only()
            .column(customer::Column::CustomerReference)
            .filter(customer::Column::Id.eq(token.customer_id))
            .into_tuple()
            .one(&transaction)
            .await
            .map_err(storage_error)?;
        let Some(customer_reference) = reference else {
            return Ok(RefreshRotation::Invalid);
        };
        customer_refresh_token::ActiveModel {
            id: NotSet,
            customer_id: Set(token.customer_id),
            token_hash: Set(new_hash.to_owned()),
            created_at: Set(now),
            expires_at: Set(micros(new_expires_at)),
            used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&transaction)
        .await
        .map_err(storage_error)?;
        commit(transaction, turn).await?;
        Ok(RefreshRotation::Rotated { customer_reference })
    }

    async fn revoke_refresh_token(
        &self,
        customer_reference: &str,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let owners = customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::CustomerReference.eq(customer_reference))
            .into_query();
        customer_refresh_token::Entity::update_many()
            .col_expr(customer_refresh_token::Column::RevokedAt, Expr::value(micros(now)))
            .filter(customer_refresh_token::Column::TokenHash.eq(token_hash))
            .filter(customer_refresh_token::Column::RevokedAt.is_null())
            .filter(customer_refresh_token::Column::CustomerId.in_subquery(owners))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        commit(transaction, turn).await
    }

    async fn revoke_all_refresh_tokens(&self, customer_reference: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let owner: Option<i64> = customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::CustomerReference.eq(customer_reference))
            .into_tuple()
            .one(&transaction)
            .await
            .map_err(storage_error)?;
        if let Some(owner) = owner {
            revoke_tokens_of(&transaction, owner, micros(now)).await?;
        }
        commit(transaction, turn).await
    }

    async fn create_password_reset(
        &self,
        id: CustomerId,
        key_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        customer_password_reset::ActiveModel {
            id: NotSet,
            customer_id: Set(id.0),
            key_hash: Set(key_hash.to_owned()),
            created_at: Set(micros(now)),
            expires_at: Set(micros(expires_at)),
            used_at: Set(None),
        }
        .insert(&transaction)
        .await
        .map_err(storage_error)?;
        commit(transaction, turn).await
    }

    async fn restore_password(
        &self,
        key_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let now = micros(now);
        let claimed = customer_password_reset::Entity::update_many()
            .col_expr(customer_password_reset::Column::UsedAt, Expr::value(now))
            .filter(customer_password_reset::Column::KeyHash.eq(key_hash))
            .filter(customer_password_reset::Column::UsedAt.is_null())
            .filter(customer_password_reset::Column::ExpiresAt.gt(now))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        if claimed.rows_affected == 0 {
            return Ok(false);
        }
        let owner: Option<i64> = customer_password_reset::Entity::find()
            .select_only()
            .column(customer_password_reset::Column::CustomerId)
            .filter(customer_password_reset::Column::KeyHash.eq(key_hash))
            .into_tuple()
            .one(&transaction)
            .await
            .map_err(storage_error)?;
        let Some(owner) = owner else {
            return Ok(false);
        };
        if !set_password_hash(&transaction, owner, password_hash, now).await? {
            return Ok(false);
        }
        // Older keys of the same customer die with this one: a reset is one event.
        customer_password_reset::Entity::update_many()
            .col_expr(customer_password_reset::Column::UsedAt, Expr::value(now))
            .filter(customer_password_reset::Column::CustomerId.eq(owner))
            .filter(customer_password_reset::Column::UsedAt.is_null())
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        revoke_tokens_of(&transaction, owner, now).await?;
        commit(transaction, turn).await?;
        Ok(true)
    }

    async fn list_addresses(&self, id: CustomerId) -> Result<Vec<Address>, DomainError> {
        let rows = customer_address::Entity::find()
            .filter(customer_address::Column::CustomerId.eq(id.0))
            .order_by_asc(customer_address::Column::Id)
            .all(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(rows.into_iter().map(address_of).collect())
    }

    async fn find_address(&self, id: CustomerId, address_id: &str) -> Result<Option<Address>, DomainError> {
        let row = customer_address::Entity::find()
            .filter(customer_address::Column::CustomerId.eq(id.0))
            .filter(customer_address::Column::Uuid.eq(address_id))
            .one(self.connection())
            .await
            .map_err(storage_error)?;
        Ok(row.map(address_of))
    }

    async fn create_address(
        &self,
        id: CustomerId,
        address: &Address,
        now: DateTime<Utc>,
    ) -> Result<Address, DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let customers = live()
            .filter(customer::Column::Id.eq(id.0))
            .count(&transaction)
            .await
            .map_err(storage_error)?;
        if customers == 0 {
            return Err(DomainError::not_found(CUSTOMER_TYPE, id));
        }
        let existing = customer_address::Entity::find()
            .filter(customer_address::Column::CustomerId.eq(id.0))
            .count(&transaction)
            .await
            .map_err(storage_error)?;
        let mut address = address.clone();
        if existing == 0 {
            address.is_default_shipping = true;
            address.is_default_billing = true;
        }
        clear_other_defaults(&transaction, id.0, None, &address).await?;
        let mut row = customer_address::ActiveModel {
            id: NotSet,
            uuid: Set(address.id.clone()),
            customer_id: Set(id.0),
            created_at: Set(micros(now)),
            updated_at: Set(micros(now)),
            ..Default::default()
        };
        address_values(&address, &mut row);
        let saved = row.insert(&transaction).await.map_err(storage_error)?;
        commit(transaction, turn).await?;
        Ok(address_of(saved))
    }

    async fn update_address(
        &self,
        id: CustomerId,
        address: &Address,
        now: DateTime<Utc>,
    ) -> Result<Option<Address>, DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let Some(current) = customer_address::Entity::find()
            .filter(customer_address::Column::CustomerId.eq(id.0))
            .filter(customer_address::Column::Uuid.eq(address.id.as_str()))
            .one(&transaction)
            .await
            .map_err(storage_error)?
        else {
            return Ok(None);
        };
        clear_other_defaults(&transaction, id.0, Some(current.id), address).await?;
        let mut row: customer_address::ActiveModel = current.into();
        address_values(address, &mut row);
        row.updated_at = Set(micros(now));
        let saved = row.update(&transaction).await.map_err(storage_error)?;
        commit(transaction, turn).await?;
        Ok(Some(address_of(saved)))
    }

    async fn delete_address(&self, id: CustomerId, address_id: &str) -> Result<bool, DomainError> {
        let (transaction, turn) = self.write_transaction().await?;
        let deleted = customer_address::Entity::delete_many()
            .filter(customer_address::Column::CustomerId.eq(id.0))
            .filter(customer_address::Column::Uuid.eq(address_id))
            .exec(&transaction)
            .await
            .map_err(storage_error)?;
        commit(transaction, turn).await?;
        Ok(deleted.rows_affected > 0)
    }
}
