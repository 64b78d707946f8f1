//! Categories: a tree per store (a category without a parent is a root), names and URLs per locale, and
//! the assignment of abstract products to categories.

use crate::FieldError;
use crate::resource::{Filter, Resource};
use crate::store::yes;
use crate::validate::{Checks, slugify};
use kontor_core::ids::{CategoryId, ProductCategoryId};
use kontor_core::{LocaleName, Sku, StoreName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CategoryAttributes {
    /// Stable key used by imports and assignments.
    #[schema(example = "cameras-and-camcorders")]
    pub category_key: String,
    /// The parent's key; none makes this a root category.
    #[serde(default)]
    pub parent_category_key: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    /// Position among its siblings, higher first as in Spryker's node order.
    #[serde(default)]
    pub sort_order: i32,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub stores: Vec<StoreName>,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, CategoryLocalized>)]
    pub localized_attributes: BTreeMap<LocaleName, CategoryLocalized>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CategoryLocalized {
    pub name: String,
    #[serde(default)]
    pub meta_title: String,
    #[serde(default)]
    pub meta_description: String,
    /// Storefront URL; generated from the name (`/de/name`) when omitted.
    #[serde(default)]
    pub url: Option<String>,
}

impl CategoryAttributes {
    /// The URL a locale gets when none is given: `/<language>/<slug of name>`.
    pub fn generated_url(locale: &LocaleName, name: &str, key: &str) -> String {
        let slug = slugify(name);
        let slug = if slug.is_empty() { key.to_owned() } else { slug };
        format!("/{}/{slug}", locale.language())
    }
}

impl Resource for CategoryAttributes {
    const TYPE: &'static str = "categories";
    const OUTBOX: &'static str = "category";
    const FILTERS: &'static [Filter] = &[Filter::Name];
    type Id = CategoryId;

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.key("/categoryKey", &self.category_key);
        if let Some(parent) = &self.parent_category_key {
            checks.key("/parentCategoryKey", parent);
            if *parent == self.category_key {
                checks.fail("/parentCategoryKey", "a category cannot be its own parent");
            }
        }
        checks.unique("/stores", &self.stores);
        for (locale, localized) in &self.localized_attributes {
            let base = format!("/localizedAttributes/{locale}");
            checks.text(&format!("{base}/name"), &localized.name, 255);
            checks.optional_text(&format!("{base}/metaTitle"), Some(&localized.meta_title), 255);
            checks.optional_text(
                &format!("{base}/metaDescription"),
                Some(&localized.meta_description),
                1024,
            );
            if let Some(url) = &localized.url {
                checks.url_path(&format!("{base}/url"), url);
            }
        }
        checks.finish()
    }
}

/// An abstract product placed in a category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductCategoryAttributes {
    #[schema(value_type = String, example = "001")]
    pub abstract_sku: Sku,
    #[schema(example = "cameras-and-camcorders")]
    pub category_key: String,
    #[serde(default)]
    pub sort_order: i32,
}

impl Resource for ProductCategoryAttributes {
    const TYPE: &'static str = "product-categories";
    const OUTBOX: &'static str = "product_category";
    const FILTERS: &'static [Filter] = &[Filter::Sku];
    type Id = ProductCategoryId;

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.key("/categoryKey", &self.category_key);
        checks.finish()
    }
}
