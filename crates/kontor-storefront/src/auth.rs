//! Who is calling: a customer with a verified access token, or a guest with
//! `X-Anonymous-Customer-Unique-Id` (`storefront-api.md` §6–§7). Tokens are verified locally with the
//! shared secret; no backend call is made to authenticate a request.

use crate::state::StorefrontState;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use kontor_domain::gateway::CartOwner;
use kontor_web::{AppError, ErrorCode};

pub const ANONYMOUS_HEADER: &str = "x-anonymous-customer-unique-id";
const MAX_ANONYMOUS_ID_LENGTH: usize = 255;

/// A signed-in customer. Missing token → 403 `002`; a bad, forged or expired one → 401 `001`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub reference: String,
}

impl Customer {
    /// 404 `404` unless `path_reference` is the caller's own (no existence leak).
    pub fn expect_own(&self, path_reference: &str) -> Result<(), AppError> {
        if self.reference == path_reference {
            Ok(())
        } else {
            Err(AppError::new(
                ErrorCode::CustomerNotFound,
                format!("customer {path_reference} does not exist"),
            ))
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

fn verify(state: &StorefrontState, token: &str) -> Result<Customer, AppError> {
    state
        .tokens
        .verify(token)
        .map(|claims| Customer { reference: claims.sub })
        .map_err(|_| {
            AppError::new(
                ErrorCode::InvalidAccessToken,
                "the access token is invalid or has expired",
            )
        })
}

impl FromRequestParts<StorefrontState> for Customer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &StorefrontState) -> Result<Self, AppError> {
        match parts.headers.get(AUTHORIZATION) {
            None => Err(AppError::new(
                ErrorCode::MissingAccessToken,
                "this resource needs an access token (Authorization: Bearer …)",
            )),
            Some(_) => match bearer(parts) {
                Some(token) => verify(state, token),
                None => Err(AppError::new(
                    ErrorCode::InvalidAccessToken,
                    "the Authorization header must be `Bearer <access token>`",
                )),
            },
        }
    }
}

/// A guest, by `X-Anonymous-Customer-Unique-Id`. Missing or empty → 400 `109`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    pub anonymous_id: String,
}

impl FromRequestParts<StorefrontState> for Guest {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &StorefrontState) -> Result<Self, AppError> {
        anonymous_id(&parts.headers)?
            .map(|anonymous_id| Guest { anonymous_id })
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::AnonymousIdMissing,
                    "guest requests need the X-Anonymous-Customer-Unique-Id header",
                )
            })
    }
}

/// The guest id header if present: non-empty, at most 255 characters, printable ASCII.
pub fn anonymous_id(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get(ANONYMOUS_HEADER) else {
        return Ok(None);
    };
    let id = value.to_str().map(str::trim).unwrap_or("");
    if id.is_empty() {
        return Ok(None);
    }
    if id.len() > MAX_ANONYMOUS_ID_LENGTH || !id.chars().all(|ch| ch.is_ascii_graphic()) {
        return Err(AppError::new(
            ErrorCode::AnonymousIdMissing,
            "X-Anonymous-Customer-Unique-Id must be 1 to 255 printable ASCII characters",
        ));
    }
    Ok(Some(id.to_owned()))
}

/// Either kind of caller, for resources both may use (checkout later). A token wins over the guest header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub CartOwner);

impl FromRequestParts<StorefrontState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &StorefrontState) -> Result<Self, AppError> {
        if parts.headers.contains_key(AUTHORIZATION) {
            let customer = Customer::from_request_parts(parts, state).await?;
            return Ok(Caller(CartOwner::Customer(customer.reference)));
        }
        match anonymous_id(&parts.headers)? {
            Some(id) => Ok(Caller(CartOwner::Guest(id))),
            None => Err(AppError::new(
                ErrorCode::MissingAccessToken,
                "send an access token or the X-Anonymous-Customer-Unique-Id header",
            )),
        }
    }
}
