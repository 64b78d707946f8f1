//! The Back Office UI's administration pages through a browser-like client, on every SQL backend:
//! signing in (throttled, audited), the dashboard, users and roles, the audit log, queues, and the live
//! notifications of `/backoffice/ws`.

use crate::ui_support::{MAX_FAILED_SIGN_INS, PASSWORD, Page, UiApp};
use async_trait::async_trait;
use axum::http::StatusCode;
use futures_util::{SinkExt, StreamExt};
use kontor_backoffice::orders::OrderAdmin;
use kontor_db::SqlDatabase;
use kontor_domain::acl::{AuditFilter, AuditOutcome};
use kontor_domain::cart::{CartError, PriceMode, StoreSettings};
use kontor_domain::checkout::{
    NewOrder, OrderFilter, OrderRepository, PaymentMethod, PlaceOutcome, ShipmentMethod, StoredOrder,
};
use kontor_domain::gateway::OrderTotals;
use kontor_domain::oms::{OmsEngine, OmsRegistry};
use kontor_notify::{Notification, Notifier};
use kontor_queue::{BusOptions, MemoryBus, MessageBus, RetryPolicy};
use kontor_testkit::repo_test_suite;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn assert_status(page: &Page, status: StatusCode, what: &str) {
    assert_eq!(page.status, status, "{what}: {}", page.body);
}

/// The id in `/backoffice/users/<id>`, where a created user's page is.
fn id_in(location: Option<&str>) -> String {
    location
        .and_then(|location| location.rsplit('/').next())
        .expect("a redirect to the new record")
        .to_owned()
}

async fn signing_in_is_throttled_and_audited(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    app.user("ada@example.com", &["administrator"]).await;
    let browser = app.browser();

    let anonymous = browser.get("/backoffice").await;
    assert_eq!(
        anonymous.location.as_deref(),
        Some("/backoffice/login"),
        "pages need a session"
    );

    let wrong = "wrong horse battery";
    let page = browser.sign_in("Ada@Example.com", wrong).await;
    assert_status(&page, StatusCode::UNPROCESSABLE_ENTITY, "a wrong password");
    assert!(
        page.body.contains("class=\"error form-error\" role=\"alert\""),
        "{}",
        page.body
    );
    assert!(
        page.shows("The e-mail address or the password is not right."),
        "{}",
        page.body
    );
    assert_eq!(
        page.input_value("email").as_deref(),
        Some("Ada@Example.com"),
        "the address is kept"
    );
    assert!(!page.body.contains(wrong), "the password is not echoed");

    for _ in 1..MAX_FAILED_SIGN_INS {
        let page = browser.sign_in("ada@example.com", wrong).await;
        assert_status(&page, StatusCode::UNPROCESSABLE_ENTITY, "another wrong password");
    }
    // The sixth attempt is refused before the password is even looked at, right or not.
    let page = browser.sign_in("ada@example.com", PASSWORD).await;
    assert_status(&page, StatusCode::TOO_MANY_REQUESTS, "the sixth attempt");
    assert!(page.shows("Too many failed attempts"), "{}", page.body);
    assert_eq!(
        browser.get("/backoffice").await.status,
        StatusCode::SEE_OTHER,
        "still signed out"
    );

    let failed = app
        .audit(&AuditFilter {
            action: Some("login".into()),
            outcome: Some(AuditOutcome::Denied),
            ..AuditFilter::default()
        })
        .await;
    assert_eq!(failed.len(), MAX_FAILED_SIGN_INS, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|entry| entry.user_email.as_deref() == Some("ada@example.com"))
    );
    let stored = serde_json::to_string(&failed).expect("entries serialize");
    assert!(!stored.contains(wrong) && !stored.contains(PASSWORD), "{stored}");
}

/// Orders of a test: what `list_orders` answers, filtered by day like the SQL repository.
struct CannedOrders(Vec<StoredOrder>);

#[async_trait]
impl OrderRepository for CannedOrders {
    async fn shipment_methods(
        &self,
        _store: &StoreSettings,
        _currency: &str,
        _mode: PriceMode,
    ) -> Result<Vec<ShipmentMethod>, CartError> {
        Ok(Vec::new())
    }

