//! Performing one run: the handler in a task of its own under the job's timeout, and storing how it
//! ended (output and error cut to [`MAX_OUTPUT_BYTES`]).

use super::registry::{JobContext, JobError, JobHandler};
use super::store::{RunEnd, SchedulerStore};
use super::{MAX_OUTPUT_BYTES, RunOutcome};
use kontor_core::Clock;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Attempts to store the end of a run before giving up (the run is then given up as abandoned later).
const FINISH_ATTEMPTS: u32 = 3;

/// How a run ended, before it is stored.
pub(super) enum Ending {
    Succeeded(String),
    Failed(JobError),
    TimedOut(Duration),
}

/// Runs the handler in a task of its own (so a panic becomes a failure, not a dead scheduler), bounded
/// by the job's timeout and by a shutdown that stops waiting.
pub(super) async fn execute(
    handler: Arc<dyn JobHandler>,
    context: JobContext,
    timeout: Duration,
    interrupt: CancellationToken,
) -> Ending {
    let work = tokio::spawn(async move { handler.run(&context).await });
    let abort = work.abort_handle();
    tokio::select! {
        joined = tokio::time::timeout(timeout, work) => match joined {
            Ok(Ok(Ok(output))) => Ending::Succeeded(output),
            Ok(Ok(Err(error))) => Ending::Failed(error),
            Ok(Err(join_error)) if join_error.is_panic() => Ending::Failed(JobError::new(format!(
                "the job panicked: {}",
                panic_message(join_error.into_panic())
            ))),
            Ok(Err(_)) => Ending::Failed(JobError::new("the job was cancelled")),
            Err(_) => {
                abort.abort();
                Ending::TimedOut(timeout)
            }
        },
        () = interrupt.cancelled() => {
            abort.abort();
            Ending::Failed(JobError::new("interrupted: the scheduler shut down"))
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// Stores the end of a run, retrying briefly: a database hiccup should not leave the job blocked until
/// the run is given up as abandoned.
pub(super) async fn record_end(
    store: &SchedulerStore,
    clock: &dyn Clock,
    context: &JobContext,
    ending: Ending,
    took: Duration,
) {
    let (outcome, output, error) = match ending {
        Ending::Succeeded(output) => (RunOutcome::Succeeded, Some(output), None),
        Ending::Failed(error) => (RunOutcome::Failed, error.output, Some(error.message)),
        Ending::TimedOut(limit) => (
            RunOutcome::TimedOut,
            None,
            Some(format!("stopped after the timeout of {}", humanize(limit))),
        ),
    };
    let output = output.map(|text| truncate(&text));
    let error = error.map(|text| truncate(&text));
    match outcome {
        RunOutcome::Succeeded => {
            tracing::info!(job = %context.job, run = %context.run_id, seconds = took.as_secs_f64(), "run succeeded");
        }
        _ => tracing::warn!(
            job = %context.job,
            run = %context.run_id,
            %outcome,
            error = error.as_deref().unwrap_or_default(),
            "run did not succeed"
        ),
    }
    for attempt in 1..=FINISH_ATTEMPTS {
        let end = RunEnd {
            outcome,
            finished_at: clock.now().timestamp_micros(),
            output: output.as_deref(),
            error: error.as_deref(),
        };
        match store.finish_run(&context.job, context.run_id, end).await {
            Ok(true) => return,
            Ok(false) => {
                tracing::warn!(job = %context.job, run = %context.run_id, "run had already been given up as abandoned");
                return;
            }
            Err(db_error) if attempt < FINISH_ATTEMPTS => {
                tracing::warn!(error = %db_error, run = %context.run_id, attempt, "recording the end of a run failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(db_error) => {
                tracing::error!(error = %db_error, run = %context.run_id, "could not record the end of a run");
            }
        }
    }
}

/// Cuts `text` to [`MAX_OUTPUT_BYTES`] on a character boundary, marking the cut.
fn truncate(text: &str) -> String {
    if text.len() <= MAX_OUTPUT_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_OUTPUT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n… (truncated, {} bytes in all)", &text[..end], text.len())
}

/// `1h`, `10m`, `45s`, `250ms`: how timeouts appear in messages.
pub(super) fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(3_600_000) {
        format!("{}h", millis / 3_600_000)
    } else if millis.is_multiple_of(60_000) {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}
