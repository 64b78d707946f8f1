//! The embedded backend: one Tantivy index per store × locale under `<data_dir>/search/<store>_<locale>`,
//! or in RAM for tests.
//!
//! Each index holds exactly one `IndexWriter` (Tantivy allows one per index, and one writer per index is
//! also the spec's rule) behind a mutex; `apply` takes that mutex for the whole read-check-write-commit
//! cycle, so the stale-op guard always compares against the committed state plus the batch itself. After
//! a commit the reader is reloaded by hand, so a search that starts after `apply` returned sees the batch;
//! it also reloads by itself when a background merge has changed the index. All Tantivy work runs on
//! `spawn_blocking`: a commit or a facet count is milliseconds of CPU and I/O, far beyond what an async
//! task may block.

mod analysis;
mod collectors;
mod query;
mod schema;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kontor_core::ids::CategoryNodeId;
use kontor_core::{LocaleName, StoreName};
use kontor_readmodel::search::ProductPageDocument;
use tantivy::directory::MmapDirectory;
use tantivy::merge_policy::LogMergePolicy;
use tantivy::query::{Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{
    DocAddress, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TERMINATED, TantivyDocument,
    TantivyError, Term,
};

use self::collectors::{FacetCollector, FacetColumnCache, FacetCounts, HitOrder, HitsCollector, KeysCollector};
use self::query::FilterGroup;
use self::schema::{FACET_SEPARATOR, Fields, build_schema, json_path, names};
use crate::{
    ApplyOutcome, CategoryCount, FacetValueCount, IndexScope, KeyVersion, MAX_PAGE_LIMIT, RangeFacet, SearchError,
    SearchHit, SearchIndex, SearchOp, SearchRequest, SearchResult, SearchSort, StoredDocument, Suggestions, ValueFacet,
};

/// Tuning of the Tantivy backend.
#[derive(Debug, Clone)]
pub struct TantivyOptions {
    /// Indexing memory budget of each index's writer (Tantivy's minimum is 15 MB). The arena grows on
    /// demand, so idle indexes cost little.
    pub writer_memory_bytes: usize,
}

impl Default for TantivyOptions {
    fn default() -> Self {
        Self {
            writer_memory_bytes: 32 * 1024 * 1024,
        }
    }
}

/// The Tantivy [`SearchIndex`]. Cheap to clone; clones share the open indexes.
#[derive(Clone)]
pub struct TantivySearchIndex {
    inner: Arc<Inner>,
}

enum Location {
    Disk(PathBuf),
    Ram,
}

struct Inner {
    location: Location,
    options: TantivyOptions,
    /// Opened lazily on first use; an index is opened once per process because Tantivy's directory lock
    /// admits one writer.
    indexes: Mutex<HashMap<IndexScope, Arc<ScopeIndex>>>,
}

/// One store × locale index with its single writer.
struct ScopeIndex {
    name: String,
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    facet_columns: FacetColumnCache,
}

/// Where a key's Tantivy document was found.
struct Found {
    version: u64,
    deleted: bool,
    address: DocAddress,
}

/// Attaches the index name to an engine error.
trait InIndex<T> {
    fn in_index(self, index: &str) -> Result<T, SearchError>;
}

impl<T, E: Into<TantivyError>> InIndex<T> for Result<T, E> {
    fn in_index(self, index: &str) -> Result<T, SearchError> {
        self.map_err(|source| SearchError::Engine {
            index: index.to_owned(),
            source: source.into(),
        })
    }
}

impl TantivySearchIndex {
    /// Indexes on disk under `<data_dir>/search/`, created on first write.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self, SearchError> {
        Self::open_with(data_dir, TantivyOptions::default())
    }

    /// Like [`open`](Self::open) with explicit options.
    pub fn open_with(data_dir: impl AsRef<Path>, options: TantivyOptions) -> Result<Self, SearchError> {
        let base = data_dir.as_ref().join("search");
        std::fs::create_dir_all(&base).map_err(|source| SearchError::Io {
            path: base.display().to_string(),
            source,
        })?;
        Ok(Self::with_location(Location::Disk(base), options))
    }

    /// Indexes in RAM, lost on drop (tests, `sync.mode = "direct"` demos).
    pub fn in_memory() -> Self {
        Self::with_location(Location::Ram, TantivyOptions::default())
    }

    fn with_location(location: Location, options: TantivyOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                location,
                options,
                indexes: Mutex::new(HashMap::new()),
            }),
        }
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, SearchError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, SearchError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(SearchError::Task)?
    }
}

