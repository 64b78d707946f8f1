//! Building storefront JSON:API documents (`../shared/spec/storefront-api.md` §2–§3): resource objects
//! with self links, relationships only for included types, `included` with each (type, id) once,
//! sparse fieldsets, collection paging links, and the response headers every answer carries
//! (`Content-Language`, and for catalog reads `ETag`/`Last-Modified` with 304 on a match).

use crate::context::{RequestContext, query_value};
use crate::response_cache::CachedResponse;
use axum::http::header::{CONTENT_LANGUAGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LAST_MODIFIED};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kontor_web::{AppError, ErrorCode, JSON_API_MEDIA_TYPE};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Default and largest `page[limit]`.
pub const DEFAULT_PAGE_LIMIT: usize = 12;
pub const MAX_PAGE_LIMIT: usize = 100;

/// One resource object.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub kind: String,
    /// `None` for computed resources (`catalog-search`, `access-tokens`, …), rendered as `null`.
    pub id: Option<String>,
    pub attributes: Value,
    /// Relationship type → related (type, id) pairs, in order.
    pub relationships: BTreeMap<String, Vec<(String, String)>>,
    /// `links.self`; `None` leaves the links out (computed resources).
    pub self_link: Option<String>,
}

impl Resource {
    /// A resource with a self link `<base>/<kind>/<id>`.
    pub fn new(ctx: &RequestContext, kind: &str, id: &str, attributes: Value) -> Self {
        Self {
            kind: kind.to_owned(),
            id: Some(id.to_owned()),
            attributes,
            relationships: BTreeMap::new(),
            self_link: Some(ctx.resource_link(kind, id)),
        }
    }

    /// A resource whose self link is not `<base>/<kind>/<id>` (nested resources such as
    /// `/abstract-products/100/abstract-product-prices`).
    pub fn with_link(kind: &str, id: Option<&str>, attributes: Value, self_link: Option<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            id: id.map(str::to_owned),
            attributes,
            relationships: BTreeMap::new(),
            self_link,
        }
    }

    /// Records a relationship to `related` (call only for types the request includes).
    pub fn relate(&mut self, related: &Resource) {
        let entry = self.relationships.entry(related.kind.clone()).or_default();
        let pair = (related.kind.clone(), related.id.clone().unwrap_or_default());
        if !entry.contains(&pair) {
            entry.push(pair);
        }
    }
}

/// The `include` parameter: relationship types to embed (unknown ones are ignored, as Glue does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Includes(BTreeSet<String>);

impl Includes {
    pub fn from_query(query: Option<&str>) -> Self {
        Self(
            query_value(query, "include")
                .map(|raw| {
                    raw.split(',')
                        .map(str::trim)
                        .filter(|kind| !kind.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    pub fn has(&self, kind: &str) -> bool {
        self.0.contains(kind)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Sparse fieldsets: `fields[abstract-products]=name,url`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(HashMap<String, BTreeSet<String>>);

impl Fields {
    pub fn from_query(query: Option<&str>) -> Self {
        let Some(query) = query else {
            return Self::default();
        };
        let fields = url::form_urlencoded::parse(query.as_bytes())
            .filter_map(|(key, value)| {
                let kind = key.strip_prefix("fields[")?.strip_suffix(']')?.to_owned();
                let names = value.split(',').map(|name| name.trim().to_owned()).collect();
                Some((kind, names))
            })
            .collect();
        Self(fields)
    }

    /// The attribute names of `kind` the request asks for; `None`: all of them.
    fn of(&self, kind: &str) -> Option<&BTreeSet<String>> {
        self.0.get(kind)
    }
}

/// A resource object as it is written out: its attributes (only the requested ones under a sparse
/// fieldset) are serialized where they are, never copied. Keys come in the order a `serde_json::Map`
/// would sort them, so the bytes are those of the equivalent `Value`.
struct ResourceJson<'a> {
    resource: &'a Resource,
    fields: &'a Fields,
}

impl Serialize for ResourceJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let resource = self.resource;
        let mut object = serializer.serialize_map(None)?;
        match (self.fields.of(&resource.kind), &resource.attributes) {
            (Some(names), Value::Object(attributes)) => object.serialize_entry(
                "attributes",
                &SerializeMapWith(attributes.iter().filter(|(name, _)| names.contains(name.as_str()))),
            )?,
            (_, attributes) => object.serialize_entry("attributes", attributes)?,
        }
        object.serialize_entry("id", &resource.id)?;
        if let Some(link) = &resource.self_link {
            object.serialize_entry("links", &SerializeMapWith(std::iter::once(("self", link))))?;
        }
        if !resource.relationships.is_empty() {
            let relationships = resource.relationships.iter().map(|(name, related)| {
                let data: Vec<_> = related
                    .iter()
                    .map(|(kind, id)| SerializeMapWith([("id", id), ("type", kind)].into_iter()))
                    .collect();
                (name, SerializeMapWith(std::iter::once(("data", data))))
            });
            object.serialize_entry("relationships", &SerializeMapWith(relationships))?;
        }
        object.serialize_entry("type", &resource.kind)?;
        object.end()
    }
}

/// Serializes the (key, value) pairs of an iterator as a JSON object.
#[derive(Clone)]
struct SerializeMapWith<I>(I);

impl<K: Serialize, V: Serialize, I: Iterator<Item = (K, V)> + Clone> Serialize for SerializeMapWith<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.clone())
    }
}

/// The whole document as it is written out (see [`ResourceJson`]).
struct DocumentJson<'a> {
    document: &'a Document,
    fields: &'a Fields,
}

