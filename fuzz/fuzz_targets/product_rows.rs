//! Fuzzes pass 1 of the product files (`product_abstract.csv`, `product_concrete.csv`) through
//! `kontor_import::parse_product_rows`, the importer's own reader, header check and row parsing.
//!
//! Besides "never panics" it checks what the importer relies on: a row pass 1 accepted parses again
//! in pass 2, and checking the same bytes twice gives the same result (pass 2 re-reads the file).

#![no_main]

use kontor_import::{ProductCatalog, ProductFile, parse_product_rows};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

/// A small stored catalog for the rows to refer to; names match the seeds (the spec's examples and the
/// first rows of `kontor generate-catalog`) and the dictionary.
static CATALOG: LazyLock<ProductCatalog> = LazyLock::new(|| {
    let owned = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
    ProductCatalog {
        locales: owned(&["de_DE", "en_US"]),
        tax_sets: owned(&["Apparel Standard", "Standard"]),
        categories: owned(&[
            "jackets",
            "knitwear",
            "shop",
            "clothing-shirts-essentials",
            "footwear-sneakers-essentials",
            "outdoor-bottles-eco",
        ]),
        attribute_keys: vec![
            ("color".to_owned(), true),
            ("size".to_owned(), true),
            ("material".to_owned(), false),
            ("brand".to_owned(), false),
            ("weight".to_owned(), false),
        ],
        abstract_skus: owned(&["100", "101", "100000", "100001", "100002"]),
        urls: vec![
            ("/en/fjell-rain-jacket-100".to_owned(), Some("100".to_owned())),
            ("/de/outdoor".to_owned(), None),
        ],
    }
});

fuzz_target!(|data: &[u8]| {
    for file in [ProductFile::Abstract, ProductFile::Concrete] {
        let first = parse_product_rows(file, data, &CATALOG);
        let Ok(checked) = &first else { continue };
        assert!(
            checked.unparsable_in_pass_two.is_empty(),
            "{file:?}: rows accepted in pass 1 fail in pass 2: {:?}",
            checked.unparsable_in_pass_two
        );
        let second = parse_product_rows(file, data, &CATALOG);
        assert_eq!(
            second.as_ref().ok(),
            Some(checked),
            "{file:?}: the same bytes were checked differently"
        );
    }
});
