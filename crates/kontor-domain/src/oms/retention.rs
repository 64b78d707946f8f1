//! Retention of the transition log (oms.md §5): rows older than `oms.transition_log_retention_days`
//! are deleted by `kontor oms purge-log` and the built-in `oms-purge-log` job.
//!
//! Every OMS move writes a log row, so the table is hot. The purge never deletes everything in one
//! statement: it deletes at most [`PURGE_BATCH`] rows per statement, each in its own short
//! transaction, and repeats until no old rows are left. Between batches moves (and, on SQLite, every
//! other writer) get their turn. Rows written while the purge runs are newer than the cut-off, so the
//! loop ends.

use super::OmsRepository;
use crate::DomainError;
use chrono::{DateTime, Duration as TimeDelta, Utc};

/// Rows deleted per statement: small enough that one statement holds its locks only briefly (and
/// stays far below every backend's limit on bound parameters), large enough that a purge of a
/// year's rows takes few round trips.
pub const PURGE_BATCH: u64 = 500;

/// The moment before which rows are older than `retention_days` days at `now`.
pub fn retention_cutoff(now: DateTime<Utc>, retention_days: u32) -> DateTime<Utc> {
    now - TimeDelta::days(i64::from(retention_days))
}

/// Deletes every transition-log row written before `before`, at most `batch` rows per statement;
/// answers how many rows went.
pub async fn purge_transition_log(
    oms: &dyn OmsRepository,
    before: DateTime<Utc>,
    batch: u64,
) -> Result<u64, DomainError> {
    // A batch of zero would delete nothing forever.
    let batch = batch.max(1);
    let mut purged: u64 = 0;
    loop {
        let deleted = oms.delete_transition_log_batch(before, batch).await?;
        purged = purged.saturating_add(deleted);
        // A short batch took the last old rows (or another purge took some of them): done.
        if deleted < batch {
            return Ok(purged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_cutoff_is_whole_days_before_now() {
        let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 30, 0).single().expect("date");
        assert_eq!(
            retention_cutoff(now, 180),
            Utc.with_ymd_and_hms(2026, 1, 2, 12, 30, 0).single().expect("date")
        );
        assert_eq!(
            retention_cutoff(now, 1),
            Utc.with_ymd_and_hms(2026, 6, 30, 12, 30, 0).single().expect("date")
        );
    }
}
