//! The `Idempotency-Key` request header (storefront-api.md §1), optional on `checkout`, `carts` and the
//! `*-items` POSTs: the backend makes a repeat of the same request under the same key answer as the first
//! one did, and refuses the key on a different request. Here it is only read and checked.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kontor_web::{AppError, ErrorCode};

/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The request's `Idempotency-Key`, if it sent one: 1 to 255 printable ASCII characters, else 400.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let key = value.to_str().map(str::trim).unwrap_or("");
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || !key.chars().all(|ch| ch.is_ascii_graphic()) {
            return Err(AppError::new(
                ErrorCode::InvalidParameter,
                "Idempotency-Key must be 1 to 255 printable ASCII characters",
            ));
        }
        Ok(Self(Some(key.to_owned())))
    }
}
