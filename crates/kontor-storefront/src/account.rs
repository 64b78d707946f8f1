//! Customer resources (`storefront-api.md` §6, §8.1, §8.2): `customers`, `access-tokens`,
//! `refresh-tokens`, the OAuth2 form endpoint `token`, `customer-password`,
//! `customer-forgotten-password`, `customer-restore-password` and `customers/{ref}/addresses`.
//!
//! Handlers check the transport (body shape, JSON types, presence of fields — with pointers) and who is
//! asking; the rules (password length, unique e-mail, throttling) are the backend's, reached through the
//! gateway. A customer path naming someone else answers 404, never 403.

use crate::auth::{Customer, anonymous_id};
use crate::context::RequestContext;
use crate::document::{Document, Resource};
use crate::state::StorefrontState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use kontor_domain::gateway::{
    Address, AddressChanges, AddressInput, CustomerChanges, CustomerCommand, CustomerProfile, GatewayReply,
    GatewayRequest, PasswordChange, PasswordRestore, Registration, Secret, TokenPair,
};
use kontor_web::jsonapi::parse_attributes;
use kontor_web::{AppError, ErrorCode, JsonApiRequest};
use serde::Deserialize;
use serde_json::Value;

pub fn routes() -> Router<StorefrontState> {
    Router::new()
        .route("/customers", post(register).get(list_own_customer))
        .route(
            "/customers/{reference}",
            get(get_customer).patch(update_customer).delete(delete_customer),
        )
        .route(
            "/customers/{reference}/addresses",
            get(list_addresses).post(create_address),
        )
        .route(
            "/customers/{reference}/addresses/{address_id}",
            get(get_address).patch(update_address).delete(delete_address),
        )
        .route("/access-tokens", post(login))
        .route("/refresh-tokens", post(refresh))
        .route("/refresh-tokens/{token}", delete(revoke_refresh_token))
        .route("/token", post(oauth_token))
        .route("/customer-password/{reference}", patch(change_password))
        .route("/customer-forgotten-password", post(forgot_password))
        .route("/customer-restore-password/{key}", patch(restore_password))
}

/// Runs a customer command on the backend.
pub(crate) async fn customer_command(
    state: &StorefrontState,
    command: CustomerCommand,
) -> Result<GatewayReply, AppError> {
    Ok(state.gateway.execute(GatewayRequest::Customer(command)).await?)
}

/// A reply of the wrong kind is a backend bug, not the client's problem.
pub(crate) fn unexpected(reply: &GatewayReply) -> AppError {
    AppError::internal(&format!("unexpected gateway reply {reply:?}"))
}

