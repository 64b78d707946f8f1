//! Custom Tantivy collectors reading fast columns directly.
//!
//! Why not `TopDocs` and the aggregation framework: sort keys and integer facets live under JSON paths
//! chosen at run time, and a segment may lack a path entirely (no document in it has that price). The
//! collectors below open the columns that exist and treat a missing column as "no value", which the stock
//! sort and aggregation code reports as an error. They also keep string work per segment on term
//! ordinals and only turn the few surviving ordinals into strings.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{self, AtomicU64};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, DynamicColumn, NumericalType, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use super::schema::{json_path, names};

/// How hits are ordered.
#[derive(Debug, Clone)]
pub(crate) enum HitOrder {
    Score,
    Integer { path: String, descending: bool },
    String { path: String, descending: bool },
}

/// The sort value a hit was ranked by.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SortValue {
    Score(Score),
    Integer(Option<i64>),
    String(Option<String>),
}

/// Counts the matches and keeps the best `top_n` in the requested order; ties go to the lower document
/// address so pages are stable for a given index state.
///
/// A segment keeps every match's sort key (16 bytes each) and sorts once at harvest: simple, and a few
/// milliseconds for catalogs of 10^5–10^6 products. A bounded heap is the upgrade path if deep catalogs
/// ever make that show up in profiles.
pub(crate) struct HitsCollector {
    pub order: HitOrder,
    pub top_n: usize,
}

pub(crate) struct Hits {
    pub total: u64,
    pub ranked: Vec<(SortValue, DocAddress)>,
}

enum SegmentKeys {
    Score(Vec<(Score, DocId)>),
    Integer(Option<Column<i64>>, Vec<(Option<i64>, DocId)>),
    String(Option<StrColumn>, Vec<(Option<u64>, DocId)>),
}

pub(crate) struct HitsSegmentCollector {
    segment: SegmentOrdinal,
    descending: bool,
    top_n: usize,
    keys: SegmentKeys,
}