impl Serialize for DocumentJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let view = |resource| ResourceJson {
            resource,
            fields: self.fields,
        };
        let document = self.document;
        let mut object = serializer.serialize_map(None)?;
        match &document.data {
            Data::One(resource) => object.serialize_entry("data", &view(resource))?,
            Data::Many(resources) => object.serialize_entry("data", &resources.iter().map(view).collect::<Vec<_>>())?,
        }
        if !document.included.is_empty() {
            object.serialize_entry("included", &document.included.iter().map(view).collect::<Vec<_>>())?;
        }
        if let Some(links) = &document.links {
            object.serialize_entry("links", links)?;
        }
        object.end()
    }
}

/// `page[offset]` / `page[limit]` of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Page {
    /// Reads `page[offset]` and `page[limit]`; a non-integer is 400 with `code` (collections use 905,
    /// catalog search 503), a limit above 100 is 400.
    pub fn from_query(query: Option<&str>, code: ErrorCode) -> Result<Self, AppError> {
        let number = |name: &str, default: usize| -> Result<usize, AppError> {
            match query_value(query, name) {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| AppError::at_parameter(code, name, format!("{name} must be a non-negative integer"))),
            }
        };
        let offset = number("page[offset]", 0)?;
        let limit = number("page[limit]", DEFAULT_PAGE_LIMIT)?;
        if limit == 0 || limit > MAX_PAGE_LIMIT {
            return Err(AppError::at_parameter(
                code,
                "page[limit]",
                format!("page[limit] must be between 1 and {MAX_PAGE_LIMIT}"),
            ));
        }
        Ok(Self { offset, limit })
    }

    /// `first`/`prev`/`next`/`last` links for `total` items, keeping the request's other parameters.
    pub fn links(&self, ctx: &RequestContext, total: usize) -> Value {
        let (path, query) = ctx
            .path_and_query
            .split_once('?')
            .unwrap_or((ctx.path_and_query.as_str(), ""));
        let origin = ctx.api_base.trim_end_matches("/api");
        let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(key, _)| key != "page[offset]" && key != "page[limit]" && key != "page" && key != "ipp")
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        let link = |offset: usize| {
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in &kept {
                serializer.append_pair(key, value);
            }
            serializer.append_pair("page[offset]", &offset.to_string());
            serializer.append_pair("page[limit]", &self.limit.to_string());
            format!("{origin}{path}?{}", serializer.finish())
        };
        let last = if total == 0 {
            0
        } else {
            (total - 1) / self.limit * self.limit
        };
        let mut links = Map::new();
        links.insert("self".to_owned(), Value::String(ctx.self_link()));
        links.insert("first".to_owned(), Value::String(link(0)));
        if self.offset > 0 {
            links.insert(
                "prev".to_owned(),
                Value::String(link(self.offset.saturating_sub(self.limit))),
            );
        }
        if self.offset + self.limit < total {
            links.insert("next".to_owned(), Value::String(link(self.offset + self.limit)));
        }
        links.insert("last".to_owned(), Value::String(link(last)));
        Value::Object(links)
    }
}

