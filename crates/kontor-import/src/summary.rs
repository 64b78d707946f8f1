//! What a run did, per data set: returned to the caller (the CLI prints it) and logged.

/// Counts and timing of one data set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataSetSummary {
    pub data_set: String,
    pub file: String,
    pub rows_read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Non-fatal notes, `file:line: column: reason` or `file: …` for file-level ones.
    pub warnings: Vec<String>,
    /// Where rejected rows went (with `skip_invalid`).
    pub rejects_file: Option<std::path::PathBuf>,
    pub seconds: f64,
}

impl DataSetSummary {
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows_read as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// A recipe run: the data sets imported, in order, the steps skipped because Kontor does not import
/// that entity (yet), and those left out on request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportSummary {
    pub data_sets: Vec<DataSetSummary>,
    /// `data_entity` names of skipped steps.
    pub skipped: Vec<String>,
    /// `data_entity` names of the steps left out because they were not among
    /// [`crate::ImportOptions::only`].
    pub not_selected: Vec<String>,
}
