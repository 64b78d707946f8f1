//! The message queues in the Back Office: depths and dead letters per queue (queues.read), and
//! re-queuing dead letters (queues.write).
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/backoffice/queues` | every queue: ready, delayed, in flight, dead letters, oldest waiting |
//! | GET | `/backoffice/queues/{queue}` | the queue's dead letters, oldest first |
//! | POST | `/backoffice/queues/{queue}/requeue` | `id=…` (repeated) or `all=1`: back into the queue |
//!
//! Dead letters are shown without their payloads: those may carry customer data, and the reason and
//! attempt count are what an operator decides on. Without a message bus in the state every page says
//! so (the bus is optional, see [`AdminState::with_queues`]).

use super::{Layout, flash, render};
use crate::acl::{AuditDetail, GuardedRouter, Principal};
use crate::state::AdminState;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kontor_domain::acl::Permission;
use kontor_queue::{DeadLetter, ERROR_QUEUE_SUFFIX, MessageId, QueueStats};
use kontor_web::html::{CsrfToken, Session};
use serde::Serialize;
use serde_json::json;

pub fn routes() -> GuardedRouter {
    GuardedRouter::new()
        .get("/backoffice/queues", Permission::QueuesRead, list)
        .get("/backoffice/queues/{queue}", Permission::QueuesRead, dead_letters)
        .post("/backoffice/queues/{queue}/requeue", Permission::QueuesWrite, requeue)
}

/// Dead letters listed per queue; re-queuing "all" is not limited by it.
const DEAD_LETTERS_SHOWN: usize = 200;

#[derive(Debug, Serialize)]
struct QueueRow {
    queue: String,
    ready: u64,
    delayed: u64,
    in_flight: u64,
    dead_letters: u64,
    oldest_ready_seconds: Option<u64>,
}

impl From<QueueStats> for QueueRow {
    fn from(stats: QueueStats) -> Self {
        Self {
            queue: stats.queue,
            ready: stats.ready,
            delayed: stats.delayed,
            in_flight: stats.in_flight,
            dead_letters: stats.dead_letters,
            oldest_ready_seconds: stats.oldest_ready_age.map(|age| age.as_secs()),
        }
    }
}

#[derive(Debug, Serialize)]
struct DeadLetterRow {
    id: i64,
    attempts: u32,
    reason: String,
    payload_bytes: usize,
    enqueued_at: String,
    first_failed_at: String,
    last_failed_at: String,
}

impl From<DeadLetter> for DeadLetterRow {
    fn from(letter: DeadLetter) -> Self {
        Self {
            id: letter.id.0,
            attempts: letter.attempts,
            reason: letter.reason,
            payload_bytes: letter.payload.len(),
            enqueued_at: letter.enqueued_at.to_rfc3339(),
            first_failed_at: letter.first_failed_at.to_rfc3339(),
            last_failed_at: letter.last_failed_at.to_rfc3339(),
        }
    }
}

/// The page when the backend holds no message bus.
fn unavailable(state: &AdminState, layout: &Layout) -> Response {
    render(
        state,
        StatusCode::OK,
        "backoffice/queues.html",
        layout,
        json!({"available": false}),
    )
}

/// The page when the bus cannot be read: the reason goes to the log, a plain message to the page.
fn bus_failed(state: &AdminState, layout: &Layout, error: &kontor_queue::QueueError) -> Response {
    tracing::warn!(%error, "the queue pages cannot read the message bus");
    render(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "backoffice/queues.html",
        layout,
        json!({"available": true, "failed": true}),
    )
}

async fn list(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let Some(bus) = &state.queues else {
        return unavailable(&state, &layout);
    };
    let stats = match bus.stats().await {
        Ok(stats) => stats,
        Err(error) => return bus_failed(&state, &layout, &error),
    };
    let rows: Vec<QueueRow> = stats.into_iter().map(QueueRow::from).collect();
    let page = json!({"available": true, "backend": bus.backend(), "queues": rows});
    render(&state, StatusCode::OK, "backoffice/queues.html", &layout, page)
}

async fn dead_letters(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(queue): Path<String>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let Some(bus) = &state.queues else {
        return unavailable(&state, &layout);
    };
    let queue = queue.strip_suffix(ERROR_QUEUE_SUFFIX).unwrap_or(&queue).to_owned();
    let letters = match bus.dead_letters(&queue, DEAD_LETTERS_SHOWN).await {
        Ok(letters) => letters,
        Err(error) => return bus_failed(&state, &layout, &error),
    };
    let shown = letters.len();
    let rows: Vec<DeadLetterRow> = letters.into_iter().map(DeadLetterRow::from).collect();
    let page = json!({
        "available": true, "backend": bus.backend(), "queue": queue, "dead_letters": rows, "truncated": shown >= DEAD_LETTERS_SHOWN,
    });
    render(&state, StatusCode::OK, "backoffice/queues.html", &layout, page)
}

async fn requeue(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    Path(queue): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let page_path = format!("/backoffice/queues/{queue}");
    let layout = Layout::new(&principal, &session, &csrf, &page_path);
    let Some(bus) = &state.queues else {
        return unavailable(&state, &layout);
    };
    let queue = queue.strip_suffix(ERROR_QUEUE_SUFFIX).unwrap_or(&queue).to_owned();
    let all = pairs.iter().any(|(name, value)| name == "all" && value == "1");
    let ids: Vec<MessageId> = pairs
        .iter()
        .filter(|(name, _)| name == "id")
        .filter_map(|(_, value)| value.trim().parse().ok().map(MessageId))
        .collect();
    if !all && ids.is_empty() {
        flash(
            &session,
            "error",
            "Choose the dead letters to re-queue, or re-queue all of them.",
        );
        return Redirect::to(&format!("/backoffice/queues/{queue}")).into_response();
    }
    let chosen = if all { None } else { Some(ids.as_slice()) };
    let moved = match bus.requeue_dead_letters(&queue, chosen).await {
        Ok(moved) => moved,
        Err(error) => return bus_failed(&state, &layout, &error),
    };
    flash(
        &session,
        "success",
        format!("{moved} dead letter(s) of {queue} re-queued."),
    );
    let mut response = Redirect::to(&format!("/backoffice/queues/{queue}")).into_response();
    let chosen_ids: Option<Vec<i64>> = chosen.map(|ids| ids.iter().map(|id| id.0).collect());
    response
        .extensions_mut()
        .insert(AuditDetail(json!({"queue": queue, "ids": chosen_ids, "moved": moved})));
    response
}
