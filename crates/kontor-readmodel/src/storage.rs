//! KV documents (`<resource>_storage` rows and KV values), in Spryker's shapes where Glue clients and
//! habits rely on them. Every document travels with `_timestamp` (Unix seconds with microseconds) added
//! by the publisher; readers ignore fields they do not know.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Projection names: queue suffixes, storage table prefixes and the resource part of keys.
pub mod projection {
    pub const PRODUCT_ABSTRACT: &str = "product_abstract";
    pub const PRODUCT_CONCRETE: &str = "product_concrete";
    pub const PRICE_PRODUCT_ABSTRACT: &str = "price_product_abstract";
    pub const PRICE_PRODUCT_CONCRETE: &str = "price_product_concrete";
    pub const AVAILABILITY: &str = "availability";
    /// Image sets of an abstract product per locale (Spryker's `product_abstract_image`).
    pub const PRODUCT_ABSTRACT_IMAGE: &str = "product_abstract_image";
    /// A concrete product's own image sets per locale (Spryker's `product_concrete_image`).
    pub const PRODUCT_CONCRETE_IMAGE: &str = "product_concrete_image";
    /// An abstract product's average rating and review count over approved reviews (Spryker's
    /// `product_abstract_review`).
    pub const PRODUCT_ABSTRACT_REVIEW: &str = "product_abstract_review";
    /// The approved reviews of an abstract product written in a locale, newest first.
    pub const PRODUCT_REVIEW: &str = "product_review";
    pub const CATEGORY_TREE: &str = "category_tree";
    pub const CATEGORY_NODE: &str = "category_node";
    pub const URL: &str = "url";
    pub const TRANSLATION: &str = "translation";
    pub const STORE: &str = "store";
    /// The search projection; its documents go to the search index, not the KV store.
    pub const PRODUCT_PAGE: &str = "product_page";

    /// Every KV projection, in the order a full re-publish runs them.
    pub const KV: &[&str] = &[
        STORE,
        TRANSLATION,
        CATEGORY_NODE,
        CATEGORY_TREE,
        URL,
        PRODUCT_ABSTRACT,
        PRODUCT_CONCRETE,
        PRICE_PRODUCT_ABSTRACT,
        PRICE_PRODUCT_CONCRETE,
        AVAILABILITY,
        PRODUCT_ABSTRACT_IMAGE,
        PRODUCT_CONCRETE_IMAGE,
        PRODUCT_ABSTRACT_REVIEW,
        PRODUCT_REVIEW,
    ];

    /// Every projection, KV and search.
    pub const ALL: &[&str] = &[
        STORE,
        TRANSLATION,
        CATEGORY_NODE,
        CATEGORY_TREE,
        URL,
        PRODUCT_ABSTRACT,
        PRODUCT_CONCRETE,
        PRICE_PRODUCT_ABSTRACT,
        PRICE_PRODUCT_CONCRETE,
        AVAILABILITY,
        PRODUCT_ABSTRACT_IMAGE,
        PRODUCT_CONCRETE_IMAGE,
        PRODUCT_ABSTRACT_REVIEW,
        PRODUCT_REVIEW,
        PRODUCT_PAGE,
    ];
}

/// `product_abstract_review:<abstract id>`: what Glue's `averageRating` and `reviewCount` show, over
/// approved reviews only; no document when a product has none. camelCase as Spryker stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductAbstractReviewStorage {
    pub id_product_abstract: i64,
    /// Rounded to one decimal.
    pub average_rating: f64,
    pub review_count: i64,
}

/// `product_review:<locale>:<abstract id>`: the approved reviews written in the locale, newest first,
/// at most [`MAX_PUBLISHED_REVIEWS`] of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductReviewStorage {
    pub id_product_abstract: i64,
    pub reviews: Vec<ProductReviewEntry>,
}

/// How many reviews one product's locale document lists; older ones still count in the rating.
pub const MAX_PUBLISHED_REVIEWS: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductReviewEntry {
    pub id_product_review: i64,
    pub rating: i64,
    pub nickname: String,
    pub summary: String,
    pub description: String,
    /// When it was written, Unix seconds.
    pub created_at: i64,
}

/// `product_abstract:<store>:<locale>:<id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductAbstractStorage {
    pub id_product_abstract: i64,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub url: Option<String>,
    pub meta_title: String,
    pub meta_keywords: String,
    pub meta_description: String,
    /// Shared and localized attributes, localized ones winning.
    pub attributes: BTreeMap<String, String>,
    /// The attribute keys the variants differ in.
    pub super_attributes_definition: Vec<String>,
    pub attribute_map: AttributeMap,
    pub category_node_ids: Vec<i64>,
}