#[async_trait]
impl SearchIndex for TantivySearchIndex {
    async fn apply(&self, ops: Vec<SearchOp>) -> Result<ApplyOutcome, SearchError> {
        if ops.is_empty() {
            return Ok(ApplyOutcome::default());
        }
        self.blocking(move |inner| inner.apply(ops)).await
    }

    async fn search(&self, request: SearchRequest) -> Result<SearchResult, SearchError> {
        self.blocking(move |inner| inner.search(&request)).await
    }

    async fn suggest(
        &self,
        store: &StoreName,
        locale: &LocaleName,
        prefix: &str,
        limit: usize,
    ) -> Result<Suggestions, SearchError> {
        let scope = IndexScope::new(store, locale);
        let prefix = prefix.to_owned();
        self.blocking(move |inner| inner.suggest(&scope, &prefix, limit)).await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredDocument>, SearchError> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.get(&key)).await
    }

    async fn keys(&self, store: &StoreName, locale: &LocaleName) -> Result<Vec<KeyVersion>, SearchError> {
        let scope = IndexScope::new(store, locale);
        self.blocking(move |inner| inner.keys(&scope)).await
    }

    async fn clear(&self, store: &StoreName, locale: &LocaleName) -> Result<(), SearchError> {
        let scope = IndexScope::new(store, locale);
        self.blocking(move |inner| inner.clear(&scope)).await
    }

    /// A hash of the searcher's segments and their deletes: it changes with every commit (or clear) and
    /// merge that a reload made visible, but not with a reload that found nothing new.
    fn generation(&self, store: &StoreName, locale: &LocaleName) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let index = self
            .inner
            .scope_index(&IndexScope::new(store, locale), false)
            .ok()
            .flatten()?;
        let searcher = index.reader.searcher();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for (segment, deletes) in searcher.generation().segments() {
            segment.uuid_string().hash(&mut hasher);
            deletes.hash(&mut hasher);
        }
        Some(hasher.finish())
    }

    async fn compact(&self) -> Result<(), SearchError> {
        self.blocking(Inner::compact).await
    }
}