/// Missing values sort last whatever the direction, then the lower address wins.
fn compare_optional<T: Ord>(left: &Option<T>, right: &Option<T>, descending: bool) -> Ordering {
    match (left, right) {
        (Some(left), Some(right)) if descending => right.cmp(left),
        (Some(left), Some(right)) => left.cmp(right),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn compare_values(left: &SortValue, right: &SortValue, descending: bool) -> Ordering {
    match (left, right) {
        (SortValue::Score(left), SortValue::Score(right)) => right.total_cmp(left),
        (SortValue::Integer(left), SortValue::Integer(right)) => compare_optional(left, right, descending),
        (SortValue::String(left), SortValue::String(right)) => compare_optional(left, right, descending),
        // One collector only ever produces one kind of value.
        _ => Ordering::Equal,
    }
}

impl Collector for HitsCollector {
    type Fruit = Hits;
    type Child = HitsSegmentCollector;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        let (keys, descending) = match &self.order {
            HitOrder::Score => (SegmentKeys::Score(Vec::new()), true),
            HitOrder::Integer { path, descending } => (
                SegmentKeys::Integer(open_i64_column(reader, path)?, Vec::new()),
                *descending,
            ),
            HitOrder::String { path, descending } => (
                SegmentKeys::String(reader.fast_fields().str(path)?, Vec::new()),
                *descending,
            ),
        };
        Ok(HitsSegmentCollector {
            segment,
            descending,
            top_n: self.top_n,
            keys,
        })
    }

    fn requires_scoring(&self) -> bool {
        matches!(self.order, HitOrder::Score)
    }

    fn merge_fruits(&self, fruits: Vec<Hits>) -> tantivy::Result<Hits> {
        let descending = match &self.order {
            HitOrder::Score => true,
            HitOrder::Integer { descending, .. } | HitOrder::String { descending, .. } => *descending,
        };
        let total = fruits.iter().map(|fruit| fruit.total).sum();
        let mut ranked: Vec<(SortValue, DocAddress)> = fruits.into_iter().flat_map(|fruit| fruit.ranked).collect();
        ranked.sort_by(|left, right| compare_values(&left.0, &right.0, descending).then(left.1.cmp(&right.1)));
        ranked.truncate(self.top_n);
        Ok(Hits { total, ranked })
    }
}

impl SegmentCollector for HitsSegmentCollector {
    type Fruit = Hits;

    fn collect(&mut self, doc: DocId, score: Score) {
        match &mut self.keys {
            SegmentKeys::Score(keys) => keys.push((score, doc)),
            SegmentKeys::Integer(column, keys) => keys.push((column.as_ref().and_then(|c| c.first(doc)), doc)),
            SegmentKeys::String(column, keys) => {
                keys.push((column.as_ref().and_then(|c| c.term_ords(doc).next()), doc))
            }
        }
    }

    fn harvest(self) -> Hits {
        let address = |doc| DocAddress::new(self.segment, doc);
        let descending = self.descending;
        let top_n = self.top_n;
        match self.keys {
            SegmentKeys::Score(mut keys) => {
                let total = keys.len() as u64;
                keys.sort_by(|left, right| right.0.total_cmp(&left.0).then(left.1.cmp(&right.1)));
                keys.truncate(top_n);
                let ranked = keys
                    .into_iter()
                    .map(|(score, doc)| (SortValue::Score(score), address(doc)));
                Hits {
                    total,
                    ranked: ranked.collect(),
                }
            }
            SegmentKeys::Integer(_, mut keys) => {
                let total = keys.len() as u64;
                keys.sort_by(|left, right| compare_optional(&left.0, &right.0, descending).then(left.1.cmp(&right.1)));
                keys.truncate(top_n);
                let ranked = keys
                    .into_iter()
                    .map(|(value, doc)| (SortValue::Integer(value), address(doc)));
                Hits {
                    total,
                    ranked: ranked.collect(),
                }
            }
            SegmentKeys::String(column, mut keys) => {
                let total = keys.len() as u64;
                // Term ordinals follow the byte order of the terms, so ranking on them is ranking on the
                // strings; only the survivors are looked up.
                keys.sort_by(|left, right| compare_optional(&left.0, &right.0, descending).then(left.1.cmp(&right.1)));
                keys.truncate(top_n);
                let ranked = keys
                    .into_iter()
                    .map(|(ord, doc)| {
                        let text = ord.and_then(|ord| ord_to_string(column.as_ref(), ord));
                        (SortValue::String(text), address(doc))
                    })
                    .collect();
                Hits { total, ranked }
            }
        }
    }
}

/// Counts of the facets of the matching documents.
#[derive(Debug, Default)]
pub(crate) struct FacetCounts {
    /// Count per term of the counted string field (`name=value` for value facets).
    pub strings: HashMap<String, u64>,
    /// Count per category node id.
    pub categories: HashMap<i64, u64>,
    /// (min, max) per integer facet name.
    pub ranges: HashMap<String, (i64, i64)>,
}

/// Collects [`FacetCounts`]. `string_field` is the multi-valued raw string field whose terms are counted;
/// categories and integer ranges are optional because suggestions need neither.
#[derive(Clone, Copy)]
pub(crate) struct FacetCollector<'c> {
    pub string_field: &'static str,
    pub with_categories_and_ranges: bool,
    pub columns: &'c FacetColumnCache,
}

pub(crate) struct FacetSegmentCollector {
    strings: Option<(StrColumn, Vec<u64>)>,
    categories: Option<Column<i64>>,
    category_counts: HashMap<i64, u64>,
    ranges: Vec<RangeColumn>,
}

/// The columns a facet count reads in one segment.
#[derive(Clone)]
struct FacetColumns {
    strings: Option<StrColumn>,
    categories: Option<Column<i64>>,
    /// Integer facets by name.
    ranges: Vec<(String, Column<i64>)>,
}

