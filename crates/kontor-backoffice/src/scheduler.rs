//! The scheduler's run history in the admin API (behind the API token, like every `/admin` route).
//!
//! | method | path | answer |
//! |---|---|---|
//! | GET | `/admin/scheduler/runs?job=oms-clear-locks&limit=20` | 200, newest first: `scheduler-runs` with job, command, node, outcome, fire time, start, end, output and error |
//!
//! `filter[job]` and `page[limit]` are accepted as the JSON:API spellings of `job` and `limit`; `limit`
//! is 1 to 500 (default 50).

use crate::state::AdminState;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use kontor_queue::scheduler::RunRecord;
use kontor_web::{AppError, ErrorCode, JsonApi};
use serde_json::{Value, json};

/// Runs listed when the request names no limit.
const DEFAULT_LIMIT: u64 = 50;
/// The most runs one request may list.
const MAX_LIMIT: u64 = 500;

pub fn routes() -> crate::acl::GuardedRouter {
    crate::acl::GuardedRouter::new().get(
        "/admin/scheduler/runs",
        kontor_domain::acl::Permission::SchedulerRead,
        list_runs,
    )
}

async fn list_runs(State(state): State<AdminState>, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    let history = state
        .scheduler
        .as_ref()
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "this backend keeps no scheduler history"))?;
    let mut job: Option<String> = None;
    let mut limit = DEFAULT_LIMIT;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "job" | "filter[job]" => job = Some(value.into_owned()).filter(|name| !name.is_empty()),
            "limit" | "page[limit]" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|number| (1..=MAX_LIMIT).contains(number))
                    .ok_or_else(|| {
                        AppError::at_parameter(
                            ErrorCode::InvalidParameter,
                            key.as_ref(),
                            format!("{key} must be a whole number from 1 to {MAX_LIMIT}"),
                        )
                    })?;
            }
            other => {
                return Err(AppError::at_parameter(
                    ErrorCode::InvalidParameter,
                    other,
                    format!("unknown query parameter {other}; use job and limit"),
                ));
            }
        }
    }
    let runs = history
        .recent_runs(job.as_deref(), limit)
        .await
        .map_err(|error| AppError::internal(&error))?;
    let data: Vec<Value> = runs.iter().map(run_resource).collect();
    Ok(JsonApi(StatusCode::OK, json!({"data": data, "meta": {"count": runs.len()}})).into_response())
}

/// One run as a JSON:API resource object of type `scheduler-runs`.
fn run_resource(run: &RunRecord) -> Value {
    let duration_ms = run
        .finished_at
        .map(|finished| (finished - run.started_at).num_milliseconds());
    json!({
        "type": "scheduler-runs",
        "id": run.id.to_string(),
        "attributes": {
            "job": run.job,
            "command": run.command,
            "node": run.node,
            "outcome": run.outcome.as_str(),
            "scheduledFor": run.scheduled_for.map(|time| time.to_rfc3339()),
            "startedAt": run.started_at.to_rfc3339(),
            "finishedAt": run.finished_at.map(|time| time.to_rfc3339()),
            "durationMs": duration_ms,
            "output": run.output,
            "error": run.error,
        },
    })
}
