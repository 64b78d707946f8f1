//! What a job's `command` does: the registry that maps command strings (`oms check-timeouts`) to async
//! handlers. The binary registers Kontor's built-in commands; an embedding crate registers its own
//! before the jobs file is loaded, so an unknown command fails validation at start-up.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::RunId;

/// What a handler learns about the run it performs.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub job: String,
    pub command: String,
    pub run_id: RunId,
    /// The fire time this run is for; `None` for a run started by hand (`run-now`).
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// A failed run: the message is stored as the run's error (truncated), and `output`, if any, as what the
/// job printed before it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    pub message: String,
    pub output: Option<String>,
}

impl JobError {
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            output: None,
        }
    }

    /// Keeps what the job produced before it failed (such as a drift report).
    pub fn with_output(mut self, output: impl Into<String>) -> Self {
        self.output = Some(output.into());
        self
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Any error converts, keeping its chain of causes in the message.
impl<E: std::error::Error> From<E> for JobError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self { message, output: None }
    }
}

/// The work behind a command. `Ok` carries the run's output (a summary such as "3 timeout event(s)
/// fired"), `Err` the reason it failed. Handlers should be idempotent: a run cut short by a crash or a
/// timeout is not retried, but the next fire runs the same command again.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, context: &JobContext) -> Result<String, JobError>;
}

/// Any `Fn(JobContext) -> impl Future<Output = Result<String, JobError>>` is a handler.
#[async_trait::async_trait]
impl<F, Fut> JobHandler for F
where
    F: Fn(JobContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<String, JobError>> + Send,
{
    async fn run(&self, context: &JobContext) -> Result<String, JobError> {
        self(context.clone()).await
    }
}

/// Command string → handler. Cheap to clone.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: BTreeMap<String, Arc<dyn JobHandler>>,
}

impl fmt::Debug for JobRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.handlers.keys()).finish()
    }
}

impl JobRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) the handler of `command`; whitespace in the command is normalized.
    pub fn register(&mut self, command: &str, handler: Arc<dyn JobHandler>) -> &mut Self {
        self.handlers.insert(normalize_command(command), handler);
        self
    }

    /// Registers an async closure.
    pub fn register_fn<F, Fut>(&mut self, command: &str, handler: F) -> &mut Self
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, JobError>> + Send + 'static,
    {
        self.register(command, Arc::new(handler))
    }

    pub fn contains(&self, command: &str) -> bool {
        self.handlers.contains_key(&normalize_command(command))
    }

    pub fn get(&self, command: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(&normalize_command(command)).cloned()
    }

    /// The registered commands, sorted.
    pub fn commands(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }
}

/// `"oms  check-timeouts "` and `"oms check-timeouts"` are the same command.
pub(crate) fn normalize_command(command: &str) -> String {
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}
