//! Listing pages: home (root categories and featured products), category pages and search results,
//! and the suggestions the search box's script asks for.
//!
//! Listings take the JSON:API's `catalog-search` parameters (`q`, `sort`, `page`, `ipp`, `price[min]`,
//! `price[max]`, `category` on search, facets as `brand[]=…`), parsed and searched by the same code,
//! with [`LISTING_PAGE_SIZE`] products a page. The filter form is a plain GET form, so filtering,
//! sorting and paging work without JavaScript; page links keep every other parameter.

use super::{LISTING_PAGE_SIZE, PageScope};
use crate::catalog::categories::{by_order, tree_key, tree_path};
use crate::catalog::currency::to_currency_units;
use crate::catalog::fetch::KvReader;
use crate::catalog::images::ListingImage;
use crate::catalog::prices::{DEFAULT_PRICE_TYPE, ORIGINAL_PRICE_TYPE};
use crate::catalog::search::{
    SORTS, SearchParams, find_suggestions, hit_amount, hit_amount_or_stored, hit_images, run_search, value_facets,
    want_hit_images, want_hit_prices, want_listing_documents,
};
use crate::state::StorefrontState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use kontor_readmodel::storage::{CategoryTreeNode, CategoryTreeStorage};
use kontor_search::{SearchHit, SearchResult};
use kontor_web::AppError;
use kontor_web::html::{CsrfToken, Session};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Products on the home page.
const FEATURED_PRODUCTS: usize = 8;
/// Entries of the search box's suggestion list.
const SUGGESTIONS_SHOWN: usize = 10;
/// Page links shown on each side of the current page.
const PAGE_LINK_RADIUS: usize = 2;

/// A product in a grid.
#[derive(Debug, Serialize)]
pub(super) struct ProductCard {
    sku: String,
    name: String,
    url: String,
    image: Option<ListingImage>,
    /// DEFAULT price in minor units of the page's currency.
    price: Option<i64>,
    /// ORIGINAL price, only when it is higher than the price (shown struck through).
    original: Option<i64>,
}

/// A link to a category, with its product count where the page knows it.
#[derive(Debug, Serialize)]
struct CategoryLink {
    id: i64,
    name: String,
    url: String,
    count: Option<u64>,
    /// Nesting below the list's top level (search's category filter).
    depth: usize,
    active: bool,
}

#[derive(Debug, Serialize)]
struct HomePage {
    categories: Vec<CategoryLink>,
    products: Vec<ProductCard>,
}

/// A category page or search results.
#[derive(Debug, Serialize)]
struct ListingPage {
    title: String,
    /// The search text (the layout's search box shows it).
    query: Option<String>,
    /// Where the filter form submits to (the page's own path).
    action: String,
    breadcrumb: Vec<CategoryLink>,
    subcategories: Vec<CategoryLink>,
    /// Search only: the categories the hits are in, as filters.
    categories: Vec<CategoryLink>,
    products: Vec<ProductCard>,
    total: u64,
    facets: Vec<FacetBlock>,
    price: Option<PriceFilter>,
    sorts: Vec<SortOption>,
    /// Parameters the form keeps without showing them (`q`, `category`, `ipp`).
    hidden: Vec<(String, String)>,
    pagination: Pagination,
    /// Whether any filter is applied, and the page without them.
    filtered: bool,
    clear_href: String,
}

#[derive(Debug, Serialize)]
struct FacetBlock {
    name: String,
    label: String,
    /// The form field: `brand[]` for multi-valued facets, `availability` for single-valued ones.
    field: String,
    multi: bool,
    values: Vec<FacetOption>,
}

#[derive(Debug, Serialize)]
struct FacetOption {
    value: String,
    count: Option<u64>,
    checked: bool,
}

/// The price range filter in currency units, as the inputs show it.
#[derive(Debug, Serialize)]
struct PriceFilter {
    min: String,
    max: String,
    active_min: Option<String>,
    active_max: Option<String>,
}

#[derive(Debug, Serialize)]
struct SortOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Debug, Serialize)]
struct Pagination {
    current: usize,
    last: usize,
    previous: Option<String>,
    next: Option<String>,
    /// Page links around the current one; `None` marks a gap.
    pages: Vec<Option<PageLink>>,
}

#[derive(Debug, Serialize)]
struct PageLink {
    number: usize,
    href: String,
    current: bool,
}

/// `GET /`.
pub(super) async fn home(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let scope = match PageScope::open(&state, &session, &csrf, &uri, None).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    match home_page(&scope).await {
        Ok(page) => scope.render("storefront/home.html", page),
        Err(error) => scope.error(&error),
    }
}

