//! The `product_page` search document: one per product abstract and store × locale, in Spryker's page
//! shape (`../shared/spec/publish-sync.md` §7).
//!
//! The JSON field names are Spryker's hyphenated ones (`search-result-data`, `string-facet`, …); the Rust
//! names are snake_case and `#[serde(rename)]` keeps the wire shape. Facets and sorts are generic
//! `{facet-name, facet-value}` pairs and name → value maps, so a new attribute or price never needs a new
//! index field (the fixed-schema rule of §12).
//!
//! Invariants the publisher keeps and the search index relies on:
//! - `string-sort` values are already normalised for sorting (lower-cased), the index does not touch them;
//! - integer facets and sorts are integer minor units (prices) or plain integers (ratings);
//! - `category.all-parents` contains every ancestor node *and* the direct parents, so filtering and
//!   counting by one node id covers the whole subtree.

use std::collections::BTreeMap;

use kontor_core::ids::{CategoryNodeId, ProductAbstractId};
use serde::{Deserialize, Serialize};

/// `type` of an abstract product's page document.
pub const PRODUCT_ABSTRACT_TYPE: &str = "product_abstract";

/// The search document of one product abstract in one store × locale (Spryker's `product_page`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductPageDocument {
    /// Store code as data, upper-case (`DE`).
    pub store: String,
    /// Locale in Spryker's spelling (`en_US`).
    pub locale: String,
    /// Document type, `product_abstract` for product pages.
    #[serde(rename = "type")]
    pub doc_type: String,
    /// Inactive documents stay in the index (so a re-activation is a cheap upsert) but are never found.
    #[serde(rename = "is-active")]
    pub is_active: bool,
    /// What a listing shows for a hit; returned as-is by the search index.
    #[serde(rename = "search-result-data")]
    pub search_result_data: SearchResultData,
    /// Texts searched with normal weight.
    #[serde(rename = "full-text", default)]
    pub full_text: Vec<String>,
    /// Texts searched with a higher weight (name, SKU).
    #[serde(rename = "full-text-boosted", default)]
    pub full_text_boosted: Vec<String>,
    /// Texts whose words match search-as-you-type prefixes (products in suggestions).
    #[serde(rename = "suggestion-terms", default)]
    pub suggestion_terms: Vec<String>,
    /// Phrases offered as completions when a prefix matches one of their words.
    #[serde(rename = "completion-terms", default)]
    pub completion_terms: Vec<String>,
    /// Value facets (`brand`, `color`, …).
    #[serde(rename = "string-facet", default)]
    pub string_facets: Vec<StringFacet>,
    /// Range facets (`price-DEFAULT-EUR-GROSS_MODE`, `rating`, …).
    #[serde(rename = "integer-facet", default)]
    pub integer_facets: Vec<IntegerFacet>,
    /// String sort keys by sort name (`name` → `fjell rain jacket`).
    #[serde(rename = "string-sort", default)]
    pub string_sort: BTreeMap<String, String>,
    /// Integer sort keys by sort name (`price-DEFAULT-EUR-GROSS_MODE` → 12900).
    #[serde(rename = "integer-sort", default)]
    pub integer_sort: BTreeMap<String, i64>,
    /// Category node ids the product is found under.
    #[serde(default)]
    pub category: CategoryParents,
    /// Unix seconds with microseconds of the publisher's read snapshot; absent in the spec example.
    #[serde(rename = "_timestamp", default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
}

