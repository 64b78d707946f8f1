//! Recipes: `version` plus `actions: [{data_entity, source}]`, Spryker's YAML. Sources resolve
//! relative to the recipe file; a Spryker path starting with `data/import/` resolves relative to the
//! directory that contains `data/`, so Spryker recipes run unchanged.
//!
//! The order is checked against the dependency table (spec §2) before any file is opened.

use crate::error::ImportError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The data sets this importer writes, in the spec's import order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataEntity {
    Store,
    Currency,
    CurrencyStore,
    LocaleStore,
    DefaultLocaleStore,
    Glossary,
    Tax,
    Category,
    CategoryStore,
    ProductAttributeKey,
    ProductAbstract,
    ProductAbstractStore,
    ProductConcrete,
    ProductImage,
    ProductPrice,
    Warehouse,
    WarehouseStore,
    ProductStock,
    Shipment,
    ShipmentMethodStore,
    ShipmentPrice,
    PaymentMethod,
    PaymentMethodStore,
    Customer,
    ProductReview,
}

impl DataEntity {
    pub const ALL: [DataEntity; 25] = [
        Self::Store,
        Self::Currency,
        Self::CurrencyStore,
        Self::LocaleStore,
        Self::DefaultLocaleStore,
        Self::Glossary,
        Self::Tax,
        Self::Category,
        Self::CategoryStore,
        Self::ProductAttributeKey,
        Self::ProductAbstract,
        Self::ProductAbstractStore,
        Self::ProductConcrete,
        Self::ProductImage,
        Self::ProductPrice,
        Self::Warehouse,
        Self::WarehouseStore,
        Self::ProductStock,
        Self::Shipment,
        Self::ShipmentMethodStore,
        Self::ShipmentPrice,
        Self::PaymentMethod,
        Self::PaymentMethodStore,
        Self::Customer,
        Self::ProductReview,
    ];

    /// The canonical `data_entity` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Currency => "currency",
            Self::CurrencyStore => "currency-store",
            Self::LocaleStore => "locale-store",
            Self::DefaultLocaleStore => "default-locale-store",
            Self::Glossary => "glossary",
            Self::Tax => "tax",
            Self::Category => "category",
            Self::CategoryStore => "category-store",
            Self::ProductAttributeKey => "product-attribute-key",
            Self::ProductAbstract => "product-abstract",
            Self::ProductAbstractStore => "product-abstract-store",
            Self::ProductConcrete => "product-concrete",
            Self::ProductImage => "product-image",
            Self::ProductPrice => "product-price",
            Self::Warehouse => "warehouse",
            Self::WarehouseStore => "warehouse-store",
            Self::ProductStock => "product-stock",
            Self::Shipment => "shipment",
            Self::ShipmentMethodStore => "shipment-method-store",
            Self::ShipmentPrice => "shipment-price",
            Self::PaymentMethod => "payment-method",
            Self::PaymentMethodStore => "payment-method-store",
            Self::Customer => "customer",
            Self::ProductReview => "product-review",
        }
    }

    /// Parses a `data_entity`, accepting Spryker's aliases (`stock`, `stock-store`).
    pub fn parse(raw: &str) -> Option<Self> {
        let canonical = match raw {
            "stock" => "warehouse",
            "stock-store" => "warehouse-store",
            other => other,
        };
        Self::ALL.into_iter().find(|entity| entity.name() == canonical)
    }

    /// Data sets that must have run before this one (spec §2, "needs"). `category-template` is not a
    /// data set here (templates are not stored), so `category` needs nothing.
    pub fn needs(self) -> &'static [DataEntity] {
        match self {
            Self::CurrencyStore => &[Self::Store, Self::Currency],
            Self::LocaleStore => &[Self::Store],
            Self::DefaultLocaleStore => &[Self::LocaleStore],
            Self::Glossary => &[Self::LocaleStore],
            Self::CategoryStore => &[Self::Store, Self::Category],
            Self::ProductAbstract => &[Self::Tax, Self::Category, Self::ProductAttributeKey],
            Self::ProductAbstractStore => &[Self::Store, Self::ProductAbstract],
            Self::ProductConcrete => &[Self::ProductAbstract],
            Self::ProductImage => &[Self::ProductAbstract, Self::ProductConcrete],
            Self::ProductPrice => &[
                Self::Store,
                Self::Currency,
                Self::ProductAbstract,
                Self::ProductConcrete,
            ],
            Self::WarehouseStore => &[Self::Store, Self::Warehouse],
            Self::ProductStock => &[Self::ProductConcrete, Self::Warehouse],
            Self::Shipment => &[Self::Tax],
            Self::ShipmentMethodStore => &[Self::Store, Self::Shipment],
            Self::ShipmentPrice => &[Self::Currency, Self::Shipment],
            Self::PaymentMethodStore => &[Self::Store, Self::PaymentMethod],
            Self::Customer => &[Self::LocaleStore],
            Self::ProductReview => &[Self::ProductAbstract, Self::LocaleStore],
            _ => &[],
        }
    }
}

