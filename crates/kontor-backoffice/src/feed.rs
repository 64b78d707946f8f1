//! `GET /internal/storage-feed/{projection}`: a projection's storage table as a change feed, for
//! storefront nodes whose search replica starts empty, restarts, or fell behind. Storefronts never
//! reach SQL; they page through this with the shared `internal.token`, and the timestamp guard of the
//! index makes re-reading a page harmless.

use crate::gateway::InternalToken;
use async_trait::async_trait;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kontor_readmodel::{FeedCursor, FeedPage};
use serde::Deserialize;
use std::sync::Arc;

/// The most rows one page may ask for.
pub const MAX_FEED_PAGE: u64 = 2000;

/// Why a feed page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("unknown projection {0:?}")]
    UnknownProjection(String),
    #[error("{0}")]
    Storage(String),
}

/// Reads a projection's change feed (implemented over the storage tables by the binary).
#[async_trait]
pub trait StorageFeed: Send + Sync {
    async fn changes(&self, projection: &str, after: FeedCursor, limit: u64) -> Result<FeedPage, FeedError>;
}

#[derive(Clone)]
struct FeedState {
    feed: Arc<dyn StorageFeed>,
    token: InternalToken,
}

#[derive(Debug, Deserialize)]
struct FeedQuery {
    #[serde(default)]
    ts: i64,
    #[serde(default)]
    id: i64,
    limit: Option<u64>,
}

/// The feed route, guarded by `token` like `/internal/gateway` (an empty token admits nobody).
pub fn feed_routes(feed: Arc<dyn StorageFeed>, token: &str) -> Router {
    Router::new()
        .route("/internal/storage-feed/{projection}", get(page))
        .with_state(FeedState {
            feed,
            token: InternalToken::new(token),
        })
}

async fn page(
    State(state): State<FeedState>,
    headers: HeaderMap,
    Path(projection): Path<String>,
    query: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if !state.token.admits(&headers) {
        return (StatusCode::UNAUTHORIZED, "internal token required").into_response();
    }
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("ts, id and limit must be integers: {rejection}"),
            )
                .into_response();
        }
    };
    let limit = query.limit.unwrap_or(500);
    if !(1..=MAX_FEED_PAGE).contains(&limit) {
        return (
            StatusCode::BAD_REQUEST,
            format!("limit must be between 1 and {MAX_FEED_PAGE}"),
        )
            .into_response();
    }
    let cursor = FeedCursor {
        ts: query.ts,
        id: query.id,
    };
    match state.feed.changes(&projection, cursor, limit).await {
        Ok(page) => axum::Json(page).into_response(),
        Err(error @ FeedError::UnknownProjection(_)) => (StatusCode::NOT_FOUND, error.to_string()).into_response(),
        Err(FeedError::Storage(error)) => {
            tracing::warn!(%error, projection, "storage feed failed");
            (StatusCode::SERVICE_UNAVAILABLE, "the storage feed is unavailable").into_response()
        }
    }
}
