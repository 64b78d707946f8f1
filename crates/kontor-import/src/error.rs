//! The importer's errors. Row problems are not errors of their own: they are collected per data set
//! and reported together as [`ImportError::InvalidRows`], each line formatted `file:line: column: reason`.

use std::path::PathBuf;

/// Why a recipe or data set stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: the file is not UTF-8 ({detail}); convert it to UTF-8")]
    Encoding { file: String, line: u64, detail: String },
    #[error("{file}:{line}: malformed CSV: {reason}")]
    Csv { file: String, line: u64, reason: String },
    #[error("{file}: {}", problems.join("; "))]
    Header { file: String, problems: Vec<String> },
    #[error("{file}: invalid recipe: {reason}")]
    Recipe { file: String, reason: String },
    #[error("{file}: unknown data entity \"{entity}\"")]
    UnknownEntity { file: String, entity: String },
    #[error("{file}: data set \"{data_set}\" was asked for (--only) but is not a step of the recipe")]
    NotInRecipe { file: String, data_set: String },
    #[error("{file}: data set \"{data_set}\" needs \"{missing}\" earlier in the recipe")]
    MissingPrerequisite {
        file: String,
        data_set: String,
        missing: String,
    },
    #[error("{file}: {total} invalid row(s), nothing of \"{data_set}\" was imported:\n{}", shown.join("\n"))]
    InvalidRows {
        data_set: String,
        file: String,
        total: u64,
        /// The first problems, `file:line: column: reason`, at most [`crate::ImportOptions::max_reported`].
        shown: Vec<String>,
    },
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
}