/// Root categories and the first products by relevance: one search, one KV round trip.
async fn home_page(scope: &PageScope) -> Result<HomePage, AppError> {
    let mut params = SearchParams::parse(None, &scope.pricing, FEATURED_PRODUCTS)?;
    let result = run_search(&scope.state, &scope.ctx, &scope.pricing, &mut params).await?;
    let mut reader = scope.reader();
    let tree_key = tree_key(&scope.ctx);
    reader.want(tree_key.clone());
    want_hit_images(&mut reader, &scope.ctx, &result.hits);
    want_hit_prices(
        &mut reader,
        &scope.ctx,
        &scope.pricing,
        &result.hits,
        ORIGINAL_PRICE_TYPE,
    );
    reader.flush().await?;
    let tree: CategoryTreeStorage = reader.peek(tree_key.as_deref()).unwrap_or_default();
    Ok(HomePage {
        categories: by_order(&tree.category_nodes_storage)
            .into_iter()
            .map(|node| category_link(node, None, 0))
            .collect(),
        products: cards(&reader, scope, &result.hits),
    })
}

/// `GET /category/{id}`.
pub(super) async fn category(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let scope = match PageScope::open(&state, &session, &csrf, &uri, None).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    match id.trim().parse::<i64>() {
        Ok(node_id) => category_page(&scope, node_id).await,
        Err(_) => scope.not_found(),
    }
}

/// The listing of category node `node_id` (also reached by the category's URL).
pub(super) async fn category_page(scope: &PageScope, node_id: i64) -> Response {
    let listing = async {
        let mut params = SearchParams::parse(scope.query(), &scope.pricing, LISTING_PAGE_SIZE)?;
        // The path names the category; a `category` parameter cannot widen or move the listing.
        params.category = Some(node_id);
        load_listing(scope, params).await
    };
    let (params, result, reader) = match listing.await {
        Ok(loaded) => loaded,
        Err(error) => return scope.error(&error),
    };
    let tree: CategoryTreeStorage = reader.peek(tree_key(&scope.ctx).as_deref()).unwrap_or_default();
    // The store's tree holds only the active nodes of this store: anything else is no page.
    let Some(path) = tree_path(&tree.category_nodes_storage, node_id) else {
        return scope.not_found();
    };
    let counts = category_counts(&result);
    let current = path.last().copied();
    let breadcrumb = path.iter().map(|node| category_link(node, None, 0)).collect::<Vec<_>>();
    let subcategories = current
        .map(|node| {
            by_order(&node.children)
                .into_iter()
                .map(|child| category_link(child, Some(counts.get(&child.node_id).copied().unwrap_or(0)), 0))
                .collect()
        })
        .unwrap_or_default();
    let title = current.map(|node| node.name.clone()).unwrap_or_default();
    let mut page = listing_page(scope, &reader, &params, &result, title);
    page.breadcrumb = breadcrumb;
    page.subcategories = subcategories;
    scope.render("storefront/category.html", page)
}

/// `GET /search?q=…`.
pub(super) async fn search(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let scope = match PageScope::open(&state, &session, &csrf, &uri, None).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let listing = async {
        let params = SearchParams::parse(scope.query(), &scope.pricing, LISTING_PAGE_SIZE)?;
        load_listing(&scope, params).await
    };
    let (params, result, reader) = match listing.await {
        Ok(loaded) => loaded,
        Err(error) => return scope.error(&error),
    };
    let tree: CategoryTreeStorage = reader.peek(tree_key(&scope.ctx).as_deref()).unwrap_or_default();
    let counts = category_counts(&result);
    let mut categories = Vec::new();
    category_filter(
        &scope,
        &tree.category_nodes_storage,
        &counts,
        params.category,
        0,
        &mut categories,
    );
    let title = match &params.query {
        Some(query) => format!("Search results for “{query}”"),
        None => "All products".to_owned(),
    };
    let mut page = listing_page(&scope, &reader, &params, &result, title);
    page.categories = categories;
    scope.render("storefront/search.html", page)
}

/// The search, then one KV round trip for the tree, listing images and facet labels (as
/// `catalog-search` reads them) and the price documents behind the struck-through ORIGINAL prices.
async fn load_listing(
    scope: &PageScope,
    mut params: SearchParams,
) -> Result<(SearchParams, SearchResult, KvReader<'_>), AppError> {
    let result = run_search(&scope.state, &scope.ctx, &scope.pricing, &mut params).await?;
    let mut reader = scope.reader();
    want_listing_documents(&mut reader, &scope.ctx, &result);
    want_hit_prices(
        &mut reader,
        &scope.ctx,
        &scope.pricing,
        &result.hits,
        ORIGINAL_PRICE_TYPE,
    );
    reader.flush().await?;
    Ok((params, result, reader))
}

