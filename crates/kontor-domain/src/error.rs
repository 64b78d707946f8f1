//! The domain's error vocabulary. Every failure a client can cause is one of these, and each carries
//! enough to tell the client which field was wrong; storage failures carry only an internal message
//! that adapters log and never send.

use std::fmt;

/// One problem with one input field. `pointer` is a JSON pointer relative to the resource attributes
/// (`/localizedAttributes/de_DE/name`); the HTTP layer prefixes it with `/data/attributes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub pointer: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pointer, self.detail)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The input is well-formed but breaks a rule or names something that does not exist.
    #[error("invalid input: {}", join(.0))]
    Validation(Vec<FieldError>),
    /// The addressed record does not exist.
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    /// A unique value is taken (`/sku`), or a record is still referenced and cannot go.
    #[error("conflict on {pointer}: {detail}")]
    Conflict { pointer: String, detail: String },
    /// The credentials are missing, wrong or revoked.
    #[error("unauthorized")]
    Unauthorized,
    /// The storage failed; the message is for logs only.
    #[error("storage error: {0}")]
    Storage(String),
}

impl DomainError {
    pub fn field(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(pointer, detail)])
    }

    pub fn not_found(resource: &'static str, id: impl fmt::Display) -> Self {
        Self::NotFound {
            resource,
            id: id.to_string(),
        }
    }

    pub fn conflict(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Conflict {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

fn join(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