/// The listing data of a hit (`search-result-data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResultData {
    pub id_product_abstract: ProductAbstractId,
    pub abstract_sku: String,
    pub abstract_name: String,
    pub url: String,
    #[serde(rename = "type")]
    pub doc_type: String,
    /// The concrete SKU a listing's add-to-cart button uses, when the product has a single variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_to_cart_sku: Option<String>,
    /// Prices shown in the listing, one per (type, currency, mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Vec<SearchPrice>>,
    /// Listing images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<SearchImage>>,
    /// Fields a publisher adds beyond the ones above (labels, rating, …) are kept verbatim, so the
    /// document can grow without a lock-step release of every reader.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// One listing price in integer minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchPrice {
    /// `DEFAULT` or `ORIGINAL`.
    pub price_type: String,
    /// ISO currency code (`EUR`).
    pub currency: String,
    /// `GROSS_MODE` or `NET_MODE`.
    pub price_mode: String,
    pub amount: i64,
}

/// One listing image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchImage {
    pub external_url_small: String,
    pub external_url_large: String,
}

/// One value facet: a name and the document's values for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StringFacet {
    #[serde(rename = "facet-name")]
    pub name: String,
    #[serde(rename = "facet-value")]
    pub values: Vec<String>,
}

/// One range facet: a name and the document's integer values for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegerFacet {
    #[serde(rename = "facet-name")]
    pub name: String,
    #[serde(rename = "facet-value")]
    pub values: Vec<i64>,
}

/// The category node ids a product hangs under.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryParents {
    /// Every node on the way to the root, direct parents included.
    #[serde(rename = "all-parents", default)]
    pub all_parents: Vec<CategoryNodeId>,
    /// The nodes the product is assigned to directly.
    #[serde(rename = "direct-parents", default)]
    pub direct_parents: Vec<CategoryNodeId>,
}

impl ProductPageDocument {
    /// A minimal active product page; fill the remaining public fields as needed.
    pub fn new(store: &str, locale: &str, result: SearchResultData) -> Self {
        Self {
            store: store.to_owned(),
            locale: locale.to_owned(),
            doc_type: PRODUCT_ABSTRACT_TYPE.to_owned(),
            is_active: true,
            search_result_data: result,
            full_text: Vec::new(),
            full_text_boosted: Vec::new(),
            suggestion_terms: Vec::new(),
            completion_terms: Vec::new(),
            string_facets: Vec::new(),
            integer_facets: Vec::new(),
            string_sort: BTreeMap::new(),
            integer_sort: BTreeMap::new(),
            category: CategoryParents::default(),
            timestamp: None,
        }
    }

    /// Adds the values of a value facet.
    pub fn with_string_facet(mut self, name: &str, values: &[&str]) -> Self {
        self.string_facets.push(StringFacet {
            name: name.to_owned(),
            values: values.iter().map(|value| (*value).to_owned()).collect(),
        });
        self
    }

    /// Adds the values of a range facet.
    pub fn with_integer_facet(mut self, name: &str, values: &[i64]) -> Self {
        self.integer_facets.push(IntegerFacet {
            name: name.to_owned(),
            values: values.to_vec(),
        });
        self
    }

    /// The `string-sort.name` key, used by the `name_asc` / `name_desc` sorts.
    pub fn name_sort(&self) -> Option<&str> {
        self.string_sort.get("name").map(String::as_str)
    }
}

impl SearchResultData {
    /// Listing data of a product abstract; optional parts start empty.
    pub fn new(id: ProductAbstractId, abstract_sku: &str, abstract_name: &str, url: &str) -> Self {
        Self {
            id_product_abstract: id,
            abstract_sku: abstract_sku.to_owned(),
            abstract_name: abstract_name.to_owned(),
            url: url.to_owned(),
            doc_type: PRODUCT_ABSTRACT_TYPE.to_owned(),
            add_to_cart_sku: None,
            prices: None,
            images: None,
            extra: BTreeMap::new(),
        }
    }
}

