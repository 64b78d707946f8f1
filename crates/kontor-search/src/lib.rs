//! The storefront's search index port, [`SearchIndex`], and its embedded backend on Tantivy.
//!
//! Sync writers feed the index with [`SearchOp`]s (upserts and deletes of `product_page` documents, see
//! `../shared/spec/publish-sync.md` §7); the storefront reads it for catalog search (facets, sorts,
//! pagination) and search-as-you-type suggestions. The index is never the source of truth: `kontor sync`
//! rebuilds it from the `product_page_search` table, which is why [`SearchIndex::keys`],
//! [`SearchIndex::get`] and [`SearchIndex::clear`] exist.
//!
//! Invariants every backend keeps:
//! - one logical index per store × locale, derived from the key (`product_abstract:de:en_us:123`);
//! - set-if-newer: an op older than the stored version of its key is skipped, and deletes leave a
//!   tombstone version so an older upsert cannot resurrect the document;
//! - a search issued after `apply` returned sees the applied ops.

mod error;
mod port;
mod replica;
mod scope;
pub mod tantivy;

pub use error::SearchError;
pub use port::{
    ApplyOutcome, CategoryCount, FacetValueCount, IntegerRange, KeyVersion, MAX_PAGE_LIMIT, RangeFacet, SearchFilters,
    SearchHit, SearchIndex, SearchOp, SearchRequest, SearchResult, SearchSort, StoredDocument, Suggestions, ValueFacet,
};
pub use replica::{ReplicaReport, ReplicaStatus};
pub use scope::IndexScope;
pub use tantivy::{TantivyOptions, TantivySearchIndex};
