//! Load-time findings: every problem carries the file and line of the offending element.
//!
//! The loader collects all findings instead of stopping at the first, so one `kontor oms validate` run shows
//! everything to fix. Errors make the load fail ([`LoadError`]); warnings are returned next to the process.

use std::fmt;

use thiserror::Error;

use crate::model::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding; displays as `file:line: error: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub location: Location,
    pub message: String,
}

impl Diagnostic {
    pub fn error(location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            location,
            message: message.into(),
        }
    }

    pub fn warning(location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            location,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.severity, self.message)
    }
}

/// A process (set) that failed validation. Holds every error found, plus the warnings of the same run so a
/// validate command can print both; displays one diagnostic per line, errors first.
#[derive(Debug, Clone, Error)]
#[error("{}", render(.diagnostics))]
pub struct LoadError {
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|diagnostic| diagnostic.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|diagnostic| !diagnostic.is_error())
    }
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let mut lines: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    lines.extend(diagnostics.iter().filter(|d| !d.is_error()).map(ToString::to_string));
    lines.join("\n")
}

/// Orders findings by file and line (stable, so findings on one line keep their discovery order) and splits
/// them into the load result: `Err` as soon as one is an error.
pub(crate) fn finish<T>(value: T, mut diagnostics: Vec<Diagnostic>) -> Result<(T, Vec<Diagnostic>), LoadError> {
    diagnostics.sort_by(|a, b| a.location.cmp(&b.location));
    diagnostics.dedup();
    if diagnostics.iter().any(Diagnostic::is_error) {
        Err(LoadError { diagnostics })
    } else {
        Ok((value, diagnostics))
    }
}