/// The opened facet columns of each segment. Segments never change, but finding the integer facets of
/// one means walking its column directory; done on every search, that was a tenth of a search's CPU.
/// Entries of merged-away segments are dropped by [`FacetColumnCache::retain`].
#[derive(Default)]
pub(crate) struct FacetColumnCache {
    by_segment: Mutex<HashMap<(SegmentId, &'static str, bool), FacetColumns>>,
    /// The searcher generation whose segments were last kept.
    kept_generation: AtomicU64,
}

impl FacetColumnCache {
    /// Drops the entries of segments `searcher` no longer has (merged away), once per searcher generation.
    pub fn forget_merged(&self, searcher: &Searcher) {
        let generation = searcher.generation().generation_id();
        if self.kept_generation.swap(generation, atomic::Ordering::AcqRel) == generation {
            return;
        }
        let live: HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        if let Ok(mut by_segment) = self.by_segment.lock() {
            by_segment.retain(|(segment, _, _), _| live.contains(segment));
        }
    }

    fn columns(
        &self,
        reader: &SegmentReader,
        string_field: &'static str,
        with_categories_and_ranges: bool,
    ) -> tantivy::Result<FacetColumns> {
        let key = (reader.segment_id(), string_field, with_categories_and_ranges);
        if let Some(columns) = self.by_segment.lock().ok().and_then(|cached| cached.get(&key).cloned()) {
            return Ok(columns);
        }
        let columns = open_facet_columns(reader, string_field, with_categories_and_ranges)?;
        if let Ok(mut cached) = self.by_segment.lock() {
            cached.insert(key, columns.clone());
        }
        Ok(columns)
    }
}

fn open_facet_columns(
    reader: &SegmentReader,
    string_field: &str,
    with_categories_and_ranges: bool,
) -> tantivy::Result<FacetColumns> {
    let fast_fields = reader.fast_fields();
    let strings = fast_fields.str(string_field)?;
    let mut ranges = Vec::new();
    let mut categories = None;
    if with_categories_and_ranges {
        categories = fast_fields.column_opt::<i64>(names::CATEGORY)?;
        // The names present in this segment come from the dictionary of the name field, so no catalog
        // knowledge is needed to find the integer facets.
        if let Some(name_column) = fast_fields.str(names::INTEGER_FACET_NAME)? {
            for ord in 0..name_column.num_terms() as u64 {
                let Some(name) = ord_to_string(Some(&name_column), ord) else {
                    continue;
                };
                if let Some(column) = open_i64_column(reader, &json_path(names::INTEGER_FACET, &name))? {
                    ranges.push((name, column));
                }
            }
        }
    }
    Ok(FacetColumns {
        strings,
        categories,
        ranges,
    })
}

/// An integer facet's column in one segment and the bounds seen so far.
struct RangeColumn {
    name: String,
    column: Column<i64>,
    bounds: Option<(i64, i64)>,
}

impl Collector for FacetCollector<'_> {
    type Fruit = FacetCounts;
    type Child = FacetSegmentCollector;

