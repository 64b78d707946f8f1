//! `GET /backoffice/scheduler?job=` (scheduler.read): the scheduled jobs' latest runs, newest first,
//! and which node holds the scheduler lease. Read from [`AdminState::scheduler`]; a backend without it
//! says so instead.

use super::{Layout, render};
use crate::acl::{GuardedRouter, Principal};
use crate::state::AdminState;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use kontor_domain::acl::Permission;
use kontor_queue::scheduler::RunRecord;
use kontor_web::html::{CsrfToken, FormFields, Session};
use serde::Serialize;
use serde_json::json;

pub fn routes() -> GuardedRouter {
    GuardedRouter::new().get("/backoffice/scheduler", Permission::SchedulerRead, list)
}

/// Runs shown: a few days of a typical job table.
const RUNS_SHOWN: u64 = 100;

#[derive(Debug, Serialize)]
struct RunRow {
    id: String,
    job: String,
    command: String,
    node: String,
    outcome: &'static str,
    scheduled_for: Option<String>,
    started_at: String,
    duration_ms: Option<i64>,
    output: Option<String>,
    error: Option<String>,
}

impl From<RunRecord> for RunRow {
    fn from(run: RunRecord) -> Self {
        Self {
            id: run.id.to_string(),
            duration_ms: run
                .finished_at
                .map(|finished| (finished - run.started_at).num_milliseconds()),
            job: run.job,
            command: run.command,
            node: run.node,
            outcome: run.outcome.as_str(),
            scheduled_for: run.scheduled_for.map(|time| time.to_rfc3339()),
            started_at: run.started_at.to_rfc3339(),
            output: run.output,
            error: run.error,
        }
    }
}

async fn list(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Query(query): Query<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let Some(history) = &state.scheduler else {
        return render(
            &state,
            StatusCode::OK,
            "backoffice/scheduler.html",
            &layout,
            json!({"available": false}),
        );
    };
    let job = query.text("job");
    let job_filter = Some(job.as_str()).filter(|name| !name.is_empty());
    let (runs, lease) = match (history.recent_runs(job_filter, RUNS_SHOWN).await, history.lease().await) {
        (Ok(runs), Ok(lease)) => (runs, lease),
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(%error, "the scheduler page cannot read the run history");
            return render(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "backoffice/scheduler.html",
                &layout,
                json!({"available": true, "failed": true}),
            );
        }
    };
    let rows: Vec<RunRow> = runs.into_iter().map(RunRow::from).collect();
    let lease = lease.map(|(holder, until)| json!({"holder": holder, "until": until.to_rfc3339()}));
    let page = json!({"available": true, "runs": rows, "lease": lease, "values": {"job": job}});
    render(&state, StatusCode::OK, "backoffice/scheduler.html", &layout, page)
}
