//! The backend gateway over HTTP, for storefronts that run apart from the backend: each command is
//! POSTed as JSON to `<backend>/internal/gateway` with the shared bearer secret. A backend that cannot
//! be reached, times out or answers 5xx without a gateway error is [`GatewayError::Unavailable`]; the
//! storefront then answers 503 and nothing was changed (commands are atomic on the backend).

use async_trait::async_trait;
use kontor_domain::gateway::{BackendGateway, GatewayError, GatewayReply, GatewayRequest};
use std::time::Duration;

/// Path of the internal gateway endpoint on the backend.
pub const GATEWAY_PATH: &str = "/internal/gateway";

pub struct HttpGateway {
    client: reqwest::Client,
    base_url: String,
    endpoint: String,
    token: String,
}

impl HttpGateway {
    /// `backend_url` such as `http://127.0.0.1:8081`; `token` is `internal.token`.
    pub fn new(backend_url: &str, token: &str) -> Result<Self, GatewayError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|error| GatewayError::Internal(format!("HTTP client: {error}")))?;
        let base_url = backend_url.trim_end_matches('/').to_owned();
        Ok(Self {
            client,
            endpoint: format!("{base_url}{GATEWAY_PATH}"),
            base_url,
            token: token.to_owned(),
        })
    }

    /// One page of a projection's change feed from the backend's storage tables
    /// (`GET /internal/storage-feed/{projection}`), for a search replica catching up.
    pub async fn storage_feed(
        &self,
        projection: &str,
        after: kontor_readmodel::FeedCursor,
        limit: u64,
    ) -> Result<kontor_readmodel::FeedPage, GatewayError> {
        let url = format!("{}/internal/storage-feed/{projection}", self.base_url);
        let response = self
            .client
            .get(&url)
            .bearer_auth(&self.token)
            .query(&[
                ("ts", after.ts),
                ("id", after.id),
                ("limit", i64::try_from(limit).unwrap_or(500)),
            ])
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|error| GatewayError::Unavailable(format!("backend request failed: {error}")))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(if status.is_server_error() {
                GatewayError::Unavailable(format!("storage feed answered {status}: {body}"))
            } else {
                GatewayError::Internal(format!("storage feed answered {status}: {body}"))
            });
        }
        response
            .json()
            .await
            .map_err(|error| GatewayError::Unavailable(format!("storage feed answer unreadable: {error}")))
    }
}

/// The JSON body of the internal endpoint's answer: exactly one of the two.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayOutcome {
    // Boxed: a cart reply is much larger than an error.
    Reply(Box<GatewayReply>),
    Error(GatewayError),
}

#[async_trait]
impl BackendGateway for HttpGateway {
    async fn execute(&self, request: GatewayRequest) -> Result<GatewayReply, GatewayError> {
        let response = self
            .client
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .json(&request)
            .send()
            .await
            .map_err(|error| GatewayError::Unavailable(format!("backend request failed: {error}")))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| GatewayError::Unavailable(format!("backend answer unreadable: {error}")))?;
        match serde_json::from_slice::<GatewayOutcome>(&body) {
            Ok(GatewayOutcome::Reply(reply)) => Ok(*reply),
            Ok(GatewayOutcome::Error(error)) => Err(error),
            Err(_) if status.is_server_error() => Err(GatewayError::Unavailable(format!("backend answered {status}"))),
            Err(_) if status == reqwest::StatusCode::UNAUTHORIZED => Err(GatewayError::Internal(
                "the backend refused the internal token; check internal.token on both roles".to_owned(),
            )),
            Err(error) => Err(GatewayError::Internal(format!(
                "unexpected backend answer {status}: {error}"
            ))),
        }
    }
}
