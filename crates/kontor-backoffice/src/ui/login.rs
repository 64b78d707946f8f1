//! Signing in and out of the Back Office. Failed attempts are throttled per e-mail address and per
//! client address and written to the audit log (never the password); a successful sign-in gets a new
//! session id.

use super::{flash, keys, kit};
use crate::state::AdminState;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kontor_domain::DomainError;
use kontor_domain::acl::{AuditOutcome, NewAuditEntry};
use kontor_web::html::{ClientAddress, CsrfToken, FormErrors, FormFields, Session};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/backoffice/login", get(form).post(sign_in))
        .route("/backoffice/logout", post(sign_out))
}

async fn form(State(state): State<AdminState>, session: Session, csrf: CsrfToken) -> Response {
    if session.get::<i64>(keys::USER).is_some() {
        return Redirect::to("/backoffice").into_response();
    }
    page(
        &state,
        StatusCode::OK,
        &csrf,
        &FormFields::default(),
        &FormErrors::new(),
        session.take(keys::FLASH),
    )
}

fn page(
    state: &AdminState,
    status: StatusCode,
    csrf: &CsrfToken,
    fields: &FormFields,
    errors: &FormErrors,
    flash: Option<super::Flash>,
) -> Response {
    kit(state).theme.page(
        status,
        "backoffice/login.html",
        serde_json::json!({"csrf": csrf.0, "values": fields.echo(), "errors": errors, "flash": flash}),
    )
}

async fn sign_in(
    State(state): State<AdminState>,
    session: Session,
    csrf: CsrfToken,
    ClientAddress(ip): ClientAddress,
    axum::Form(fields): axum::Form<FormFields>,
) -> Response {
    let email = fields.text("email").to_lowercase();
    let password = fields.0.get("password").cloned().unwrap_or_default();
    let mut errors = FormErrors::new();
    errors.require("email", &email, "Enter your e-mail address.");
    errors.require("password", &password, "Enter your password.");
    if !errors.is_empty() {
        return page(&state, StatusCode::UNPROCESSABLE_ENTITY, &csrf, &fields, &errors, None);
    }
    let throttle_keys = [format!("email:{email}"), format!("ip:{ip}")];
    let throttle_keys: Vec<&str> = throttle_keys.iter().map(String::as_str).collect();
    let throttle = &kit(&state).throttle;
    if let Err(wait) = throttle.check(&throttle_keys) {
        errors.add(
            kontor_web::html::forms::FORM,
            format!(
                "Too many failed attempts. Try again in {} minutes.",
                wait.as_secs().div_ceil(60).max(1)
            ),
        );
        return page(&state, StatusCode::TOO_MANY_REQUESTS, &csrf, &fields, &errors, None);
    }
    match state.users.verify_password(&email, &password).await {
        Ok(user) => {
            throttle.succeeded(&throttle_keys);
            session.rotate();
            session.insert(keys::USER, user.id.0);
            flash(&session, "success", format!("Signed in as {}.", user.email));
            let entry = NewAuditEntry::new("login", "POST", "/backoffice/login", AuditOutcome::Allowed).by(&user);
            if let Err(error) = state.audit.append(&entry).await {
                tracing::error!(%error, "the audit log could not be written");
            }
            Redirect::to("/backoffice").into_response()
        }
        Err(DomainError::Unauthorized) => {
            throttle.failed(&throttle_keys);
            let entry = NewAuditEntry {
                user_email: Some(email),
                ..NewAuditEntry::new("login", "POST", "/backoffice/login", AuditOutcome::Denied)
            };
            if let Err(error) = state.audit.append(&entry).await {
                tracing::error!(%error, "the audit log could not be written");
            }
            errors.add(
                kontor_web::html::forms::FORM,
                "The e-mail address or the password is not right.",
            );
            page(&state, StatusCode::UNPROCESSABLE_ENTITY, &csrf, &fields, &errors, None)
        }
        Err(error) => kontor_web::AppError::from(error).into_response(),
    }
}

async fn sign_out(session: Session) -> Response {
    session.destroy();
    Redirect::to("/backoffice/login").into_response()
}
