//! The backend side of the storefront gateway: [`LocalGateway`] runs gateway commands on the domain
//! services (in process for `kontor serve`), and [`internal_routes`] exposes the same thing to split
//! storefronts as `POST /internal/gateway`, guarded by the shared `internal.token`.

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kontor_domain::cart::CartService;
use kontor_domain::checkout::CheckoutService;
use kontor_domain::customer::CustomerService;
use kontor_domain::gateway::{BackendGateway, CustomerCommand, GatewayError, GatewayReply, GatewayRequest};
use kontor_domain::review::ReviewService;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The gateway implemented by this process's services.
pub struct LocalGateway {
    customers: CustomerService,
    carts: CartService,
    checkout: CheckoutService,
    reviews: ReviewService,
}

impl LocalGateway {
    pub fn new(
        customers: CustomerService,
        carts: CartService,
        checkout: CheckoutService,
        reviews: ReviewService,
    ) -> Self {
        Self {
            customers,
            carts,
            checkout,
            reviews,
        }
    }
}

#[async_trait]
impl BackendGateway for LocalGateway {
    async fn execute(&self, request: GatewayRequest) -> Result<GatewayReply, GatewayError> {
        match request {
            GatewayRequest::Customer(CustomerCommand::Login {
                store,
                email,
                password,
                anonymous_id,
                client_ip,
            }) => {
                let merge = anonymous_id.clone();
                let reply = self
                    .customers
                    .execute(CustomerCommand::Login {
                        store: store.clone(),
                        email,
                        password,
                        anonymous_id,
                        client_ip,
                    })
                    .await?;
                if let (Some(anonymous_id), GatewayReply::Tokens(tokens)) = (merge, &reply) {
                    // The sign-in stands even if the merge fails: the guest cart stays and can be merged
                    // by the next sign-in, so a failure is logged, not returned.
                    if let Err(error) = self
                        .carts
                        .merge_guest_cart(&anonymous_id, &tokens.customer_reference, &store)
                        .await
                    {
                        tracing::warn!(%error, "guest cart could not be merged at sign-in");
                    }
                }
                Ok(reply)
            }
            GatewayRequest::Customer(command) => self.customers.execute(command).await,
            GatewayRequest::Cart(command) => self.carts.execute(command).await,
            GatewayRequest::Checkout(command) => self.checkout.execute(command).await,
            GatewayRequest::Review(command) => self.reviews.execute(command).await,
        }
    }
}

#[derive(Clone)]
struct InternalState {
    gateway: Arc<dyn BackendGateway>,
    token: InternalToken,
}

/// The shared `internal.token`, kept as a digest. An empty token admits nobody, so a backend without a
/// configured secret is never open.
#[derive(Clone)]
pub(crate) struct InternalToken {
    digest: Option<[u8; 32]>,
}

impl InternalToken {
    pub(crate) fn new(token: &str) -> Self {
        Self {
            digest: (!token.is_empty()).then(|| Sha256::digest(token.as_bytes()).into()),
        }
    }

    /// Whether the request presents the token as `Authorization: Bearer …`.
    pub(crate) fn admits(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or("");
        // Digests are compared, so the comparison time says nothing about the secret.
        self.digest
            .is_some_and(|digest| !presented.is_empty() && Sha256::digest(presented.as_bytes()).as_slice() == digest)
    }
}

/// The answer body of `/internal/gateway`, mirrored by the storefront's HTTP client.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum GatewayOutcome {
    // Boxed: a cart reply is much larger than an error.
    Reply(Box<GatewayReply>),
    Error(GatewayError),
}

/// `POST /internal/gateway`: one gateway command per request, bearer `token` required. An empty token
/// disables the endpoint (every request is 401), so a backend without a configured secret is never open.
pub fn internal_routes(gateway: Arc<dyn BackendGateway>, token: &str) -> Router {
    let state = InternalState {
        gateway,
        token: InternalToken::new(token),
    };
    Router::new()
        .route("/internal/gateway", post(execute))
        .with_state(state)
}

async fn execute(State(state): State<InternalState>, headers: HeaderMap, body: Bytes) -> Response {
    if !state.token.admits(&headers) {
        return (StatusCode::UNAUTHORIZED, "internal token required").into_response();
    }
    let request: GatewayRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let outcome = GatewayOutcome::Error(GatewayError::Internal(format!("unreadable gateway command: {error}")));
            return (StatusCode::BAD_REQUEST, axum::Json(outcome)).into_response();
        }
    };
    let outcome = match state.gateway.execute(request).await {
        Ok(reply) => GatewayOutcome::Reply(Box::new(reply)),
        Err(error) => GatewayOutcome::Error(error),
    };
    (StatusCode::OK, axum::Json(outcome)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use kontor_domain::gateway::CartCommand;
    use tower::ServiceExt;

    struct Echo;

    #[async_trait]
    impl BackendGateway for Echo {
        async fn execute(&self, _request: GatewayRequest) -> Result<GatewayReply, GatewayError> {
            Ok(GatewayReply::Done)
        }
    }

    async fn call(router: &Router, authorization: Option<&str>) -> (StatusCode, String) {
        let command = GatewayRequest::Cart(CartCommand::DeleteCart {
            owner: kontor_domain::gateway::CartOwner::Guest("g".to_owned()),
            cart_id: "c".to_owned(),
        });
        let mut request = Request::post("/internal/gateway").header("content-type", "application/json");
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        let body = Body::from(serde_json::to_vec(&command).expect("json"));
        let response = router
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("body");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn the_internal_endpoint_needs_the_shared_token() {
        let router = internal_routes(Arc::new(Echo), "s3cret-internal-token");
        assert_eq!(call(&router, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(&router, Some("Bearer wrong")).await.0, StatusCode::UNAUTHORIZED);
        let (status, body) = call(&router, Some("Bearer s3cret-internal-token")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"reply":"done"}"#));
    }

    #[tokio::test]
    async fn an_empty_token_keeps_the_endpoint_closed() {
        let router = internal_routes(Arc::new(Echo), "");
        assert_eq!(call(&router, Some("Bearer ")).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(&router, Some("Bearer anything")).await.0, StatusCode::UNAUTHORIZED);
    }
}
