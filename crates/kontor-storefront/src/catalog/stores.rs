//! `stores` and `stores/{name}` (Glue's stores resource) from the `store:<name>` documents: time zone,
//! currencies, locales (`{"code": "de", "name": "de_DE"}` as Glue spells them) and countries when the
//! document lists any.
//!
//! The store list itself comes from the state's short-lived cache; the documents are read once more in
//! a single round trip for their `_timestamp` (the answer's `ETag`) and fields the cache does not keep.

use super::currency::currency_name;
use super::fetch::KvReader;
use crate::context::RequestContext;
use crate::document::{Document, Resource};
use crate::state::StorefrontState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kontor_readmodel::key;
use kontor_readmodel::storage::{StoreStorage, projection};
use kontor_web::{AppError, ErrorCode};
use serde_json::{Map, Value, json};

const STORES: &str = "stores";

fn store_key(name: &str) -> Option<String> {
    key(projection::STORE, None, None, Some(name)).ok()
}

fn store_resource(reader: &KvReader<'_>, ctx: &RequestContext, store: &StoreStorage) -> Resource {
    let currencies: Vec<Value> = store
        .available_currencies
        .iter()
        .map(|code| json!({"code": code, "name": currency_name(code)}))
        .collect();
    let locales: Vec<Value> = store
        .available_locales
        .iter()
        .map(|locale| json!({"code": locale.split('_').next().unwrap_or(locale), "name": locale}))
        .collect();
    let mut attributes = Map::new();
    attributes.insert("timeZone".to_owned(), json!(store.timezone));
    attributes.insert("defaultCurrency".to_owned(), json!(store.default_currency));
    attributes.insert("currencies".to_owned(), Value::Array(currencies));
    attributes.insert("locales".to_owned(), Value::Array(locales));
    let countries = store_key(&store.name)
        .and_then(|key| reader.raw(&key))
        .and_then(|document| document.get("countries"))
        .filter(|countries| countries.as_array().is_some_and(|list| !list.is_empty()));
    if let Some(countries) = countries {
        attributes.insert("countries".to_owned(), countries.clone());
    }
    Resource::new(ctx, STORES, &store.name, Value::Object(attributes))
}

fn respond(mut document: Document, reader: &KvReader<'_>, ctx: &RequestContext, headers: &HeaderMap) -> Response {
    if let Some(version) = reader.newest() {
        document.observe_version(version);
    }
    document.respond(ctx, headers, StatusCode::OK)
}

/// `GET /stores`.
pub(crate) async fn list(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let stores = state.stores().await.map_err(super::fetch::unavailable)?;
    let mut reader = KvReader::new(state.kv.as_ref());
    for store in stores.iter() {
        reader.want(store_key(&store.name));
    }
    reader.flush().await?;
    let resources = stores
        .iter()
        .map(|store| store_resource(&reader, &ctx, store))
        .collect();
    Ok(respond(Document::many(resources), &reader, &ctx, &headers))
}

/// `GET /stores/{name}`.
pub(crate) async fn one(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let stores = state.stores().await.map_err(super::fetch::unavailable)?;
    let store = stores
        .iter()
        .find(|store| store.name.eq_ignore_ascii_case(&name))
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("store {name} does not exist")))?;
    let mut reader = KvReader::new(state.kv.as_ref());
    reader.want(store_key(&store.name));
    reader.flush().await?;
    let resource = store_resource(&reader, &ctx, store);
    Ok(respond(Document::one(resource), &reader, &ctx, &headers))
}
