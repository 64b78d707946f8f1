//! The wire contract of every catalog resource, as insta snapshots shared by both KV backends.

use super::fixture::{Backend, Shop, snapshot};
use super::kv_backends;

/// A snapshot name, the request path and its headers.
type Case<'h> = (&'static str, String, &'h [(&'h str, &'h str)]);

async fn every_catalog_resource_matches_its_snapshot(backend: Backend) {
    let shop = Shop::open(backend).await;
    let jackets = shop.ids.jackets_node;
    let everything = "abstract-product-prices,abstract-product-availabilities,abstract-product-image-sets,\
                      concrete-products,concrete-product-prices,concrete-product-availabilities,\
                      concrete-product-image-sets,category-nodes";
    let en = [("accept-language", "en")];
    let requests: Vec<Case<'_>> = vec![
        ("abstract_product", "/abstract-products/100".to_owned(), &en),
        ("abstract_product_all_includes", format!("/abstract-products/100?include={everything}"), &en),
        ("abstract_product_german", "/abstract-products/100?include=abstract-product-image-sets".to_owned(), &[]),
        ("abstract_product_prices", "/abstract-products/100/abstract-product-prices".to_owned(), &en),
        (
            "abstract_product_prices_chf_net",
            "/abstract-products/100/abstract-product-prices?currency=CHF&priceMode=NET_MODE".to_owned(),
            &en,
        ),
        ("abstract_product_availabilities", "/abstract-products/100/abstract-product-availabilities".to_owned(), &en),
        ("abstract_product_image_sets", "/abstract-products/100/abstract-product-image-sets".to_owned(), &en),
        (
            "concrete_product_all_includes",
            "/concrete-products/100_red?include=concrete-product-prices,concrete-product-availabilities,concrete-product-image-sets".to_owned(),
            &en,
        ),
        ("concrete_product_prices", "/concrete-products/100_blue/concrete-product-prices".to_owned(), &en),
        (
            "concrete_product_availabilities",
            "/concrete-products/200_std/concrete-product-availabilities".to_owned(),
            &en,
        ),
        ("concrete_product_image_sets", "/concrete-products/100_blue/concrete-product-image-sets".to_owned(), &en),
        ("catalog_search", "/catalog-search?q=jacket&sort=price_asc".to_owned(), &en),
        (
            "catalog_search_filtered",
            "/catalog-search?brand=Fjell&price[min]=120&price[max]=150.00&category=".to_owned() + &jackets.to_string()
                + "&include=abstract-products&page[limit]=1",
            &en,
        ),
        ("catalog_search_multi_valued", "/catalog-search?color[]=Blue&color[]=Black&sort=name_desc".to_owned(), &en),
        ("abstract_product_reviews", "/abstract-products/100/product-reviews".to_owned(), &en),
        ("abstract_product_with_reviews", "/abstract-products/100?include=product-reviews".to_owned(), &en),
        (
            "abstract_product_reviews_german_paged",
            "/abstract-products/100/product-reviews?page[offset]=0&page[limit]=1".to_owned(),
            &[],
        ),
        (
            "abstract_product_review",
            format!("/abstract-products/100/product-reviews/{}", shop.ids.review),
            &en,
        ),
        ("catalog_search_by_rating", "/catalog-search?sort=rating&rating[min]=3".to_owned(), &en),
        ("catalog_search_by_popularity", "/catalog-search?sort=popularity".to_owned(), &en),
        ("catalog_search_suggestions", "/catalog-search-suggestions?q=fje".to_owned(), &en),
        ("catalog_search_suggestions_empty", "/catalog-search-suggestions?q=".to_owned(), &en),
        ("category_trees", "/category-trees".to_owned(), &en),
        ("category_node", format!("/category-nodes/{jackets}"), &en),
        ("url_resolver_product", "/url-resolver?url=/EN/Fjell-Rain-Jacket-".to_owned() + &shop.ids.jacket.to_string(), &en),
        ("url_resolver_category", "/url-resolver?url=/de/draussen".to_owned(), &[]),
        ("stores", "/stores".to_owned(), &en),
        ("store", "/stores/DE".to_owned(), &en),
    ];
    for (name, path, headers) in requests {
        let answer = shop.get_with(&path, headers).await;
        snapshot(name, &answer.contract());
    }
    shop.close().await;
}

kv_backends!(every_catalog_resource_matches_its_snapshot);
