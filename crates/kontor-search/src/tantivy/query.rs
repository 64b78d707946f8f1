//! Turning a [`SearchRequest`](crate::SearchRequest) into Tantivy queries.
//!
//! Filters are kept apart from the full-text part and tagged with the facet they belong to, because facet
//! counts are computed once per filtered facet *without* that facet's own filter (multi-select facets keep
//! showing their other values; a price slider keeps its full extent).

use std::ops::Bound;

use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, Term};

use super::analysis::{MIN_GRAM, analyze, ngram_of, words};
use super::schema::{Fields, facet_term, json_key};
use crate::SearchFilters;

/// `full-text-boosted` outweighs `full-text` (names and SKUs over descriptions).
const BOOSTED_FIELD_WEIGHT: f32 = 3.0;
/// An exact SKU match beats any text match.
const SKU_WEIGHT: f32 = 10.0;

/// The facet a filter belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FilterGroup {
    Category,
    StringFacet(String),
    IntegerRange(String),
}

/// Filters of one request, each tagged with its group.
pub(crate) type Filters = Vec<(FilterGroup, Box<dyn Query>)>;

/// The full-text part: every analysed word must match `full-text` or `full-text-boosted`, or the whole
/// input must equal a SKU (abstract or add-to-cart, case-insensitive). `None` for a blank query.
pub(crate) fn text_query(index: &Index, fields: &Fields, raw: Option<&str>) -> tantivy::Result<Option<Box<dyn Query>>> {
    let Some(raw) = raw.map(str::trim).filter(|raw| !raw.is_empty()) else {
        return Ok(None);
    };
    let mut analyzer: TextAnalyzer = index.tokenizer_for_field(fields.full_text)?;
    let terms = analyze(&mut analyzer, raw);
    let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !terms.is_empty() {
        let per_term = terms
            .iter()
            .map(|term| {
                let plain = TermQuery::new(
                    Term::from_field_text(fields.full_text, term),
                    IndexRecordOption::WithFreqs,
                );
                let boosted = TermQuery::new(
                    Term::from_field_text(fields.full_text_boosted, term),
                    IndexRecordOption::WithFreqs,
                );
                let either: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
                    (Occur::Should, Box::new(plain) as Box<dyn Query>),
                    (
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(boosted), BOOSTED_FIELD_WEIGHT)),
                    ),
                ]));
                (Occur::Must, either)
            })
            .collect();
        alternatives.push((Occur::Should, Box::new(BooleanQuery::new(per_term))));
    }
    let sku = TermQuery::new(
        Term::from_field_text(fields.sku, &raw.to_lowercase()),
        IndexRecordOption::Basic,
    );
    alternatives.push((Occur::Should, Box::new(BoostQuery::new(Box::new(sku), SKU_WEIGHT))));
    Ok(Some(Box::new(BooleanQuery::new(alternatives))))
}

/// The prefix part of a suggestion: every typed word must be an edge n-gram of a suggestion or completion
/// word. `None` when no word is long enough (single letters match too much to be useful).
pub(crate) fn prefix_query(fields: &Fields, prefix: &str) -> Option<Box<dyn Query>> {
    let clauses: Vec<(Occur, Box<dyn Query>)> = words(prefix)
        .filter(|word| word.chars().count() >= MIN_GRAM)
        .map(|word| {
            let term = Term::from_field_text(fields.suggest, &ngram_of(&word));
            (
                Occur::Must,
                Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>,
            )
        })
        .collect();
    if clauses.is_empty() {
        return None;
    }
    Some(Box::new(BooleanQuery::new(clauses)))
}

/// The request's filters as queries.
pub(crate) fn filters(fields: &Fields, request: &SearchFilters) -> Filters {
    let mut filters: Filters = Vec::new();
    if let Some(category) = request.category {
        let term = Term::from_field_i64(fields.category, category.0);
        filters.push((
            FilterGroup::Category,
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
        ));
    }
    for (name, values) in request.string_facets.iter().filter(|(_, values)| !values.is_empty()) {
        let any_value = values
            .iter()
            .map(|value| {
                let term = Term::from_field_text(fields.string_facet, &facet_term(name, value));
                (
                    Occur::Should,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>,
                )
            })
            .collect();
        filters.push((
            FilterGroup::StringFacet(name.clone()),
            Box::new(BooleanQuery::new(any_value)),
        ));
    }
    for (name, range) in &request.integer_ranges {
        if range.min.is_none() && range.max.is_none() {
            continue;
        }
        let bound = |value: Option<i64>| match value {
            Some(value) => {
                let mut term = Term::from_field_json_path(fields.integer_facet, &json_key(name), false);
                term.append_type_and_fast_value(value);
                Bound::Included(term)
            }
            None => Bound::Unbounded,
        };
        filters.push((
            FilterGroup::IntegerRange(name.clone()),
            Box::new(RangeQuery::new(bound(range.min), bound(range.max))),
        ));
    }
    filters
}

/// Active documents matching the text part and every filter except those of `without`. Filters are
/// constant-score so they never change the relevance order.
pub(crate) fn combine(
    fields: &Fields,
    text: Option<&dyn Query>,
    filters: &Filters,
    without: Option<&FilterGroup>,
) -> BooleanQuery {
    let active = TermQuery::new(Term::from_field_bool(fields.active, true), IndexRecordOption::Basic);
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, constant(Box::new(active)))];
    if let Some(text) = text {
        clauses.push((Occur::Must, text.box_clone()));
    }
    for (group, filter) in filters {
        if Some(group) != without {
            clauses.push((Occur::Must, constant(filter.box_clone())));
        }
    }
    BooleanQuery::new(clauses)
}

fn constant(query: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(query, 0.0))
}
