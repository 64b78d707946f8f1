//! The shop's catalog pages: home (`/`), category listings (`/category/{id}` and their Spryker URLs),
//! search (`/search`, `/search/suggest` for the script), product pages (`/product/{sku}` and their URLs)
//! and the HTML 404 of every other path the shop owns.
//!
//! Pages load through the JSON:API's catalog code ([`crate::catalog`]), so both surfaces show the same
//! data with the same KV round trips: a product page costs the URL or SKU lookup plus two batched reads
//! (as `abstract-products/{sku}` with its includes), a listing one search plus one batched read (as
//! `catalog-search`), plus the URL lookup when reached by its URL. Nothing is cached here beyond the
//! state's store list, and anonymous pages never touch the session store.
//!
//! Pages are shown in the shopper's locale and currency (gross prices); a page reached by its URL is
//! shown in the URL's locale unless the shopper chose a locale, as Spryker's Yves derives the locale
//! from the URL.

mod listing;
mod product;

use super::{Layout, Shopper, keys, render};
use crate::catalog::fetch::KvReader;
use crate::catalog::prices::Pricing;
use crate::catalog::urls::{entry_locale, resolve_url};
use crate::context::RequestContext;
use crate::state::StorefrontState;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use kontor_readmodel::storage::UrlStorage;
use kontor_web::AppError;
use kontor_web::html::{CsrfToken, Session};
use serde::Serialize;

/// Products per listing page unless `ipp` says otherwise.
const LISTING_PAGE_SIZE: usize = 48;

/// The catalog pages' routes; [`page_by_url`] is the shop's fallback.
pub fn routes() -> Router<StorefrontState> {
    Router::new()
        .route("/", get(listing::home))
        .route("/search", get(listing::search))
        .route("/search/suggest", get(listing::suggest))
        .route("/category/{id}", get(listing::category))
        .route("/product/{sku}", get(product::by_sku))
}

/// Everything a catalog page is rendered with: the layout and the catalog code's request context and
/// pricing in the shopper's store, the page's locale and the shopper's currency.
struct PageScope {
    state: StorefrontState,
    layout: Layout,
    ctx: RequestContext,
    pricing: Pricing,
}

impl PageScope {
    /// The scope of a page at `uri` in the shopper's locale; for a page reached by its URL `entry`, in
    /// the URL's locale unless the shopper chose one (so the switcher works on URL pages too).
    async fn open(
        state: &StorefrontState,
        session: &Session,
        csrf: &CsrfToken,
        uri: &Uri,
        entry: Option<&UrlStorage>,
    ) -> Result<Self, Response> {
        let mut shopper = Shopper::of(state, session).await?;
        if let Some(entry) = entry {
            let chose_locale = session
                .get::<String>(keys::LOCALE)
                .is_some_and(|chosen| chosen == shopper.locale);
            if !chose_locale {
                shopper.locale = entry_locale(&shopper.store, entry, &shopper.locale);
            }
        }
        let path_and_query = uri.path_and_query().map_or("/", |path| path.as_str());
        let layout = Layout::new(state, session, &shopper, csrf, path_and_query).await;
        let api_base = match &state.options.public_url {
            Some(url) => format!("{}/api", url.trim_end_matches('/')),
            None => "/api".to_owned(),
        };
        let ctx = RequestContext {
            store: shopper.store.clone(),
            locale: shopper.locale.clone(),
            api_base,
            path_and_query: path_and_query.to_owned(),
        };
        Ok(Self {
            state: state.clone(),
            pricing: Pricing::gross(&shopper.currency),
            layout,
            ctx,
        })
    }

