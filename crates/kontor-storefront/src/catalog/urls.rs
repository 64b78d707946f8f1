//! `url-resolver?url=/de/...` (`storefront-api.md` §8.7): which resource a storefront path shows.
//!
//! URL keys are lower-cased, so lookup is case-insensitive. Abstract products are answered by SKU, which
//! the product document in the request's store holds (a product not sold in the store is a 404).
//! Redirects are followed (at most [`MAX_REDIRECTS`] hops) and answered with their target's entity, so a
//! client never has to handle a third entity type.

use super::categories::node_key;
use super::fetch::KvReader;
use super::products::ABSTRACT_PRODUCTS;
use super::query_of;
use crate::context::{RequestContext, query_value};
use crate::document::{Document, Resource};
use crate::state::StorefrontState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kontor_readmodel::key;
use kontor_readmodel::storage::{CategoryNodeStorage, ProductAbstractStorage, StoreStorage, UrlStorage, projection};
use kontor_web::{AppError, ErrorCode};
use serde_json::json;

const URL_RESOLVER: &str = "url-resolver";
const MAX_REDIRECTS: usize = 3;

fn url_key(url: &str) -> Option<String> {
    key(projection::URL, None, None, Some(url)).ok()
}

fn not_found(url: &str) -> AppError {
    AppError::new(ErrorCode::NotFound, format!("no page has the URL {url}"))
}

/// Follows `url` through its redirects (at most [`MAX_REDIRECTS`] hops) to the entry of the page it
/// shows; `None` when a hop has no entry. One KV round trip per hop.
pub(crate) async fn resolve_url(reader: &mut KvReader<'_>, url: &str) -> Result<Option<UrlStorage>, AppError> {
    let mut url = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let key = url_key(&url);
        reader.want(key.clone());
        reader.flush().await?;
        let Some(found) = reader.take::<UrlStorage>(key.as_deref()) else {
            return Ok(None);
        };
        match &found.redirect {
            Some(redirect) => url = redirect.to_url.clone(),
            None => return Ok(Some(found)),
        }
    }
    Ok(None)
}

/// The locale a URL entry is shown in: the URL's own locale when the store sells in it (so `/de/...`
/// shows German in an English session too), else `fallback`.
pub(crate) fn entry_locale(store: &StoreStorage, entry: &UrlStorage, fallback: &str) -> String {
    store
        .available_locales
        .iter()
        .find(|locale| locale.eq_ignore_ascii_case(&entry.locale_name))
        .cloned()
        .unwrap_or_else(|| fallback.to_owned())
}

/// `GET /url-resolver?url=…`.
pub(crate) async fn resolve(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let requested = query_value(query_of(&ctx), "url")
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .ok_or_else(|| AppError::at_parameter(ErrorCode::InvalidParameter, "url", "the url parameter is missing"))?;
    let mut reader = KvReader::new(state.kv.as_ref());
    let entry = resolve_url(&mut reader, &requested)
        .await?
        .ok_or_else(|| not_found(&requested))?;
    let locale = entry_locale(&ctx.store, &entry, &ctx.locale);
    let (entity_type, entity_id) = if let Some(id) = entry.fk_resource_product_abstract {
        let key = key(
            projection::PRODUCT_ABSTRACT,
            Some(&ctx.store.name),
            Some(&locale),
            Some(&id.to_string()),
        )
        .ok();
        reader.want(key.clone());
        reader.flush().await?;
        let product = reader
            .take::<ProductAbstractStorage>(key.as_deref())
            .ok_or_else(|| not_found(&requested))?;
        (ABSTRACT_PRODUCTS, product.sku)
    } else if let Some(id) = entry.fk_resource_category_node {
        let scoped = RequestContext { locale, ..ctx.clone() };
        let key = node_key(&scoped, id);
        reader.want(key.clone());
        reader.flush().await?;
        reader
            .take::<CategoryNodeStorage>(key.as_deref())
            .ok_or_else(|| not_found(&requested))?;
        (super::categories::CATEGORY_NODES, id.to_string())
    } else {
        return Err(not_found(&requested));
    };
    let resource = Resource::with_link(
        URL_RESOLVER,
        None,
        json!({"entityType": entity_type, "entityId": entity_id}),
        Some(ctx.self_link()),
    );
    let mut document = Document::many(vec![resource]);
    if let Some(version) = reader.newest() {
        document.observe_version(version);
    }
    Ok(document.respond(&ctx, &headers, StatusCode::OK))
}