impl Inner {
    /// The index of a scope; `None` when it does not exist and `create` is false (reads of an unknown
    /// store × locale are empty, they must not litter the data directory).
    fn scope_index(&self, scope: &IndexScope, create: bool) -> Result<Option<Arc<ScopeIndex>>, SearchError> {
        let name = scope.to_string();
        let mut indexes = self
            .indexes
            .lock()
            .map_err(|_| SearchError::Poisoned { index: name.clone() })?;
        if let Some(open) = indexes.get(scope) {
            return Ok(Some(Arc::clone(open)));
        }
        let (schema, fields) = build_schema();
        let index = match &self.location {
            Location::Ram if !create => return Ok(None),
            Location::Ram => Index::create_in_ram(schema),
            Location::Disk(base) => {
                let path = base.join(&name);
                if !create && !path.join("meta.json").exists() {
                    return Ok(None);
                }
                std::fs::create_dir_all(&path).map_err(|source| SearchError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                let directory = MmapDirectory::open(&path).in_index(&name)?;
                Index::open_or_create(directory, schema).in_index(&name)?
            }
        };
        analysis::register_analyzers(&index, scope.language());
        // `apply` reloads by hand after its commit, so a search after it sees the batch; the reader also
        // reloads by itself when the index changes otherwise, i.e. when a background merge finishes.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .in_index(&name)?;
        let writer = index
            .writer_with_num_threads(1, self.options.writer_memory_bytes)
            .in_index(&name)?;
        writer.set_merge_policy(Box::new(merge_policy()));
        let opened = Arc::new(ScopeIndex {
            name,
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            facet_columns: FacetColumnCache::default(),
        });
        indexes.insert(scope.clone(), Arc::clone(&opened));
        Ok(Some(opened))
    }

    fn apply(&self, ops: Vec<SearchOp>) -> Result<ApplyOutcome, SearchError> {
        // Validate the whole batch before writing anything: a bad op fails the batch, never half of it.
        let mut by_scope: BTreeMap<IndexScope, Vec<SearchOp>> = BTreeMap::new();
        for op in ops {
            let scope = IndexScope::from_key(op.key())?;
            if let SearchOp::Upsert { key, document, .. } = &op
                && !scope.matches(&document.store, &document.locale)
            {
                return Err(SearchError::InvalidOp {
                    key: key.clone(),
                    reason: format!(
                        "document is for store {} and locale {}, the key for index {scope}",
                        document.store, document.locale
                    ),
                });
            }
            by_scope.entry(scope).or_default().push(op);
        }
        let mut outcome = ApplyOutcome::default();
        for (scope, ops) in by_scope {
            let Some(index) = self.scope_index(&scope, true)? else {
                continue;
            };
            let applied = index.apply(ops)?;
            outcome.applied += applied.applied;
            outcome.skipped += applied.skipped;
        }
        Ok(outcome)
    }

    fn search(&self, request: &SearchRequest) -> Result<SearchResult, SearchError> {
        if request.limit > MAX_PAGE_LIMIT {
            return Err(SearchError::InvalidRequest(format!(
                "limit {} is above the maximum of {MAX_PAGE_LIMIT}",
                request.limit
            )));
        }
        let scope = IndexScope::new(&request.store, &request.locale);
        match self.scope_index(&scope, false)? {
            Some(index) => index.search(request),
            None => Ok(SearchResult::default()),
        }
    }

    fn suggest(&self, scope: &IndexScope, prefix: &str, limit: usize) -> Result<Suggestions, SearchError> {
        if limit > MAX_PAGE_LIMIT {
            return Err(SearchError::InvalidRequest(format!(
                "limit {limit} is above the maximum of {MAX_PAGE_LIMIT}"
            )));
        }
        match self.scope_index(scope, false)? {
            Some(index) => index.suggest(prefix, limit),
            None => Ok(Suggestions::default()),
        }
    }

    fn get(&self, key: &str) -> Result<Option<StoredDocument>, SearchError> {
        let scope = IndexScope::from_key(key)?;
        match self.scope_index(&scope, false)? {
            Some(index) => index.get(key),
            None => Ok(None),
        }
    }

    fn keys(&self, scope: &IndexScope) -> Result<Vec<KeyVersion>, SearchError> {
        match self.scope_index(scope, false)? {
            Some(index) => index.keys(),
            None => Ok(Vec::new()),
        }
    }

    fn clear(&self, scope: &IndexScope) -> Result<(), SearchError> {
        match self.scope_index(scope, false)? {
            Some(index) => index.clear(),
            None => Ok(()),
        }
    }

    fn compact(&self) -> Result<(), SearchError> {
        let open: Vec<Arc<ScopeIndex>> = self
            .indexes
            .lock()
            .map_err(|_| SearchError::Poisoned {
                index: "search".to_owned(),
            })?
            .values()
            .cloned()
            .collect();
        for index in open {
            index.compact()?;
        }
        Ok(())
    }
}

impl ScopeIndex {
    fn lock_writer(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter>, SearchError> {
        self.writer.lock().map_err(|_| SearchError::Poisoned {
            index: self.name.clone(),
        })
    }

    /// The stale-op guard and the write, under the writer lock.
    fn apply(&self, ops: Vec<SearchOp>) -> Result<ApplyOutcome, SearchError> {
        let mut writer = self.lock_writer()?;
        let searcher = self.reader.searcher();
        let mut outcome = ApplyOutcome::default();
        // The op that will be written per key: only the last accepted op of a key reaches Tantivy, in batch
        // order so index order (the relevance tie-break) is deterministic.
        let mut winners: Vec<SearchOp> = Vec::new();
        let mut winner_of: HashMap<String, usize> = HashMap::new();
        for op in ops {
            let stored = match winner_of.get(op.key()) {
                Some(position) => Some(winners[*position].timestamp_micros()),
                None => self.find(&searcher, op.key())?.map(|found| found.version),
            };
            // Equal versions are re-applied: a re-sync sends the stored timestamp again and must be able
            // to repair a document; only strictly older ops are stale.
            if stored.is_some_and(|stored| op.timestamp_micros() < stored) {
                outcome.skipped += 1;
                continue;
            }
            outcome.applied += 1;
            match winner_of.get(op.key()) {
                Some(position) => winners[*position] = op,
                None => {
                    winner_of.insert(op.key().to_owned(), winners.len());
                    winners.push(op);
                }
            }
        }
        if winners.is_empty() {
            return Ok(outcome);
        }
        let written = self.write(&mut writer, winners.into_iter());
        let committed = written.and_then(|()| writer.commit().map(|_| ()).in_index(&self.name));
        if let Err(error) = committed {
            // Drop the half-written batch so the next one does not commit it by accident.
            if let Err(rollback) = writer.rollback() {
                tracing::error!(index = %self.name, error = %rollback, "search index rollback failed");
            }
            return Err(error);
        }
        self.reload()?;
        Ok(outcome)
    }

    /// Merges all segments into one and makes the result searchable. A merge already running in the
    /// background may hold some of them: then this one does not start, which only costs the optimisation.
    fn compact(&self) -> Result<(), SearchError> {
        let mut writer = self.lock_writer()?;
        let segments = self.index.searchable_segment_ids().in_index(&self.name)?;
        if segments.len() < 2 {
            return Ok(());
        }
        if let Err(error) = writer.merge(&segments).wait() {
            tracing::info!(index = %self.name, %error, "search index not compacted");
            return Ok(());
        }
        drop(writer);
        self.reload()
    }

    /// Makes the last commit searchable and forgets the facet columns of segments merged away.
    fn reload(&self) -> Result<(), SearchError> {
        self.reader.reload().in_index(&self.name)?;
        self.facet_columns.forget_merged(&self.reader.searcher());
        Ok(())
    }

    fn write(&self, writer: &mut IndexWriter, ops: impl Iterator<Item = SearchOp>) -> Result<(), SearchError> {
        for op in ops {
            // Deleting by key first keeps one Tantivy document per key; the delete only hits documents
            // added before it, so the replacement below survives.
            writer.delete_term(Term::from_field_text(self.fields.key, op.key()));
            let doc = match &op {
                SearchOp::Upsert {
                    key,
                    document,
                    timestamp_micros,
                } => schema::live_document(&self.fields, key, document, *timestamp_micros)?,
                SearchOp::Delete { key, timestamp_micros } => schema::tombstone(&self.fields, key, *timestamp_micros),
            };
            writer.add_document(doc).in_index(&self.name)?;
        }
        Ok(())
    }

    /// The newest Tantivy document (live or tombstone) of a key, read from the fast fields.
    fn find(&self, searcher: &Searcher, key: &str) -> Result<Option<Found>, SearchError> {
        let term = Term::from_field_text(self.fields.key, key);
        let mut newest: Option<Found> = None;
        for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
            let postings = segment
                .inverted_index(self.fields.key)
                .and_then(|inverted| {
                    inverted
                        .read_postings(&term, IndexRecordOption::Basic)
                        .map_err(Into::into)
                })
                .in_index(&self.name)?;
            let Some(mut postings) = postings else {
                continue;
            };
            let versions = segment.fast_fields().u64(names::VERSION).in_index(&self.name)?;
            let deleted = segment.fast_fields().bool("deleted").in_index(&self.name)?;
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if !segment.is_deleted(doc)
                    && let Some(version) = versions.first(doc)
                    && newest.as_ref().is_none_or(|found| version > found.version)
                {
                    newest = Some(Found {
                        version,
                        deleted: deleted.first(doc).unwrap_or(false),
                        address: DocAddress::new(segment_ord as u32, doc),
                    });
                }
                doc = postings.advance();
            }
        }
        Ok(newest)
    }

