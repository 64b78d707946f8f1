//! API-token authentication for the admin API: `Authorization: Bearer kontor_…`. The token's user and
//! their permissions become the request's [`Principal`](crate::acl::Principal) for the ACL guard.
//!
//! A missing token is 403 with code 002 and a wrong or revoked one 401 with code 001, as the
//! storefront spec prescribes for Glue compatibility. The token itself is never logged.

use crate::state::AdminState;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use kontor_domain::DomainError;
use kontor_domain::users::User;
use kontor_web::{AppError, ErrorCode};

/// The signed-in Back Office user, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

pub async fn require_api_token(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let Some(token) = header.and_then(|value| value.strip_prefix("Bearer ")).map(str::trim) else {
        return Err(AppError::new(
            ErrorCode::MissingAccessToken,
            "send an API token as Authorization: Bearer <token>",
        ));
    };
    let user = state
        .users
        .authenticate_token(token)
        .await
        .map_err(|error| match error {
            DomainError::Unauthorized => {
                AppError::new(ErrorCode::InvalidAccessToken, "the API token is invalid or revoked")
            }
            other => AppError::from(other),
        })?;
    tracing::Span::current().record("user_id", user.id.0);
    let permissions = state.acl.permissions_of(user.id).await.map_err(AppError::from)?;
    request.extensions_mut().insert(crate::acl::Principal {
        user: user.clone(),
        permissions,
    });
    request
        .extensions_mut()
        .insert(crate::acl::AuditSink(state.audit.clone()));
    request.extensions_mut().insert(CurrentUser(user));
    Ok(next.run(request).await)
}
