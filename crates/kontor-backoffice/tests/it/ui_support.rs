//! Support for Back Office UI tests: the backend's router with the HTML UI over a test database
//! ([`UiApp`]), and a browser-like client ([`Browser`]) with a cookie jar that takes the CSRF token from
//! the pages' forms and signs in through `/backoffice/login` like a person would.
//!
//! Each app has its own session store (an embedded KV file in a temp directory), notifier and login
//! throttle, so tests run in parallel without seeing each other's sessions, notifications or failed
//! sign-ins. Users are made with [`kontor_testkit::admin_token`]; their password is [`PASSWORD`].

use axum::Router;
use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use kontor_backoffice::ui::UiKit;
use kontor_backoffice::{AdminState, router};
use kontor_db::SqlDatabase;
use kontor_domain::acl::{AuditEntry, AuditFilter, AuditRepository};
use kontor_kv::{KvOptions, RedbKv};
use kontor_notify::{BroadcastNotifier, NotifierOptions};
use kontor_web::html::{CsrfProtection, LoginThrottle, SessionStore, Theme, ThemeDirs};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

/// The password of every user made by [`kontor_testkit::admin_token`].
pub const PASSWORD: &str = "correct horse battery";

/// Failed sign-ins allowed per e-mail and client address before the throttle answers 429.
pub const MAX_FAILED_SIGN_INS: usize = 5;

/// The backend with its UI over one test database.
pub struct UiApp {
    pub db: SqlDatabase,
    pub state: AdminState,
    /// The notifier behind `/backoffice/ws`; publish on it to play the other parts of the system.
    pub notifier: Arc<BroadcastNotifier>,
    router: Router,
    _sessions_dir: tempfile::TempDir,
}

impl UiApp {
    /// The UI over `db`, with the admin API, the scheduler's run history and no orders or queues.
    pub async fn new(db: SqlDatabase) -> Self {
        Self::with_state(db, |state| state).await
    }

    /// Like [`new`](Self::new), with the state changed by `customize` (e.g. `with_orders`,
    /// `with_queues`) before the UI is added.
    pub async fn with_state(db: SqlDatabase, customize: impl FnOnce(AdminState) -> AdminState) -> Self {
        let sessions_dir = tempfile::tempdir().expect("a temp directory for the session store");
        let kv = RedbKv::open(sessions_dir.path().join("sessions.redb"), KvOptions::default())
            .await
            .expect("the session store opens");
        let notifier = Arc::new(BroadcastNotifier::new(NotifierOptions::new("", "test-node")).expect("notifier"));
        let kit = UiKit {
            theme: Theme::new(
                ThemeDirs {
                    default_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../../themes/default").into(),
                    override_dir: None,
                },
                false,
            ),
            sessions: SessionStore::new(Arc::new(kv), "backoffice", Duration::from_secs(3600), false),
            csrf: CsrfProtection::new(b"test-secret", false),
            throttle: LoginThrottle::new(MAX_FAILED_SIGN_INS, Duration::from_secs(15 * 60)),
            notifier: Some(notifier.clone()),
        };
        let base = AdminState::new(Arc::new(db.clone()))
            .with_scheduler(kontor_queue::scheduler::RunHistory::new(db.connection().clone()));
        let state = customize(base).with_ui(kit);
        Self {
            router: router(state.clone()),
            db,
            state,
            notifier,
            _sessions_dir: sessions_dir,
        }
    }

    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// A new user holding the built-in or custom `roles`; returns their API token.
    pub async fn user(&self, email: &str, roles: &[&str]) -> String {
        kontor_testkit::admin_token(&self.db, email, roles).await
    }

    /// A browser that has not signed in yet.
    pub fn browser(&self) -> Browser {
        Browser {
            router: self.router(),
            cookies: Mutex::new(BTreeMap::new()),
            csrf: Mutex::new(None),
        }
    }

