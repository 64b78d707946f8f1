//! Documents and requests used across the tests.

use kontor_core::ids::{CategoryNodeId, ProductAbstractId};
use kontor_core::{LocaleName, StoreName};
use kontor_readmodel::search::{ProductPageDocument, SearchResultData};
use kontor_search::{SearchOp, SearchRequest};

pub const PRICE: &str = "price-DEFAULT-EUR-GROSS_MODE";

/// A product for store DE in `locale` with the usual fields filled from a few inputs.
pub struct Product {
    pub id: i64,
    pub sku: &'static str,
    pub name: &'static str,
    pub brand: &'static str,
    pub colors: &'static [&'static str],
    pub price: Option<i64>,
    pub categories: &'static [i64],
}

impl Product {
    pub fn key(&self, locale: &str) -> String {
        format!("product_abstract:de:{}:{}", locale.to_lowercase(), self.id)
    }

    pub fn document(&self, locale: &str) -> ProductPageDocument {
        let mut result = SearchResultData::new(
            ProductAbstractId(self.id),
            self.sku,
            self.name,
            &format!("/x/{}", self.sku),
        );
        result.add_to_cart_sku = Some(format!("{}_blue", self.sku));
        let mut document = ProductPageDocument::new("DE", locale, result)
            .with_string_facet("brand", &[self.brand])
            .with_string_facet("color", self.colors);
        document.full_text = vec![format!("{} by {}", self.name, self.brand)];
        document.full_text_boosted = vec![self.name.to_owned(), self.sku.to_owned()];
        document.suggestion_terms = vec![self.name.to_owned()];
        document.completion_terms = vec![self.name.to_owned(), self.brand.to_owned()];
        document.string_sort.insert("name".to_owned(), self.name.to_lowercase());
        if let Some(price) = self.price {
            document = document.with_integer_facet(PRICE, &[price]);
            document.integer_sort.insert(PRICE.to_owned(), price);
        }
        document.category.all_parents = self.categories.iter().copied().map(CategoryNodeId).collect();
        document.category.direct_parents = self
            .categories
            .last()
            .copied()
            .map(CategoryNodeId)
            .into_iter()
            .collect();
        document
    }

    pub fn upsert(&self, locale: &str, version: u64) -> SearchOp {
        SearchOp::upsert(self.key(locale), self.document(locale), version)
    }
}

/// Outdoor (2) > Jackets (4) and Outdoor (2) > Tents (5); Kitchen (7).
pub const CATALOG: &[Product] = &[
    Product {
        id: 1,
        sku: "100",
        name: "Fjell Rain Jacket",
        brand: "Fjell",
        colors: &["Blue", "Red"],
        price: Some(12900),
        categories: &[1, 2, 4],
    },
    Product {
        id: 2,
        sku: "101",
        name: "Havn Storm Jacket",
        brand: "Havn",
        colors: &["Red"],
        price: Some(19900),
        categories: &[1, 2, 4],
    },
    Product {
        id: 3,
        sku: "102",
        name: "Fjell Dome Tent",
        brand: "Fjell",
        colors: &["Green"],
        price: Some(34900),
        categories: &[1, 2, 5],
    },
    Product {
        id: 4,
        sku: "103",
        name: "Alpen Trail Jacket",
        brand: "Alpen",
        colors: &["Blue"],
        price: Some(5900),
        categories: &[1, 2, 4],
    },
    Product {
        id: 5,
        sku: "104",
        name: "Kitchen Knife",
        brand: "Havn",
        colors: &["Black"],
        price: None,
        categories: &[1, 7],
    },
];

pub fn en() -> LocaleName {
    LocaleName::parse("en_US").expect("valid locale")
}

pub fn de() -> LocaleName {
    LocaleName::parse("de_DE").expect("valid locale")
}

pub fn store() -> StoreName {
    StoreName::parse("DE").expect("valid store")
}

pub fn request() -> SearchRequest {
    SearchRequest::new(store(), en()).with_page(0, 100)
}

pub fn catalog_ops(version: u64) -> Vec<SearchOp> {
    CATALOG.iter().map(|product| product.upsert("en_US", version)).collect()
}
