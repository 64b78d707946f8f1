//! SearchIndex port on Tantivy (being written).