/// Data set names of the spec that this importer recognises but does not import yet.
pub(crate) const KNOWN_UNSUPPORTED: &[&str] = &[
    "country-store",
    "category-template",
    "product-management-attribute",
    "product-price-schedule",
    "warehouse-address",
    "product-search-attribute-map",
    "product-search-attribute",
];

#[derive(Debug, Deserialize)]
struct RawRecipe {
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<serde_norway::Value>,
    actions: Vec<RawAction>,
}

#[derive(Debug, Deserialize)]
struct RawAction {
    data_entity: String,
    source: String,
}

/// One recipe step with its source resolved to a path.
#[derive(Debug, Clone)]
pub struct RecipeAction {
    /// `None` when the entity is not imported by Kontor (yet); the run lists it as skipped.
    pub entity: Option<DataEntity>,
    pub data_entity: String,
    /// As written in the recipe; names the file in messages.
    pub source: String,
    pub path: PathBuf,
}

/// A parsed, resolved and order-checked recipe.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub actions: Vec<RecipeAction>,
}

impl Recipe {
    /// Reads `path`, resolves sources and checks the dependency order. With `strict`, an entity this
    /// importer does not write is an error instead of a skipped step.
    pub fn load(path: &Path, strict: bool) -> Result<Self, ImportError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        let raw: RawRecipe = serde_norway::from_str(&text).map_err(|error| ImportError::Recipe {
            file: display.clone(),
            reason: error.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut actions = Vec::with_capacity(raw.actions.len());
        for action in raw.actions {
            let entity = DataEntity::parse(&action.data_entity);
            if entity.is_none() && strict {
                return Err(ImportError::UnknownEntity {
                    file: display,
                    entity: action.data_entity,
                });
            }
            actions.push(RecipeAction {
                entity,
                path: resolve_source(base, &action.source),
                data_entity: action.data_entity,
                source: action.source,
            });
        }
        let recipe = Self { actions };
        recipe.check_order(&display)?;
        Ok(recipe)
    }

    fn check_order(&self, display: &str) -> Result<(), ImportError> {
        let mut done = Vec::new();
        for entity in self.actions.iter().filter_map(|action| action.entity) {
            if let Some(missing) = entity.needs().iter().find(|need| !done.contains(*need)) {
                return Err(ImportError::MissingPrerequisite {
                    file: display.to_owned(),
                    data_set: entity.name().to_owned(),
                    missing: missing.name().to_owned(),
                });
            }
            done.push(entity);
        }
        Ok(())
    }
}

/// `source` relative to the recipe's directory; `data/import/…` relative to the directory holding
/// `data/` (found among the recipe directory's ancestors, else the recipe directory itself).
fn resolve_source(base: &Path, source: &str) -> PathBuf {
    let relative = Path::new(source);
    if relative.is_absolute() {
        return relative.to_path_buf();
    }
    if source.starts_with("data/import/") {
        for ancestor in base.ancestors() {
            if ancestor.join("data").join("import").is_dir() {
                return ancestor.join(relative);
            }
            // A recipe inside `data/import/` itself: strip the prefix.
            if ancestor.ends_with("data/import")
                && let Ok(rest) = relative.strip_prefix("data/import")
            {
                return ancestor.join(rest);
            }
        }
    }
    base.join(relative)
}
