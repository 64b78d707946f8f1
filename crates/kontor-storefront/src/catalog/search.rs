//! `catalog-search` and `catalog-search-suggestions` (`storefront-api.md` §8.5–§8.6) over the search
//! index, with the category tree, attribute labels and listing images read from KV in one round trip
//! after the search (and the included abstract products in two more).
//!
//! Parameter rules:
//! - `q` full text; `category` a node id; `price[min]`/`price[max]` in currency units of the request's
//!   currency (→ minor units; malformed → 400 `905`); `rating[min]`/`rating[max]` integers.
//! - Every other parameter not reserved by the API names a value facet (`brand=Fjell`, or `color[]=Blue`
//!   repeated for several values; values of one facet are OR-ed). A parameter that names no facet of the
//!   index is ignored (the search runs once more without it), as Glue ignores unconfigured facets.
//! - Paging: `page[offset]`/`page[limit]`, or Glue's `page` (1-based) and `ipp`; non-integers → 400 `503`.
//! - Sorts: `name_asc`, `name_desc`, `price_asc`, `price_desc` (on the DEFAULT price of the request's
//!   currency and mode), `rating` and `popularity` (descending on the `rating`/`popularity` sort keys;
//!   documents without the key come last in index order, which is what every document does until a
//!   publisher writes those keys). No or an unknown `sort` → relevance (index order without `q`; the
//!   index keeps no category position), reported as `currentSortParam: null`.
//!
//! Facet configuration: Kontor has no `product_search_attribute` table yet, so every value facet is
//! multi-valued except `availability`, its `parameterName` is its name, and its label is the attribute
//! label (`product.attribute.<name>` glossary key, else the humanized name). Search answers carry no
//! `ETag`: hits do not expose their documents' timestamps.

