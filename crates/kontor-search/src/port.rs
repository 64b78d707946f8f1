//! The `SearchIndex` port: what sync writers, `kontor sync` and the storefront need from a search engine,
//! with no engine type in any signature so the storefront can hold an `Arc<dyn SearchIndex>`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use kontor_core::ids::CategoryNodeId;
use kontor_core::{LocaleName, StoreName};
use kontor_readmodel::search::{ProductPageDocument, SearchResultData};

use crate::SearchError;

/// The largest `limit` a search or suggestion request may ask for; the storefront caps pages at 100,
/// the margin is for internal callers.
pub const MAX_PAGE_LIMIT: usize = 1000;

/// One write of a sync batch. Ops for any store × locale may be mixed; the key decides the index.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchOp {
    /// Insert or replace the document under `key` unless a newer version is stored.
    Upsert {
        key: String,
        document: Box<ProductPageDocument>,
        /// The document's `_timestamp` in microseconds (`kontor_readmodel::search::timestamp_micros`).
        timestamp_micros: u64,
    },
    /// Remove the document under `key` unless a newer version is stored; leaves a tombstone version.
    Delete { key: String, timestamp_micros: u64 },
}

impl SearchOp {
    /// An upsert; boxes the document so a batch of mixed ops stays compact.
    pub fn upsert(key: impl Into<String>, document: ProductPageDocument, timestamp_micros: u64) -> Self {
        Self::Upsert {
            key: key.into(),
            document: Box::new(document),
            timestamp_micros,
        }
    }

    /// A delete.
    pub fn delete(key: impl Into<String>, timestamp_micros: u64) -> Self {
        Self::Delete {
            key: key.into(),
            timestamp_micros,
        }
    }

    /// The document key the op targets.
    pub fn key(&self) -> &str {
        match self {
            Self::Upsert { key, .. } | Self::Delete { key, .. } => key,
        }
    }

    /// The op's version.
    pub fn timestamp_micros(&self) -> u64 {
        match self {
            Self::Upsert { timestamp_micros, .. } | Self::Delete { timestamp_micros, .. } => *timestamp_micros,
        }
    }
}

/// What `apply` did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// Ops written (their version was at least the stored one).
    pub applied: usize,
    /// Ops dropped because a newer version of their key is stored (replays, reordering).
    pub skipped: usize,
}

/// A catalog search in one store × locale.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub store: StoreName,
    pub locale: LocaleName,
    /// Full-text query; `None` or blank lists everything that passes the filters.
    pub query: Option<String>,
    pub filters: SearchFilters,
    pub sort: SearchSort,
    pub offset: usize,
    /// Page size, at most [`MAX_PAGE_LIMIT`]; 0 returns only totals and facets.
    pub limit: usize,
}

impl SearchRequest {
    /// Everything in the store × locale, by relevance, first page of 12 (the storefront default).
    pub fn new(store: StoreName, locale: LocaleName) -> Self {
        Self {
            store,
            locale,
            query: None,
            filters: SearchFilters::default(),
            sort: SearchSort::Relevance,
            offset: 0,
            limit: 12,
        }
    }

    /// Sets the full-text query.
    pub fn with_query(mut self, query: impl Into<String>) -> Self {
        self.query = Some(query.into());
        self
    }

    /// Sets the sort.
    pub fn with_sort(mut self, sort: SearchSort) -> Self {
        self.sort = sort;
        self
    }

    /// Sets the page.
    pub fn with_page(mut self, offset: usize, limit: usize) -> Self {
        self.offset = offset;
        self.limit = limit;
        self
    }
}

/// Filters of a catalog search. Values of one facet are OR-ed (multi-select), different filters AND-ed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilters {
    /// Only products under this category node (matched against `category.all-parents`).
    pub category: Option<CategoryNodeId>,
    /// Value facet filters: facet name → accepted values (`brand` → `["Fjell"]`). Availability is modelled
    /// by publishers as a value facet (e.g. `availability` → `in-stock`), so it needs no special case.
    pub string_facets: BTreeMap<String, Vec<String>>,
    /// Range filters on integer facets: facet name → inclusive bounds
    /// (`price-DEFAULT-EUR-GROSS_MODE` → 5000..=15000 in minor units).
    pub integer_ranges: BTreeMap<String, IntegerRange>,
}

/// Inclusive bounds of a range filter; a missing bound is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntegerRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// Result order. Sorting by a missing key puts the documents without it last, in both directions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchSort {
    /// Best full-text match first; without a query, index order.
    Relevance,
    /// By a `string-sort` key ascending (`name` for `name_asc`).
    StringAsc(String),
    /// By a `string-sort` key descending.
    StringDesc(String),
    /// By an `integer-sort` key ascending (`price-DEFAULT-EUR-GROSS_MODE` for `price_asc`).
    IntegerAsc(String),
    /// By an `integer-sort` key descending.
    IntegerDesc(String),
}

impl SearchSort {
    /// `name_asc`.
    pub fn name_asc() -> Self {
        Self::StringAsc("name".to_owned())
    }