/// A view as resource attributes: serialised, minus the fields that are the id or internal.
pub(crate) fn attributes_of<T: serde::Serialize>(view: &T, internal: &[&str]) -> Result<Value, AppError> {
    let mut value = serde_json::to_value(view).map_err(|error| AppError::internal(&error))?;
    if let Value::Object(map) = &mut value {
        for name in internal {
            map.remove(*name);
        }
    }
    Ok(value)
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn customer_resource(ctx: &RequestContext, profile: &CustomerProfile) -> Result<Resource, AppError> {
    Ok(Resource::new(
        ctx,
        "customers",
        &profile.customer_reference,
        attributes_of(profile, &["customerReference"])?,
    ))
}

fn address_resource(ctx: &RequestContext, reference: &str, address: &Address) -> Result<Resource, AppError> {
    let link = format!("{}/customers/{reference}/addresses/{}", ctx.api_base, address.id);
    Ok(Resource::with_link(
        "addresses",
        Some(&address.id),
        attributes_of(address, &["id"])?,
        Some(link),
    ))
}

fn tokens_resource(tokens: &TokenPair) -> Result<Resource, AppError> {
    Ok(Resource::with_link(
        "access-tokens",
        None,
        attributes_of(tokens, &["customerReference"])?,
        None,
    ))
}

async fn register(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type("customers")?;
    let registration: Registration = parse_attributes(body.attributes)?;
    let command = CustomerCommand::Register {
        store: ctx.store.name.clone(),
        registration,
    };
    match customer_command(&state, command).await? {
        GatewayReply::Customer(profile) => {
            Ok(Document::one(customer_resource(&ctx, &profile)?).respond(&ctx, &HeaderMap::new(), StatusCode::CREATED))
        }
        other => Err(unexpected(&other)),
    }
}

async fn load_profile(state: &StorefrontState, customer: &Customer) -> Result<CustomerProfile, AppError> {
    let command = CustomerCommand::GetCustomer {
        customer_reference: customer.reference.clone(),
    };
    match customer_command(state, command).await? {
        GatewayReply::Customer(profile) => Ok(profile),
        other => Err(unexpected(&other)),
    }
}

/// `GET /customers`: Glue lists the caller's own account.
async fn list_own_customer(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
) -> Result<Response, AppError> {
    let profile = load_profile(&state, &customer).await?;
    let document = Document::many(vec![customer_resource(&ctx, &profile)?]);
    Ok(document.respond(&ctx, &HeaderMap::new(), StatusCode::OK))
}

async fn get_customer(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path(reference): Path<String>,
) -> Result<Response, AppError> {
    customer.expect_own(&reference)?;
    let profile = load_profile(&state, &customer).await?;
    Ok(Document::one(customer_resource(&ctx, &profile)?).respond(&ctx, &HeaderMap::new(), StatusCode::OK))
}

async fn update_customer(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path(reference): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    customer.expect_own(&reference)?;
    body.expect_type("customers")?;
    let changes: CustomerChanges = parse_attributes(body.attributes)?;
    let command = CustomerCommand::UpdateCustomer {
        customer_reference: customer.reference.clone(),
        changes,
    };
    match customer_command(&state, command).await? {
        GatewayReply::Customer(profile) => {
            Ok(Document::one(customer_resource(&ctx, &profile)?).respond(&ctx, &HeaderMap::new(), StatusCode::OK))
        }
        other => Err(unexpected(&other)),
    }
}

async fn delete_customer(
    State(state): State<StorefrontState>,
    customer: Customer,
    Path(reference): Path<String>,
) -> Result<Response, AppError> {
    customer.expect_own(&reference)?;
    let command = CustomerCommand::DeleteCustomer {
        customer_reference: customer.reference,
    };
    customer_command(&state, command).await?;
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    username: String,
    password: Secret,
}

/// The client address for per-IP login throttling: the first `X-Forwarded-For` hop (storefronts sit
/// behind a load balancer), else `X-Real-IP`.
fn client_ip(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .or_else(|| headers.get("x-real-ip").and_then(|value| value.to_str().ok()))
        .map(|ip| ip.trim().to_owned())
        .filter(|ip| !ip.is_empty())
}

async fn sign_in(
    state: &StorefrontState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    email: String,
    password: Secret,
) -> Result<TokenPair, AppError> {
    let command = CustomerCommand::Login {
        store: ctx.store.name.clone(),
        email,
        password,
        anonymous_id: anonymous_id(headers)?,
        client_ip: client_ip(headers),
    };
    match customer_command(state, command).await? {
        GatewayReply::Tokens(tokens) => Ok(tokens),
        other => Err(unexpected(&other)),
    }
}

/// `POST /access-tokens`; with `X-Anonymous-Customer-Unique-Id` the guest cart is merged at sign-in.
async fn login(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type("access-tokens")?;
    let credentials: Credentials = parse_attributes(body.attributes)?;
    let tokens = sign_in(&state, &ctx, &headers, credentials.username, credentials.password).await?;
    Ok(Document::one(tokens_resource(&tokens)?).respond(&ctx, &HeaderMap::new(), StatusCode::CREATED))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RefreshAttributes {
    refresh_token: Secret,
}

async fn refresh_tokens(state: &StorefrontState, refresh_token: Secret) -> Result<TokenPair, AppError> {
    match customer_command(state, CustomerCommand::Refresh { refresh_token }).await? {
        GatewayReply::Tokens(tokens) => Ok(tokens),
        other => Err(unexpected(&other)),
    }
}

async fn refresh(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type("refresh-tokens")?;
    let attributes: RefreshAttributes = parse_attributes(body.attributes)?;
    let tokens = refresh_tokens(&state, attributes.refresh_token).await?;
    let resource = Resource::with_link(
        "refresh-tokens",
        None,
        attributes_of(&tokens, &["customerReference"])?,
        None,
    );
    Ok(Document::one(resource).respond(&ctx, &HeaderMap::new(), StatusCode::CREATED))
}

/// `DELETE /refresh-tokens/{token}` or `/refresh-tokens/mine`: always 204, whether or not it existed.
async fn revoke_refresh_token(
    State(state): State<StorefrontState>,
    customer: Customer,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let command = if token == "mine" {
        CustomerCommand::RevokeAllRefreshTokens {
            customer_reference: customer.reference,
        }
    } else {
        CustomerCommand::RevokeRefreshToken {
            customer_reference: customer.reference,
            refresh_token: Secret(token),
        }
    };
    customer_command(&state, command).await?;
    Ok(no_content())
}

/// `POST /token`, the OAuth2 form alternative (`grant_type=password|refresh_token`), answered as plain
/// OAuth2 JSON; errors use OAuth2's `{"error": …}` shape, which OAuth2 clients expect.
async fn oauth_token(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            axum::Json(serde_json::json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    if !form_type {
        return oauth_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "send application/x-www-form-urlencoded",
        );
    }
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).filter(|value| !value.is_empty()).cloned();
    let result = match form.get("grant_type").map(String::as_str) {
        Some("password") => match (field("username"), field("password")) {
            (Some(username), Some(password)) => sign_in(&state, &ctx, &headers, username, Secret(password)).await,
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "username and password are required",
                );
            }
        },
        Some("refresh_token") => match field("refresh_token") {
            Some(token) => refresh_tokens(&state, Secret(token)).await,
            None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is required"),
        },
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be password or refresh_token",
            );
        }
    };
    match result {
        Ok(tokens) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({
                "token_type": tokens.token_type,
                "expires_in": tokens.expires_in,
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
            })),
        )
            .into_response(),
        Err(error) if error.status() == StatusCode::UNAUTHORIZED => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            "the credentials or the refresh token are not valid",
        ),
        Err(error) => error.into_response(),
    }
}

