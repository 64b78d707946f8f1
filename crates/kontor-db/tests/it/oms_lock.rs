//! Order locks of the OMS (oms.md §5): one holder at a time, renewable by its holder, free once
//! released by that holder or expired.

use chrono::{Duration as TimeDelta, TimeZone, Utc};
use kontor_db::SqlDatabase;
use kontor_domain::oms::OmsRepository;
use kontor_testkit::repo_test_suite;

async fn an_order_lock_has_one_holder_until_released_or_expired(db: SqlDatabase) {
    let lock = "order:41";
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).single().expect("date");
    let until = now + TimeDelta::seconds(60);
    let take = |holder: &'static str, at: chrono::DateTime<Utc>| {
        let db = db.clone();
        async move {
            db.try_lock(lock, holder, at + TimeDelta::seconds(60), at)
                .await
                .expect("lock")
        }
    };

    assert!(take("a", now).await, "a free lock is taken");
    assert!(!take("b", now + TimeDelta::seconds(1)).await, "held by a");
    assert!(take("a", now + TimeDelta::seconds(2)).await, "its holder renews it");
    // Renewed at +2 s, so it holds until +62 s: still a's at +61 s.
    assert!(
        !take("b", now + TimeDelta::seconds(61)).await,
        "the renewal moved the expiry"
    );
    assert!(
        take("b", now + TimeDelta::seconds(62)).await,
        "an expired lock is taken over"
    );
    assert!(
        !take("a", now + TimeDelta::seconds(63)).await,
        "the former holder lost it"
    );

    // Only the holder's release frees it.
    db.unlock(lock, "a").await.expect("unlock");
    assert!(
        !take("c", now + TimeDelta::seconds(64)).await,
        "a's release did not free b's lock"
    );
    db.unlock(lock, "b").await.expect("unlock");
    assert!(take("c", now + TimeDelta::seconds(65)).await, "released by its holder");

    // Locks of other orders are independent.
    assert!(
        db.try_lock("order:42", "a", until, now).await.expect("lock"),
        "another order's lock is free"
    );
}

/// Many workers racing for one free lock: exactly one gets it.
async fn of_workers_racing_for_a_lock_exactly_one_takes_it(db: SqlDatabase) {
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).single().expect("date");
    let racers: Vec<_> = (0..8)
        .map(|worker| {
            let db = db.clone();
            tokio::spawn(async move {
                db.try_lock(
                    "order:7",
                    &format!("worker-{worker}"),
                    now + TimeDelta::seconds(60),
                    now,
                )
                .await
                .expect("lock")
            })
        })
        .collect();
    let mut taken = Vec::new();
    for racer in racers {
        taken.push(racer.await.expect("racer finished"));
    }
    assert_eq!(taken.iter().filter(|taken| **taken).count(), 1, "{taken:?}");
}

repo_test_suite!(
    an_order_lock_has_one_holder_until_released_or_expired,
    of_workers_racing_for_a_lock_exactly_one_takes_it,
);