    /// `name_desc`.
    pub fn name_desc() -> Self {
        Self::StringDesc("name".to_owned())
    }

    /// `price_asc` on a price sort key such as `price-DEFAULT-EUR-GROSS_MODE`.
    pub fn price_asc(price_key: &str) -> Self {
        Self::IntegerAsc(price_key.to_owned())
    }

    /// `price_desc` on a price sort key.
    pub fn price_desc(price_key: &str) -> Self {
        Self::IntegerDesc(price_key.to_owned())
    }

    /// The storefront's sort parameter (`relevance`, `name_asc`, `name_desc`, `price_asc`, `price_desc`);
    /// `price_key` is the request's `price-<TYPE>-<CURRENCY>-<MODE>`. `None` for an unknown name.
    pub fn from_param(param: &str, price_key: &str) -> Option<Self> {
        match param {
            "relevance" => Some(Self::Relevance),
            "name_asc" => Some(Self::name_asc()),
            "name_desc" => Some(Self::name_desc()),
            "price_asc" => Some(Self::price_asc(price_key)),
            "price_desc" => Some(Self::price_desc(price_key)),
            _ => None,
        }
    }
}

/// One page of a catalog search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchResult {
    /// Number of documents matching query and filters (`numFound`).
    pub total: u64,
    /// The requested page, in sort order.
    pub hits: Vec<SearchHit>,
    /// Value facets by name (ascending), values by count (descending) then value.
    pub value_facets: Vec<ValueFacet>,
    /// Range facets by name (ascending): the min/max over the matching documents.
    pub range_facets: Vec<RangeFacet>,
    /// Documents per category node id (from `all-parents`), by node id.
    pub category_counts: Vec<CategoryCount>,
}

/// One hit: its key and listing data.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub key: String,
    pub data: SearchResultData,
}

/// Counts of one value facet. A facet with an active filter is counted without its own filter, so the
/// other values of a multi-select facet keep their counts (the usual e-commerce behaviour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueFacet {
    pub name: String,
    pub values: Vec<FacetValueCount>,
}

/// One value of a value facet with its document count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetValueCount {
    pub value: String,
    pub doc_count: u64,
}

/// Bounds of one integer facet over the matching documents (its own range filter not applied, so the
/// slider keeps its full extent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeFacet {
    pub name: String,
    pub min: i64,
    pub max: i64,
}

/// Documents under one category node (its own category filter not applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryCount {
    pub category: CategoryNodeId,
    pub doc_count: u64,
}

/// Search-as-you-type answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suggestions {
    /// `completion-terms` containing a word that starts with the prefix, most frequent first.
    pub completion: Vec<String>,
    /// Products whose `suggestion-terms` or `completion-terms` match the prefix.
    pub products: Vec<SearchHit>,
}

/// A live document as stored, for `sync verify`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDocument {
    pub key: String,
    pub document: ProductPageDocument,
    pub timestamp_micros: u64,
}

/// A live key and its version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyVersion {
    pub key: String,
    pub timestamp_micros: u64,
}

/// The storefront search index (one logical index per store × locale).
#[async_trait]
pub trait SearchIndex: Send + Sync {
    /// Applies a batch with the set-if-newer rule: an op is skipped when the stored version (document or
    /// tombstone) of its key is newer; equal versions are re-applied so a re-sync can repair an index.
    /// Each touched index commits once; the ops are visible to searches when this returns. A batch with an
    /// invalid op fails before anything is written.
    async fn apply(&self, ops: Vec<SearchOp>) -> Result<ApplyOutcome, SearchError>;

    /// Runs a catalog search: total, one page of hits, value/range facets and category counts.
    async fn search(&self, request: SearchRequest) -> Result<SearchResult, SearchError>;

    /// Completion terms and products for a search-as-you-type prefix; at most `limit` of each.
    async fn suggest(
        &self,
        store: &StoreName,
        locale: &LocaleName,
        prefix: &str,
        limit: usize,
    ) -> Result<Suggestions, SearchError>;

    /// The live document under `key` with its version; `None` when absent or deleted.
    async fn get(&self, key: &str) -> Result<Option<StoredDocument>, SearchError>;

    /// Every live key of a store × locale with its version, sorted by key (for `sync verify`).
    async fn keys(&self, store: &StoreName, locale: &LocaleName) -> Result<Vec<KeyVersion>, SearchError>;

    /// Removes every document and tombstone of a store × locale (before a rebuild).
    async fn clear(&self, store: &StoreName, locale: &LocaleName) -> Result<(), SearchError>;

    /// A number that changes whenever what searches of a store × locale see may have changed (a commit
    /// became visible), read before searching; lets callers cache answers per generation. `None` when
    /// the index cannot tell (or the store × locale has no index yet): such answers are not cached.
    fn generation(&self, _store: &StoreName, _locale: &LocaleName) -> Option<u64> {
        None
    }

    /// Reorganises the indexes for searching after a bulk rewrite (a search engine's force-merge), and
    /// returns when that is done. Searches meanwhile work; nothing to do for a backend without segments.
    async fn compact(&self) -> Result<(), SearchError> {
        Ok(())
    }
}