async fn change_password(
    State(state): State<StorefrontState>,
    customer: Customer,
    Path(reference): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    customer.expect_own(&reference)?;
    body.expect_type("customer-password")?;
    let change: PasswordChange = parse_attributes(body.attributes)?;
    let command = CustomerCommand::ChangePassword {
        customer_reference: customer.reference,
        change,
    };
    customer_command(&state, command).await?;
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgottenPassword {
    email: String,
}

/// Always 204, so the answer never tells whether an e-mail is registered.
async fn forgot_password(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type("customer-forgotten-password")?;
    let attributes: ForgottenPassword = parse_attributes(body.attributes)?;
    let command = CustomerCommand::ForgotPassword {
        store: ctx.store.name.clone(),
        email: attributes.email,
    };
    customer_command(&state, command).await?;
    Ok(no_content())
}

async fn restore_password(
    State(state): State<StorefrontState>,
    Path(key): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    body.expect_type("customer-restore-password")?;
    let restore: PasswordRestore = parse_attributes(body.attributes)?;
    if restore.restore_password_key.expose() != key {
        return Err(AppError::at_pointer(
            ErrorCode::Unprocessable,
            "/data/attributes/restorePasswordKey",
            "restorePasswordKey must equal the key in the path",
        ));
    }
    customer_command(&state, CustomerCommand::RestorePassword { restore }).await?;
    Ok(no_content())
}

async fn list_addresses(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path(reference): Path<String>,
) -> Result<Response, AppError> {
    customer.expect_own(&reference)?;
    let command = CustomerCommand::ListAddresses {
        customer_reference: customer.reference.clone(),
    };
    match customer_command(&state, command).await? {
        GatewayReply::Addresses(addresses) => {
            let resources = addresses
                .iter()
                .map(|address| address_resource(&ctx, &reference, address))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Document::many(resources).respond(&ctx, &HeaderMap::new(), StatusCode::OK))
        }
        other => Err(unexpected(&other)),
    }
}

async fn respond_address(
    state: &StorefrontState,
    ctx: &RequestContext,
    reference: &str,
    command: CustomerCommand,
    status: StatusCode,
) -> Result<Response, AppError> {
    match customer_command(state, command).await? {
        GatewayReply::Address(address) => {
            Ok(Document::one(address_resource(ctx, reference, &address)?).respond(ctx, &HeaderMap::new(), status))
        }
        other => Err(unexpected(&other)),
    }
}

async fn create_address(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path(reference): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    customer.expect_own(&reference)?;
    body.expect_type("addresses")?;
    let address: AddressInput = parse_attributes(body.attributes)?;
    let command = CustomerCommand::CreateAddress {
        customer_reference: customer.reference,
        address,
    };
    respond_address(&state, &ctx, &reference, command, StatusCode::CREATED).await
}

async fn get_address(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path((reference, address_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    customer.expect_own(&reference)?;
    let command = CustomerCommand::GetAddress {
        customer_reference: customer.reference,
        address_id,
    };
    respond_address(&state, &ctx, &reference, command, StatusCode::OK).await
}

async fn update_address(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    customer: Customer,
    Path((reference, address_id)): Path<(String, String)>,
    body: JsonApiRequest,
) -> Result<Response, AppError> {
    customer.expect_own(&reference)?;
    body.expect_type("addresses")?;
    let changes: AddressChanges = parse_attributes(body.attributes)?;
    let command = CustomerCommand::UpdateAddress {
        customer_reference: customer.reference,
        address_id,
        changes,
    };
    respond_address(&state, &ctx, &reference, command, StatusCode::OK).await
}

async fn delete_address(
    State(state): State<StorefrontState>,
    customer: Customer,
    Path((reference, address_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    customer.expect_own(&reference)?;
    let command = CustomerCommand::DeleteAddress {
        customer_reference: customer.reference,
        address_id,
    };
    customer_command(&state, command).await?;
    Ok(no_content())
}
