//! Pass 1 of the product files (`product_abstract.csv`, `product_concrete.csv`) on bytes in memory and
//! without a database: the dialect, the header check, then every row parsed and validated against a
//! catalog the caller gives in place of the stored one. It is the importer's own code: the reader
//! ([`CsvSource`]), [`check_header`], [`check_row`] and the data sets' `parse`, which the importer runs
//! on every row of a file. The fuzz target `fuzz/fuzz_targets/product_rows.rs` drives it.
//!
//! After pass 1 it replays pass 2's parsing as the importer does it (per-pass state reset, the rows
//! pass 1 rejected left out) and lists accepted rows that no longer parse: the importer relies on there
//! being none, since pass 2 skips such a row rather than write half of it. Writes, which extend the
//! lookups between pass 2's batches, are not simulated.

use crate::error::ImportError;
use crate::importer::{DataSet, check_header, check_row};
use crate::reader::{CsvSource, RowView};
use crate::sets::header_locales;
use crate::sets::products::{AbstractLookups, Abstracts, Concretes};
use std::collections::{HashMap, HashSet};

/// Which product file the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductFile {
    /// `product_abstract.csv` (data entity `product-abstract`).
    Abstract,
    /// `product_concrete.csv` (data entity `product-concrete`).
    Concrete,
}

impl ProductFile {
    fn file_name(self) -> &'static str {
        match self {
            Self::Abstract => "product_abstract.csv",
            Self::Concrete => "product_concrete.csv",
        }
    }
}

/// The stored data rows are checked against, by natural key, instead of the database's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductCatalog {
    /// Locales some store uses (`de_DE`); localized columns of other locales are skipped.
    pub locales: Vec<String>,
    pub tax_sets: Vec<String>,
    pub categories: Vec<String>,
    /// Attribute keys and whether each is a super attribute.
    pub attribute_keys: Vec<(String, bool)>,
    /// Abstract products already stored.
    pub abstract_skus: Vec<String>,
    /// Stored URLs and the abstract SKU owning each (`None`: another resource, a category say).
    pub urls: Vec<(String, Option<String>)>,
}

/// What pass 1 made of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckedRows {
    pub rows_read: u64,
    /// Lines (where each row starts) of the rows accepted.
    pub accepted: Vec<u64>,
    /// One per rejected row, `file:line: column: reason`, as the importer reports them.
    pub problems: Vec<String>,
    /// Notes on the header and on rows, as the importer's summary lists them.
    pub warnings: Vec<String>,
    /// Lines accepted by pass 1 that pass 2 would not parse; a bug when not empty.
    pub unparsable_in_pass_two: Vec<u64>,
}

/// Checks `csv` as the importer's pass 1 checks the file `file`, against `catalog`. File-level
/// problems (encoding, malformed CSV, header) are the error, as they stop the importer's data set.
pub fn parse_product_rows(file: ProductFile, csv: &[u8], catalog: &ProductCatalog) -> Result<CheckedRows, ImportError> {
    let display = file.file_name();
    let source = CsvSource::from_reader(csv, display)?;
    let mut notes = Vec::new();
    let locales = header_locales(&source.header, &ids(catalog.locales.iter()), &mut notes);
    let abstract_ids = ids(catalog.abstract_skus.iter());
    match file {
        ProductFile::Abstract => {
            let urls = catalog
                .urls
                .iter()
                .map(|(url, owner)| {
                    let owner_id = owner.as_ref().and_then(|sku| abstract_ids.get(sku)).copied();
                    (url.clone(), owner_id.unwrap_or(0))
                })
                .collect();
            let data_set = Abstracts::new(AbstractLookups {
                tax_sets: ids(catalog.tax_sets.iter()),
                categories: ids(catalog.categories.iter()),
                locales,
                attribute_keys: ids(catalog.attribute_keys.iter().map(|(key, _)| key)),
                urls,
                abstract_ids,
            });
            check_file(data_set, source, csv, display, notes)
        }
        ProductFile::Concrete => {
            let keys = catalog.attribute_keys.iter().cloned().collect();
            check_file(Concretes::new(abstract_ids, keys, locales), source, csv, display, notes)
        }
    }
}

/// Names numbered from 1, standing in for database ids.
fn ids<'a>(names: impl Iterator<Item = &'a String>) -> HashMap<String, i64> {
    names.zip(1..).map(|(name, id)| (name.clone(), id)).collect()
}