/// A whole response document.
#[derive(Debug, Clone)]
pub struct Document {
    data: Data,
    included: Vec<Resource>,
    links: Option<Value>,
    /// The newest `_timestamp` (microseconds) of the KV/search documents behind the answer, for
    /// `ETag`/`Last-Modified`; `None` for answers that are not cacheable.
    version_micros: Option<i64>,
}

#[derive(Debug, Clone)]
enum Data {
    One(Box<Resource>),
    Many(Vec<Resource>),
}

impl Document {
    pub fn one(resource: Resource) -> Self {
        Self {
            data: Data::One(Box::new(resource)),
            included: Vec::new(),
            links: None,
            version_micros: None,
        }
    }

    pub fn many(resources: Vec<Resource>) -> Self {
        Self {
            data: Data::Many(resources),
            included: Vec::new(),
            links: None,
            version_micros: None,
        }
    }

    /// Adds a resource to `included` unless the same (type, id) is already there or is primary data.
    pub fn include(&mut self, resource: Resource) {
        let same = |other: &Resource| other.kind == resource.kind && other.id == resource.id;
        let in_data = match &self.data {
            Data::One(primary) => same(primary),
            Data::Many(primary) => primary.iter().any(same),
        };
        if !in_data && !self.included.iter().any(same) {
            self.included.push(resource);
        }
    }

    pub fn with_links(mut self, links: Value) -> Self {
        self.links = Some(links);
        self
    }

    /// Marks the answer cacheable with the newest source-document timestamp seen.
    pub fn observe_version(&mut self, micros: i64) {
        self.version_micros = Some(self.version_micros.map_or(micros, |known| known.max(micros)));
    }

    pub fn version_micros(&self) -> Option<i64> {
        self.version_micros
    }

    /// The HTTP answer: status, media type, `Content-Language`, and for versioned documents a weak
    /// `ETag` over the version, the locale and the request (so variants never share a tag),
    /// `Last-Modified`, and 304 when `If-None-Match` matches.
    pub fn respond(&self, ctx: &RequestContext, request_headers: &HeaderMap, status: StatusCode) -> Response {
        let (headers, entity_tag) = self.response_headers(ctx);
        if entity_tag
            .as_deref()
            .is_some_and(|tag| none_match(request_headers, tag))
        {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        match self.body(ctx) {
            Ok(body) => (status, headers, body).into_response(),
            Err(error) => error.into_response(),
        }
    }

    /// The whole 200 answer, for the response cache; [`answer_cached`] turns it into a response.
    pub fn render(&self, ctx: &RequestContext) -> Result<CachedResponse, AppError> {
        let (headers, entity_tag) = self.response_headers(ctx);
        Ok(CachedResponse {
            headers,
            body: self.body(ctx)?.into(),
            entity_tag,
        })
    }

    /// Content type, language and, for a versioned document, `ETag` and `Last-Modified`.
    fn response_headers(&self, ctx: &RequestContext) -> (HeaderMap, Option<String>) {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_API_MEDIA_TYPE));
        if let Ok(value) = HeaderValue::from_str(&ctx.locale) {
            headers.insert(CONTENT_LANGUAGE, value);
        }
        let mut entity_tag = None;
        if let Some(micros) = self.version_micros {
            let tag = entity_tag_of(micros, ctx);
            if let Ok(value) = HeaderValue::from_str(&tag) {
                headers.insert(ETAG, value);
            }
            if let Some(modified) = chrono::DateTime::from_timestamp_micros(micros)
                && let Ok(value) = HeaderValue::from_str(&modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
            {
                headers.insert(LAST_MODIFIED, value);
            }
            entity_tag = Some(tag);
        }
        (headers, entity_tag)
    }

    fn body(&self, ctx: &RequestContext) -> Result<Vec<u8>, AppError> {
        let fields = Fields::from_query(ctx.path_and_query.split_once('?').map(|(_, query)| query));
        serde_json::to_vec(&DocumentJson {
            document: self,
            fields: &fields,
        })
        .map_err(|error| AppError::internal(&error))
    }
}

