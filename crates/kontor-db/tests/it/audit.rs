//! The audit log: append, filters, paging, newest first, and no secrets stored.

use chrono::{DateTime, Duration, TimeZone, Utc};
use kontor_core::Clock;
use kontor_core::ids::UserId;
use kontor_db::SqlDatabase;
use kontor_db::entity::acl_audit::audit_log;
use kontor_domain::acl::{AuditFilter, AuditOutcome, AuditRepository, NewAuditEntry};
use kontor_testkit::repo_test_suite;
use sea_orm::EntityTrait;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// A clock that moves one second per reading, so that every entry has its own time.
struct TickingClock(Mutex<DateTime<Utc>>);

impl Clock for TickingClock {
    fn now(&self) -> DateTime<Utc> {
        let mut now = self.0.lock().expect("clock");
        *now += Duration::seconds(1);
        *now
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn entry(action: &str, outcome: AuditOutcome, user: Option<i64>, resource: Option<(&str, &str)>) -> NewAuditEntry {
    NewAuditEntry {
        user_id: user.map(UserId),
        user_email: user.map(|id| format!("user{id}@example.com")),
        resource_type: resource.map(|(kind, _)| kind.to_owned()),
        resource_id: resource.map(|(_, id)| id.to_owned()),
        ..NewAuditEntry::new(action, "POST", "/admin/api/things", outcome)
    }
}

async fn actions(db: &SqlDatabase, filter: &AuditFilter) -> (Vec<String>, u64) {
    let (entries, total) = db.list(filter, 0, 100).await.expect("listed");
    (entries.into_iter().map(|entry| entry.action).collect(), total)
}

async fn audit_entries_are_filtered_and_listed_newest_first(db: SqlDatabase) {
    let db = db.with_clock(Arc::new(TickingClock(Mutex::new(start()))));
    let appended = [
        entry("login", AuditOutcome::Allowed, Some(1), None),
        entry(
            "catalog.write",
            AuditOutcome::Allowed,
            Some(1),
            Some(("abstract-products", "7")),
        ),
        entry(
            "catalog.write",
            AuditOutcome::Denied,
            Some(2),
            Some(("abstract-products", "7")),
        ),
        entry("orders.write", AuditOutcome::Failed, Some(2), Some(("orders", "DE--1"))),
        entry("login", AuditOutcome::Denied, None, None),
    ];
    let mut ids = Vec::new();
    for new in &appended {
        ids.push(db.append(new).await.expect("appended"));
    }

    let (entries, total) = db.list(&AuditFilter::default(), 0, 100).await.expect("all");
    assert_eq!(total, 5);
    let listed_ids: Vec<_> = entries.iter().map(|entry| entry.id).collect();
    ids.reverse();
    assert_eq!(listed_ids, ids, "newest first");
    let newest = &entries[0];
    assert_eq!(newest.at, start() + Duration::seconds(5));
    assert_eq!(
        (newest.user_id, newest.user_email.as_deref(), newest.outcome),
        (None, None, AuditOutcome::Denied)
    );
    let write = &entries[3];
    assert_eq!(
        (
            write.action.as_str(),
            write.method.as_str(),
            write.target.as_str(),
            write.resource_type.as_deref(),
            write.resource_id.as_deref(),
            write.user_email.as_deref(),
        ),
        (
            "catalog.write",
            "POST",
            "/admin/api/things",
            Some("abstract-products"),
            Some("7"),
            Some("user1@example.com"),
        )
    );

    let by_user = AuditFilter {
        user_id: Some(UserId(2)),
        ..AuditFilter::default()
    };
    assert_eq!(
        actions(&db, &by_user).await,
        (vec!["orders.write".into(), "catalog.write".into()], 2)
    );
    let denied = AuditFilter {
        outcome: Some(AuditOutcome::Denied),
        ..AuditFilter::default()
    };
    assert_eq!(
        actions(&db, &denied).await,
        (vec!["login".into(), "catalog.write".into()], 2)
    );
    let product = AuditFilter {
        resource_type: Some("abstract-products".into()),
        resource_id: Some("7".into()),
        ..AuditFilter::default()
    };
    assert_eq!(actions(&db, &product).await.1, 2);
    let allowed_logins = AuditFilter {
        action: Some("login".into()),
        outcome: Some(AuditOutcome::Allowed),
        ..AuditFilter::default()
    };
    assert_eq!(actions(&db, &allowed_logins).await, (vec!["login".into()], 1));
    // Entries 2, 3 and 4 were written at start + 2, 3 and 4 s: `from` counts, `to` does not.
    let window = AuditFilter {
        from: Some(start() + Duration::seconds(2)),
        to: Some(start() + Duration::seconds(4)),
        ..AuditFilter::default()
    };
    assert_eq!(
        actions(&db, &window).await,
        (vec!["catalog.write".into(), "catalog.write".into()], 2)
    );
    let nothing = AuditFilter {
        resource_type: Some("stores".into()),
        ..AuditFilter::default()
    };
    assert_eq!(actions(&db, &nothing).await, (Vec::new(), 0));

    let (page, total) = db.list(&AuditFilter::default(), 2, 2).await.expect("page");
    assert_eq!(total, 5);
    let page_ids: Vec<_> = page.iter().map(|entry| entry.id).collect();
    assert_eq!(page_ids, ids[2..4]);
}

async fn audit_entries_keep_no_secrets(db: SqlDatabase) {
    let new = NewAuditEntry {
        detail: json!({
            "email": "new@example.com",
            "password": "correct horse battery",
            "attributes": {"name": "Kamera", "api_token": "kontor_abc", "csrfToken": "xyz"},
        }),
        ..entry("users.manage", AuditOutcome::Allowed, Some(1), Some(("users", "3")))
    };
    let id = db.append(&new).await.expect("appended");
    let (entries, _) = db.list(&AuditFilter::default(), 0, 10).await.expect("listed");
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].detail,
        json!({"email": "new@example.com", "attributes": {"name": "Kamera"}})
    );
    let stored = audit_log::Entity::find_by_id(id.0)
        .one(db.connection())
        .await
        .expect("read")
        .expect("row");
    for secret in ["correct horse", "kontor_abc", "xyz"] {
        assert!(!stored.detail.contains(secret), "{}", stored.detail);
    }
}

async fn over_long_audit_texts_are_cut_to_fit(db: SqlDatabase) {
    let long_path = format!("/admin/api/{}", "ü".repeat(2000));
    let new = NewAuditEntry {
        resource_id: Some("9".repeat(300)),
        ..NewAuditEntry::new("catalog.read", "GET", long_path, AuditOutcome::Allowed)
    };
    db.append(&new).await.expect("appended although long");
    let (entries, _) = db.list(&AuditFilter::default(), 0, 10).await.expect("listed");
    assert_eq!(entries[0].target.chars().count(), 1024);
    assert!(entries[0].target.starts_with("/admin/api/ü"));
    assert_eq!(entries[0].resource_id.as_deref().map(str::len), Some(255));
    assert_eq!(entries[0].detail, serde_json::Value::Null);
}

repo_test_suite!(
    audit_entries_are_filtered_and_listed_newest_first,
    audit_entries_keep_no_secrets,
    over_long_audit_texts_are_cut_to_fit,
);
