//! Redis only: a node cut off from Redis for a while (through the chaos proxy) reconnects with
//! backoff, re-subscribes everything (also what was subscribed during the outage), tells its
//! subscribers that they were interrupted, and publishes again.

use crate::chaos_proxy::ChaosProxy;
use crate::harness::{TestNotify, next_event, next_sequence, numbered, redis_url};
use kontor_notify::Received;
use std::time::Duration;
use tokio::time::{Instant, timeout};

mod recovers_after_an_outage_with_backoff {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        crate::harness::run_on(
            crate::harness::TestBackend::Redis,
            super::recovers_after_an_outage_with_backoff,
        )
        .await;
    }
}

async fn subscriber_count(physical_channel: &str) -> i64 {
    let mut connection = redis::Client::open(redis_url())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test redis");
    let (_channel, count): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(physical_channel)
        .query_async(&mut connection)
        .await
        .expect("pubsub numsub");
    count
}

async fn recovers_after_an_outage_with_backoff(mut notify: TestNotify) {
    let proxy = ChaosProxy::start().await;
    let cut_off = notify.node_via(&proxy.redis_url(), "cut-off").await;
    let publisher = notify.node("publisher").await;
    let mut orders = cut_off.subscribe(&["orders"]).await.expect("subscribe");
    publisher.publish("orders", numbered(1)).await.expect("publish");
    assert_eq!(next_sequence(&mut orders).await.1, 1);

    proxy.cut();
    // Redis has dropped the cut-off node's subscription once the proxy closed its side.
    let orders_channel = format!("notify:{}orders", notify.namespace());
    let deadline = Instant::now() + Duration::from_secs(10);
    while subscriber_count(&orders_channel).await != 0 {
        assert!(Instant::now() < deadline, "redis still sees the cut-off subscriber");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    publisher
        .publish("orders", numbered(2))
        .await
        .expect("publish during the outage");

    // Subscribing does not wait for Redis to come back; publishing fails rather than hangs.
    let mut cache = timeout(Duration::from_secs(2), cut_off.subscribe(&["cache"]))
        .await
        .expect("subscribe returns during an outage")
        .expect("subscribe succeeds during an outage");
    let publish_during_outage = timeout(Duration::from_secs(30), cut_off.publish("orders", numbered(99)))
        .await
        .expect("publish returns during an outage");
    assert!(
        publish_during_outage.is_err(),
        "publishing through a cut connection fails"
    );
    // Long enough for several reconnect attempts to fail (at 0, 0.1, 0.3, 0.7 s… after the cut).
    tokio::time::sleep(Duration::from_millis(800)).await;

    proxy.restore();
    assert_eq!(
        next_event(&mut orders).await,
        Received::Interrupted {
            channel: "orders".to_owned()
        }
    );
    assert_eq!(
        next_event(&mut cache).await,
        Received::Interrupted {
            channel: "cache".to_owned()
        }
    );
    publisher
        .publish("orders", numbered(3))
        .await
        .expect("publish after the outage");
    publisher
        .publish("cache", numbered(4))
        .await
        .expect("publish after the outage");
    assert_eq!(
        next_sequence(&mut orders).await.1,
        3,
        "2 was published during the outage and is lost"
    );
    assert_eq!(
        next_sequence(&mut cache).await.1,
        4,
        "subscribed during the outage, served after it"
    );

    // The cut-off node's own publishing connection comes back too.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut sequence = 100;
    while cut_off.publish("orders", numbered(sequence)).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the cut-off node cannot publish 15 s after the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        sequence += 1;
    }
    loop {
        let (_channel, received) = next_sequence(&mut orders).await;
        if received == sequence {
            break;
        }
    }
}
