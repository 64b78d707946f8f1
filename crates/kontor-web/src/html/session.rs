//! Server-side sessions for the HTML surfaces, kept in the KV store (ARCHITECTURE §2: `SessionStore`
//! on `KvStore`), so every storefront node behind a load balancer sees the same session.
//!
//! The browser holds only a random 256-bit id in an `HttpOnly`, `SameSite=Lax` cookie; the KV key is
//! the id's SHA-256 (`session:<scope>:<hex>`), so a dump of the KV store holds no usable session ids.
//! A session is written only when a handler changes it, and touched at most once per quarter of the idle
//! timeout to extend it, so anonymous browsing costs no KV writes. Expired sessions are ignored on read.
//! [`Session::rotate`] gives a new id on login (no session fixation); [`Session::destroy`] logs out.

use crate::AppError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use cookie::{Cookie, SameSite};
use kontor_kv::{KvOp, KvStore};
use rand::RngCore;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Where sessions of one surface live and how their cookie looks.
#[derive(Clone)]
pub struct SessionStore {
    kv: Arc<dyn KvStore>,
    scope: &'static str,
    cookie_name: &'static str,
    idle_timeout: Duration,
    secure_cookie: bool,
}

impl SessionStore {
    /// `scope` separates surfaces (`storefront`, `backoffice`) in the KV store and names the cookie
    /// `kontor_<scope>`; a session unused for `idle_timeout` is gone. `secure_cookie` adds `Secure`
    /// (set it whenever the site is served over HTTPS).
    pub fn new(kv: Arc<dyn KvStore>, scope: &'static str, idle_timeout: Duration, secure_cookie: bool) -> Self {
        let cookie_name = match scope {
            "backoffice" => "kontor_backoffice",
            _ => "kontor_storefront",
        };
        Self {
            kv,
            scope,
            cookie_name,
            idle_timeout,
            secure_cookie,
        }
    }

