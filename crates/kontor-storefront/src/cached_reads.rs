//! Cached catalog answers ahead of routing: a `GET` under `/api` whose answer the
//! [`response_cache`](crate::response_cache) holds is answered here, before the router, the trace, timeout
//! and panic layers and the media-type check run. On a hit the handler would do nothing but the same lookup,
//! and those layers cost the cached answer more than the lookup itself (about a third of its CPU when
//! measured). Everything else, including a miss, goes on to the router unchanged, where the handler looks
//! up again and keeps what it builds.
//!
//! A request is answered here only when nothing the layers do could change the answer: the method is
//! `GET`, `Accept` admits JSON:API (otherwise the router answers 406), the store list is fresh in memory
//! (the lookup never waits for KV), and the store and locale resolve as they would for the handler. The answer is the one [`answer_cached`] gives, 304 on `If-None-Match`.

use crate::catalog::fetch::{cache_fingerprint, cache_guard};
use crate::context::RequestContext;
use crate::document::answer_cached;
use crate::state::StorefrontState;
use crate::transport::accepts_json_api;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::http::header::ACCEPT;
use axum::http::request::Parts;
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Service, ServiceExt};

/// The storefront's router behind the cache lookup.
#[derive(Clone)]
pub(crate) struct CachedReads {
    pub(crate) state: StorefrontState,
    pub(crate) router: Router,
}

impl Service<Request<Body>> for CachedReads {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A router is always ready; `oneshot` below waits for its readiness all the same.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let (head, body) = request.into_parts();
        if let Some(response) = cached_answer(&self.state, &head) {
            return Box::pin(std::future::ready(Ok(response)));
        }
        Box::pin(self.router.clone().oneshot(Request::from_parts(head, body)))
    }
}

/// The cached answer to `request`, if it is a catalog read the cache holds.
fn cached_answer(state: &StorefrontState, request: &Parts) -> Option<Response> {
    let cache = state.response_cache.as_ref()?;
    if request.method != Method::GET || !request.uri.path().starts_with("/api/") {
        return None;
    }
    if let Some(accept) = request.headers.get(ACCEPT)
        && !accept.to_str().is_ok_and(accepts_json_api)
    {
        return None;
    }
    // Only a fresh store list: reloading it reads KV, which belongs under the router's timeout. A
    // request whose store does not resolve gets its error from the router.
    let stores = state.fresh_stores()?;
    let ctx = RequestContext::resolve_among(&stores, state, &request.headers, &request.uri).ok()?;
    let cached = cache.get_ahead(&cache_fingerprint(&ctx), cache_guard(state, &ctx)?)?;
    Some(answer_cached(&cached, &request.headers))
}