    async fn payment_methods(&self, _store: &StoreSettings) -> Result<Vec<PaymentMethod>, CartError> {
        Ok(Vec::new())
    }

    async fn place_order(&self, _order: &NewOrder) -> Result<PlaceOutcome, CartError> {
        Err(CartError::Storage("the test's orders are fixed".into()))
    }

    async fn find_order_by_idempotency_key(
        &self,
        _owner_key: &str,
        _idempotency_key: &str,
    ) -> Result<Option<StoredOrder>, CartError> {
        Ok(None)
    }

    async fn find_order(&self, reference: &str) -> Result<Option<StoredOrder>, CartError> {
        Ok(self.0.iter().find(|order| order.reference == reference).cloned())
    }

    async fn find_order_by_id(&self, id: i64) -> Result<Option<StoredOrder>, CartError> {
        Ok(self.0.iter().find(|order| order.id == id).cloned())
    }

    async fn list_orders(
        &self,
        filter: &OrderFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<StoredOrder>, u64), CartError> {
        let mut matching: Vec<StoredOrder> = self
            .0
            .iter()
            .filter(|order| {
                filter
                    .created_from_micros
                    .is_none_or(|from| order.created_at_micros >= from)
            })
            .cloned()
            .collect();
        matching.sort_by_key(|order| std::cmp::Reverse(order.created_at_micros));
        let total = matching.len() as u64;
        let page = matching
            .into_iter()
            .skip(usize::try_from(offset).expect("small"))
            .take(usize::try_from(limit).expect("small"))
            .collect();
        Ok((page, total))
    }
}

fn order(id: i64, currency: &str, grand_total: i64, created_at: chrono::DateTime<chrono::Utc>) -> StoredOrder {
    StoredOrder {
        id,
        reference: format!("DE--{id}"),
        store: "DE".into(),
        store_id: 1,
        customer_reference: None,
        email: format!("buyer{id}@example.com"),
        salutation: None,
        first_name: "Kim".into(),
        last_name: "Buyer".into(),
        locale: "de_DE".into(),
        currency: currency.into(),
        price_mode: "GROSS_MODE".into(),
        totals: OrderTotals {
            grand_total,
            ..OrderTotals::default()
        },
        created_at_micros: created_at.timestamp_micros(),
        billing_address: None,
        shipments: Vec::new(),
        expenses: Vec::new(),
        items: Vec::new(),
        payments: Vec::new(),
    }
}

/// The order endpoints over fixed orders: three of today in two currencies, one of yesterday.
fn canned_order_admin(db: &SqlDatabase) -> OrderAdmin {
    let now = chrono::Utc::now();
    let midnight = now.date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    // Minutes after midnight, so the orders are of today whenever the test runs.
    let today = |minutes| midnight + chrono::Duration::minutes(minutes) + (now - midnight) / 2;
    let orders = Arc::new(CannedOrders(vec![
        order(1, "EUR", 999_999, midnight - chrono::Duration::hours(1)),
        order(2, "EUR", 1_000, today(0)),
        order(3, "CHF", 500, today(1)),
        order(4, "EUR", 2_550, today(2)),
    ]));
    let registry = Arc::new(OmsRegistry::default());
    OrderAdmin {
        orders: orders.clone(),
        oms: Arc::new(db.clone()),
        engine: OmsEngine::new(
            Arc::new(kontor_oms::ProcessSet::from_processes(Vec::new())),
            registry.clone(),
            Arc::new(db.clone()),
            orders,
        ),
        registry,
    }
}

/// A bus that dead-letters a message at its first failure.
fn strict_bus() -> Arc<MemoryBus> {
    Arc::new(MemoryBus::new(BusOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            backoff: Vec::new(),
        },
        ..BusOptions::default()
    }))
}