    pub fn cookie_name(&self) -> &'static str {
        self.cookie_name
    }

    fn key(&self, id: &str) -> String {
        format!("session:{}:{}", self.scope, hex::encode(Sha256::digest(id.as_bytes())))
    }

    /// The live data of session `id`, `None` when unknown or expired.
    pub async fn load(&self, id: &str) -> Result<Option<(Map<String, Value>, i64)>, kontor_kv::KvError> {
        let Some(document) = self.kv.get(&self.key(id)).await? else {
            return Ok(None);
        };
        let expires_at = document.get("expires_at").and_then(Value::as_i64).unwrap_or_default();
        if expires_at <= now_micros() {
            return Ok(None);
        }
        let saved_at = kontor_kv::document_timestamp_micros(&document).unwrap_or_default();
        let data = match document.get("data") {
            Some(Value::Object(data)) => data.clone(),
            _ => Map::new(),
        };
        Ok(Some((data, saved_at)))
    }

    async fn save(&self, id: &str, data: &Map<String, Value>) -> Result<(), kontor_kv::KvError> {
        let now = now_micros();
        let expires_at = now + i64::try_from(self.idle_timeout.as_micros()).unwrap_or(i64::MAX / 2);
        // `_timestamp` is in seconds, as on every KV document; the set-if-newer guard compares it.
        let document = json!({"_timestamp": now as f64 / 1e6, "expires_at": expires_at, "data": data});
        self.kv.apply(&[KvOp::write_document(self.key(id), document)?]).await?;
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<(), kontor_kv::KvError> {
        self.kv.apply(&[KvOp::delete(self.key(id), now_micros())]).await?;
        Ok(())
    }

    fn cookie(&self, id: &str, max_age: Duration) -> HeaderValue {
        let cookie = Cookie::build((self.cookie_name, id.to_owned()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookie)
            .max_age(cookie::time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            ))
            .build();
        HeaderValue::from_str(&cookie.encoded().to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The middleware that loads the session named by the cookie before the handler and saves what the
    /// handler changed after it. Install with `axum::middleware::from_fn_with_state(store, SessionStore::middleware)`.
    pub async fn middleware(State(store): State<SessionStore>, mut request: Request, next: Next) -> Response {
        let cookie_id = cookie_value(request.headers(), store.cookie_name).filter(|id| is_session_id(id));
        let loaded = match &cookie_id {
            Some(id) => match store.load(id).await {
                Ok(found) => found,
                Err(error) => {
                    tracing::warn!(%error, "session store unreachable; serving without a session");
                    None
                }
            },
            None => None,
        };
        let (id, data, saved_at) = match loaded {
            Some((data, saved_at)) => (cookie_id, data, saved_at),
            None => (None, Map::new(), 0),
        };
        let session = Session(Arc::new(Mutex::new(SessionState {
            id,
            data,
            saved_at,
            changed: false,
            rotate: false,
            destroy: false,
        })));
        request.extensions_mut().insert(session.clone());
        let mut response = next.run(request).await;
        if let Err(error) = store.finish(&session, response.headers_mut()).await {
            tracing::error!(%error, "a session could not be saved");
        }
        response
    }

    async fn finish(&self, session: &Session, headers: &mut HeaderMap) -> Result<(), kontor_kv::KvError> {
        let (old_id, new_id, data, destroy) = {
            let state = session.lock();
            let touch_after = i64::try_from(self.idle_timeout.as_micros() / 4).unwrap_or(i64::MAX);
            let touch = state.id.is_some() && now_micros() - state.saved_at > touch_after;
            if !state.changed && !state.destroy && !touch {
                return Ok(());
            }
            let old_id = state.id.clone();
            let new_id = if state.destroy {
                None
            } else if state.rotate || state.id.is_none() {
                Some(new_session_id())
            } else {
                state.id.clone()
            };
            (old_id, new_id, state.data.clone(), state.destroy)
        };
        // An emptied session is no session: its document goes, like a replaced id's.
        let kept = new_id.filter(|_| !data.is_empty());
        if let Some(old) = old_id.as_deref().filter(|old| kept.as_deref() != Some(*old)) {
            self.remove(old).await?;
        }
        match kept {
            Some(id) => {
                self.save(&id, &data).await?;
                headers.append(SET_COOKIE, self.cookie(&id, self.idle_timeout));
            }
            None if destroy || old_id.is_some() => {
                headers.append(SET_COOKIE, self.cookie("", Duration::ZERO));
            }
            None => {}
        }
        Ok(())
    }
}

struct SessionState {
    id: Option<String>,
    data: Map<String, Value>,
    saved_at: i64,
    changed: bool,
    rotate: bool,
    destroy: bool,
}

/// The session key of the [`Flash`] message.
pub const FLASH_KEY: &str = "flash";

/// A one-time message for the next page (`kind`: `success`, `info` or `error`), read with
/// `session.take(FLASH_KEY)`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Flash {
    pub kind: String,
    pub message: String,
}

/// Puts a message on the next page the session sees.
pub fn flash(session: &Session, kind: &str, message: impl Into<String>) {
    session.insert(
        FLASH_KEY,
        Flash {
            kind: kind.to_owned(),
            message: message.into(),
        },
    );
}

/// The current request's session: read and change it in a handler; the middleware saves it.
#[derive(Clone)]
pub struct Session(Arc<Mutex<SessionState>>);

impl Session {
    fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value under `key`, `None` when absent or of another shape.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let state = self.lock();
        state
            .data
            .get(key)
            .and_then(|value| serde_json::from_value(value.clone()).ok())
    }

    pub fn insert(&self, key: &str, value: impl Serialize) {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        let mut state = self.lock();
        if state.data.get(key) != Some(&value) {
            state.data.insert(key.to_owned(), value);
            state.changed = true;
        }
    }

    pub fn remove(&self, key: &str) {
        let mut state = self.lock();
        if state.data.remove(key).is_some() {
            state.changed = true;
        }
    }

    /// Takes a value out (flash messages).
    pub fn take<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let value = self.get(key);
        self.remove(key);
        value
    }

    /// Gives the session a new id when it is saved (call on login and on privilege changes).
    pub fn rotate(&self) {
        let mut state = self.lock();
        state.rotate = true;
        state.changed = true;
    }

    /// Ends the session: its data is deleted and the cookie cleared.
    pub fn destroy(&self) {
        let mut state = self.lock();
        state.data.clear();
        state.destroy = true;
    }

    /// Whether the browser already holds a saved session.
    pub fn is_saved(&self) -> bool {
        self.lock().id.is_some()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| AppError::internal(&"the session middleware is not installed on this route"))
    }
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse_encoded)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn is_session_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(store: SessionStore) -> Router {
        Router::new()
            .route(
                "/login",
                get(|session: Session| async move {
                    session.insert("user", "ada");
                    session.rotate();
                    "in"
                }),
            )
            .route(
                "/me",
                get(|session: Session| async move { session.get::<String>("user").unwrap_or_default() }),
            )
            .route("/logout", get(|session: Session| async move { session.destroy() }))
            .route("/forget", get(|session: Session| async move { session.remove("user") }))
            .layer(axum::middleware::from_fn_with_state(store, SessionStore::middleware))
    }

    async fn call(app: &Router, path: &str, cookie: Option<&str>) -> (String, Option<String>) {
        let mut request = Request::builder().uri(path);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, format!("kontor_storefront={cookie}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(axum::body::Body::empty()).expect("request"))
            .await
            .expect("response");
        let set_cookie = response
            .headers()
            .get(SET_COOKIE)
            .map(|value| value.to_str().expect("ascii").to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1024).await.expect("body");
        (String::from_utf8_lossy(&body).into_owned(), set_cookie)
    }

    fn id_of(set_cookie: &str) -> String {
        let cookie = Cookie::parse(set_cookie.to_owned()).expect("cookie");
        assert!(cookie.http_only().unwrap_or_default() && cookie.same_site() == Some(SameSite::Lax));
        cookie.value().to_owned()
    }

    #[tokio::test]
    async fn a_session_lives_in_the_kv_store_until_logout_and_reading_writes_nothing() {
        let kv: Arc<dyn KvStore> = Arc::new(kontor_kv::MemoryKv::new(Default::default()));
        let app = app(SessionStore::new(
            kv.clone(),
            "storefront",
            Duration::from_secs(600),
            false,
        ));
        let (_, anonymous) = call(&app, "/me", None).await;
        assert_eq!(anonymous, None, "anonymous reads set no cookie");
        let (_, set_cookie) = call(&app, "/login", None).await;
        let id = id_of(&set_cookie.expect("login sets the cookie"));
        assert_eq!(call(&app, "/me", Some(&id)).await, ("ada".to_owned(), None));
        let stored = kv.scan_prefix("session:storefront:", None, 10).await.expect("scan");
        assert_eq!(stored.len(), 1);
        assert!(!stored[0].0.contains(&id), "the KV key is the id's hash, not the id");
        let (_, cleared) = call(&app, "/forget", Some(&id)).await;
        assert!(cleared.expect("emptying clears the cookie").contains("Max-Age=0"));
        assert!(
            kv.scan_prefix("session:storefront:", None, 10)
                .await
                .expect("scan")
                .is_empty(),
            "and its document"
        );
        let (_, set_cookie) = call(&app, "/login", None).await;
        let id = id_of(&set_cookie.expect("login sets the cookie"));
        let (_, cleared) = call(&app, "/logout", Some(&id)).await;
        assert!(cleared.expect("logout clears the cookie").contains("Max-Age=0"));
        assert_eq!(call(&app, "/me", Some(&id)).await.0, "");
        assert_eq!(call(&app, "/me", Some("not-an-id")).await.0, "");
    }

    #[tokio::test]
    async fn login_rotates_the_id() {
        let kv: Arc<dyn KvStore> = Arc::new(kontor_kv::MemoryKv::new(Default::default()));
        let app = app(SessionStore::new(
            kv.clone(),
            "storefront",
            Duration::from_secs(600),
            false,
        ));
        let (_, first) = call(&app, "/login", None).await;
        let first = id_of(&first.expect("cookie"));
        let (_, second) = call(&app, "/login", Some(&first)).await;
        let second = id_of(&second.expect("cookie"));
        assert_ne!(first, second);
        assert_eq!(call(&app, "/me", Some(&first)).await.0, "", "the old id is gone");
        assert_eq!(call(&app, "/me", Some(&second)).await.0, "ada");
    }
}