/// A cached 200 answer, or 304 when the request's `If-None-Match` names its `ETag`.
pub fn answer_cached(cached: &CachedResponse, request_headers: &HeaderMap) -> Response {
    if cached
        .entity_tag
        .as_deref()
        .is_some_and(|tag| none_match(request_headers, tag))
    {
        return (StatusCode::NOT_MODIFIED, cached.headers.clone()).into_response();
    }
    (StatusCode::OK, cached.headers.clone(), cached.body.clone()).into_response()
}

/// Whether `If-None-Match` names `tag` (or `*`).
fn none_match(request_headers: &HeaderMap, tag: &str) -> bool {
    request_headers
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|candidates| {
            candidates
                .split(',')
                .map(str::trim)
                .any(|candidate| candidate == "*" || candidate == tag)
        })
}

/// `W/"<version hex>-<hash of store, locale, path and query>"`.
fn entity_tag_of(micros: i64, ctx: &RequestContext) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    ctx.store.name.hash(&mut hasher);
    ctx.locale.hash(&mut hasher);
    ctx.path_and_query.hash(&mut hasher);
    format!("W/\"{micros:x}-{:x}\"", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kontor_readmodel::storage::StoreStorage;
    use serde_json::json;

    fn ctx(path_and_query: &str) -> RequestContext {
        RequestContext {
            store: StoreStorage {
                name: "DE".to_owned(),
                default_locale: "de_DE".to_owned(),
                available_locales: vec!["de_DE".to_owned()],
                default_currency: "EUR".to_owned(),
                available_currencies: vec!["EUR".to_owned()],
                timezone: "Europe/Berlin".to_owned(),
            },
            locale: "de_DE".to_owned(),
            api_base: "https://shop.example/api".to_owned(),
            path_and_query: path_and_query.to_owned(),
        }
    }

    fn document(ctx: &RequestContext) -> Document {
        let mut product = Resource::new(
            ctx,
            "abstract-products",
            "100",
            json!({"sku": "100", "name": "Jacke", "attributes": {"color": "red"}}),
        );
        let price = Resource::with_link(
            "abstract-product-prices",
            Some("100"),
            json!({"price": 1999}),
            Some("https://shop.example/api/abstract-products/100/abstract-product-prices".to_owned()),
        );
        let search = Resource::with_link("catalog-search", None, json!({"q": "x"}), None);
        product.relate(&price);
        let mut document = Document::many(vec![product, search]).with_links(json!({"self": "https://shop.example/x"}));
        document.include(price);
        document
    }

    /// The body is written straight from the resources; it must be byte for byte what serializing the
    /// equivalent `Value` gives (keys sorted), sparse fieldsets applied.
    #[test]
    fn the_body_is_the_json_api_document_with_sorted_keys() {
        let plain = ctx("/api/abstract-products/100?include=abstract-product-prices");
        let expected = json!({
            "data": [
                {
                    "type": "abstract-products", "id": "100",
                    "attributes": {"sku": "100", "name": "Jacke", "attributes": {"color": "red"}},
                    "relationships": {"abstract-product-prices": {"data": [{"type": "abstract-product-prices", "id": "100"}]}},
                    "links": {"self": "https://shop.example/api/abstract-products/100"},
                },
                {"type": "catalog-search", "id": null, "attributes": {"q": "x"}},
            ],
            "included": [{
                "type": "abstract-product-prices", "id": "100", "attributes": {"price": 1999},
                "links": {"self": "https://shop.example/api/abstract-products/100/abstract-product-prices"},
            }],
            "links": {"self": "https://shop.example/x"},
        });
        let body = document(&plain).body(&plain).expect("body");
        assert_eq!(
            String::from_utf8(body).expect("utf-8"),
            serde_json::to_string(&expected).expect("json")
        );

        let sparse = ctx("/api/abstract-products/100?fields[abstract-products]=name,sku");
        let body: Value = serde_json::from_slice(&document(&sparse).body(&sparse).expect("body")).expect("json");
        assert_eq!(body["data"][0]["attributes"], json!({"sku": "100", "name": "Jacke"}));
        assert_eq!(
            body["included"][0]["attributes"],
            json!({"price": 1999}),
            "other types whole"
        );
    }
}