    fn get(&self, key: &str) -> Result<Option<StoredDocument>, SearchError> {
        let searcher = self.reader.searcher();
        let Some(found) = self.find(&searcher, key)?.filter(|found| !found.deleted) else {
            return Ok(None);
        };
        let document = self.load(&searcher, found.address)?.1;
        Ok(Some(StoredDocument {
            key: key.to_owned(),
            document,
            timestamp_micros: found.version,
        }))
    }

    /// Key and parsed document of a hit.
    fn load(&self, searcher: &Searcher, address: DocAddress) -> Result<(String, ProductPageDocument), SearchError> {
        let stored: TantivyDocument = searcher.doc(address).in_index(&self.name)?;
        let text = |field| {
            stored
                .get_first(field)
                .and_then(|value| value.as_str())
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let key = text(self.fields.key);
        let document =
            serde_json::from_str(&text(self.fields.document)).map_err(|source| SearchError::CorruptDocument {
                key: key.clone(),
                source,
            })?;
        Ok((key, document))
    }

    fn hits(
        &self,
        searcher: &Searcher,
        ranked: impl Iterator<Item = DocAddress>,
    ) -> Result<Vec<SearchHit>, SearchError> {
        ranked
            .map(|address| {
                let (key, document) = self.load(searcher, address)?;
                Ok(SearchHit {
                    key,
                    data: document.search_result_data,
                })
            })
            .collect()
    }

    fn search(&self, request: &SearchRequest) -> Result<SearchResult, SearchError> {
        let searcher = self.reader.searcher();
        // The reader also reloads by itself after a background merge.
        self.facet_columns.forget_merged(&searcher);
        let text = query::text_query(&self.index, &self.fields, request.query.as_deref()).in_index(&self.name)?;
        let filters = query::filters(&self.fields, &request.filters);
        let matching = query::combine(&self.fields, text.as_deref(), &filters, None);

        let order = match &request.sort {
            SearchSort::Relevance => HitOrder::Score,
            SearchSort::StringAsc(name) | SearchSort::StringDesc(name) => HitOrder::String {
                path: json_path(names::STRING_SORT, name),
                descending: matches!(request.sort, SearchSort::StringDesc(_)),
            },
            SearchSort::IntegerAsc(name) | SearchSort::IntegerDesc(name) => HitOrder::Integer {
                path: json_path(names::INTEGER_SORT, name),
                descending: matches!(request.sort, SearchSort::IntegerDesc(_)),
            },
        };
        let top_n = request.offset.saturating_add(request.limit);
        let facets = FacetCollector {
            string_field: names::STRING_FACET,
            with_categories_and_ranges: true,
            columns: &self.facet_columns,
        };
        // Hits and facet counts in one pass over the matching documents.
        let (found, mut counts) = searcher
            .search(&matching, &(HitsCollector { order, top_n }, facets))
            .in_index(&self.name)?;
        let page = found
            .ranked
            .into_iter()
            .skip(request.offset)
            .map(|(_, address)| address);
        let hits = self.hits(&searcher, page)?;
        // Each filtered facet is recounted without its own filter (see `query`).
        for (group, _) in &filters {
            let without = query::combine(&self.fields, text.as_deref(), &filters, Some(group));
            let unfiltered = searcher.search(&without, &facets).in_index(&self.name)?;
            replace_group(&mut counts, unfiltered, group);
        }
        Ok(SearchResult {
            total: found.total,
            hits,
            value_facets: value_facets(counts.strings),
            range_facets: range_facets(counts.ranges),
            category_counts: category_counts(counts.categories),
        })
    }

    fn suggest(&self, prefix: &str, limit: usize) -> Result<Suggestions, SearchError> {
        let Some(prefix_query) = query::prefix_query(&self.fields, prefix) else {
            return Ok(Suggestions::default());
        };
        let searcher = self.reader.searcher();
        let matching = query::combine(&self.fields, Some(prefix_query.as_ref()), &Vec::new(), None);
        let found = searcher
            .search(
                &matching,
                &HitsCollector {
                    order: HitOrder::Score,
                    top_n: limit,
                },
            )
            .in_index(&self.name)?;
        let products = self.hits(&searcher, found.ranked.into_iter().map(|(_, address)| address))?;

        // A matching document may carry other completion terms too; keep those whose words cover the
        // typed words.
        let terms = searcher
            .search(
                &matching,
                &FacetCollector {
                    string_field: names::COMPLETION,
                    with_categories_and_ranges: false,
                    columns: &self.facet_columns,
                },
            )
            .in_index(&self.name)?
            .strings;
        let typed: Vec<String> = analysis::words(prefix).collect();
        let mut completion: Vec<(String, u64)> = terms
            .into_iter()
            .filter(|(term, _)| {
                let term_words: Vec<String> = analysis::words(term).collect();
                typed
                    .iter()
                    .all(|typed| term_words.iter().any(|word| word.starts_with(typed.as_str())))
            })
            .collect();
        completion.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
        Ok(Suggestions {
            completion: completion.into_iter().take(limit).map(|(term, _)| term).collect(),
            products,
        })
    }

    fn keys(&self) -> Result<Vec<KeyVersion>, SearchError> {
        let searcher = self.reader.searcher();
        let live = TermQuery::new(
            Term::from_field_bool(self.fields.deleted, false),
            IndexRecordOption::Basic,
        );
        let mut keys: Vec<KeyVersion> = searcher
            .search(&live as &dyn Query, &KeysCollector)
            .in_index(&self.name)?
            .into_iter()
            .map(|(key, timestamp_micros)| KeyVersion { key, timestamp_micros })
            .collect();
        keys.sort();
        Ok(keys)
    }

    fn clear(&self) -> Result<(), SearchError> {
        let mut writer = self.lock_writer()?;
        writer.delete_all_documents().in_index(&self.name)?;
        writer.commit().in_index(&self.name)?;
        self.reload()
    }
}

/// Puts the counts of one facet, computed without its own filter, in place of the filtered ones.
/// Fewer segments than Tantivy's default keeps: a search pays per segment (term lookups, facet
/// dictionaries), and a storefront searches far more often than it writes. Small segments merge once four
/// of a size have gathered (Tantivy's default waits for eight), and a segment with a third of its
/// documents deleted (replaced by updates, which prices and stock cause all day) is merged away
/// (the default never merges for deletes).
fn merge_policy() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(4);
    policy.set_del_docs_ratio_before_merge(0.3);
    policy
}

