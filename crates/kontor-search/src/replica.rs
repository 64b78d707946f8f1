//! The state of a storefront node's search replica, shared between the task that feeds it and the
//! readiness endpoint: a node whose replica has not caught up yet answers `/ready` with 503, so the load
//! balancer keeps traffic away until its search results are complete.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// Lock-free counters; one per process, behind an `Arc`.
#[derive(Debug, Default)]
pub struct ReplicaStatus {
    caught_up: AtomicBool,
    /// Newest document timestamp applied (epoch µs).
    applied_ts: AtomicI64,
    /// Commit → replica lag of the last applied batch's oldest operation, in milliseconds.
    lag_ms: AtomicI64,
    /// Documents applied since the process started (catch-up and queue).
    applied: AtomicI64,
}

/// What `/ready` reports about the replica.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ReplicaReport {
    pub caught_up: bool,
    pub applied_ts: i64,
    pub lag_seconds: f64,
    pub applied: i64,
}

impl ReplicaStatus {
    pub fn mark_caught_up(&self) {
        self.caught_up.store(true, Ordering::Release);
    }

    /// Records an applied batch: its newest document timestamp and the lag of its oldest operation.
    pub fn record(&self, documents: usize, newest_ts: i64, lag_ms: i64) {
        self.applied_ts.fetch_max(newest_ts, Ordering::AcqRel);
        self.lag_ms.store(lag_ms.max(0), Ordering::Release);
        self.applied
            .fetch_add(i64::try_from(documents).unwrap_or(i64::MAX), Ordering::AcqRel);
    }

    pub fn applied_ts(&self) -> i64 {
        self.applied_ts.load(Ordering::Acquire)
    }

    pub fn report(&self) -> ReplicaReport {
        ReplicaReport {
            caught_up: self.caught_up.load(Ordering::Acquire),
            applied_ts: self.applied_ts(),
            lag_seconds: self.lag_ms.load(Ordering::Acquire) as f64 / 1000.0,
            applied: self.applied.load(Ordering::Acquire),
        }
    }
}
