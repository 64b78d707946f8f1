//! The CSV dialect of Spryker files, read leniently: UTF-8 with an optional BOM (stripped), comma
//! separator, `"` quoting with `""` escapes, fields spanning lines, text after a closing quote kept,
//! LF or CRLF, no final newline required. Other encodings fail with the file and line.
//!
//! Records are streamed one at a time; nothing holds more than one record. The importer reads files;
//! [`crate::parse_product_rows`] (and the fuzz target on it) reads bytes in memory through the same code.

use crate::error::ImportError;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Column names of a file and where they are.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Header {
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }
}

/// One data row with its header and the line it starts on.
pub(crate) struct RowView<'a> {
    pub header: &'a Header,
    pub record: &'a csv::StringRecord,
    pub line: u64,
}

impl RowView<'_> {
    /// The field of a column; `None` when the column is absent from the header (which means "leave
    /// the stored value alone"), `Some("")` when present but empty.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.header
            .position(column)
            .map(|at| self.record.get(at).unwrap_or("").trim())
    }

    /// A present, non-empty field.
    pub fn value(&self, column: &str) -> Option<&str> {
        self.get(column).filter(|value| !value.is_empty())
    }
}

/// An open CSV file positioned after its header.
pub(crate) struct CsvSource<R = BufReader<File>> {
    reader: csv::Reader<R>,
    display: String,
    pub header: Header,
}

impl CsvSource {
    /// Opens `path` and reads its header; `display` names the file in messages.
    pub fn open(path: &Path, display: &str) -> Result<Self, ImportError> {
        let file = File::open(path).map_err(|source| ImportError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        let mut buffered = BufReader::new(file);
        // Read here so that a read error names the path; `from_reader` finds the bytes buffered.
        buffered.fill_buf().map_err(|source| ImportError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_reader(buffered, display)
    }
}

impl<R: BufRead> CsvSource<R> {
    /// Reads the header from `buffered` (a file, or bytes in memory); `display` names the source.
    pub fn from_reader(mut buffered: R, display: &str) -> Result<Self, ImportError> {
        let start = buffered.fill_buf().map_err(|source| ImportError::Io {
            file: display.into(),
            source,
        })?;
        if start.starts_with(b"\xFF\xFE") || start.starts_with(b"\xFE\xFF") {
            return Err(ImportError::Encoding {
                file: display.to_owned(),
                line: 1,
                detail: "UTF-16 byte order mark".to_owned(),
            });
        }
        if start.starts_with(UTF8_BOM) {
            buffered.consume(UTF8_BOM.len());
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(buffered);
        let mut first = csv::ByteRecord::new();
        let has_header = reader
            .read_byte_record(&mut first)
            .map_err(|error| csv_error(display, &error))?;
        if !has_header {
            return Err(ImportError::Header {
                file: display.to_owned(),
                problems: vec!["the file is empty (no header line)".to_owned()],
            });
        }
        let names: Vec<String> = to_strings(display, first, 1)?
            .iter()
            .map(|name| name.trim().to_owned())
            .collect();
        let mut index = HashMap::new();
        let mut problems = Vec::new();
        for (at, name) in names.iter().enumerate() {
            if index.insert(name.clone(), at).is_some() {
                problems.push(format!("column \"{name}\" appears twice"));
            }
        }
        if !problems.is_empty() {
            return Err(ImportError::Header {
                file: display.to_owned(),
                problems,
            });
        }
        Ok(Self {
            reader,
            display: display.to_owned(),
            header: Header { names, index },
        })
    }

    /// The next record and the line it starts on, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<(csv::StringRecord, u64)>, ImportError> {
        let mut record = csv::ByteRecord::new();
        loop {
            let more = self
                .reader
                .read_byte_record(&mut record)
                .map_err(|error| csv_error(&self.display, &error))?;
            if !more {
                return Ok(None);
            }
            // A line holding nothing but separators or spaces is not a row (trailing blank lines).
            // A loop, not a recursive call: spreadsheets export thousands of such lines, and a stack
            // frame per skipped line could overflow the importer thread's stack (a crash, not an error).
            if !record.iter().all(|field| field.iter().all(u8::is_ascii_whitespace)) {
                break;
            }
        }
        let line = record.position().map_or(0, csv::Position::line);
        let strings = to_strings(&self.display, record, line)?;
        Ok(Some((strings, line)))
    }
}

fn csv_error(display: &str, error: &csv::Error) -> ImportError {
    let line = error.position().map_or(0, csv::Position::line);
    ImportError::Csv {
        file: display.to_owned(),
        line,
        reason: error.to_string(),
    }
}

fn to_strings(display: &str, record: csv::ByteRecord, line: u64) -> Result<csv::StringRecord, ImportError> {
    csv::StringRecord::from_byte_record(record).map_err(|error| ImportError::Encoding {
        file: display.to_owned(),
        line,
        detail: format!("invalid UTF-8 in field {}", error.utf8_error().field() + 1),
    })
}