async fn the_dashboard_shows_todays_figures(db: SqlDatabase) {
    let bus = strict_bus();
    bus.publish("publish.product_abstract", vec![b"{}".to_vec(), b"{}".to_vec()])
        .await
        .expect("publish");
    bus.publish("sync.storage.price", vec![b"{}".to_vec()])
        .await
        .expect("publish");
    let failing = bus
        .receive("sync.storage.price", 1, Duration::ZERO)
        .await
        .expect("receive");
    bus.nack(&failing[0], "the KV store is down").await.expect("nack");
    let order_admin = canned_order_admin(&db);
    let bus_port: Arc<dyn MessageBus> = bus;
    let app = UiApp::with_state(db, move |state| state.with_orders(order_admin).with_queues(bus_port)).await;

    let orders = app.signed_in("orders@example.com", &["order_manager"]).await;
    let page = orders.get("/backoffice").await;
    assert_status(&page, StatusCode::OK, "the dashboard");
    assert!(page.body.contains("data-figure=\"orders-today\">3<"), "{}", page.body);
    assert!(page.shows("€35.50") && page.shows("CHF 5.00"), "{}", page.body);
    assert!(!page.shows("€9,999.99"), "yesterday's order is not today's revenue");
    assert!(
        page.shows("DE--4") && page.shows("DE--2"),
        "the latest orders: {}",
        page.body
    );
    assert!(page.body.contains("data-figure=\"queue-ready\">2<"), "{}", page.body);
    assert!(page.body.contains("data-figure=\"dead-letters\">1<"), "{}", page.body);
    assert!(page.shows("sync.storage.price"), "{}", page.body);
    assert!(!page.body.contains("data-figure=\"sync-lag\">n/a"), "{}", page.body);
    assert!(
        page.shows("Signed in as orders@example.com."),
        "the flash of the sign-in"
    );

    // Figures, but no orders to open, for those without orders.read.
    let catalog = app.signed_in("catalog@example.com", &["catalog_manager"]).await;
    let page = catalog.get("/backoffice").await;
    assert!(page.body.contains("data-figure=\"orders-today\">3<"), "{}", page.body);
    assert!(!page.shows("DE--4"), "{}", page.body);

    // A backend without orders or a bus says so.
    let bare = UiApp::new(app.db.clone()).await;
    let visitor = bare.browser();
    assert_eq!(
        visitor.sign_in("orders@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let page = visitor.get("/backoffice").await;
    assert!(page.body.contains("data-figure=\"orders-today\">n/a<"), "{}", page.body);
    assert!(page.body.contains("data-figure=\"dead-letters\">n/a<"), "{}", page.body);
}

async fn users_are_created_changed_and_deactivated(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    let admin = app.signed_in("admin@example.com", &["administrator"]).await;
    assert_status(&admin.get("/backoffice/users/new").await, StatusCode::OK, "the form");

    let short = "tiny-secret";
    let page = admin
        .post(
            "/backoffice/users",
            &[("email", "not-an-address"), ("password", short), ("roles", "read_only")],
        )
        .await;
    assert_status(&page, StatusCode::UNPROCESSABLE_ENTITY, "bad input");
    assert!(page.field_error("email").is_some(), "{}", page.body);
    assert!(
        page.field_error("password")
            .is_some_and(|message| message.contains("12 characters")),
        "{}",
        page.body
    );
    assert_eq!(
        page.input_value("email").as_deref(),
        Some("not-an-address"),
        "what was typed stays"
    );
    assert!(
        page.body.contains("value=\"read_only\" checked"),
        "the chosen roles stay checked"
    );
    assert!(!page.body.contains(short), "the password is not echoed");

    let created = admin
        .post(
            "/backoffice/users",
            &[
                ("email", "Bob@Example.com"),
                ("password", "a long enough password"),
                ("roles", "catalog_manager"),
                ("roles", "read_only"),
            ],
        )
        .await;
    assert_status(&created, StatusCode::SEE_OTHER, "a good user");
    let bob_id = id_in(created.location.as_deref());
    let page = admin.get(&format!("/backoffice/users/{bob_id}")).await;
    assert!(page.shows("User bob@example.com created."), "{}", page.body);
    assert!(
        page.body.contains("value=\"catalog_manager\" checked") && page.body.contains("value=\"read_only\" checked")
    );
    let list = admin.get("/backoffice/users").await;
    assert!(
        list.shows("bob@example.com") && list.shows("admin@example.com"),
        "{}",
        list.body
    );

    let taken = admin
        .post(
            "/backoffice/users",
            &[("email", "bob@example.com"), ("password", "another long password")],
        )
        .await;
    assert_status(&taken, StatusCode::CONFLICT, "a taken address");
    assert!(taken.field_error("email").is_some(), "{}", taken.body);

    // Roles take effect at Bob's next request.
    let bob = app.browser();
    assert_eq!(
        bob.sign_in("bob@example.com", "a long enough password").await.status,
        StatusCode::SEE_OTHER
    );
    assert_status(
        &bob.get("/backoffice/queues").await,
        StatusCode::OK,
        "queues.read of his roles",
    );
    assert_status(
        &bob.get("/backoffice/users").await,
        StatusCode::FORBIDDEN,
        "no users.read",
    );
    let changed = admin
        .post(
            &format!("/backoffice/users/{bob_id}/roles"),
            &[("roles", "order_manager")],
        )
        .await;
    assert_status(&changed, StatusCode::SEE_OTHER, "new roles");
    assert_status(
        &bob.get("/backoffice/queues").await,
        StatusCode::FORBIDDEN,
        "queues.read is gone",
    );
    assert_status(&bob.get("/backoffice").await, StatusCode::OK, "dashboard.read stays");

    // Nobody deactivates themselves; deactivating Bob ends his session at once.
    let admin_id = app
        .audit(&AuditFilter::default())
        .await
        .iter()
        .find(|entry| entry.user_email.as_deref() == Some("admin@example.com"))
        .and_then(|entry| entry.user_id)
        .expect("the admin is in the log");
    let refused = admin
        .post(&format!("/backoffice/users/{admin_id}/active"), &[("active", "false")])
        .await;
    assert_status(&refused, StatusCode::CONFLICT, "deactivating oneself");
    assert!(
        refused.shows("You cannot activate or deactivate your own account."),
        "{}",
        refused.body
    );
    let deactivated = admin
        .post(&format!("/backoffice/users/{bob_id}/active"), &[("active", "false")])
        .await;
    assert_status(&deactivated, StatusCode::SEE_OTHER, "deactivating Bob");
    let page = bob.get("/backoffice").await;
    assert_eq!(
        page.location.as_deref(),
        Some("/backoffice/login"),
        "Bob's session has ended"
    );
    assert_eq!(
        bob.get("/backoffice").await.location.as_deref(),
        Some("/backoffice/login")
    );
    let again = bob.sign_in("bob@example.com", "a long enough password").await;
    assert_status(
        &again,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a deactivated user cannot sign in",
    );
    assert_status(
        &admin
            .post(&format!("/backoffice/users/{bob_id}/active"), &[("active", "true")])
            .await,
        StatusCode::SEE_OTHER,
        "reactivating Bob",
    );
    assert_eq!(
        bob.sign_in("bob@example.com", "a long enough password").await.status,
        StatusCode::SEE_OTHER
    );

    // Every change is in the log with what changed, never with the password.
    let changes = app
        .audit(&AuditFilter {
            action: Some("users.manage".into()),
            ..AuditFilter::default()
        })
        .await;
    let outcomes: Vec<_> = changes.iter().rev().map(|entry| entry.outcome).collect();
    assert_eq!(
        outcomes,
        [
            AuditOutcome::Failed,
            AuditOutcome::Allowed,
            AuditOutcome::Failed,
            AuditOutcome::Allowed,
            AuditOutcome::Failed,
            AuditOutcome::Allowed,
            AuditOutcome::Allowed,
        ]
    );
    let stored = serde_json::to_string(&changes).expect("entries serialize");
    assert!(
        !stored.contains("a long enough password") && !stored.contains(short),
        "{stored}"
    );
    assert!(stored.contains("order_manager"), "{stored}");
}

async fn custom_roles_are_managed_and_builtin_ones_are_not(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    let admin = app.signed_in("admin@example.com", &["administrator"]).await;

    let page = admin
        .post(
            "/backoffice/roles",
            &[
                ("name", "Bad Name"),
                ("description", "x"),
                ("permissions", "catalog.read"),
            ],
        )
        .await;
    assert_status(&page, StatusCode::UNPROCESSABLE_ENTITY, "a bad name");
    assert!(page.field_error("name").is_some(), "{}", page.body);
    assert_eq!(page.input_value("name").as_deref(), Some("Bad Name"));
    assert!(page.body.contains("value=\"catalog.read\" checked"), "{}", page.body);

    let created = admin
        .post(
            "/backoffice/roles",
            &[
                ("name", "editor"),
                ("description", "Edits texts"),
                ("permissions", "dashboard.read"),
                ("permissions", "catalog.read"),
            ],
        )
        .await;
    assert_status(&created, StatusCode::SEE_OTHER, "a custom role");
    assert_eq!(created.location.as_deref(), Some("/backoffice/roles/editor"));
    let taken = admin
        .post(
            "/backoffice/roles",
            &[("name", "editor"), ("permissions", "catalog.read")],
        )
        .await;
    assert_status(&taken, StatusCode::CONFLICT, "a taken name");
    assert!(taken.field_error("name").is_some(), "{}", taken.body);

    let editor = app.signed_in("editor@example.com", &["editor"]).await;
    assert_status(&editor.get("/backoffice").await, StatusCode::OK, "dashboard.read");
    assert_status(
        &editor.get("/backoffice/queues").await,
        StatusCode::FORBIDDEN,
        "no queues.read yet",
    );
    let changed = admin
        .post(
            "/backoffice/roles/editor",
            &[
                ("description", "Edits texts, watches queues"),
                ("permissions", "dashboard.read"),
                ("permissions", "catalog.read"),
                ("permissions", "queues.read"),
            ],
        )
        .await;
    assert_status(&changed, StatusCode::SEE_OTHER, "a changed role");
    assert_status(
        &editor.get("/backoffice/queues").await,
        StatusCode::OK,
        "queues.read now",
    );
    let page = admin.get("/backoffice/roles/editor").await;
    assert!(page.shows("Edits texts, watches queues") && page.body.contains("value=\"queues.read\" checked"));
    let unknown = admin
        .post("/backoffice/roles/editor", &[("permissions", "catalog.delete")])
        .await;
    assert_status(&unknown, StatusCode::UNPROCESSABLE_ENTITY, "an unknown permission");
    assert!(unknown.field_error("permissions").is_some(), "{}", unknown.body);

    // Built-in roles are shown read-only and refused any change.
    let page = admin.get("/backoffice/roles/read_only").await;
    assert_status(&page, StatusCode::OK, "a built-in role");
    assert!(
        page.body.contains("<fieldset class=\"plain\" disabled>"),
        "{}",
        page.body
    );
    for (path, fields) in [
        ("/backoffice/roles/read_only", vec![("permissions", "users.manage")]),
        ("/backoffice/roles/administrator", vec![("description", "renamed")]),
        ("/backoffice/roles/administrator/delete", vec![]),
    ] {
        let page = admin.post(path, &fields).await;
        assert_status(&page, StatusCode::CONFLICT, path);
        assert!(
            page.shows("Built-in roles cannot be changed or deleted."),
            "{}",
            page.body
        );
    }
    let read_only = app
        .state
        .acl
        .find_role("read_only")
        .await
        .expect("read")
        .expect("exists");
    assert!(
        !read_only
            .permissions
            .contains(kontor_domain::acl::Permission::UsersManage)
    );

    let deleted = admin.post("/backoffice/roles/editor/delete", &[]).await;
    assert_status(&deleted, StatusCode::SEE_OTHER, "deleting a custom role");
    assert_status(
        &admin.get("/backoffice/roles/editor").await,
        StatusCode::NOT_FOUND,
        "it is gone",
    );
    assert_status(
        &editor.get("/backoffice").await,
        StatusCode::FORBIDDEN,
        "with its permissions",
    );
    let roles = admin.get("/backoffice/roles").await;
    assert!(
        roles.shows("catalog_manager") && !roles.shows("Edits texts"),
        "{}",
        roles.body
    );
}

async fn the_audit_log_is_filtered_and_records_denied_api_writes(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    let admin_token = app.user("admin@example.com", &["administrator"]).await;
    let reader_token = app.user("reader@example.com", &["read_only"]).await;
    let store = json!({"data": {"type": "currencies", "attributes": {"code": "EUR", "name": "Euro"}}});

    let send = |token: String| {
        let router = app.router();
        let body = store.to_string();
        async move {
            let request = axum::http::Request::post("/admin/currencies")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/vnd.api+json")
                .body(axum::body::Body::from(body))
                .expect("request");
            tower::ServiceExt::oneshot(router, request)
                .await
                .expect("infallible")
                .status()
        }
    };
    assert_eq!(
        send(reader_token).await,
        StatusCode::FORBIDDEN,
        "read_only may not write the catalog"
    );
    assert_eq!(send(admin_token).await, StatusCode::CREATED);

    let denied = app
        .audit(&AuditFilter {
            outcome: Some(AuditOutcome::Denied),
            ..AuditFilter::default()
        })
        .await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    let attempt = &denied[0];
    assert_eq!(
        (
            attempt.user_email.as_deref(),
            attempt.action.as_str(),
            attempt.method.as_str(),
            attempt.target.as_str()
        ),
        (Some("reader@example.com"), "catalog.write", "POST", "/admin/currencies")
    );
    let reader_id = attempt.user_id.expect("attributed").0;

    let admin = app.browser();
    assert_eq!(
        admin.sign_in("admin@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let all = admin.get("/backoffice/audit").await;
    assert_status(&all, StatusCode::OK, "the whole log");
    assert!(
        all.shows("reader@example.com") && all.shows("badge-allowed"),
        "{}",
        all.body
    );

    let page = admin.get("/backoffice/audit?outcome=denied").await;
    assert_eq!(page.body.matches("<tr data-entry=").count(), 1, "{}", page.body);
    assert!(
        page.shows("POST /admin/currencies") && page.shows("reader@example.com"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<option value=\"denied\" selected>"),
        "the filter stays chosen"
    );

    let page = admin.get(&format!("/backoffice/audit?user={reader_id}")).await;
    assert_eq!(page.body.matches("<tr data-entry=").count(), 1, "{}", page.body);
    let page = admin.get("/backoffice/audit?resource=currencies&outcome=allowed").await;
    assert_eq!(page.body.matches("<tr data-entry=").count(), 1, "{}", page.body);
    assert!(page.shows("admin@example.com"), "{}", page.body);
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today + chrono::Duration::days(1);
    let page = admin.get(&format!("/backoffice/audit?from={tomorrow}")).await;
    assert!(page.shows("No entries match."), "{}", page.body);
    let page = admin.get(&format!("/backoffice/audit?from={today}&to={today}")).await;
    assert!(page.body.matches("<tr data-entry=").count() >= 3, "{}", page.body);
    let page = admin.get("/backoffice/audit?from=26.11.2026&outcome=maybe").await;
    assert_status(&page, StatusCode::BAD_REQUEST, "unreadable filters");
    assert!(
        page.field_error("from").is_some() && page.field_error("outcome").is_some(),
        "{}",
        page.body
    );
    assert_eq!(page.input_value("from").as_deref(), Some("26.11.2026"));

    let reader = app.browser();
    assert_eq!(
        reader.sign_in("reader@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_status(
        &reader.get("/backoffice/audit").await,
        StatusCode::FORBIDDEN,
        "no audit.read",
    );
}

async fn queues_show_dead_letters_and_requeue_them(db: SqlDatabase) {
    let bus = strict_bus();
    bus.publish("sync.storage.price", vec![b"{}".to_vec(), b"{}".to_vec()])
        .await
        .expect("publish");
    for delivery in bus
        .receive("sync.storage.price", 2, Duration::ZERO)
        .await
        .expect("receive")
    {
        bus.nack(&delivery, "the KV store is down").await.expect("nack");
    }
    let bus_port: Arc<dyn MessageBus> = bus.clone();
    let app = UiApp::with_state(db, move |state| state.with_queues(bus_port)).await;

    let reader = app.signed_in("reader@example.com", &["read_only"]).await;
    let page = reader.get("/backoffice/queues").await;
    assert_status(&page, StatusCode::OK, "the queues");
    assert!(page.shows("sync.storage.price"), "{}", page.body);
    let page = reader.get("/backoffice/queues/sync.storage.price").await;
    assert!(
        page.shows("the KV store is down") && !page.shows("Re-queue all"),
        "{}",
        page.body
    );
    let refused = reader
        .post("/backoffice/queues/sync.storage.price/requeue", &[("all", "1")])
        .await;
    assert_status(&refused, StatusCode::FORBIDDEN, "no queues.write");

    let admin = app.signed_in("admin@example.com", &["administrator"]).await;
    let letters = bus.dead_letters("sync.storage.price", 10).await.expect("dead letters");
    let first = letters[0].id.0.to_string();
    let moved = admin
        .post("/backoffice/queues/sync.storage.price/requeue", &[("id", &first)])
        .await;
    assert_status(&moved, StatusCode::SEE_OTHER, "re-queue one");
    let page = admin.get("/backoffice/queues/sync.storage.price").await;
    assert!(
        page.shows("1 dead letter(s) of sync.storage.price re-queued."),
        "{}",
        page.body
    );
    let moved = admin
        .post("/backoffice/queues/sync.storage.price/requeue", &[("all", "1")])
        .await;
    assert_status(&moved, StatusCode::SEE_OTHER, "re-queue the rest");
    assert!(
        bus.dead_letters("sync.storage.price", 10)
            .await
            .expect("read")
            .is_empty()
    );

    let page = admin.get("/backoffice/scheduler").await;
    assert_status(&page, StatusCode::OK, "the scheduler");
    assert!(page.shows("No runs yet."), "{}", page.body);
}

/// A WebSocket to `/backoffice/ws` in the session of `browser`.
async fn open_socket(
    address: SocketAddr,
    cookies: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = format!("ws://{address}/backoffice/ws")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("cookie", cookies.parse().expect("cookie header"));
    let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("the handshake");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    socket
}

/// The next JSON message within `wait`, skipping control frames.
async fn next_message(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    wait: Duration,
) -> Option<Value> {
    tokio::time::timeout(wait, async {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                return serde_json::from_str(text.as_str()).ok();
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

async fn the_socket_forwards_new_orders_to_order_managers_only(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    let address = app.serve().await;
    let orders = app.signed_in("orders@example.com", &["order_manager"]).await;
    let catalog = app.signed_in("catalog@example.com", &["catalog_manager"]).await;
    let mut order_socket = open_socket(address, &orders.cookie_header()).await;
    let mut catalog_socket = open_socket(address, &catalog.cookie_header()).await;

    let placed = json!({"reference": "DE--7", "customer_reference": "DE--C1", "store": "DE", "grand_total": 4_990, "currency": "EUR"});
    app.notifier
        .publish("orders", Notification::new("order.placed", placed))
        .await
        .expect("publish");
    let message = next_message(&mut order_socket, Duration::from_secs(5)).await;
    assert_eq!(
        message,
        Some(
            json!({"type": "order.placed", "reference": "DE--7", "customer_reference": "DE--C1", "store": "DE", "grand_total": 4_990, "currency": "EUR"})
        )
    );

    // The catalog manager's first message is a change of the record they watch, not the order: keep
    // announcing the change until their watch request has been read.
    catalog_socket
        .send(Message::Text(r#"{"type":"watch","record":"products:12"}"#.into()))
        .await
        .expect("watch");
    let mut first = None;
    for _ in 0..50 {
        app.notifier
            .publish(
                "records",
                Notification::new(
                    "record.changed",
                    json!({"record": "products:12", "user": "orders@example.com"}),
                ),
            )
            .await
            .expect("publish");
        first = next_message(&mut catalog_socket, Duration::from_millis(100)).await;
        if first.is_some() {
            break;
        }
    }
    assert_eq!(
        first,
        Some(json!({"type": "record.changed", "record": "products:12", "user": "orders@example.com"}))
    );

    // Without a session the handshake is not even attempted.
    let anonymous = app.browser().get("/backoffice/ws").await;
    assert_eq!(anonymous.location.as_deref(), Some("/backoffice/login"));
}

repo_test_suite!(
    signing_in_is_throttled_and_audited,
    the_dashboard_shows_todays_figures,
    users_are_created_changed_and_deactivated,
    custom_roles_are_managed_and_builtin_ones_are_not,
    the_audit_log_is_filtered_and_records_denied_api_writes,
    queues_show_dead_letters_and_requeue_them,
    the_socket_forwards_new_orders_to_order_managers_only,
);
