//! Integration tests of the search port. The conformance suite runs against every backend mode (RAM and
//! a temp-dir index); disk-only behaviour (reopen) has its own tests.

mod fixtures;
mod suite;

use kontor_search::TantivySearchIndex;

/// Instantiates the conformance suite for a backend constructor `fn() -> (TantivySearchIndex, Guard)`.
macro_rules! search_index_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;

            fn make() -> (TantivySearchIndex, Option<tempfile::TempDir>) {
                $make()
            }

            search_index_suite!(@tests
                full_text_is_stemmed_per_locale,
                sku_search_is_exact_and_case_insensitive,
                value_facets_count_without_their_own_filter,
                price_range_filters_and_range_facets,
                category_filter_and_counts,
                sorts_by_name_and_price,
                pagination_and_total,
                suggestions_complete_prefixes,
                stale_ops_are_skipped,
                deletes_leave_tombstones,
                inactive_documents_are_not_found,
                keys_get_and_clear,
                invalid_ops_fail_the_whole_batch,
                one_batch_spans_several_indexes,
                thousand_document_batch,
            );
        }
    };
    (@tests $($test:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $test() {
            let (index, _guard) = make();
            crate::suite::$test(&index).await;
        }
    )+};
}

search_index_suite!(ram, || (TantivySearchIndex::in_memory(), None));
search_index_suite!(disk, || {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = TantivySearchIndex::open(dir.path()).expect("opens");
    (index, Some(dir))
});

mod disk_only;
