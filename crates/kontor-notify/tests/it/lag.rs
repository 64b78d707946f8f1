//! A subscriber that falls behind loses the oldest notifications, is told how many, and goes on
//! with the newest; the others are not held back by it.

use crate::harness::{TestNotify, next_event, next_sequence, numbered};
use kontor_notify::Received;

notify_test_suite!(lagging_subscriber_is_told_how_many_it_missed);

/// A power of two: the broadcast channel keeps exactly this many.
const CAPACITY: u64 = 16;
const PUBLISHED: u64 = CAPACITY + 5;

async fn lagging_subscriber_is_told_how_many_it_missed(mut notify: TestNotify) {
    notify.set_channel_capacity(usize::try_from(CAPACITY).expect("small"));
    let publisher = notify.node("publisher").await;
    let listener = notify.node("listener").await;
    let mut slow = listener.subscribe(&["import.progress"]).await.expect("subscribe slow");
    let mut witness = listener
        .subscribe(&["import.progress"])
        .await
        .expect("subscribe witness");

    for sequence in 0..PUBLISHED {
        publisher
            .publish("import.progress", numbered(sequence))
            .await
            .expect("publish");
    }
    // The witness shares the slow subscriber's local channel: once it has seen the last
    // notification, so has the slow one's backlog (on Redis delivery is asynchronous).
    loop {
        let received = next_event(&mut witness).await;
        if received
            .notification()
            .is_some_and(|last| last.payload["sequence"] == PUBLISHED - 1)
        {
            break;
        }
    }

    assert_eq!(
        next_event(&mut slow).await,
        Received::Missed {
            channel: "import.progress".to_owned(),
            count: PUBLISHED - CAPACITY,
        }
    );
    for expected in PUBLISHED - CAPACITY..PUBLISHED {
        assert_eq!(
            next_sequence(&mut slow).await.1,
            expected,
            "the newest are kept, in order"
        );
    }
    // Having caught up, it gets the next one normally.
    publisher
        .publish("import.progress", numbered(PUBLISHED))
        .await
        .expect("publish");
    assert_eq!(next_sequence(&mut slow).await.1, PUBLISHED);
}