use super::categories::tree_key;
use super::currency::{currency_json, to_minor_units};
use super::fetch::KvReader;
use super::images::listing_images;
use super::prices::{DEFAULT_PRICE_TYPE, Pricing};
use super::products::{self, Wants, abstract_image_key, translated, translation_key};
use super::{attribute_glossary_key, humanize, query_of};
use crate::context::RequestContext;
use crate::document::{DEFAULT_PAGE_LIMIT, Document, Includes, MAX_PAGE_LIMIT, Page, Resource};
use crate::state::StorefrontState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kontor_core::ids::CategoryNodeId;
use kontor_core::{LocaleName, StoreName};
use kontor_readmodel::search::SearchResultData;
use kontor_readmodel::storage::{CategoryTreeNode, CategoryTreeStorage, ProductAbstractImageStorage};
use kontor_search::{IntegerRange, SearchError, SearchFilters, SearchHit, SearchRequest, SearchResult, SearchSort};
use kontor_web::{AppError, ErrorCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

const CATALOG_SEARCH: &str = "catalog-search";
const SUGGESTIONS: &str = "catalog-search-suggestions";
/// Most entries per list of a suggestion answer.
const SUGGESTION_LIMIT: usize = 10;
/// Facets that take one value; all others are multi-select.
const SINGLE_VALUED_FACETS: &[&str] = &["availability"];
const SORTS: &[(&str, &str)] = &[
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

fn scope(ctx: &RequestContext) -> Result<(StoreName, LocaleName), AppError> {
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

/// A parsed `catalog-search` request.
struct SearchParams {
    query: Option<String>,
    page: Page,
    sort: SearchSort,
    /// (`sort` value, order) when a supported sort was asked for.
    current_sort: Option<(&'static str, &'static str)>,
    category: Option<i64>,
    price: IntegerRange,
    rating: IntegerRange,
    /// Facet → accepted values (from `name=` and `name[]=` alike).
    facets: BTreeMap<String, Vec<String>>,
}

fn integer_param(pairs: &[(String, String)], name: &str) -> Result<Option<i64>, AppError> {
    match pairs.iter().find(|(key, _)| key == name) {
        None => Ok(None),
        Some((_, raw)) if raw.trim().is_empty() => Ok(None),
        Some((_, raw)) => raw.trim().parse().map(Some).map_err(|_| not_integer(name)),
    }
}

fn parse_page(query: Option<&str>, pairs: &[(String, String)]) -> Result<Page, AppError> {
    let mut page = Page::from_query(query, ErrorCode::SearchParameterNotInteger)?;
    let has = |name: &str| pairs.iter().any(|(key, _)| key == name);
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
    fn parse(ctx: &RequestContext, pricing: &Pricing) -> Result<Self, AppError> {
        let query = query_of(ctx);
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
            page: parse_page(query, &pairs)?,
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
            filters.integer_ranges.insert("rating".to_owned(), self.rating);
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
async fn run_search(
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

/// The hit's DEFAULT price in the request's currency and mode.
fn hit_price(data: &SearchResultData, pricing: &Pricing) -> Option<i64> {
    data.prices.as_ref()?.iter().find_map(|price| {
        (price.price_type == DEFAULT_PRICE_TYPE
            && price.currency == pricing.currency
            && price.price_mode == pricing.mode)
            .then_some(price.amount)
    })
}

/// Listing images: the search document's when it has them, else the product's KV image sets.
fn hit_images(reader: &KvReader<'_>, ctx: &RequestContext, data: &SearchResultData) -> Vec<Value> {
    if let Some(images) = &data.images {
        return images
            .iter()
            .map(|image| json!({"externalUrlSmall": image.external_url_small, "externalUrlLarge": image.external_url_large}))
            .collect();
    }
    reader
        .peek::<ProductAbstractImageStorage>(abstract_image_key(ctx, data.id_product_abstract.0).as_deref())
        .map(|images| listing_images(&images.image_sets))
        .unwrap_or_default()
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
    json!({
        "abstractSku": hit.data.abstract_sku,
        "abstractName": hit.data.abstract_name,
        "price": price,
        "prices": prices,
        "images": hit_images(reader, ctx, &hit.data),
    })
}

fn facet_label(reader: &KvReader<'_>, ctx: &RequestContext, name: &str) -> String {
    translated(reader, &ctx.locale, &attribute_glossary_key(name)).unwrap_or_else(|| humanize(name))
}

fn value_facets_json(
    reader: &KvReader<'_>,
    ctx: &RequestContext,
    result: &SearchResult,
    params: &SearchParams,
) -> Vec<Value> {
    result
        .value_facets
        .iter()
        .map(|facet| {
            let multi = !SINGLE_VALUED_FACETS.contains(&facet.name.as_str());
            let active = params.facets.get(&facet.name);
            let active_value = match active {
                None => Value::Null,
                Some(values) if multi => json!(values),
                Some(values) => json!(values.first()),
            };
            json!({
                "name": facet.name,
                "localizedName": facet_label(reader, ctx, &facet.name),
                "docCount": null,
                "values": facet.values.iter().map(|value| json!({"value": value.value, "doc_count": value.doc_count})).collect::<Vec<_>>(),
                "activeValue": active_value,
                "config": {"parameterName": facet.name, "isMultiValued": multi},
            })
        })
        .collect()
}

fn range_facet_json(
    result: &SearchResult,
    name: &str,
    label: &str,
    parameter: &str,
    active: IntegerRange,
) -> Option<Value> {
    let facet = result.range_facets.iter().find(|facet| facet.name == name)?;
    Some(json!({
        "name": name,
        "localizedName": label,
        "min": facet.min,
        "max": facet.max,
        "activeMin": active.min.unwrap_or(facet.min),
        "activeMax": active.max.unwrap_or(facet.max),
        "docCount": null,
        "config": {"parameterName": parameter, "isMultiValued": false},
    }))
}

fn category_filter_json(nodes: &[CategoryTreeNode], counts: &HashMap<i64, u64>) -> Vec<Value> {
    let mut sorted: Vec<&CategoryTreeNode> = nodes.iter().collect();
    sorted.sort_by_key(|node| std::cmp::Reverse(node.order));
    sorted
        .into_iter()
        .map(|node| {
            json!({
                "nodeId": node.node_id,
                "name": node.name,
                "docCount": counts.get(&node.node_id).copied().unwrap_or(0),
                "children": category_filter_json(&node.children, counts),
            })
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
    let mut params = SearchParams::parse(&ctx, &pricing)?;
    let result = run_search(&state, &ctx, &pricing, &mut params).await?;

    // One KV round trip for the listing's extras; included products share it and add their own.
    let mut reader = KvReader::new(state.kv.as_ref());
    let tree_key = tree_key(&ctx);
    reader.want(tree_key.clone());
    for hit in &result.hits {
        if hit.data.images.is_none() {
            reader.want(abstract_image_key(&ctx, hit.data.id_product_abstract.0));
        }
    }
    for facet in &result.value_facets {
        reader.want(translation_key(&ctx.locale, &attribute_glossary_key(&facet.name)));
    }
    let included = if includes.has(products::ABSTRACT_PRODUCTS) {
        let ids: Vec<i64> = result.hits.iter().map(|hit| hit.data.id_product_abstract.0).collect();
        products::load_abstracts(&mut reader, &ctx, &pricing, Wants::from_includes(&includes), &ids).await?
    } else {
        reader.flush().await?;
        Vec::new()
    };
    let tree: CategoryTreeStorage = reader.peek(tree_key.as_deref()).unwrap_or_default();
    let counts: HashMap<i64, u64> = result
        .category_counts
        .iter()
        .map(|count| (count.category.0, count.doc_count))
        .collect();

    let limit = params.page.limit.max(1);
    let total = usize::try_from(result.total).unwrap_or(usize::MAX);
    let range_facets: Vec<Value> = [
        range_facet_json(&result, &pricing.search_field(), "Price range", "price", params.price),
        range_facet_json(&result, "rating", "Product rating", "rating", params.rating),
    ]
    .into_iter()
    .flatten()
    .collect();
    let sort_names: Vec<&str> = SORTS.iter().map(|(name, _)| *name).collect();
    let sort_labels: serde_json::Map<String, Value> = SORTS
        .iter()
        .map(|(name, label)| ((*name).to_owned(), json!(label)))
        .collect();
    let attributes = json!({
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
        "abstractProducts": result.hits.iter().map(|hit| abstract_product_json(&reader, &ctx, &pricing, hit)).collect::<Vec<_>>(),
        "valueFacets": value_facets_json(&reader, &ctx, &result, &params),
        "rangeFacets": range_facets,
        "categoryTreeFilter": category_filter_json(&tree.category_nodes_storage, &counts),
    });
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
    Ok(document.respond(&ctx, &headers, StatusCode::OK))
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
    let (completion, hits, categories) = if prefix.is_empty() {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        let (store, locale) = scope(&ctx)?;
        let found = state
            .search
            .suggest(&store, &locale, &prefix, SUGGESTION_LIMIT)
            .await
            .map_err(search_unavailable)?;
        let tree_key = tree_key(&ctx);
        reader.want(tree_key.clone());
        for hit in &found.products {
            if hit.data.images.is_none() {
                reader.want(abstract_image_key(&ctx, hit.data.id_product_abstract.0));
            }
        }
        reader.flush().await?;
        let tree: CategoryTreeStorage = reader.peek(tree_key.as_deref()).unwrap_or_default();
        let mut matched = Vec::new();
        matching_categories(&tree.category_nodes_storage, &prefix, &mut matched);
        let categories: Vec<Value> = matched
            .into_iter()
            .map(|node| json!({"name": node.name, "url": node.url}))
            .collect();
        (found.completion, found.products, categories)
    };
    let products: Vec<Value> = hits
        .iter()
        .take(SUGGESTION_LIMIT)
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
        "completion": completion.into_iter().take(SUGGESTION_LIMIT).collect::<Vec<_>>(),
        "categories": categories,
        "cmsPages": [],
        "abstractProducts": products,
    });
    let resource = Resource::with_link(SUGGESTIONS, None, attributes, None);
    let document = Document::many(vec![resource]).with_links(json!({"self": ctx.self_link()}));
    Ok(document.respond(&ctx, &headers, StatusCode::OK))
}
