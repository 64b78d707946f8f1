//! The fixed Tantivy schema shared by every store × locale index, and the mapping of a
//! `product_page` document onto it.
//!
//! No field depends on the catalog: attributes and prices live in generic fields (spec §7, §12):
//! - value facets: one multi-valued raw string field of `name=value` terms, FAST so counting reads the
//!   columnar term ordinals; filtering is a term query on the same string;
//! - integer facets: a FAST JSON object `{name: [values]}` (range filters run on its fast columns, min/max
//!   read them), plus a FAST string field listing the facet names a document has, so a search can find
//!   which names exist without knowing the catalog;
//! - sorts: FAST JSON objects `{name: value}` for `integer-sort` and `string-sort`, read per document by
//!   the sort collector;
//! - categories: a multi-valued i64 field of `all-parents` (indexed for filters, FAST for counts).
//!
//! Each key has exactly one Tantivy document: the live document or, after a delete, a tombstone carrying
//! only key, version and `deleted = true`. The version (`_timestamp` in µs) is a FAST field so the stale-op
//! guard reads it without loading stored documents.

use std::collections::BTreeMap;

use kontor_readmodel::search::ProductPageDocument;
use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, JsonObjectOptions, OwnedValue, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions,
};

use super::analysis::{SKU_ANALYZER, TEXT_ANALYZER, edge_ngrams};
use crate::SearchError;

/// The fields of the schema, resolved once per index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub key: Field,
    pub version: Field,
    pub deleted: Field,
    pub active: Field,
    pub full_text: Field,
    pub full_text_boosted: Field,
    pub sku: Field,
    pub suggest: Field,
    pub completion: Field,
    pub string_facet: Field,
    pub integer_facet_name: Field,
    pub integer_facet: Field,
    pub integer_sort: Field,
    pub string_sort: Field,
    pub category: Field,
    pub direct_category: Field,
    pub document: Field,
}

/// Field names, also the column names collectors open.
pub(crate) mod names {
    pub const KEY: &str = "key";
    pub const VERSION: &str = "version";
    pub const STRING_FACET: &str = "string_facet";
    pub const INTEGER_FACET_NAME: &str = "integer_facet_name";
    pub const INTEGER_FACET: &str = "integer_facet";
    pub const INTEGER_SORT: &str = "integer_sort";
    pub const STRING_SORT: &str = "string_sort";
    pub const CATEGORY: &str = "category";
    pub const COMPLETION: &str = "completion";
}

/// Separator of a value facet term: `brand=Fjell`. Facet names never contain it (they are attribute
/// keys); values may, since only the first `=` splits.
pub(crate) const FACET_SEPARATOR: char = '=';

/// Builds the schema. Changing it requires a rebuild (`kontor sync`), which Tantivy enforces by refusing
/// to open an index whose stored schema differs.
pub(crate) fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |analyzer: &str, record: IndexRecordOption| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(analyzer)
                .set_index_option(record),
        )
    };
    let json_fast = || JsonObjectOptions::default().set_fast("raw");
    let fields = Fields {
        key: builder.add_text_field(names::KEY, STRING | STORED | FAST),
        version: builder.add_u64_field(names::VERSION, INDEXED | FAST),
        deleted: builder.add_bool_field("deleted", INDEXED | FAST),
        active: builder.add_bool_field("active", INDEXED),
        full_text: builder.add_text_field(
            "full_text",
            text(TEXT_ANALYZER, IndexRecordOption::WithFreqsAndPositions),
        ),
        full_text_boosted: builder.add_text_field(
            "full_text_boosted",
            text(TEXT_ANALYZER, IndexRecordOption::WithFreqsAndPositions),
        ),
        sku: builder.add_text_field("sku", text(SKU_ANALYZER, IndexRecordOption::Basic)),
        suggest: builder.add_text_field("suggest", STRING),
        completion: builder.add_text_field(names::COMPLETION, STRING | FAST),
        string_facet: builder.add_text_field(names::STRING_FACET, STRING | FAST),
        integer_facet_name: builder.add_text_field(names::INTEGER_FACET_NAME, STRING | FAST),
        integer_facet: builder.add_json_field(names::INTEGER_FACET, json_fast()),
        integer_sort: builder.add_json_field(names::INTEGER_SORT, json_fast()),
        string_sort: builder.add_json_field(names::STRING_SORT, json_fast()),
        category: builder.add_i64_field(names::CATEGORY, INDEXED | FAST),
        direct_category: builder.add_i64_field("direct_category", INDEXED),
        document: builder.add_text_field("document", STORED),
    };
    (builder.build(), fields)
}