fn replace_group(counts: &mut FacetCounts, unfiltered: FacetCounts, group: &FilterGroup) {
    match group {
        FilterGroup::Category => counts.categories = unfiltered.categories,
        FilterGroup::StringFacet(name) => {
            let prefix = format!("{name}{FACET_SEPARATOR}");
            counts.strings.retain(|term, _| !term.starts_with(&prefix));
            counts.strings.extend(
                unfiltered
                    .strings
                    .into_iter()
                    .filter(|(term, _)| term.starts_with(&prefix)),
            );
        }
        FilterGroup::IntegerRange(name) => {
            counts.ranges.remove(name);
            if let Some(bounds) = unfiltered.ranges.get(name) {
                counts.ranges.insert(name.clone(), *bounds);
            }
        }
    }
}

fn value_facets(strings: HashMap<String, u64>) -> Vec<ValueFacet> {
    let mut by_name: BTreeMap<String, Vec<FacetValueCount>> = BTreeMap::new();
    for (term, doc_count) in strings {
        if let Some((name, value)) = term.split_once(FACET_SEPARATOR) {
            by_name.entry(name.to_owned()).or_default().push(FacetValueCount {
                value: value.to_owned(),
                doc_count,
            });
        }
    }
    by_name
        .into_iter()
        .map(|(name, mut values)| {
            values.sort_by(|left, right| {
                right
                    .doc_count
                    .cmp(&left.doc_count)
                    .then_with(|| left.value.cmp(&right.value))
            });
            ValueFacet { name, values }
        })
        .collect()
}

fn range_facets(ranges: HashMap<String, (i64, i64)>) -> Vec<RangeFacet> {
    let mut facets: Vec<RangeFacet> = ranges
        .into_iter()
        .map(|(name, (min, max))| RangeFacet { name, min, max })
        .collect();
    facets.sort_by(|left, right| left.name.cmp(&right.name));
    facets
}

fn category_counts(categories: HashMap<i64, u64>) -> Vec<CategoryCount> {
    let mut counts: Vec<CategoryCount> = categories
        .into_iter()
        .map(|(category, doc_count)| CategoryCount {
            category: CategoryNodeId(category),
            doc_count,
        })
        .collect();
    counts.sort_by_key(|count| count.category);
    counts
}
