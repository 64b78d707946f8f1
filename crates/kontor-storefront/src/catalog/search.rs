//! `catalog-search` and `catalog-search-suggestions` (`storefront-api.md` §8.5–§8.6) over the search
//! index, with the category tree, attribute labels and listing images read from KV in one round trip
//! after the search (and the included abstract products in two more).
//!
//! Parameter rules:
//! - `q` full text; `category` a node id; `price[min]`/`price[max]` in currency units of the request's
//!   currency (→ minor units; malformed → 400 `905`); `rating[min]`/`rating[max]` integers in stars
//!   (the index holds the average × 100; each bound is widened by 25, as Spryker does).
//! - Every other parameter not reserved by the API names a value facet (`brand=Fjell`, or `color[]=Blue`
//!   repeated for several values; values of one facet are OR-ed). A parameter that names no facet of the
//!   index is ignored (the search runs once more without it), as Glue ignores unconfigured facets.
//! - Paging: `page[offset]`/`page[limit]`, or Glue's `page` (1-based) and `ipp`; non-integers → 400 `503`.
//! - Sorts: `name_asc`, `name_desc`, `price_asc`, `price_desc` (on the DEFAULT price of the request's
//!   currency and mode), `rating` (average of approved reviews) and `popularity` (units ordered in the
//!   last 30 days, recounted daily), both descending on their sort keys; documents without the key
//!   come last in index order (no approved review, no recent order). No or an unknown `sort` → relevance (index order without `q`; the
//!   index keeps no category position), reported as `currentSortParam: null`.
//!
//! Facet configuration: Kontor has no `product_search_attribute` table yet, so every value facet is
//! multi-valued except `availability`, its `parameterName` is its name, and its label is the attribute
//! label (`product.attribute.<name>` glossary key, else the humanized name). Search answers carry no
//! `ETag`: hits do not expose their documents' timestamps.

use super::categories::{by_order, tree_key};
use super::currency::{currency_json, to_minor_units};
use super::fetch::{Cacheable, KvReader};
use super::images::{ListingImage, listing_images};
use super::prices::{DEFAULT_PRICE_TYPE, Pricing, amounts};
use super::products::{self, Wants, abstract_image_key, abstract_price_key, attribute_label, translation_key};
use super::{attribute_glossary_key, query_of};
use crate::context::RequestContext;
use crate::document::{DEFAULT_PAGE_LIMIT, Document, Includes, MAX_PAGE_LIMIT, Page, Resource};
use crate::state::StorefrontState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kontor_core::ids::CategoryNodeId;
use kontor_core::{LocaleName, StoreName};
use kontor_readmodel::search::SearchResultData;
use kontor_readmodel::storage::{
    CategoryTreeNode, CategoryTreeStorage, PriceProductStorage, ProductAbstractImageStorage,
};
use kontor_search::{
    IntegerRange, SearchError, SearchFilters, SearchHit, SearchRequest, SearchResult, SearchSort, ValueFacet,
};
use kontor_web::{AppError, ErrorCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

pub(crate) const CATALOG_SEARCH: &str = "catalog-search";
const SUGGESTIONS: &str = "catalog-search-suggestions";
/// Most entries per list of a suggestion answer.
const SUGGESTION_LIMIT: usize = 10;
/// Facets that take one value; all others are multi-select.
const SINGLE_VALUED_FACETS: &[&str] = &["availability"];
/// The supported `sort` values and their labels, in the order they are offered.
pub(crate) const SORTS: &[(&str, &str)] = &[
    ("rating", "Sort by product ratings"),
    ("name_asc", "Sort by name ascending"),
    ("name_desc", "Sort by name descending"),
    ("price_asc", "Sort by price ascending"),
    ("price_desc", "Sort by price descending"),
    ("popularity", "Sort by popularity"),
];

fn search_unavailable(error: SearchError) -> AppError {
    tracing::error!(%error, "catalog read: search index failed");
    AppError::new(ErrorCode::Unavailable, "the catalog search is temporarily unavailable")
}

pub(crate) fn scope(ctx: &RequestContext) -> Result<(StoreName, LocaleName), AppError> {
    let store = StoreName::parse(&ctx.store.name).map_err(|error| AppError::internal(&error))?;
    let locale = LocaleName::parse(&ctx.locale).map_err(|error| AppError::internal(&error))?;
    Ok((store, locale))
}

/// Parameters the API itself uses; everything else is a facet filter.
fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "q" | "sort" | "page" | "ipp" | "include" | "currency" | "priceMode" | "category" | "_store"
    ) || ["page[", "fields[", "price[", "rating[", "filter["]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