/// Converts a `_timestamp` (Unix seconds with microseconds) to whole microseconds, the unit the search
/// index keeps as a document version. Rounding (not truncation) because `…702.123456` is not exact in f64.
pub fn timestamp_micros(seconds: f64) -> u64 {
    let micros = (seconds * 1_000_000.0).round();
    if micros.is_finite() && micros > 0.0 {
        // Saturating by construction: `as` clamps out-of-range floats.
        micros as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The spec's §7 example, with the `…` placeholders replaced by real strings.
    fn spec_example() -> serde_json::Value {
        json!({"store": "DE", "locale": "en_US", "type": "product_abstract", "is-active": true,
         "search-result-data": {"id_product_abstract": 123, "abstract_sku": "100", "abstract_name": "Fjell Rain Jacket",
                                "url": "/en/fjell-rain-jacket-100", "type": "product_abstract", "add_to_cart_sku": "100_blue"},
         "full-text": ["waterproof"], "full-text-boosted": ["Fjell Rain Jacket", "100"],
         "suggestion-terms": ["Fjell Rain Jacket"], "completion-terms": ["Fjell Rain Jacket"],
         "string-facet": [{"facet-name": "brand", "facet-value": ["Fjell"]}, {"facet-name": "color", "facet-value": ["Blue", "Red"]}],
         "integer-facet": [{"facet-name": "price-DEFAULT-EUR-GROSS_MODE", "facet-value": [12900]}],
         "string-sort": {"name": "fjell rain jacket"}, "integer-sort": {"price-DEFAULT-EUR-GROSS_MODE": 12900},
         "category": {"all-parents": [1, 2, 4], "direct-parents": [4]}})
    }

    #[test]
    fn spec_example_round_trips_unchanged() {
        let original = spec_example();
        let document: ProductPageDocument = serde_json::from_value(original.clone()).expect("parses");
        assert_eq!(document.search_result_data.id_product_abstract, ProductAbstractId(123));
        assert_eq!(document.string_facets[1].values, ["Blue", "Red"]);
        assert_eq!(document.integer_sort["price-DEFAULT-EUR-GROSS_MODE"], 12900);
        assert_eq!(document.category.direct_parents, [CategoryNodeId(4)]);
        assert_eq!(document.name_sort(), Some("fjell rain jacket"));
        let written = serde_json::to_value(&document).expect("serialises");
        assert_eq!(written, original);
    }

    #[test]
    fn optional_parts_and_unknown_result_fields_round_trip() {
        let mut original = spec_example();
        original["_timestamp"] = json!(1795511702.123456);
        original["search-result-data"]["prices"] =
            json!([{"price_type": "DEFAULT", "currency": "EUR", "price_mode": "GROSS_MODE", "amount": 12900}]);
        original["search-result-data"]["images"] =
            json!([{"external_url_small": "https://img/100-s.jpg", "external_url_large": "https://img/100-l.jpg"}]);
        original["search-result-data"]["label_ids"] = json!([7]);
        let document: ProductPageDocument = serde_json::from_value(original.clone()).expect("parses");
        assert_eq!(document.search_result_data.extra["label_ids"], json!([7]));
        assert_eq!(document.timestamp.map(timestamp_micros), Some(1_795_511_702_123_456));
        assert_eq!(serde_json::to_value(&document).expect("serialises"), original);
    }

    #[test]
    fn builder_writes_the_page_shape() {
        let result = SearchResultData::new(ProductAbstractId(1), "001", "Kamera", "/de/kamera-001");
        let document = ProductPageDocument::new("DE", "de_DE", result)
            .with_string_facet("brand", &["Canon"])
            .with_integer_facet("rating", &[4]);
        let value = serde_json::to_value(&document).expect("serialises");
        assert_eq!(value["is-active"], json!(true));
        assert_eq!(value["string-facet"][0]["facet-name"], json!("brand"));
        assert_eq!(value["integer-facet"][0]["facet-value"], json!([4]));
        assert!(value.get("_timestamp").is_none());
    }

    #[test]
    fn timestamps_convert_to_micros_without_float_drift() {
        assert_eq!(timestamp_micros(1795511702.123999), 1_795_511_702_123_999);
        assert_eq!(timestamp_micros(-1.0), 0);
        assert_eq!(timestamp_micros(f64::NAN), 0);
    }
}
