//! The acceptance test "every Back Office route is covered by an ACL test".
//!
//! [`every_route_is_guarded_by_its_permission`] walks the guarded tables of the admin API
//! ([`kontor_backoffice::admin_api_routes`]) and of the UI ([`kontor_backoffice::ui::page_routes`]) and
//! requests every rule three times: as a user holding every permission but the rule's (403 and a
//! `denied` audit entry for exactly that request), anonymously (401/403 from the API, a redirect to the
//! sign-in page from the UI) and as an administrator (anything but 403). A page added to a table is
//! thereby tested without anyone writing a test for it.
//!
//! What the tables cannot show is a route registered beside them. [`no_route_is_added_around_the_acl`]
//! reads the crate's sources: every `.route(` (and `.route_service(`, `.nest(`, `.nest_service(`) call
//! outside `acl.rs` must either name a `Permission::` (a [`GuardedRouter`] call) or register one of the
//! few routes that are open on purpose ([`OPEN_ROUTES`], [`OPEN_PREFIXES`]).
//!
//! [`GuardedRouter`]: kontor_backoffice::acl::GuardedRouter

use crate::ui_support::{Browser, PASSWORD, UiApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use kontor_backoffice::acl::RouteRule;
use kontor_db::SqlDatabase;
use kontor_domain::acl::{AuditFilter, AuditOutcome, Permission, PermissionSet};
use kontor_queue::{BusOptions, MemoryBus, MessageBus};
use kontor_testkit::repo_test_suite;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use tower::ServiceExt;

/// Routes open without a permission, on purpose: health and API description, signing in and out,
/// the start page's redirect, and the payment service's signed callback.
const OPEN_ROUTES: &[&str] = &[
    "/health",
    "/admin/openapi.json",
    "/backoffice/login",
    "/backoffice/logout",
    "/",
    "/payments/callback",
];
/// Open route prefixes: the theme's assets and the internal API, which has its own token.
const OPEN_PREFIXES: &[&str] = &["/assets/", "/internal/"];
/// The router calls that add routes.
const ROUTING_CALLS: &[&str] = &[".route(", ".route_service(", ".nest(", ".nest_service("];

/// Path parameters are filled with an id nothing has, so that requests allowed through change nothing.
const DUMMY_PARAMETER: &str = "999999";

fn filled(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                DUMMY_PARAMETER
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A user whose roles grant everything but one permission.
struct Lacking {
    email: String,
    token: String,
    browser: Browser,
}

async fn api_status(app: &UiApp, method: &Method, path: &str, token: Option<&str>) -> StatusCode {
    let mut request = Request::builder().method(method.clone()).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = if matches!(*method, Method::GET | Method::HEAD) {
        Body::empty()
    } else {
        request = request.header("content-type", "application/vnd.api+json");
        Body::from("{}")
    };
    let response = app
        .router()
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("infallible");
    response.status()
}

async fn page(browser: &Browser, method: &Method, path: &str) -> crate::ui_support::Page {
    if *method == Method::GET {
        browser.get(path).await
    } else {
        browser.submit(method.clone(), path, &[]).await
    }
}

async fn every_route_is_guarded_by_its_permission(db: SqlDatabase) {
    let bus: Arc<dyn MessageBus> = Arc::new(MemoryBus::new(BusOptions::default()));
    let app = UiApp::with_state(db, move |state| state.with_queues(bus)).await;
    let (_, api_rules) = kontor_backoffice::admin_api_routes().into_parts();
    let (_, page_rules) = kontor_backoffice::ui::page_routes().into_parts();
    assert!(
        api_rules.iter().all(|rule| rule.path.starts_with("/admin/")),
        "{api_rules:?}"
    );
    assert!(
        page_rules.iter().all(|rule| rule.path.starts_with("/backoffice")),
        "{page_rules:?}"
    );
    for expected in [
        "/backoffice",
        "/backoffice/users",
        "/backoffice/roles",
        "/backoffice/audit",
        "/backoffice/ws",
    ] {
        assert!(
            page_rules
                .iter()
                .any(|rule| rule.method == Method::GET && rule.path == expected),
            "{expected} is a guarded page"
        );
    }

    let admin_token = app.user("admin@example.com", &["administrator"]).await;
    let admin = app.browser();
    assert_eq!(
        admin.sign_in("admin@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let anonymous = app.browser();
    let mut lacking = BTreeMap::new();
    for permission in Permission::ALL {
        let role = format!("all_but_{}", permission.as_str().replace('.', "_"));
        let others: PermissionSet = Permission::ALL
            .into_iter()
            .filter(|other| *other != permission)
            .collect();
        app.state
            .acl
            .create_role(&role, "Every permission but one", &others)
            .await
            .expect("the role can be created");
        let email = format!("{role}@example.com");
        let token = app.user(&email, &[&role]).await;
        let browser = app.browser();
        assert_eq!(browser.sign_in(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
        lacking.insert(permission, Lacking { email, token, browser });
    }

    for rule in &api_rules {
        let path = filled(&rule.path);
        let without = &lacking[&rule.permission];
        let status = api_status(&app, &rule.method, &path, Some(&without.token)).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{} {path} without {}",
            rule.method,
            rule.permission
        );
        let status = api_status(&app, &rule.method, &path, None).await;
        assert!(
            matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
            "{} {path} anonymously: {status}",
            rule.method
        );
        let status = api_status(&app, &rule.method, &path, Some(&admin_token)).await;
        assert_ne!(
            status,
            StatusCode::FORBIDDEN,
            "{} {path} with {}",
            rule.method,
            rule.permission
        );
    }
    for rule in &page_rules {
        let path = filled(&rule.path);
        let without = &lacking[&rule.permission];
        let refused = page(&without.browser, &rule.method, &path).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{} {path} without {}: {}",
            rule.method,
            rule.permission,
            refused.body
        );
        assert!(
            refused.body.contains(rule.permission.as_str()),
            "the page names the permission"
        );
        let redirected = page(&anonymous, &rule.method, &path).await;
        assert_eq!(
            redirected.location.as_deref(),
            Some("/backoffice/login"),
            "{} {path} anonymously: {}",
            rule.method,
            redirected.status
        );
        let allowed = page(&admin, &rule.method, &path).await;
        assert_ne!(
            allowed.status,
            StatusCode::FORBIDDEN,
            "{} {path} with {}: {}",
            rule.method,
            rule.permission,
            allowed.body
        );
    }

    // Every refusal is in the audit log, attributed, with the permission it lacked.
    let (users, _) = app.state.acl.list_users(0, 100).await.expect("users");
    for (permission, without) in &lacking {
        let id = users
            .iter()
            .find(|listed| listed.user.email == without.email)
            .map(|listed| listed.user.id)
            .expect("the user exists");
        let denied = app
            .audit(&AuditFilter {
                user_id: Some(id),
                outcome: Some(AuditOutcome::Denied),
                ..AuditFilter::default()
            })
            .await;
        let logged: BTreeSet<(String, String, String)> = denied
            .iter()
            .map(|entry| (entry.action.clone(), entry.method.clone(), entry.target.clone()))
            .collect();
        let expected: Vec<&RouteRule> = api_rules
            .iter()
            .chain(&page_rules)
            .filter(|rule| rule.permission == *permission)
            .collect();
        for rule in &expected {
            let key = (
                permission.as_str().to_owned(),
                rule.method.to_string(),
                filled(&rule.path),
            );
            assert!(logged.contains(&key), "no denied entry for {key:?}: {logged:?}");
        }
        assert_eq!(
            denied.len(),
            expected.len(),
            "one entry per refused request: {logged:?}"
        );
    }
}

repo_test_suite!(every_route_is_guarded_by_its_permission);

/// The routing calls in `source` that neither carry a permission nor register an open route.
fn unguarded_routes(source: &str) -> Vec<String> {
    // Comments may mention routes; only code registers them.
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut offending = Vec::new();
    for call in ROUTING_CALLS {
        let mut from = 0;
        while let Some(found) = code[from..].find(call) {
            let arguments_start = from + found + call.len();
            let arguments = call_arguments(&code[arguments_start..]);
            from = arguments_start;
            if arguments.contains("Permission::") {
                continue;
            }
            let open = first_string_literal(arguments).is_some_and(|path| {
                OPEN_ROUTES.contains(&path) || OPEN_PREFIXES.iter().any(|prefix| path.starts_with(prefix))
            });
            if !open {
                offending.push(format!("{call}{})", arguments.trim()));
            }
        }
    }
    offending
}

/// The text of a call's arguments: everything up to the parenthesis closing the call.
fn call_arguments(after_open: &str) -> &str {
    let mut depth = 0_usize;
    let mut in_string = false;
    let mut escaped = false;
    for (index, character) in after_open.char_indices() {
        if in_string {
            match character {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match character {
            '"' => in_string = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return &after_open[..index],
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    after_open
}

/// The first argument when it is a string literal (`"/health"`); a computed path is never open.
fn first_string_literal(arguments: &str) -> Option<&str> {
    let rest = arguments.trim_start().strip_prefix('"')?;
    rest.split('"').next()
}

fn rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("the source directory can be read")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn no_route_is_added_around_the_acl() {
    let source_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&source_dir, &mut files);
    assert!(files.len() > 10, "the sources are found: {files:?}");
    let mut offending = Vec::new();
    for file in files {
        // The guard's own router is where guarded routes become axum routes.
        if file == source_dir.join("acl.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&file).expect("a source file can be read");
        for call in unguarded_routes(&source) {
            offending.push(format!("{}: {call}", file.display()));
        }
    }
    assert!(
        offending.is_empty(),
        "routes without a permission (register them through GuardedRouter, or add them to the \
         open routes of this test if they must be open):\n{}",
        offending.join("\n")
    );
}

#[test]
fn the_source_scan_catches_unguarded_routes() {
    let guarded = r#"GuardedRouter::new().get("/backoffice/x", Permission::UsersRead, x)
        .route(Method::DELETE, format!("/admin/{}", kind), Permission::CatalogWrite, remove)"#;
    assert!(unguarded_routes(guarded).is_empty());
    let open = r#"Router::new().route("/health", get(health)).route("/internal/gateway", post(run))"#;
    assert!(unguarded_routes(open).is_empty());
    let commented = "// Router::new().route(\"/backoffice/secret\", get(secret))";
    assert!(unguarded_routes(commented).is_empty());
    let sneaky = r#"Router::new()
        .route("/backoffice/secret", get(|| async { "(not guarded)" }))
        .route(&computed, get(secret))
        .nest("/backoffice/more", other)"#;
    assert_eq!(unguarded_routes(sneaky).len(), 3, "{:?}", unguarded_routes(sneaky));
}