fn is_facet_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'))
}

fn not_integer(parameter: &str) -> AppError {
    AppError::at_parameter(
        ErrorCode::SearchParameterNotInteger,
        parameter,
        format!("{parameter} must be an integer"),
    )
}

/// Search documents carry ratings × 100 (Spryker's ProductReviewSearch mapping).
const RATING_SCALE: i64 = 100;

/// A parsed `catalog-search` request (the HTML listings take the same parameters).
pub(crate) struct SearchParams {
    pub query: Option<String>,
    pub page: Page,
    sort: SearchSort,
    /// (`sort` value, order) when a supported sort was asked for.
    pub current_sort: Option<(&'static str, &'static str)>,
    pub category: Option<i64>,
    pub price: IntegerRange,
    rating: IntegerRange,
    /// Facet → accepted values (from `name=` and `name[]=` alike).
    pub facets: BTreeMap<String, Vec<String>>,
}

fn integer_param(pairs: &[(String, String)], name: &str) -> Result<Option<i64>, AppError> {
    match pairs.iter().find(|(key, _)| key == name) {
        None => Ok(None),
        Some((_, raw)) if raw.trim().is_empty() => Ok(None),
        Some((_, raw)) => raw.trim().parse().map(Some).map_err(|_| not_integer(name)),
    }
}

fn parse_page(query: Option<&str>, pairs: &[(String, String)], default_limit: usize) -> Result<Page, AppError> {
    let mut page = Page::from_query(query, ErrorCode::SearchParameterNotInteger)?;
    let has = |name: &str| pairs.iter().any(|(key, _)| key == name);
    if !has("page[limit]") {
        page.limit = default_limit;
    }
    if !has("page[limit]")
        && let Some(ipp) = integer_param(pairs, "ipp")?
    {
        if ipp < 1 || ipp > MAX_PAGE_LIMIT as i64 {
            return Err(AppError::at_parameter(
                ErrorCode::SearchParameterNotInteger,
                "ipp",
                format!("ipp must be an integer between 1 and {MAX_PAGE_LIMIT}"),
            ));
        }
        page.limit = ipp as usize;
    }
    if !has("page[offset]")
        && let Some(number) = integer_param(pairs, "page")?
    {
        if number < 1 {
            return Err(AppError::at_parameter(
                ErrorCode::SearchParameterNotInteger,
                "page",
                "page must be an integer of at least 1",
            ));
        }
        page.offset = (number as usize - 1).saturating_mul(page.limit);
    }
    Ok(page)
}

fn parse_sort(raw: Option<&str>, pricing: &Pricing) -> (SearchSort, Option<(&'static str, &'static str)>) {
    let price_field = pricing.search_field();
    match raw.map(str::trim) {
        Some("rating") => (SearchSort::IntegerDesc("rating".to_owned()), Some(("rating", "desc"))),
        Some("name_asc") => (SearchSort::name_asc(), Some(("name_asc", "asc"))),
        Some("name_desc") => (SearchSort::name_desc(), Some(("name_desc", "desc"))),
        Some("price_asc") => (SearchSort::price_asc(&price_field), Some(("price_asc", "asc"))),
        Some("price_desc") => (SearchSort::price_desc(&price_field), Some(("price_desc", "desc"))),
        Some("popularity") => (
            SearchSort::IntegerDesc("popularity".to_owned()),
            Some(("popularity", "desc")),
        ),
        _ => (SearchSort::Relevance, None),
    }
}

