//! Abstract products (what a customer sees as one product) and concrete products (the variants that
//! are sold, stocked and priced).

use crate::FieldError;
use crate::resource::{Filter, Resource};
use crate::store::yes;
use crate::validate::{Checks, slugify};
use kontor_core::ids::{ProductAbstractId, ProductConcreteId};
use kontor_core::{LocaleName, Sku, StoreName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductAbstractAttributes {
    #[schema(value_type = String, example = "001")]
    pub sku: Sku,
    /// Attribute values shared by every variant, keyed by declared attribute keys.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Name of the tax set that applies.
    #[serde(default)]
    pub tax_set: Option<String>,
    /// Stores the product is sold in.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub stores: Vec<StoreName>,
    /// Texts per locale; each locale must exist.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, AbstractLocalized>)]
    pub localized_attributes: BTreeMap<LocaleName, AbstractLocalized>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AbstractLocalized {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub meta_title: String,
    #[serde(default)]
    pub meta_keywords: String,
    #[serde(default)]
    pub meta_description: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Storefront URL; generated from the name (`/de/name-<id>`) when omitted.
    #[serde(default)]
    pub url: Option<String>,
}

impl ProductAbstractAttributes {
    /// The URL a locale gets when none is given: `/<language>/<slug of name>-<id>`, as Spryker makes them.
    pub fn generated_url(locale: &LocaleName, name: &str, id: ProductAbstractId) -> String {
        let slug = slugify(name);
        if slug.is_empty() {
            format!("/{}/{id}", locale.language())
        } else {
            format!("/{}/{slug}-{id}", locale.language())
        }
    }
}

impl Resource for ProductAbstractAttributes {
    const TYPE: &'static str = "abstract-products";
    const OUTBOX: &'static str = "product_abstract";
    const FILTERS: &'static [Filter] = &[Filter::Sku, Filter::Name];
    type Id = ProductAbstractId;

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.attribute_map("/attributes", &self.attributes);
        if let Some(tax_set) = &self.tax_set {
            checks.text("/taxSet", tax_set, 255);
        }
        checks.unique("/stores", &self.stores);
        for (locale, localized) in &self.localized_attributes {
            let base = format!("/localizedAttributes/{locale}");
            checks.text(&format!("{base}/name"), &localized.name, 255);
            checks.optional_text(&format!("{base}/description"), Some(&localized.description), 65_535);
            checks.optional_text(&format!("{base}/metaTitle"), Some(&localized.meta_title), 255);
            checks.optional_text(&format!("{base}/metaKeywords"), Some(&localized.meta_keywords), 255);
            checks.optional_text(
                &format!("{base}/metaDescription"),
                Some(&localized.meta_description),
                1024,
            );
            checks.attribute_map(&format!("{base}/attributes"), &localized.attributes);
            if let Some(url) = &localized.url {
                checks.url_path(&format!("{base}/url"), url);
            }
        }
        checks.finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductConcreteAttributes {
    #[schema(value_type = String, example = "001_25904006")]
    pub sku: Sku,
    /// The abstract product this is a variant of.
    #[schema(value_type = String, example = "001")]
    pub abstract_sku: Sku,
    /// Attribute values of this variant, including its super attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, ConcreteLocalized>)]
    pub localized_attributes: BTreeMap<LocaleName, ConcreteLocalized>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConcreteLocalized {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Whether full-text search finds it in this locale.
    #[serde(default = "yes")]
    pub is_searchable: bool,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl Resource for ProductConcreteAttributes {
    const TYPE: &'static str = "concrete-products";
    const OUTBOX: &'static str = "product_concrete";
    const FILTERS: &'static [Filter] = &[Filter::Sku, Filter::Name];
    type Id = ProductConcreteId;

    fn validate(&self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.attribute_map("/attributes", &self.attributes);
        for (locale, localized) in &self.localized_attributes {
            let base = format!("/localizedAttributes/{locale}");
            checks.text(&format!("{base}/name"), &localized.name, 255);
            checks.optional_text(&format!("{base}/description"), Some(&localized.description), 65_535);
            checks.attribute_map(&format!("{base}/attributes"), &localized.attributes);
        }
        checks.finish()
    }
}