/// How a shopper's choice of super attribute values leads to a concrete product.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttributeMap {
    pub product_concrete_ids: Vec<i64>,
    /// Every value each super attribute takes, e.g. `{"color": ["Blue", "Red"]}`.
    pub super_attributes: BTreeMap<String, Vec<String>>,
    /// `"color:Blue"` → the concrete with that value (single-axis products), and
    /// `"color:Blue|size:M"` for the full combination.
    pub attribute_variants: BTreeMap<String, VariantRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantRef {
    pub id_product_concrete: i64,
}

/// `product_concrete:<locale>:<id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductConcreteStorage {
    pub id_product_concrete: i64,
    pub id_product_abstract: i64,
    pub sku: String,
    pub abstract_sku: String,
    pub name: String,
    pub description: String,
    pub attributes: BTreeMap<String, String>,
    pub super_attributes_definition: Vec<String>,
    pub is_active: bool,
    pub is_searchable: bool,
}

/// Alternate-key mapping value: `product_abstract:de:en_us:sku:100` → `{"id": 123}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub id: i64,
}

/// `price_product_abstract:<store>:<id>` and `price_product_concrete:<store>:<id>`:
/// currency → price mode (`GROSS_MODE`, `NET_MODE`) → price type → minor units.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceProductStorage {
    pub prices: BTreeMap<String, BTreeMap<String, BTreeMap<String, i64>>>,
    /// currency → price mode → the DEFAULT price's volume prices, ascending by quantity. Absent when there
    /// are none, so documents without volume prices keep their shape.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_prices: BTreeMap<String, BTreeMap<String, Vec<VolumeAmount>>>,
}

/// A unit amount that applies from `quantity` pieces on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeAmount {
    pub quantity: u32,
    pub amount: i64,
}

pub const GROSS_MODE: &str = "GROSS_MODE";
pub const NET_MODE: &str = "NET_MODE";

/// `availability:<store>:<abstract id>`: the abstract and each of its concretes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityStorage {
    pub id_product_abstract: i64,
    pub abstract_sku: String,
    pub is_available: bool,
    pub is_never_out_of_stock: bool,
    /// Sum over the concretes, not counting never-out-of-stock ones.
    pub quantity: i64,
    pub concretes: BTreeMap<String, ConcreteAvailability>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConcreteAvailability {
    pub id_product_concrete: i64,
    pub quantity: i64,
    pub is_never_out_of_stock: bool,
    pub is_available: bool,
}

/// `product_abstract_image:<locale>:<abstract id>`: the image sets shown for an abstract product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductAbstractImageStorage {
    pub id_product_abstract: i64,
    pub image_sets: Vec<ProductImageSetStorage>,
}

/// `product_concrete_image:<locale>:<concrete id>`: the concrete product's *own* image sets. Readers
/// add the abstract product's sets whose names the concrete does not have (Spryker's "combined" image
/// sets), so a change of an abstract's images never has to rewrite every variant's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductConcreteImageStorage {
    pub id_product_concrete: i64,
    pub id_product_abstract: i64,
    pub image_sets: Vec<ProductImageSetStorage>,
}

/// One named image set (`default`, `thumbnail`, …) for one locale: the locale's own set of that name,
/// else the locale-independent one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductImageSetStorage {
    pub name: String,
    /// In the images' sort order.
    pub images: Vec<ProductImageStorage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductImageStorage {
    pub id_product_image: i64,
    pub external_url_large: String,
    pub external_url_small: String,
}

/// `url:/de/kamera-123`: what a storefront path shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlStorage {
    pub url: String,
    pub locale_name: String,
    pub fk_resource_product_abstract: Option<i64>,
    pub fk_resource_category_node: Option<i64>,
    pub fk_resource_redirect: Option<i64>,
    pub redirect: Option<Redirect>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub to_url: String,
    pub status: i32,
}

/// `category_node:<store>:<locale>:<node id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryNodeStorage {
    pub node_id: i64,
    pub id_category: i64,
    pub category_key: String,
    pub name: String,
    pub url: Option<String>,
    pub meta_title: String,
    pub meta_description: String,
    pub order: i32,
    pub is_active: bool,
    /// From the root down to the direct parent.
    pub parents: Vec<CategoryNodeRef>,
    pub children: Vec<CategoryNodeRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryNodeRef {
    pub node_id: i64,
    pub name: String,
    pub url: Option<String>,
}

/// `category_tree:<store>:<locale>`: the store's roots with their descendants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoryTreeStorage {
    pub category_nodes_storage: Vec<CategoryTreeNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryTreeNode {
    pub node_id: i64,
    pub id_category: i64,
    pub name: String,
    pub url: Option<String>,
    pub order: i32,
    pub children: Vec<CategoryTreeNode>,
}

/// `translation:<locale>:<glossary key>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslationStorage {
    pub value: String,
}

/// `store:<store>`: what a storefront needs to know about a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStorage {
    pub name: String,
    pub default_locale: String,
    pub available_locales: Vec<String>,
    pub default_currency: String,
    pub available_currencies: Vec<String>,
    pub timezone: String,
}