fn money_param(pairs: &[(String, String)], name: &str, pricing: &Pricing) -> Result<Option<i64>, AppError> {
    match pairs.iter().find(|(key, _)| key == name) {
        None => Ok(None),
        Some((_, raw)) if raw.trim().is_empty() => Ok(None),
        Some((_, raw)) => to_minor_units(raw, &pricing.currency).map(Some).ok_or_else(|| {
            AppError::at_parameter(
                ErrorCode::InvalidParameter,
                name,
                format!("{name} must be an amount in {} such as 99.99", pricing.currency),
            )
        }),
    }
}

impl SearchParams {
    /// Reads the parameters of `query` (the part after `?`); pages hold `default_limit` hits unless
    /// `page[limit]` or `ipp` says otherwise.
    pub fn parse(query: Option<&str>, pricing: &Pricing, default_limit: usize) -> Result<Self, AppError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        let text = pairs
            .iter()
            .find(|(key, _)| key == "q")
            .map(|(_, value)| value.trim().to_owned())
            .filter(|value| !value.is_empty());
        let sort_param = pairs
            .iter()
            .find(|(key, _)| key == "sort")
            .map(|(_, value)| value.as_str());
        let (sort, current_sort) = parse_sort(sort_param, pricing);
        let mut facets: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in &pairs {
            if is_reserved(key) || value.trim().is_empty() {
                continue;
            }
            let name = key.strip_suffix("[]").unwrap_or(key);
            if is_facet_name(name) {
                let values = facets.entry(name.to_owned()).or_default();
                if !values.contains(value) {
                    values.push(value.clone());
                }
            }
        }
        Ok(Self {
            query: text,
            page: parse_page(query, &pairs, default_limit)?,
            sort,
            current_sort,
            category: integer_param(&pairs, "category")?,
            price: IntegerRange {
                min: money_param(&pairs, "price[min]", pricing)?,
                max: money_param(&pairs, "price[max]", pricing)?,
            },
            rating: IntegerRange {
                min: integer_param(&pairs, "rating[min]")?,
                max: integer_param(&pairs, "rating[max]")?,
            },
            facets,
        })
    }

    fn request(&self, ctx: &RequestContext, pricing: &Pricing) -> Result<SearchRequest, AppError> {
        let (store, locale) = scope(ctx)?;
        let mut filters = SearchFilters {
            category: self.category.map(CategoryNodeId),
            string_facets: self.facets.clone(),
            integer_ranges: BTreeMap::new(),
        };
        if self.price.min.is_some() || self.price.max.is_some() {
            filters.integer_ranges.insert(pricing.search_field(), self.price);
        }
        if self.rating.min.is_some() || self.rating.max.is_some() {
            // Ratings are indexed × 100 (4.67 → 467); `rating[min]=4` means from 3.75, as Spryker's
            // ProductRatingValueTransformer widens each bound by a quarter star.
            let range = IntegerRange {
                min: self
                    .rating
                    .min
                    .map(|min| min.saturating_mul(RATING_SCALE).saturating_sub(25)),
                max: self
                    .rating
                    .max
                    .map(|max| max.saturating_mul(RATING_SCALE).saturating_add(25)),
            };
            filters.integer_ranges.insert("rating".to_owned(), range);
        }
        let mut request = SearchRequest::new(store, locale)
            .with_sort(self.sort.clone())
            .with_page(self.page.offset, self.page.limit);
        request.query = self.query.clone();
        request.filters = filters;
        Ok(request)
    }
}