/// The key of a facet or sort name inside a JSON field. Tantivy reads `.` in a JSON path as nesting, so
/// dots (and the escape character) are replaced; index and query time use the same mapping.
pub(crate) fn json_key(name: &str) -> String {
    name.replace(['.', '\\'], "_")
}

/// The column path of a facet or sort name, e.g. `integer_sort.price-DEFAULT-EUR-GROSS_MODE`.
pub(crate) fn json_path(field: &str, name: &str) -> String {
    format!("{field}.{}", json_key(name))
}

/// The term of one value facet value.
pub(crate) fn facet_term(name: &str, value: &str) -> String {
    format!("{name}{FACET_SEPARATOR}{value}")
}

/// Maps a live document onto the schema.
pub(crate) fn live_document(
    fields: &Fields,
    key: &str,
    document: &ProductPageDocument,
    version: u64,
) -> Result<TantivyDocument, SearchError> {
    let mut doc = TantivyDocument::new();
    doc.add_text(fields.key, key);
    doc.add_u64(fields.version, version);
    doc.add_bool(fields.deleted, false);
    doc.add_bool(fields.active, document.is_active);
    for text in &document.full_text {
        doc.add_text(fields.full_text, text);
    }
    for text in &document.full_text_boosted {
        doc.add_text(fields.full_text_boosted, text);
    }
    let result = &document.search_result_data;
    doc.add_text(fields.sku, &result.abstract_sku);
    if let Some(concrete_sku) = &result.add_to_cart_sku {
        doc.add_text(fields.sku, concrete_sku);
    }

    let mut grams = Vec::new();
    for text in document.suggestion_terms.iter().chain(&document.completion_terms) {
        edge_ngrams(text, &mut grams);
    }
    grams.sort_unstable();
    grams.dedup();
    for gram in &grams {
        doc.add_text(fields.suggest, gram);
    }
    for term in &document.completion_terms {
        doc.add_text(fields.completion, term);
    }

    for facet in &document.string_facets {
        for value in &facet.values {
            doc.add_text(fields.string_facet, facet_term(&facet.name, value));
        }
    }
    let mut integer_facets: BTreeMap<String, OwnedValue> = BTreeMap::new();
    for facet in document.integer_facets.iter().filter(|facet| !facet.values.is_empty()) {
        doc.add_text(fields.integer_facet_name, &facet.name);
        let values = facet.values.iter().map(|value| OwnedValue::I64(*value)).collect();
        integer_facets.insert(json_key(&facet.name), OwnedValue::Array(values));
    }
    doc.add_object(fields.integer_facet, integer_facets);
    let integer_sort = document
        .integer_sort
        .iter()
        .map(|(name, value)| (json_key(name), OwnedValue::I64(*value)))
        .collect();
    doc.add_object(fields.integer_sort, integer_sort);
    let string_sort = document
        .string_sort
        .iter()
        .map(|(name, value)| (json_key(name), OwnedValue::Str(value.clone())))
        .collect();
    doc.add_object(fields.string_sort, string_sort);

    for category in &document.category.all_parents {
        doc.add_i64(fields.category, category.0);
    }
    for category in &document.category.direct_parents {
        doc.add_i64(fields.direct_category, category.0);
    }
    let json = serde_json::to_string(document).map_err(|source| SearchError::Serialize {
        key: key.to_owned(),
        source,
    })?;
    doc.add_text(fields.document, json);
    Ok(doc)
}

/// The tombstone left by a delete: just enough for the stale-op guard.
pub(crate) fn tombstone(fields: &Fields, key: &str, version: u64) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_text(fields.key, key);
    doc.add_u64(fields.version, version);
    doc.add_bool(fields.deleted, true);
    doc
}
