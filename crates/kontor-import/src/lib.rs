//! Spryker-compatible CSV data import (`../shared/spec/data-import.md`).
//!
//! A recipe (YAML) names data sets in dependency order; each data set is one CSV file in Spryker's
//! layout and headers. Per data set the importer checks the header, then streams the file twice:
//! pass 1 parses and validates every row and collects errors, pass 2 writes the good rows in batched
//! transactions as upserts by natural key.
//!
//! Invariants: nothing of a data set is written when any row is bad (unless `skip_invalid`); a write
//! batch and its outbox rows commit together, with one outbox row per entity that really changed, so
//! re-importing the same files changes nothing and publishes nothing. A dry run is the same import in
//! one transaction that is rolled back; [`parse_product_rows`] runs pass 1 of the product files on
//! bytes in memory, without a database (the fuzz target's entry point).

mod error;
pub mod generate;
mod importer;
mod product_rows;
mod reader;
mod recipe;
mod sets;
mod summary;

pub use error::ImportError;
pub use importer::{ImportOptions, Importer, ProgressFn};
pub use product_rows::{CheckedRows, ProductCatalog, ProductFile, parse_product_rows};
pub use recipe::{DataEntity, Recipe, RecipeAction};
pub use summary::{DataSetSummary, ImportSummary};