fn category_counts(result: &SearchResult) -> HashMap<i64, u64> {
    result
        .category_counts
        .iter()
        .map(|count| (count.category.0, count.doc_count))
        .collect()
}

fn category_href(node: &CategoryTreeNode) -> String {
    node.url
        .clone()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| format!("/category/{}", node.node_id))
}

fn category_link(node: &CategoryTreeNode, count: Option<u64>, depth: usize) -> CategoryLink {
    CategoryLink {
        id: node.node_id,
        name: node.name.clone(),
        url: category_href(node),
        count,
        depth,
        active: false,
    }
}

/// Search's category filter: the tree's nodes that hold hits, depth first, each a link to the same
/// search narrowed to it.
fn category_filter(
    scope: &PageScope,
    nodes: &[CategoryTreeNode],
    counts: &HashMap<i64, u64>,
    active: Option<i64>,
    depth: usize,
    links: &mut Vec<CategoryLink>,
) {
    for node in by_order(nodes) {
        let Some(count) = counts.get(&node.node_id).copied().filter(|count| *count > 0) else {
            continue;
        };
        links.push(CategoryLink {
            url: listing_href(
                scope,
                &[("category", node.node_id.to_string())],
                &["page", "page[offset]"],
            ),
            active: active == Some(node.node_id),
            ..category_link(node, Some(count), depth)
        });
        category_filter(scope, &node.children, counts, active, depth + 1, links);
    }
}

/// The page's path with its query pairs minus `drop` and the ones `set` replaces, plus `set`.
fn listing_href(scope: &PageScope, set: &[(&str, String)], drop: &[&str]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(scope.query().unwrap_or_default().as_bytes()) {
        let replaced = set.iter().any(|(name, _)| *name == key);
        if !replaced && !drop.contains(&key.as_ref()) {
            serializer.append_pair(&key, &value);
        }
    }
    for (name, value) in set {
        serializer.append_pair(name, value);
    }
    let query = serializer.finish();
    if query.is_empty() {
        scope.path().to_owned()
    } else {
        format!("{}?{query}", scope.path())
    }
}

/// `/product/<sku>` with the SKU escaped as a path segment.
pub(super) fn product_href(sku: &str) -> String {
    let mut href = String::from("/product/");
    for byte in sku.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            href.push(char::from(byte));
        } else {
            href.push_str(&format!("%{byte:02X}"));
        }
    }
    href
}

pub(super) fn cards(reader: &KvReader<'_>, scope: &PageScope, hits: &[SearchHit]) -> Vec<ProductCard> {
    hits.iter()
        .map(|hit| {
            let data = &hit.data;
            let price = hit_amount(data, &scope.pricing, DEFAULT_PRICE_TYPE);
            let original = hit_amount_or_stored(reader, &scope.ctx, &scope.pricing, data, ORIGINAL_PRICE_TYPE)
                .filter(|original| price.is_some_and(|price| *original > price));
            ProductCard {
                sku: data.abstract_sku.clone(),
                name: data.abstract_name.clone(),
                url: if data.url.is_empty() {
                    product_href(&data.abstract_sku)
                } else {
                    data.url.clone()
                },
                image: hit_images(reader, &scope.ctx, data).into_iter().next(),
                price,
                original,
            }
        })
        .collect()
}

