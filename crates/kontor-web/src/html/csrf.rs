//! CSRF protection for every form of the HTML surfaces: a signed double-submit token.
//!
//! The browser gets a random value in an `HttpOnly`, `SameSite=Lax` cookie (`kontor_csrf`); pages put
//! `HMAC-SHA256(secret, value)` into each form's hidden `_csrf` field. An unsafe request (POST, PUT,
//! PATCH, DELETE) passes only with the token of its own cookie, from the form field, the `X-CSRF-Token`
//! header (scripts) or, for multipart uploads whose body is not buffered here, the `_csrf` query
//! parameter. Another site can neither read the cookie nor compute the token without the server's
//! secret. No session is needed, so anonymous pages stay free of KV writes.

use crate::html::session::cookie_value;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::sync::Arc;

const COOKIE_NAME: &str = "kontor_csrf";
/// The hidden form field carrying the token.
pub const FIELD: &str = "_csrf";
const HEADER: &str = "x-csrf-token";
/// Form bodies are buffered to read the token; a form larger than this is refused.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The secret and cookie settings of the CSRF check.
#[derive(Clone)]
pub struct CsrfProtection {
    secret: Arc<[u8]>,
    secure_cookie: bool,
}

/// The token for the current request's forms, put into the request's extensions by the middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfToken(pub String);

impl CsrfProtection {
    pub fn new(secret: &[u8], secure_cookie: bool) -> Self {
        Self {
            secret: secret.into(),
            secure_cookie,
        }
    }

    fn token_for(&self, cookie: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(cookie.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn verify(&self, cookie: &str, token: &str) -> bool {
        let Ok(token) = hex::decode(token) else { return false };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(cookie.as_bytes());
        mac.verify_slice(&token).is_ok()
    }

    /// The middleware: gives every request a [`CsrfToken`] and refuses unsafe requests without the
    /// right one (403, nothing changed). Install with `from_fn_with_state(protection, CsrfProtection::middleware)`.
    pub async fn middleware(State(protection): State<CsrfProtection>, request: Request, next: Next) -> Response {
        let existing = cookie_value(request.headers(), COOKIE_NAME).filter(|value| value.len() == 64);
        let (cookie, is_new) = match existing {
            Some(value) => (value, false),
            None => {
                let mut bytes = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                (hex::encode(bytes), true)
            }
        };
        let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let mut request = if unsafe_method {
            match protection.check(&cookie, is_new, request).await {
                Ok(request) => request,
                Err(response) => return response,
            }
        } else {
            request
        };
        request
            .extensions_mut()
            .insert(CsrfToken(protection.token_for(&cookie)));
        let mut response = next.run(request).await;
        if is_new {
            let cookie = Cookie::build((COOKIE_NAME, cookie))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(protection.secure_cookie)
                .build();
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }

    async fn check(&self, cookie: &str, is_new: bool, request: Request) -> Result<Request, Response> {
        if is_new {
            return Err(refused());
        }
        if let Some(token) = request.headers().get(HEADER).and_then(|value| value.to_str().ok()) {
            return if self.verify(cookie, token) {
                Ok(request)
            } else {
                Err(refused())
            };
        }
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let (parts, body) = request.into_parts();
            let bytes = to_bytes(body, MAX_FORM_BYTES)
                .await
                .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response())?;
            let token = url::form_urlencoded::parse(&bytes)
                .find(|(name, _)| name == FIELD)
                .map(|(_, value)| value.into_owned());
            return match token {
                Some(token) if self.verify(cookie, &token) => Ok(Request::from_parts(parts, Body::from(bytes))),
                _ => Err(refused()),
            };
        }
        let token = url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .find(|(name, _)| name == FIELD)
            .map(|(_, value)| value.into_owned());
        match token {
            Some(token) if self.verify(cookie, &token) => Ok(request),
            _ => Err(refused()),
        }
    }
}

/// Whether a browser's `Origin` names this host; requests without one (not from a browser page) pass.
/// WebSocket handshakes carry no CSRF token, so this is their cross-site check.
pub fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    use axum::http::header::{HOST, ORIGIN};
    let Some(origin) = headers.get(ORIGIN).and_then(|value| value.to_str().ok()) else {
        return true;
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|host| host.eq_ignore_ascii_case(origin_host))
}

fn refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html(
            "<!doctype html><title>Form expired</title><main><h1>This form has expired</h1>\
             <p>Go back, reload the page and send the form again.</p></main>",
        ),
    )
        .into_response()
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CsrfToken {
    type Rejection = crate::AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .ok_or_else(|| crate::AppError::internal(&"the CSRF middleware is not installed on this route"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::header::COOKIE;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route(
                "/form",
                get(|token: CsrfToken| async move { token.0 }).post(|body: String| async move { body }),
            )
            .layer(axum::middleware::from_fn_with_state(
                CsrfProtection::new(b"secret", false),
                CsrfProtection::middleware,
            ))
    }

    async fn send(request: Request) -> (StatusCode, String, Option<String>) {
        let response = app().oneshot(request).await.expect("response");
        let status = response.status();
        let cookie = response
            .headers()
            .get(SET_COOKIE)
            .map(|value| value.to_str().expect("ascii").to_owned());
        let body = to_bytes(response.into_body(), 4096).await.expect("body");
        (status, String::from_utf8_lossy(&body).into_owned(), cookie)
    }

    fn post(cookie: Option<&str>, body: &str) -> Request {
        let mut request = Request::post("/form").header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, format!("{COOKIE_NAME}={cookie}"));
        }
        request.body(Body::from(body.to_owned())).expect("request")
    }

    #[tokio::test]
    async fn a_form_passes_only_with_the_token_of_its_own_cookie() {
        let (_, token, set_cookie) = send(Request::get("/form").body(Body::empty()).expect("request")).await;
        let set_cookie = set_cookie.expect("a first visit gets the cookie");
        let cookie = Cookie::parse(set_cookie).expect("cookie");
        assert_eq!(cookie.http_only(), Some(true));
        let value = cookie.value().to_owned();
        let body = format!("name=Ada&{FIELD}={token}");
        let (status, echoed, _) = send(post(Some(&value), &body)).await;
        assert_eq!(
            (status, echoed),
            (StatusCode::OK, body.clone()),
            "the handler still reads the whole form"
        );
        assert_eq!(send(post(Some(&value), "name=Ada")).await.0, StatusCode::FORBIDDEN);
        assert_eq!(send(post(None, &body)).await.0, StatusCode::FORBIDDEN);
        let other = "a".repeat(64);
        assert_eq!(send(post(Some(&other), &body)).await.0, StatusCode::FORBIDDEN);
    }
}