/// Runs the search; facet parameters that name no facet of the index are dropped and the search re-run.
pub(crate) async fn run_search(
    state: &StorefrontState,
    ctx: &RequestContext,
    pricing: &Pricing,
    params: &mut SearchParams,
) -> Result<SearchResult, AppError> {
    let result = state
        .search
        .search(params.request(ctx, pricing)?)
        .await
        .map_err(search_unavailable)?;
    let unknown: Vec<String> = params
        .facets
        .keys()
        .filter(|name| !result.value_facets.iter().any(|facet| &facet.name == *name))
        .cloned()
        .collect();
    if unknown.is_empty() {
        return Ok(result);
    }
    for name in &unknown {
        params.facets.remove(name);
    }
    state
        .search
        .search(params.request(ctx, pricing)?)
        .await
        .map_err(search_unavailable)
}

/// The hit's price of `price_type` in the request's currency and mode.
pub(crate) fn hit_amount(data: &SearchResultData, pricing: &Pricing, price_type: &str) -> Option<i64> {
    data.prices.as_ref()?.iter().find_map(|price| {
        (price.price_type == price_type && price.currency == pricing.currency && price.price_mode == pricing.mode)
            .then_some(price.amount)
    })
}

/// Queues the KV price documents of the hits whose search document lacks a price of `price_type`
/// (the search documents carry DEFAULT prices only), for [`hit_amount_or_stored`].
pub(crate) fn want_hit_prices(
    reader: &mut KvReader<'_>,
    ctx: &RequestContext,
    pricing: &Pricing,
    hits: &[SearchHit],
    price_type: &str,
) {
    for hit in hits {
        if hit_amount(&hit.data, pricing, price_type).is_none() {
            reader.want(abstract_price_key(ctx, hit.data.id_product_abstract.0));
        }
    }
}

/// The hit's price of `price_type`: the search document's, else the product's KV price document's
/// (queued by [`want_hit_prices`]).
pub(crate) fn hit_amount_or_stored(
    reader: &KvReader<'_>,
    ctx: &RequestContext,
    pricing: &Pricing,
    data: &SearchResultData,
    price_type: &str,
) -> Option<i64> {
    hit_amount(data, pricing, price_type).or_else(|| {
        let stored: PriceProductStorage =
            reader.peek(abstract_price_key(ctx, data.id_product_abstract.0).as_deref())?;
        amounts(Some(&stored), None, pricing).get(price_type).copied()
    })
}

/// The hit's DEFAULT price in the request's currency and mode.
fn hit_price(data: &SearchResultData, pricing: &Pricing) -> Option<i64> {
    hit_amount(data, pricing, DEFAULT_PRICE_TYPE)
}

/// Listing images: the search document's when it has them, else the product's KV image sets (queued
/// by [`want_listing_documents`]).
pub(crate) fn hit_images(reader: &KvReader<'_>, ctx: &RequestContext, data: &SearchResultData) -> Vec<ListingImage> {
    if let Some(images) = &data.images {
        return images.iter().map(ListingImage::from).collect();
    }
    reader
        .peek::<ProductAbstractImageStorage>(abstract_image_key(ctx, data.id_product_abstract.0).as_deref())
        .map(|images| listing_images(&images.image_sets))
        .unwrap_or_default()
}

/// Queues the KV image sets of the hits whose search document has no listing images.
pub(crate) fn want_hit_images(reader: &mut KvReader<'_>, ctx: &RequestContext, hits: &[SearchHit]) {
    for hit in hits {
        if hit.data.images.is_none() {
            reader.want(abstract_image_key(ctx, hit.data.id_product_abstract.0));
        }
    }
}

/// Queues what a listing page shows besides the hits: the category tree, the KV images of hits whose
/// search document has none, and the value facets' labels. One round trip with the caller's own keys.
pub(crate) fn want_listing_documents(reader: &mut KvReader<'_>, ctx: &RequestContext, result: &SearchResult) {
    reader.want(tree_key(ctx));
    want_hit_images(reader, ctx, &result.hits);
    for facet in &result.value_facets {
        reader.want(translation_key(&ctx.locale, &attribute_glossary_key(&facet.name)));
    }
}

