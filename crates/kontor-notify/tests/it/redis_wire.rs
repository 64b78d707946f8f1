//! Redis only: what other Redis clients see (`notify:<namespace><channel>`, JSON messages, one
//! subscriber connection per node named after it), messages of other publishers, and recovery after
//! the subscriber connection is killed.

use crate::harness::{TestBackend, TestNotify, next_event, next_sequence, numbered, redis_url};
use futures_util::StreamExt;
use kontor_notify::{Notification, Received};
use serde_json::{Value, json};
use std::time::Duration;

/// Runs `test` on Redis unless Redis was deliberately deselected.
macro_rules! redis_only {
    ($($test:ident),+ $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() {
                    $crate::harness::run_on($crate::harness::TestBackend::Redis, super::$test).await;
                }
            }
        )+
    };
}

redis_only!(
    publishes_json_on_the_namespaced_channel,
    unsubscribes_from_redis_when_the_last_subscription_drops,
    resubscribes_after_its_connection_is_killed,
    skips_messages_that_are_not_notifications,
);

async fn raw_connection() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test redis")
}

fn physical_channel(notify: &TestNotify, channel: &str) -> String {
    format!("notify:{}{channel}", notify.namespace())
}

/// How many connections Redis counts as subscribed to `physical_channel`.
async fn subscriber_count(connection: &mut redis::aio::MultiplexedConnection, physical_channel: &str) -> i64 {
    let (_channel, count): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(physical_channel)
        .query_async(connection)
        .await
        .expect("pubsub numsub");
    count
}

/// The id of the connection called `client_name` in `CLIENT LIST`, if there is one.
async fn client_id_by_name(connection: &mut redis::aio::MultiplexedConnection, client_name: &str) -> Option<u64> {
    let client_list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(connection)
        .await
        .expect("client list");
    let wanted_field = format!("name={client_name}");
    client_list.lines().find_map(|line| {
        let mut fields = line.split(' ');
        if !fields.clone().any(|field| field == wanted_field) {
            return None;
        }
        fields.find_map(|field| field.strip_prefix("id=")?.parse().ok())
    })
}

async fn publishes_json_on_the_namespaced_channel(mut notify: TestNotify) {
    assert_eq!(notify.backend(), TestBackend::Redis);
    let publisher = notify.node("publisher").await;
    let mut raw_subscriber = redis::Client::open(redis_url())
        .expect("redis url")
        .get_async_pubsub()
        .await
        .expect("raw pub/sub connection");
    raw_subscriber
        .subscribe(physical_channel(&notify, "orders"))
        .await
        .expect("raw subscribe");

    publisher
        .publish(
            "orders",
            Notification::new("order.status_changed", json!({"status": "shipped"})),
        )
        .await
        .expect("publish");

    let message = tokio::time::timeout(Duration::from_secs(10), raw_subscriber.on_message().next())
        .await
        .expect("a message within 10 s")
        .expect("the raw connection is open");
    assert_eq!(message.get_channel_name(), physical_channel(&notify, "orders"));
    let wire: Value = serde_json::from_slice(message.get_payload_bytes()).expect("json on the wire");
    assert_eq!(wire["kind"], "order.status_changed");
    assert_eq!(wire["payload"], json!({"status": "shipped"}));
    assert_eq!(wire["origin_node"], publisher.node_id());
    assert!(
        wire["sent_at_micros"].as_i64().is_some_and(|micros| micros > 0),
        "{wire}"
    );
}

async fn unsubscribes_from_redis_when_the_last_subscription_drops(mut notify: TestNotify) {
    let listener = notify.node("listener").await;
    let mut raw = raw_connection().await;
    let orders = physical_channel(&notify, "orders");

    let first = listener.subscribe(&["orders"]).await.expect("subscribe");
    let second = listener.subscribe(&["orders"]).await.expect("subscribe again");
    assert_eq!(
        subscriber_count(&mut raw, &orders).await,
        1,
        "one connection per node, however many subscribers"
    );

    drop(first);
    // Unsubscribing is asynchronous; give the task time to act on a drop it must not act on.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        subscriber_count(&mut raw, &orders).await,
        1,
        "still wanted by the second"
    );

    drop(second);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while subscriber_count(&mut raw, &orders).await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{orders} still subscribed 10 s after the last drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn resubscribes_after_its_connection_is_killed(mut notify: TestNotify) {
    let listener = notify.node("listener").await;
    let publisher = notify.node("publisher").await;
    let mut subscription = listener.subscribe(&["orders", "cache"]).await.expect("subscribe");
    publisher
        .publish("orders", numbered(1))
        .await
        .expect("publish before the kill");
    assert_eq!(next_sequence(&mut subscription).await.1, 1);

    let mut raw = raw_connection().await;
    // Killed by id, not `CLIENT KILL TYPE pubsub`, which would hit the tests running beside this one.
    let client_name = format!("kontor-notify:{}", listener.node_id());
    let killed_id = client_id_by_name(&mut raw, &client_name)
        .await
        .unwrap_or_else(|| panic!("no connection named {client_name} in CLIENT LIST"));
    let killed_count: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(killed_id)
        .query_async(&mut raw)
        .await
        .expect("client kill");
    assert_eq!(killed_count, 1);

    // Once re-subscribed, every channel is told that notifications may have been lost.
    let mut interrupted_channels = vec![next_event(&mut subscription).await, next_event(&mut subscription).await];
    interrupted_channels.sort_by(|left, right| left.channel().cmp(right.channel()));
    assert_eq!(
        interrupted_channels,
        [
            Received::Interrupted {
                channel: "cache".to_owned()
            },
            Received::Interrupted {
                channel: "orders".to_owned()
            },
        ]
    );

    publisher
        .publish("orders", numbered(2))
        .await
        .expect("publish after the reconnect");
    publisher
        .publish("cache", numbered(3))
        .await
        .expect("publish after the reconnect");
    // Order is kept per channel only, so the two may come either way round.
    let mut after_reconnect = vec![
        next_sequence(&mut subscription).await,
        next_sequence(&mut subscription).await,
    ];
    after_reconnect.sort();
    assert_eq!(after_reconnect, [("cache".to_owned(), 3), ("orders".to_owned(), 2)]);

    let new_id = client_id_by_name(&mut raw, &client_name)
        .await
        .expect("reconnected under the same name");
    assert_ne!(new_id, killed_id, "a new connection");
}

async fn skips_messages_that_are_not_notifications(mut notify: TestNotify) {
    let publisher = notify.node("publisher").await;
    let listener = notify.node("listener").await;
    let mut subscription = listener.subscribe(&["orders"]).await.expect("subscribe");
    let mut raw = raw_connection().await;

    // Another tool publishing on the channel must not break the subscriber.
    for foreign in ["not json", r#"{"kind":"order.status_changed"}"#] {
        let _receivers: i64 = redis::cmd("PUBLISH")
            .arg(physical_channel(&notify, "orders"))
            .arg(foreign)
            .query_async(&mut raw)
            .await
            .expect("raw publish");
    }
    publisher.publish("orders", numbered(1)).await.expect("publish");

    assert_eq!(
        next_sequence(&mut subscription).await.1,
        1,
        "the foreign messages were skipped"
    );
}
