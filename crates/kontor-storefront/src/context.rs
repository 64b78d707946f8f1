//! Who and where a request is for (`../shared/spec/storefront-api.md` §4): the store (`Store` header,
//! else `_store` query parameter, else the configured default, else the first store by name), the
//! locale (best `Accept-Language` match among the store's locales, else the store's default) and the
//! base of every link in the answer.

use crate::state::StorefrontState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri};
use kontor_readmodel::storage::StoreStorage;
use kontor_web::{AppError, ErrorCode};

/// The resolved store and locale of one request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub store: StoreStorage,
    /// As configured, e.g. `de_DE`; KV keys lower-case it.
    pub locale: String,
    /// `http://host:port/api`, without a trailing slash.
    pub api_base: String,
    /// Path and query of the request, for `links.self`.
    pub path_and_query: String,
}

impl RequestContext {
    /// `links.self` of the whole document.
    pub fn self_link(&self) -> String {
        let origin = self.api_base.trim_end_matches("/api");
        format!("{origin}{}", self.path_and_query)
    }

    /// The link of a resource: `<base>/<type>/<id>`.
    pub fn resource_link(&self, kind: &str, id: &str) -> String {
        format!("{}/{kind}/{id}", self.api_base)
    }

    /// The context of a request for `uri` (as the client sent it, `/api` included) with `headers`.
    pub async fn resolve(state: &StorefrontState, headers: &HeaderMap, uri: &Uri) -> Result<Self, AppError> {
        let stores = state.stores().await.map_err(|error| AppError::internal(&error))?;
        Self::resolve_among(&stores, state, headers, uri)
    }

    /// Like [`resolve`](Self::resolve), among `stores` (the state's store list, already read).
    pub fn resolve_among(
        stores: &[StoreStorage],
        state: &StorefrontState,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<Self, AppError> {
        let requested = headers
            .get("store")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .or_else(|| query_value(uri.query(), "_store"));
        let store = match requested.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) => stores
                .iter()
                .find(|store| store.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| AppError::new(ErrorCode::StoreInvalid, format!("store {name} does not exist")))?,
            None => state
                .options
                .default_store
                .as_deref()
                .and_then(|name| stores.iter().find(|store| store.name.eq_ignore_ascii_case(name)))
                .or_else(|| stores.first())
                .ok_or_else(|| {
                    AppError::new(
                        ErrorCode::Unavailable,
                        "the shop has no published store yet; run `kontor publish` on the backend",
                    )
                })?,
        };
        let locale = negotiate_locale(headers, store);
        let api_base = match &state.options.public_url {
            Some(url) => format!("{}/api", url.trim_end_matches('/')),
            None => {
                let host = headers
                    .get(axum::http::header::HOST)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("localhost");
                format!("http://{host}/api")
            }
        };
        let path_and_query = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
        Ok(Self {
            store: store.clone(),
            locale,
            api_base,
            path_and_query,
        })
    }
}

impl FromRequestParts<StorefrontState> for RequestContext {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &StorefrontState) -> Result<Self, AppError> {
        // Handlers sit in a router nested under `/api`, which strips the prefix from `parts.uri`; links
        // must name the path the client asked for.
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(&parts.uri, |original| &original.0);
        Self::resolve(state, &parts.headers, uri).await
    }
}

/// The first value of a query parameter, percent-decoded.
pub fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The store locale that best matches `Accept-Language` (`de` matches `de_DE`, `en-US` matches `en_US`),
/// by the header's q-values; the store's default locale otherwise.
pub fn negotiate_locale(headers: &HeaderMap, store: &StoreStorage) -> String {
    let Some(header) = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
    else {
        return store.default_locale.clone();
    };
    let mut ranges: Vec<(f32, usize, String)> = header
        .split(',')
        .enumerate()
        .filter_map(|(position, part)| {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next()?.trim().replace('-', "_").to_ascii_lowercase();
            let quality = pieces
                .find_map(|piece| piece.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && quality > 0.0).then_some((quality, position, tag))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let locales = if store.available_locales.is_empty() {
        std::slice::from_ref(&store.default_locale)
    } else {
        store.available_locales.as_slice()
    };
    for (_, _, tag) in ranges {
        if tag == "*" {
            return store.default_locale.clone();
        }
        let exact = locales.iter().find(|locale| locale.to_ascii_lowercase() == tag);
        let language = || {
            locales.iter().find(|locale| {
                locale
                    .to_ascii_lowercase()
                    .split('_')
                    .next()
                    .is_some_and(|language| language == tag.split('_').next().unwrap_or(""))
            })
        };
        if let Some(locale) = exact.or_else(language) {
            return locale.clone();
        }
    }
    store.default_locale.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn store() -> StoreStorage {
        StoreStorage {
            name: "DE".to_owned(),
            default_locale: "de_DE".to_owned(),
            available_locales: vec!["de_DE".to_owned(), "en_US".to_owned()],
            default_currency: "EUR".to_owned(),
            available_currencies: vec!["EUR".to_owned()],
            timezone: "Europe/Berlin".to_owned(),
        }
    }

    fn with_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn accept_language_picks_the_best_store_locale() {
        assert_eq!(negotiate_locale(&HeaderMap::new(), &store()), "de_DE");
        assert_eq!(negotiate_locale(&with_header("en"), &store()), "en_US");
        assert_eq!(negotiate_locale(&with_header("en-US"), &store()), "en_US");
        assert_eq!(
            negotiate_locale(&with_header("fr, en;q=0.5, de;q=0.9"), &store()),
            "de_DE"
        );
        assert_eq!(negotiate_locale(&with_header("fr"), &store()), "de_DE");
        assert_eq!(negotiate_locale(&with_header("en;q=0"), &store()), "de_DE");
    }
}