fn abstract_product_json(reader: &KvReader<'_>, ctx: &RequestContext, pricing: &Pricing, hit: &SearchHit) -> Value {
    let price = hit_price(&hit.data, pricing);
    let prices: Vec<Value> = price
        .map(|amount| {
            vec![json!({
                "priceTypeName": DEFAULT_PRICE_TYPE,
                "currency": currency_json(&pricing.currency),
                pricing.amount_attribute(): amount,
                DEFAULT_PRICE_TYPE: amount,
            })]
        })
        .unwrap_or_default();
    let mut product = json!({
        "abstractSku": hit.data.abstract_sku,
        "abstractName": hit.data.abstract_name,
        "price": price,
        "images": hit_images(reader, ctx, &hit.data),
    });
    product["prices"] = Value::Array(prices);
    product
}

/// A value facet of a search answer as listings show it.
pub(crate) struct FacetView<'r> {
    pub facet: &'r ValueFacet,
    /// The attribute label (translated, else the humanized name).
    pub label: String,
    /// The query parameter filtering by it.
    pub parameter: &'r str,
    pub multi: bool,
    /// The values the request filters by.
    pub active: &'r [String],
}

/// The value facets of `result` with their labels (queued by [`want_listing_documents`]) and the
/// values `params` filter by.
pub(crate) fn value_facets<'r>(
    reader: &KvReader<'_>,
    ctx: &RequestContext,
    result: &'r SearchResult,
    params: &'r SearchParams,
) -> Vec<FacetView<'r>> {
    result
        .value_facets
        .iter()
        .map(|facet| FacetView {
            facet,
            label: attribute_label(reader, &ctx.locale, &facet.name),
            parameter: &facet.name,
            multi: !SINGLE_VALUED_FACETS.contains(&facet.name.as_str()),
            active: params.facets.get(&facet.name).map_or(&[], Vec::as_slice),
        })
        .collect()
}

fn value_facets_json(
    reader: &KvReader<'_>,
    ctx: &RequestContext,
    result: &SearchResult,
    params: &SearchParams,
) -> Vec<Value> {
    value_facets(reader, ctx, result, params)
        .into_iter()
        .map(|view| {
            let active_value = match (params.facets.contains_key(&view.facet.name), view.multi) {
                (false, _) => Value::Null,
                (true, true) => json!(view.active),
                (true, false) => json!(view.active.first()),
            };
            let mut facet = json!({
                "name": view.facet.name,
                "localizedName": view.label,
                "docCount": null,
                "activeValue": active_value,
                "config": {"parameterName": view.parameter, "isMultiValued": view.multi},
            });
            facet["values"] = Value::Array(
                view.facet
                    .values
                    .iter()
                    .map(|value| json!({"value": value.value, "doc_count": value.doc_count}))
                    .collect(),
            );
            facet
        })
        .collect()
}

/// `scale` turns index values into the parameter's unit (1 for prices, [`RATING_SCALE`] for ratings).
fn range_facet_json(
    result: &SearchResult,
    name: &str,
    label: &str,
    parameter: &str,
    active: IntegerRange,
    scale: i64,
) -> Option<Value> {
    let facet = result.range_facets.iter().find(|facet| facet.name == name)?;
    let shown = |value: i64| (value as f64 / scale as f64).round() as i64;
    let (min, max) = (shown(facet.min), shown(facet.max));
    Some(json!({
        "name": name,
        "localizedName": label,
        "min": min,
        "max": max,
        "activeMin": active.min.unwrap_or(min),
        "activeMax": active.max.unwrap_or(max),
        "docCount": null,
        "config": {"parameterName": parameter, "isMultiValued": false},
    }))
}

fn category_filter_json(nodes: &[CategoryTreeNode], counts: &HashMap<i64, u64>) -> Vec<Value> {
    by_order(nodes)
        .into_iter()
        .map(|node| {
            let mut entry = json!({
                "nodeId": node.node_id,
                "name": node.name,
                "docCount": counts.get(&node.node_id).copied().unwrap_or(0),
            });
            // Moved in: `json!` would copy a `Value` by serializing it, at every level of the tree.
            entry["children"] = Value::Array(category_filter_json(&node.children, counts));
            entry
        })
        .collect()
}