fn check_file<D: DataSet>(
    mut data_set: D,
    mut source: CsvSource<&[u8]>,
    csv: &[u8],
    display: &str,
    notes: Vec<String>,
) -> Result<CheckedRows, ImportError> {
    let header = source.header.clone();
    let mut checked = CheckedRows::default();
    check_header::<D>(&header, display, &mut checked.warnings)?;
    checked
        .warnings
        .extend(notes.into_iter().map(|note| format!("{display}: {note}")));

    data_set.begin_pass();
    let mut rejected = HashSet::new();
    let mut row_warnings = Vec::new();
    while let Some((record, line)) = source.next_record()? {
        checked.rows_read += 1;
        let row = RowView {
            header: &header,
            record: &record,
            line,
        };
        match check_row(&mut data_set, &row, &mut row_warnings) {
            Ok(_) => checked.accepted.push(line),
            Err(error) => {
                checked
                    .problems
                    .push(format!("{display}:{line}: {}: {}", error.column, error.reason));
                rejected.insert(line);
            }
        }
        for warning in row_warnings.drain(..) {
            checked
                .warnings
                .push(format!("{display}:{line}: {}: {}", warning.column, warning.reason));
        }
    }

    let mut source = CsvSource::from_reader(csv, display)?;
    data_set.begin_pass();
    let mut ignored = Vec::new();
    while let Some((record, line)) = source.next_record()? {
        if rejected.contains(&line) {
            continue;
        }
        let row = RowView {
            header: &header,
            record: &record,
            line,
        };
        if data_set.parse(&row, &mut ignored).is_err() {
            checked.unparsable_in_pass_two.push(line);
        }
        ignored.clear();
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> ProductCatalog {
        ProductCatalog {
            locales: vec!["de_DE".to_owned(), "en_US".to_owned()],
            tax_sets: vec!["Apparel Standard".to_owned()],
            categories: vec!["jackets".to_owned()],
            attribute_keys: vec![("color".to_owned(), true), ("material".to_owned(), false)],
            abstract_skus: vec!["100".to_owned()],
            urls: vec![("/en/outdoor".to_owned(), None)],
        }
    }

    #[test]
    fn abstract_rows_are_checked_against_the_given_catalog() {
        let csv = "abstract_sku,name.en_US,url.en_US,tax_set_name,category_key\n\
                   200,Lamp,/en/lamp-200,Apparel Standard,jackets\n\
                   201,Torch,/en/outdoor,Apparel Standard,jackets\n\
                   202,Tent,,No Such Tax,jackets\n\
                   200,Lamp again,,,\n";
        let checked = parse_product_rows(ProductFile::Abstract, csv.as_bytes(), &catalog()).expect("a valid header");
        assert_eq!(checked.rows_read, 4);
        assert_eq!(checked.accepted, vec![2]);
        assert!(
            checked.problems[0].starts_with("product_abstract.csv:3: url.en_US:"),
            "{checked:?}"
        );
        assert!(
            checked.problems[1].starts_with("product_abstract.csv:4: tax_set_name:"),
            "{checked:?}"
        );
        assert!(checked.problems[2].contains("appears twice"), "{checked:?}");
        assert!(checked.unparsable_in_pass_two.is_empty());
    }

    #[test]
    fn concrete_rows_need_a_known_abstract_and_distinct_variants() {
        let csv = "abstract_sku,concrete_sku,attribute_key_1,value_1\n\
                   100,100_blue,color,Blue\n\
                   100,100_navy,color,Blue\n\
                   999,999_red,color,Red\n\
                   100,100_x,colour,Red\n";
        let checked = parse_product_rows(ProductFile::Concrete, csv.as_bytes(), &catalog()).expect("a valid header");
        assert_eq!(checked.accepted, vec![2]);
        assert!(
            checked.problems[0].contains("same super-attribute values"),
            "{checked:?}"
        );
        assert!(checked.problems[1].contains("\"999\""), "{checked:?}");
        assert!(checked.problems[2].contains("did you mean \"color\""), "{checked:?}");
    }

    #[test]
    fn a_bad_header_stops_the_file() {
        let error = parse_product_rows(ProductFile::Concrete, b"concrete_sku,nonsense\n1,2\n", &catalog())
            .expect_err("abstract_sku is required");
        assert!(error.to_string().contains("abstract_sku"), "{error}");
    }

    /// Thousands of blank lines (spreadsheet exports end with them) used to take one stack frame
    /// each while the reader skipped them; on a small stack such a file crashed the import.
    #[test]
    fn many_blank_lines_do_not_exhaust_the_stack() {
        let mut csv = String::from("abstract_sku,name.en_US\n200,Lamp\n");
        csv.push_str(&",\n".repeat(200_000));
        csv.push_str("201,Torch\n");
        let checked = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || parse_product_rows(ProductFile::Abstract, csv.as_bytes(), &catalog()))
            .expect("spawn")
            .join()
            .expect("no stack overflow")
            .expect("a valid file");
        assert_eq!(checked.accepted, vec![2, 200_003]);
    }
}