    fn reader(&self) -> KvReader<'_> {
        KvReader::new(self.state.kv.as_ref())
    }

    /// The query string of the page (what listings read their filters from).
    fn query(&self) -> Option<&str> {
        self.ctx.path_and_query.split_once('?').map(|(_, query)| query)
    }

    /// The page's path without its query.
    fn path(&self) -> &str {
        self.ctx
            .path_and_query
            .split_once('?')
            .map_or(self.ctx.path_and_query.as_str(), |(path, _)| path)
    }

    fn render(&self, template: &str, page: impl Serialize) -> Response {
        render(&self.state, StatusCode::OK, template, &self.layout, page)
    }

    fn not_found(&self) -> Response {
        let page = serde_json::json!({"path": self.path()});
        render(
            &self.state,
            StatusCode::NOT_FOUND,
            "storefront/not_found.html",
            &self.layout,
            page,
        )
    }

    /// A catalog error as a page: 404s as the shop's 404, parameter errors with their message, outages
    /// with a generic one (the cause is in the log).
    fn error(&self, error: &AppError) -> Response {
        let status = error.status();
        if status == StatusCode::NOT_FOUND {
            return self.not_found();
        }
        let message = if status.is_client_error() {
            error.errors().first().map_or_else(
                || "This request cannot be answered.".to_owned(),
                |error| error.detail.clone(),
            )
        } else {
            "The catalog is not available right now. Please try again in a moment.".to_owned()
        };
        let page = serde_json::json!({"status": status.as_u16(), "message": message});
        render(&self.state, status, "storefront/catalog_error.html", &self.layout, page)
    }
}

/// Paths the shop does not own keep their own 404s (the JSON:API's, the assets').
fn owned_by_the_shop(path: &str) -> bool {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    !(under("/api") || under(kontor_web::html::theme::ASSETS_PATH))
}

/// The shop's fallback: a path stored as a product's or category's URL (`/en/computers`) shows that
/// page; a URL that redirects answers with a permanent redirect to its target; any other path the
/// shop owns is the HTML 404.
pub async fn page_by_url(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    method: Method,
    uri: Uri,
) -> Response {
    if !owned_by_the_shop(uri.path()) {
        return AppError::not_found().into_response();
    }
    let requested = percent_decoded(uri.path());
    let resolved = if method == Method::GET || method == Method::HEAD {
        resolve_url(&mut KvReader::new(state.kv.as_ref()), &requested).await
    } else {
        Ok(None)
    };
    let entry = match resolved {
        Ok(Some(entry)) => entry,
        // No catalog page: the 404 (or the outage) in the shopper's own locale.
        missing => {
            return match PageScope::open(&state, &session, &csrf, &uri, None).await {
                Ok(scope) => match missing {
                    Err(error) => scope.error(&error),
                    Ok(_) => scope.not_found(),
                },
                Err(response) => response,
            };
        }
    };
    if entry.url != requested {
        // Reached through a redirect entry (or another spelling): send the browser to the real URL.
        let target = match uri.query() {
            Some(query) => format!("{}?{query}", entry.url),
            None => entry.url.clone(),
        };
        return Redirect::permanent(&target).into_response();
    }
    let scope = match PageScope::open(&state, &session, &csrf, &uri, Some(&entry)).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    if let Some(id) = entry.fk_resource_product_abstract {
        product::page(&scope, id).await
    } else if let Some(id) = entry.fk_resource_category_node {
        listing::category_page(&scope, id).await
    } else {
        scope.not_found()
    }
}

/// `%C3%9F` → `ß`: URL keys hold the decoded path. Malformed escapes are kept as they are.
fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_decoded() {
        assert_eq!(percent_decoded("/de/drau%C3%9Fen"), "/de/draußen");
        assert_eq!(percent_decoded("/en/100%"), "/en/100%");
        assert_eq!(percent_decoded("/en/a%zzb"), "/en/a%zzb");
    }

    #[test]
    fn the_api_and_the_assets_keep_their_404s() {
        assert!(!owned_by_the_shop("/api"));
        assert!(!owned_by_the_shop("/api/nothing"));
        assert!(!owned_by_the_shop("/assets/missing.css"));
        assert!(owned_by_the_shop("/apiary"));
        assert!(owned_by_the_shop("/en/computers"));
    }
}