/// The parts every listing shares: products, facets, price filter, sorts, pagination.
fn listing_page(
    scope: &PageScope,
    reader: &KvReader<'_>,
    params: &SearchParams,
    result: &SearchResult,
    title: String,
) -> ListingPage {
    let facets: Vec<FacetBlock> = value_facets(reader, &scope.ctx, result, params)
        .into_iter()
        .map(|view| {
            let mut values: Vec<FacetOption> = view
                .facet
                .values
                .iter()
                .map(|value| FacetOption {
                    value: value.value.clone(),
                    count: Some(value.doc_count),
                    checked: view.active.contains(&value.value),
                })
                .collect();
            // A chosen value without hits stays on the form, so it can be unchecked.
            for active in view.active {
                if !values.iter().any(|option| &option.value == active) {
                    values.push(FacetOption {
                        value: active.clone(),
                        count: None,
                        checked: true,
                    });
                }
            }
            FacetBlock {
                name: view.facet.name.clone(),
                label: view.label,
                field: if view.multi {
                    format!("{}[]", view.parameter)
                } else {
                    view.parameter.to_owned()
                },
                multi: view.multi,
                values,
            }
        })
        .collect();
    let currency = &scope.pricing.currency;
    let price_field = scope.pricing.search_field();
    let price = result
        .range_facets
        .iter()
        .find(|facet| facet.name == price_field)
        .map(|facet| PriceFilter {
            min: to_currency_units(facet.min, currency),
            max: to_currency_units(facet.max, currency),
            active_min: params.price.min.map(|amount| to_currency_units(amount, currency)),
            active_max: params.price.max.map(|amount| to_currency_units(amount, currency)),
        });
    let current_sort = params.current_sort.map(|(name, _)| name);
    let sorts = SORTS
        .iter()
        .map(|(value, label)| SortOption {
            value,
            label,
            selected: current_sort == Some(*value),
        })
        .collect();
    let kept = ["q", "category", "ipp", "page[limit]"];
    let hidden: Vec<(String, String)> = url::form_urlencoded::parse(scope.query().unwrap_or_default().as_bytes())
        .filter(|(key, value)| kept.contains(&key.as_ref()) && !value.trim().is_empty())
        // The category of a category page is its path, not a parameter.
        .filter(|(key, _)| key != "category" || scope.path() == "/search")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let clear_href = if hidden.is_empty() {
        scope.path().to_owned()
    } else {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        serializer.extend_pairs(&hidden);
        format!("{}?{}", scope.path(), serializer.finish())
    };
    let filtered = !params.facets.is_empty() || params.price.min.is_some() || params.price.max.is_some();
    ListingPage {
        title,
        query: params.query.clone(),
        action: scope.path().to_owned(),
        breadcrumb: Vec::new(),
        subcategories: Vec::new(),
        categories: Vec::new(),
        products: cards(reader, scope, &result.hits),
        total: result.total,
        facets,
        price,
        sorts,
        hidden,
        pagination: pagination(scope, params, result.total),
        filtered,
        clear_href,
    }
}

fn pagination(scope: &PageScope, params: &SearchParams, total: u64) -> Pagination {
    let limit = params.page.limit.max(1);
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    let last = total.div_ceil(limit).max(1);
    let current = params.page.offset / limit + 1;
    let href = |number: usize| listing_href(scope, &[("page", number.to_string())], &["page[offset]"]);
    let mut pages = Vec::new();
    let window = current.saturating_sub(PAGE_LINK_RADIUS).max(1)..=(current + PAGE_LINK_RADIUS).min(last);
    if *window.start() > 1 {
        pages.push(Some(PageLink {
            number: 1,
            href: href(1),
            current: false,
        }));
        if *window.start() > 2 {
            pages.push(None);
        }
    }
    for number in window.clone() {
        pages.push(Some(PageLink {
            number,
            href: href(number),
            current: number == current,
        }));
    }
    if *window.end() < last {
        if *window.end() + 1 < last {
            pages.push(None);
        }
        pages.push(Some(PageLink {
            number: last,
            href: href(last),
            current: false,
        }));
    }
    Pagination {
        current,
        last,
        previous: (current > 1).then(|| href(current - 1)),
        next: (current < last).then(|| href(current + 1)),
        pages,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct SuggestQuery {
    q: Option<String>,
}

/// One entry of the search box's list.
#[derive(Debug, Serialize)]
struct Suggestion {
    name: String,
    url: String,
}

/// `GET /search/suggest?q=…`: `{"suggestions": [{"name", "url"}]}` for `storefront.js` — products,
/// then categories, then completions (as searches), from the JSON:API's suggestion lookup.
pub(super) async fn suggest(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Query(query): Query<SuggestQuery>,
) -> Response {
    let scope = match PageScope::open(&state, &session, &csrf, &uri, None).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let prefix = query.q.unwrap_or_default().trim().to_lowercase();
    let mut reader = scope.reader();
    let found = match find_suggestions(&scope.state, &mut reader, &scope.ctx, &prefix).await {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    let products = found.products.iter().map(|hit| Suggestion {
        name: hit.data.abstract_name.clone(),
        url: if hit.data.url.is_empty() {
            product_href(&hit.data.abstract_sku)
        } else {
            hit.data.url.clone()
        },
    });
    let categories = found.categories.iter().map(|category| Suggestion {
        name: category.name.clone(),
        url: category
            .url
            .clone()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| format!("/category/{}", category.node_id)),
    });
    let completions = found.completion.iter().map(|phrase| Suggestion {
        name: phrase.clone(),
        url: format!(
            "/search?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("q", phrase)
                .finish()
        ),
    });
    let suggestions: Vec<Suggestion> = products
        .chain(categories)
        .chain(completions)
        .take(SUGGESTIONS_SHOWN)
        .collect();
    Json(serde_json::json!({"suggestions": suggestions})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_escaped_as_path_segments() {
        assert_eq!(product_href("100_blue"), "/product/100_blue");
        assert_eq!(product_href("a/b c"), "/product/a%2Fb%20c");
    }
}
