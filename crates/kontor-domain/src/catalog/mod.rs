//! Catalog: attribute keys, abstract products and their concrete variants, categories and the
//! assignment of products to categories.

pub mod attributes;
pub mod categories;
pub mod products;

pub use attributes::AttributeKeyAttributes;
pub use categories::{CategoryAttributes, CategoryLocalized, ProductCategoryAttributes};
pub use products::{AbstractLocalized, ConcreteLocalized, ProductAbstractAttributes, ProductConcreteAttributes};
