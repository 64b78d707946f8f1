//! `GET /backoffice` (dashboard.read): today's orders and revenue per currency, the latest orders (for
//! users with orders.read), queue depths, dead letters and the sync lag.
//!
//! Each figure comes from its own port and is optional: a backend without orders or without a message
//! bus shows "n/a" there, and a port that fails is logged and shown as "n/a" too, so one broken part
//! never hides the others. "Today" is the UTC day. The sync lag is the age of the oldest message
//! waiting in a `publish.*` or `sync.*` queue: how far the storefront's data may be behind the Back
//! Office right now.

use super::{Layout, render};
use crate::acl::{GuardedRouter, Principal};
use crate::state::AdminState;
use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use kontor_domain::acl::Permission;
use kontor_domain::checkout::{OrderFilter, OrderRepository, StoredOrder};
use kontor_queue::{MessageBus, QueueStats};
use kontor_web::html::{CsrfToken, Session};
use serde::Serialize;
use std::collections::BTreeMap;

pub fn routes() -> GuardedRouter {
    GuardedRouter::new().get("/backoffice", Permission::DashboardRead, show)
}

/// Orders summed per request for the revenue; past [`MAX_ORDERS_SUMMED`] the sum is a lower bound.
const SUM_BATCH: u64 = 200;
/// A dashboard must stay fast on a busy day; the count stays exact beyond this.
const MAX_ORDERS_SUMMED: u64 = 5_000;
/// Latest orders listed.
const LATEST_ORDERS: usize = 5;
/// Queues whose waiting messages delay what the storefront shows.
const SYNC_QUEUE_PREFIXES: [&str; 2] = ["publish.", "sync."];

#[derive(Debug, Default, Serialize)]
struct TodayOrders {
    count: u64,
    /// Grand totals per currency, in minor units, by currency code.
    revenue: BTreeMap<String, i64>,
    /// True when more orders came in than were summed: the revenue is a lower bound.
    partial: bool,
    latest: Vec<LatestOrder>,
}

#[derive(Debug, Serialize)]
struct LatestOrder {
    reference: String,
    store: String,
    email: String,
    grand_total: i64,
    currency: String,
    created_at_micros: i64,
}

impl From<&StoredOrder> for LatestOrder {
    fn from(order: &StoredOrder) -> Self {
        Self {
            reference: order.reference.clone(),
            store: order.store.clone(),
            email: order.email.clone(),
            grand_total: order.totals.grand_total,
            currency: order.currency.clone(),
            created_at_micros: order.created_at_micros,
        }
    }
}

#[derive(Debug, Default, Serialize)]
struct QueueFigures {
    ready: u64,
    in_flight: u64,
    delayed: u64,
    dead_letters: u64,
    /// Queues holding dead letters, with how many.
    failing: Vec<(String, u64)>,
    /// Seconds the oldest waiting sync message has waited; none when nothing waits.
    sync_lag_seconds: Option<u64>,
}

async fn show(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let today = start_of_day(Utc::now());
    let orders = match &state.orders {
        Some(admin) => today_orders(admin.orders.as_ref(), today, principal.may(Permission::OrdersRead)).await,
        None => None,
    };
    let queues = match &state.queues {
        Some(bus) => queue_figures(bus.as_ref()).await,
        None => None,
    };
    let page = serde_json::json!({
        "day": today.format("%Y-%m-%d").to_string(),
        "orders": orders,
        "queues": queues,
    });
    render(&state, StatusCode::OK, "backoffice/dashboard.html", &layout, page)
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |midnight| midnight.and_utc())
}

/// Today's order count, revenue and (when `with_latest`) latest orders; `None` when storage fails.
async fn today_orders(orders: &dyn OrderRepository, since: DateTime<Utc>, with_latest: bool) -> Option<TodayOrders> {
    let filter = OrderFilter {
        created_from_micros: Some(since.timestamp_micros()),
        ..OrderFilter::default()
    };
    let mut figures = TodayOrders::default();
    let mut summed = 0;
    loop {
        let (batch, total) = match orders.list_orders(&filter, summed, SUM_BATCH).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "the dashboard cannot read today's orders");
                return None;
            }
        };
        figures.count = total;
        if summed == 0 && with_latest {
            figures.latest = batch.iter().take(LATEST_ORDERS).map(LatestOrder::from).collect();
        }
        for order in &batch {
            *figures.revenue.entry(order.currency.clone()).or_default() += order.totals.grand_total;
        }
        summed += batch.len() as u64;
        if batch.is_empty() || summed >= total {
            break;
        }
        if summed >= MAX_ORDERS_SUMMED {
            figures.partial = true;
            break;
        }
    }
    Some(figures)
}

/// Depths over every queue the bus knows; `None` when the bus cannot be read.
async fn queue_figures(bus: &dyn MessageBus) -> Option<QueueFigures> {
    match bus.stats().await {
        Ok(stats) => Some(summarize(&stats)),
        Err(error) => {
            tracing::warn!(%error, "the dashboard cannot read the queue statistics");
            None
        }
    }
}

fn summarize(stats: &[QueueStats]) -> QueueFigures {
    let mut figures = QueueFigures::default();
    for queue in stats {
        figures.ready += queue.ready;
        figures.in_flight += queue.in_flight;
        figures.delayed += queue.delayed;
        figures.dead_letters += queue.dead_letters;
        if queue.dead_letters > 0 {
            figures.failing.push((queue.queue.clone(), queue.dead_letters));
        }
        let is_sync = SYNC_QUEUE_PREFIXES.iter().any(|prefix| queue.queue.starts_with(prefix));
        if let (true, Some(age)) = (is_sync, queue.oldest_ready_age) {
            figures.sync_lag_seconds = Some(figures.sync_lag_seconds.unwrap_or(0).max(age.as_secs()));
        }
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn queue_depths_add_up_and_the_sync_lag_is_the_oldest_sync_message() {
        let stats = [
            QueueStats {
                queue: "publish.product_abstract".into(),
                ready: 3,
                oldest_ready_age: Some(Duration::from_secs(40)),
                ..QueueStats::default()
            },
            QueueStats {
                queue: "sync.storage.price".into(),
                ready: 1,
                dead_letters: 2,
                oldest_ready_age: Some(Duration::from_secs(90)),
                ..QueueStats::default()
            },
            QueueStats {
                queue: "mail.send".into(),
                in_flight: 4,
                oldest_ready_age: Some(Duration::from_secs(600)),
                ..QueueStats::default()
            },
        ];
        let figures = summarize(&stats);
        assert_eq!((figures.ready, figures.in_flight, figures.dead_letters), (4, 4, 2));
        assert_eq!(figures.failing, [("sync.storage.price".to_owned(), 2)]);
        assert_eq!(figures.sync_lag_seconds, Some(90), "mail is not sync");
        assert_eq!(summarize(&[]).sync_lag_seconds, None);
    }

    #[test]
    fn the_day_starts_at_utc_midnight() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T14:05:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(start_of_day(now).to_rfc3339(), "2026-11-26T00:00:00+00:00");
    }
}