    /// A new user with `roles`, signed in in a browser of their own.
    pub async fn signed_in(&self, email: &str, roles: &[&str]) -> Browser {
        self.user(email, roles).await;
        let browser = self.browser();
        let page = browser.sign_in(email, PASSWORD).await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/backoffice")),
            "{email} signs in: {}",
            page.body
        );
        browser
    }

    /// Audit entries matching `filter`, newest first (up to 500).
    pub async fn audit(&self, filter: &AuditFilter) -> Vec<AuditEntry> {
        self.db.list(filter, 0, 500).await.expect("the audit log can be read").0
    }

    /// Serves the app on a local port (for WebSocket tests) until the test's runtime ends.
    pub async fn serve(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let address = listener.local_addr().expect("bound address");
        let app = self.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        address
    }
}

/// One answer as a browser sees it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    /// Where a redirect points.
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// Whether the page shows `text` (HTML-escaped as the templates escape it).
    pub fn shows(&self, text: &str) -> bool {
        self.body.contains(&escape(text))
    }

    /// The message shown next to field `name` (the `e-<name>` element), if any.
    pub fn field_error(&self, name: &str) -> Option<String> {
        let marker = format!("id=\"e-{name}\">");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('<')? + start;
        Some(self.body[start..end].to_owned())
    }

    /// The value attribute of the input named `name`, if it has one.
    pub fn input_value(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\"");
        let start = self.body.find(&marker)?;
        let tag_end = self.body[start..].find('>')? + start;
        let tag = &self.body[start..tag_end];
        let value_start = tag.find("value=\"")? + "value=\"".len();
        let value_end = tag[value_start..].find('"')? + value_start;
        Some(tag[value_start..value_end].to_owned())
    }
}

/// Text as minijinja's HTML auto-escaping writes it.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// A client with a cookie jar that remembers the CSRF token of the last form it saw.
pub struct Browser {
    router: Router,
    cookies: Mutex<BTreeMap<String, String>>,
    csrf: Mutex<Option<String>>,
}

impl Browser {
    pub async fn get(&self, path: &str) -> Page {
        let request = Request::builder().method(Method::GET).uri(path);
        self.send(request, Body::empty()).await
    }

    /// Submits a form to `path` with `fields` and the CSRF token (fetched from the sign-in page first
    /// when no page with a form was seen yet). Repeat a name for checkbox groups.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.submit(Method::POST, path, fields).await
    }

    /// Like [`post`](Self::post) with any method.
    pub async fn submit(&self, method: Method, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = match self.csrf_token() {
            Some(token) => token,
            None => {
                self.get("/backoffice/login").await;
                self.csrf_token().expect("the sign-in page has a CSRF token")
            }
        };
        let mut pairs: Vec<(&str, &str)> = fields.to_vec();
        pairs.push(("_csrf", &token));
        self.send_form(method, path, &pairs).await
    }

    /// Submits exactly `fields`, without adding a CSRF token.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.send_form(Method::POST, path, fields).await
    }

    async fn send_form(&self, method: Method, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, Body::from(body)).await
    }

    /// Fills in and sends the sign-in form.
    pub async fn sign_in(&self, email: &str, password: &str) -> Page {
        let form = self.get("/backoffice/login").await;
        assert_eq!(form.status, StatusCode::OK, "the sign-in page: {}", form.body);
        self.post("/backoffice/login", &[("email", email), ("password", password)])
            .await
    }

    /// The `Cookie` header this browser sends (for a WebSocket handshake).
    pub fn cookie_header(&self) -> String {
        let cookies = self.cookies.lock().expect("cookie jar");
        cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn csrf_token(&self) -> Option<String> {
        self.csrf.lock().expect("csrf").clone()
    }

    async fn send(&self, request: axum::http::request::Builder, body: Body) -> Page {
        let cookie = self.cookie_header();
        let request = if cookie.is_empty() {
            request
        } else {
            request.header(COOKIE, cookie)
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        {
            let mut cookies = self.cookies.lock().expect("cookie jar");
            for header in response.headers().get_all(SET_COOKIE) {
                let Some((name, value)) = header
                    .to_str()
                    .ok()
                    .and_then(|text| text.split(';').next())
                    .and_then(|pair| pair.split_once('='))
                else {
                    continue;
                };
                if value.is_empty() {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(token) = csrf_of(&body) {
            *self.csrf.lock().expect("csrf") = Some(token);
        }
        Page { status, location, body }
    }
}

/// The `_csrf` value of the first form of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}