/// `GET /catalog-search`.
pub(crate) async fn catalog_search(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let pricing = Pricing::from_request(&ctx)?;
    let includes = Includes::from_query(query_of(&ctx));
    let mut params = SearchParams::parse(query_of(&ctx), &pricing, DEFAULT_PAGE_LIMIT)?;
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let result = run_search(&state, &ctx, &pricing, &mut params).await?;

    // One KV round trip for the listing's extras; included products share it and add their own.
    want_listing_documents(&mut reader, &ctx, &result);
    let included = if includes.has(products::ABSTRACT_PRODUCTS) {
        let ids: Vec<i64> = result.hits.iter().map(|hit| hit.data.id_product_abstract.0).collect();
        products::load_abstracts(&mut reader, &ctx, &pricing, Wants::from_includes(&includes), &ids).await?
    } else {
        reader.flush().await?;
        Vec::new()
    };
    let tree: CategoryTreeStorage = reader.peek(tree_key(&ctx).as_deref()).unwrap_or_default();
    let counts: HashMap<i64, u64> = result
        .category_counts
        .iter()
        .map(|count| (count.category.0, count.doc_count))
        .collect();

    let limit = params.page.limit.max(1);
    let total = usize::try_from(result.total).unwrap_or(usize::MAX);
    let range_facets: Vec<Value> = [
        range_facet_json(
            &result,
            &pricing.search_field(),
            "Price range",
            "price",
            params.price,
            1,
        ),
        range_facet_json(
            &result,
            "rating",
            "Product rating",
            "rating",
            params.rating,
            RATING_SCALE,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let sort_names: Vec<&str> = SORTS.iter().map(|(name, _)| *name).collect();
    let sort_labels: serde_json::Map<String, Value> = SORTS
        .iter()
        .map(|(name, label)| ((*name).to_owned(), json!(label)))
        .collect();
    let mut attributes = json!({
        "spellingSuggestion": null,
        "sort": {
            "sortParamNames": sort_names,
            "sortParamLocalizedNames": sort_labels,
            "currentSortParam": params.current_sort.map(|(name, _)| name),
            "currentSortOrder": params.current_sort.map(|(_, order)| order),
        },
        "pagination": {
            "numFound": result.total,
            "currentPage": params.page.offset / limit + 1,
            "maxPage": total.div_ceil(limit),
            "currentItemsPerPage": limit,
            "config": {"parameterName": "page", "itemsPerPageParameterName": "ipp",
                       "defaultItemsPerPage": DEFAULT_PAGE_LIMIT, "validItemsPerPageOptions": [12, 24, 36]},
        },
    });
    // The large parts are moved in: `json!` would copy each `Value` by serializing it.
    attributes["abstractProducts"] = Value::Array(
        result
            .hits
            .iter()
            .map(|hit| abstract_product_json(&reader, &ctx, &pricing, hit))
            .collect(),
    );
    attributes["valueFacets"] = Value::Array(value_facets_json(&reader, &ctx, &result, &params));
    attributes["rangeFacets"] = Value::Array(range_facets);
    attributes["categoryTreeFilter"] = Value::Array(category_filter_json(&tree.category_nodes_storage, &counts));
    let mut resource = Resource::with_link(CATALOG_SEARCH, None, attributes, None);
    for rendered in &included {
        resource.relate(&rendered.resource);
    }
    let mut document = Document::many(vec![resource]).with_links(params.page.links(&ctx, total));
    for rendered in included {
        document.include(rendered.resource);
        for related in rendered.related {
            document.include(related);
        }
    }
    // Unversioned: the KV timestamps do not change when only the search index does.
    Ok(reader.respond_unversioned(document, &ctx, &headers))
}

/// Tree nodes whose name has a word starting with `prefix` (case-insensitive), depth first.
fn matching_categories<'t>(nodes: &'t [CategoryTreeNode], prefix: &str, found: &mut Vec<&'t CategoryTreeNode>) {
    for node in nodes {
        if found.len() >= SUGGESTION_LIMIT {
            return;
        }
        let name = node.name.to_lowercase();
        if name
            .split(|ch: char| !ch.is_alphanumeric())
            .any(|word| word.starts_with(prefix))
        {
            found.push(node);
        }
        matching_categories(&node.children, prefix, found);
    }
}

/// What a search-as-you-type prefix suggests, at most [`SUGGESTION_LIMIT`] of each kind.
#[derive(Default)]
pub(crate) struct SuggestionResults {
    pub completion: Vec<String>,
    pub products: Vec<SearchHit>,
    pub categories: Vec<SuggestedCategory>,
}

/// A category whose name has a word starting with the prefix.
pub(crate) struct SuggestedCategory {
    pub node_id: i64,
    pub name: String,
    pub url: Option<String>,
}

/// Suggestions for `prefix` (trimmed, lower-cased by the caller; empty suggests nothing): one index
/// lookup, then one KV round trip for the category tree and the KV images of products whose search
/// document has none (read with [`hit_images`]).
pub(crate) async fn find_suggestions(
    state: &StorefrontState,
    reader: &mut KvReader<'_>,
    ctx: &RequestContext,
    prefix: &str,
) -> Result<SuggestionResults, AppError> {
    if prefix.is_empty() {
        return Ok(SuggestionResults::default());
    }
    let (store, locale) = scope(ctx)?;
    let found = state
        .search
        .suggest(&store, &locale, prefix, SUGGESTION_LIMIT)
        .await
        .map_err(search_unavailable)?;
    let tree_key = tree_key(ctx);
    reader.want(tree_key.clone());
    want_hit_images(reader, ctx, &found.products);
    reader.flush().await?;
    let tree: CategoryTreeStorage = reader.peek(tree_key.as_deref()).unwrap_or_default();
    let mut matched = Vec::new();
    matching_categories(&tree.category_nodes_storage, prefix, &mut matched);
    Ok(SuggestionResults {
        completion: found.completion.into_iter().take(SUGGESTION_LIMIT).collect(),
        products: found.products.into_iter().take(SUGGESTION_LIMIT).collect(),
        categories: matched
            .into_iter()
            .map(|node| SuggestedCategory {
                node_id: node.node_id,
                name: node.name.clone(),
                url: node.url.clone(),
            })
            .collect(),
    })
}

/// `GET /catalog-search-suggestions`.
pub(crate) async fn suggestions(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let pricing = Pricing::from_request(&ctx)?;
    let prefix = crate::context::query_value(query_of(&ctx), "q")
        .map(|q| q.trim().to_lowercase())
        .unwrap_or_default();
    let mut reader = KvReader::new(state.kv.as_ref());
    let found = find_suggestions(&state, &mut reader, &ctx, &prefix).await?;
    let categories: Vec<Value> = found
        .categories
        .iter()
        .map(|category| json!({"name": category.name, "url": category.url}))
        .collect();
    let products: Vec<Value> = found
        .products
        .iter()
        .map(|hit| {
            json!({
                "abstractSku": hit.data.abstract_sku,
                "abstractName": hit.data.abstract_name,
                "price": hit_price(&hit.data, &pricing),
                "url": hit.data.url,
                "images": hit_images(&reader, &ctx, &hit.data),
            })
        })
        .collect();
    let attributes = json!({
        "completion": found.completion,
        "categories": categories,
        "cmsPages": [],
        "abstractProducts": products,
    });
    let resource = Resource::with_link(SUGGESTIONS, None, attributes, None);
    let document = Document::many(vec![resource]).with_links(json!({"self": ctx.self_link()}));
    Ok(document.respond(&ctx, &headers, StatusCode::OK))
}
