//! Catalog reads: products, prices, availability, image sets, categories, URLs, stores and search,
//! answered from the KV store and the search index only (`storefront-api.md` §8.3–§8.7).
//!
//! Every handler reads through a [`fetch::KvReader`], which batches the keys a step needs into one
//! `get_many` and remembers the newest `_timestamp` it saw for the answer's `ETag`. A product answer
//! with every include costs three KV round trips (SKU mapping; product documents; variants and their
//! documents) plus one when `category-nodes` are included, however many variants the product has;
//! product reads never touch the search index.
//!
//! The HTML shop ([`crate::html::catalog`]) loads its pages through the same functions (typed
//! documents from `products::fetch_abstracts`, `search::run_search` and the listing reads), so both
//! surfaces show the same data for the same round trips.
//!
//! Missing path ids get their own routes (`/abstract-products` → 400 `311`), because a route with an
//! empty path segment never matches.

// Crate-visible: the HTML shop's catalog pages load through the same code (`crate::html::catalog`).
pub(crate) mod availability;
pub(crate) mod categories;
pub(crate) mod currency;
pub(crate) mod fetch;
pub(crate) mod images;
pub(crate) mod prices;
pub(crate) mod products;
pub(crate) mod reviews;
pub(crate) mod search;
mod stores;
pub(crate) mod urls;

use crate::state::StorefrontState;
use axum::Router;
use axum::routing::get;

/// Routes of the catalog resources (relative to `/api`).
pub fn routes() -> Router<StorefrontState> {
    Router::new()
        .route("/abstract-products", get(products::abstract_sku_missing))
        .route("/abstract-products/", get(products::abstract_sku_missing))
        .route("/abstract-products/{sku}", get(products::abstract_product))
        .route(
            "/abstract-products/{sku}/abstract-product-prices",
            get(products::abstract_prices),
        )
        .route(
            "/abstract-products/{sku}/abstract-product-availabilities",
            get(products::abstract_availabilities),
        )
        .route(
            "/abstract-products/{sku}/abstract-product-image-sets",
            get(products::abstract_image_sets),
        )
        .route(
            "/abstract-products/{sku}/product-reviews",
            get(reviews::list).post(reviews::submit),
        )
        .route("/abstract-products/{sku}/product-reviews/{id}", get(reviews::one))
        .route("/concrete-products", get(products::concrete_sku_missing))
        .route("/concrete-products/", get(products::concrete_sku_missing))
        .route("/concrete-products/{sku}", get(products::concrete_product))
        .route(
            "/concrete-products/{sku}/concrete-product-prices",
            get(products::concrete_prices),
        )
        .route(
            "/concrete-products/{sku}/concrete-product-availabilities",
            get(products::concrete_availabilities),
        )
        .route(
            "/concrete-products/{sku}/concrete-product-image-sets",
            get(products::concrete_image_sets),
        )
        .route("/catalog-search", get(search::catalog_search))
        .route("/catalog-search-suggestions", get(search::suggestions))
        .route("/category-trees", get(categories::trees))
        .route("/category-nodes", get(categories::node_id_missing))
        .route("/category-nodes/", get(categories::node_id_missing))
        .route("/category-nodes/{id}", get(categories::node))
        .route("/url-resolver", get(urls::resolve))
        .route("/stores", get(stores::list))
        .route("/stores/{name}", get(stores::one))
}

/// The query string of the request (what `Includes`, `Fields` and the parameters are read from).
fn query_of(ctx: &crate::context::RequestContext) -> Option<&str> {
    ctx.path_and_query.split_once('?').map(|(_, query)| query)
}

/// `brand_name` → `Brand name`: the label of an attribute or facet without a translation.
fn humanize(key: &str) -> String {
    let spaced = key.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The glossary key of an attribute's label (Spryker's `product.attribute.<key>`).
fn attribute_glossary_key(attribute: &str) -> String {
    format!("product.attribute.{attribute}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fall_back_to_the_humanized_key() {
        assert_eq!(humanize("brand"), "Brand");
        assert_eq!(humanize("screen_size-inch"), "Screen size inch");
        assert_eq!(humanize(""), "");
    }
}