    fn for_segment(&self, _segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        let columns = self
            .columns
            .columns(reader, self.string_field, self.with_categories_and_ranges)?;
        Ok(FacetSegmentCollector {
            strings: columns.strings.map(|column| {
                let counts = vec![0; column.num_terms()];
                (column, counts)
            }),
            categories: columns.categories,
            category_counts: HashMap::new(),
            ranges: columns
                .ranges
                .into_iter()
                .map(|(name, column)| RangeColumn {
                    name,
                    column,
                    bounds: None,
                })
                .collect(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetCounts>) -> tantivy::Result<FacetCounts> {
        let mut merged = FacetCounts::default();
        for fruit in fruits {
            for (term, count) in fruit.strings {
                *merged.strings.entry(term).or_default() += count;
            }
            for (category, count) in fruit.categories {
                *merged.categories.entry(category).or_default() += count;
            }
            for (name, (min, max)) in fruit.ranges {
                merged
                    .ranges
                    .entry(name)
                    .and_modify(|bounds| *bounds = (bounds.0.min(min), bounds.1.max(max)))
                    .or_insert((min, max));
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = FacetCounts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some((column, counts)) = &mut self.strings {
            for ord in column.term_ords(doc) {
                if let Some(count) = counts.get_mut(ord as usize) {
                    *count += 1;
                }
            }
        }
        if let Some(column) = &self.categories {
            for category in column.values_for_doc(doc) {
                *self.category_counts.entry(category).or_default() += 1;
            }
        }
        for range in &mut self.ranges {
            for value in range.column.values_for_doc(doc) {
                range.bounds = Some(match range.bounds {
                    Some((min, max)) => (min.min(value), max.max(value)),
                    None => (value, value),
                });
            }
        }
    }

    fn harvest(self) -> FacetCounts {
        let mut strings = HashMap::new();
        if let Some((column, counts)) = &self.strings {
            let (ords, found): (Vec<u64>, Vec<u64>) = counts
                .iter()
                .enumerate()
                .filter(|(_, count)| **count > 0)
                .map(|(ord, count)| (ord as u64, *count))
                .unzip();
            // One pass over the dictionary in ordinal order decodes each block once, where a lookup per
            // ordinal decodes a block per term.
            let mut found = found.into_iter();
            let walked = column.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
                if let (Some(count), Ok(term)) = (found.next(), std::str::from_utf8(bytes)) {
                    strings.insert(term.to_owned(), count);
                }
            });
            // Ordinals read from the same column are always in the dictionary; skipping what cannot be
            // read is safer than failing a storefront search over it.
            if let Err(error) = walked {
                tracing::warn!(%error, "facet terms could not be read from a segment's dictionary");
            }
        }
        let ranges = self
            .ranges
            .into_iter()
            .filter_map(|range| range.bounds.map(|bounds| (range.name, bounds)))
            .collect();
        FacetCounts {
            strings,
            categories: self.category_counts,
            ranges,
        }
    }
}

/// Lists key and version of every collected document (`sync verify`).
pub(crate) struct KeysCollector;

pub(crate) struct KeysSegmentCollector {
    keys: Option<StrColumn>,
    versions: Option<Column<u64>>,
    found: Vec<(String, u64)>,
}

impl Collector for KeysCollector {
    type Fruit = Vec<(String, u64)>;
    type Child = KeysSegmentCollector;

    fn for_segment(&self, _segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        let fast_fields = reader.fast_fields();
        Ok(KeysSegmentCollector {
            keys: fast_fields.str(names::KEY)?,
            versions: fast_fields.column_opt::<u64>(names::VERSION)?,
            found: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(String, u64)>>) -> tantivy::Result<Vec<(String, u64)>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for KeysSegmentCollector {
    type Fruit = Vec<(String, u64)>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let key = self
            .keys
            .as_ref()
            .and_then(|column| column.term_ords(doc).next())
            .and_then(|ord| ord_to_string(self.keys.as_ref(), ord));
        let version = self.versions.as_ref().and_then(|column| column.first(doc));
        if let (Some(key), Some(version)) = (key, version) {
            self.found.push((key, version));
        }
    }

    fn harvest(self) -> Vec<(String, u64)> {
        self.found
    }
}

/// Opens the numeric column at a (JSON) path as i64, whatever numeric type the segment chose for it.
pub(crate) fn open_i64_column(reader: &SegmentReader, path: &str) -> tantivy::Result<Option<Column<i64>>> {
    for handle in reader.fast_fields().dynamic_column_handles(path)? {
        let column = handle.open()?;
        if !column.is_numerical() {
            continue;
        }
        if let Some(DynamicColumn::I64(column)) = column.coerce_numerical(NumericalType::I64) {
            return Ok(Some(column));
        }
    }
    Ok(None)
}

fn ord_to_string(column: Option<&StrColumn>, ord: u64) -> Option<String> {
    let mut text = String::new();
    match column?.ord_to_str(ord, &mut text) {
        Ok(true) => Some(text),
        // A missing ordinal cannot happen for ordinals read from the same column; skipping is safer than
        // failing a storefront search over it.
        Ok(false) | Err(_) => None,
    }
}
