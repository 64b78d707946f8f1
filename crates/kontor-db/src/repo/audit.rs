//! The Back Office audit log in SQL: append and filtered, newest-first listing.
//!
//! Appending is a single INSERT outside any other transaction, so an entry about a failed change is
//! kept although the change itself was rolled back. Secrets are stripped from the detail here whatever
//! the caller did, and over-long texts are cut to their column's size rather than losing the entry.

use super::{SqlDatabase, storage_error};
use crate::entity::acl_audit::audit_log;
use async_trait::async_trait;
use chrono::DateTime;
use kontor_core::ids::{AuditEntryId, UserId};
use kontor_domain::DomainError;
use kontor_domain::acl::{AuditEntry, AuditFilter, AuditOutcome, AuditRepository, NewAuditEntry, strip_secrets};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

/// Column sizes of migration `m20261125_000010_acl_audit`, in characters.
const USER_EMAIL_LENGTH: usize = 254;
const ACTION_LENGTH: usize = 100;
const METHOD_LENGTH: usize = 16;
const TARGET_LENGTH: usize = 1024;
const RESOURCE_TYPE_LENGTH: usize = 64;
const RESOURCE_ID_LENGTH: usize = 255;

/// At most `max` characters of `value`.
fn clipped(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        Some((end, _)) => value[..end].to_owned(),
        None => value.to_owned(),
    }
}

fn entry_of(row: audit_log::Model) -> AuditEntry {
    // Written by `append` only, so a mismatch means a hand edit; show it as failed rather than hide it.
    let outcome = row.outcome.parse().unwrap_or(AuditOutcome::Failed);
    let detail = serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::String(row.detail));
    AuditEntry {
        id: AuditEntryId(row.id),
        at: DateTime::from_timestamp_micros(row.at).unwrap_or_default(),
        user_id: row.user_id.map(UserId),
        user_email: row.user_email,
        action: row.action,
        method: row.method,
        target: row.target,
        resource_type: row.resource_type,
        resource_id: row.resource_id,
        outcome,
        detail,
    }
}

fn condition_of(filter: &AuditFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(user) = filter.user_id {
        condition = condition.add(audit_log::Column::UserId.eq(user.0));
    }
    if let Some(outcome) = filter.outcome {
        condition = condition.add(audit_log::Column::Outcome.eq(outcome.as_str()));
    }
    if let Some(resource_type) = &filter.resource_type {
        condition = condition.add(audit_log::Column::ResourceType.eq(resource_type.as_str()));
    }
    if let Some(resource_id) = &filter.resource_id {
        condition = condition.add(audit_log::Column::ResourceId.eq(resource_id.as_str()));
    }
    if let Some(action) = &filter.action {
        condition = condition.add(audit_log::Column::Action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        condition = condition.add(audit_log::Column::At.gte(from.timestamp_micros()));
    }
    if let Some(to) = filter.to {
        condition = condition.add(audit_log::Column::At.lt(to.timestamp_micros()));
    }
    condition
}

#[async_trait]
impl AuditRepository for SqlDatabase {
    async fn append(&self, entry: &NewAuditEntry) -> Result<AuditEntryId, DomainError> {
        let mut detail = entry.detail.clone();
        strip_secrets(&mut detail);
        let row = audit_log::ActiveModel {
            id: NotSet,
            at: Set(self.now_micros()),
            user_id: Set(entry.user_id.map(|user| user.0)),
            user_email: Set(entry
                .user_email
                .as_deref()
                .map(|email| clipped(email, USER_EMAIL_LENGTH))),
            action: Set(clipped(&entry.action, ACTION_LENGTH)),
            method: Set(clipped(&entry.method, METHOD_LENGTH)),
            target: Set(clipped(&entry.target, TARGET_LENGTH)),
            resource_type: Set(entry
                .resource_type
                .as_deref()
                .map(|kind| clipped(kind, RESOURCE_TYPE_LENGTH))),
            resource_id: Set(entry.resource_id.as_deref().map(|id| clipped(id, RESOURCE_ID_LENGTH))),
            outcome: Set(entry.outcome.as_str().to_owned()),
            detail: Set(detail.to_string()),
        };
        let saved = row.insert(self.connection()).await.map_err(storage_error)?;
        Ok(AuditEntryId(saved.id))
    }

    async fn list(&self, filter: &AuditFilter, offset: u64, limit: u64) -> Result<(Vec<AuditEntry>, u64), DomainError> {
        let condition = condition_of(filter);
        let total = audit_log::Entity::find()
            .filter(condition.clone())
            .count(self.connection())
            .await
            .map_err(storage_error)?;
        // The id breaks ties between entries of the same microsecond, newest first as well.
        let rows = audit_log::Entity::find()
            .filter(condition)
            .order_by_desc(audit_log::Column::At)
            .order_by_desc(audit_log::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(self.connection())
            .await
            .map_err(storage_error)?;
        Ok((rows.into_iter().map(entry_of).collect(), total))
    }
}
