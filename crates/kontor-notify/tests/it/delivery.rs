//! Who gets what: every subscriber of a channel on every node, nobody else, in publishing order,
//! stamped with its origin, until the subscription or the notifier is dropped.

use crate::harness::{TestNotify, next_event, next_sequence, numbered};
use futures_util::StreamExt;
use kontor_notify::{Notification, Received};
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

notify_test_suite!(
    reaches_every_subscriber_on_every_node,
    skips_subscribers_of_other_channels,
    keeps_the_order_of_a_channel,
    one_subscription_listens_on_several_channels,
    stamps_origin_node_and_time,
    dropping_a_subscription_stops_only_its_delivery,
    subscriptions_end_when_their_notifier_is_dropped,
    publishing_without_subscribers_succeeds,
    a_subscription_works_as_a_stream,
);

async fn reaches_every_subscriber_on_every_node(mut notify: TestNotify) {
    let node_a = notify.node("a").await;
    let node_b = notify.node("b").await;
    let mut on_a = node_a.subscribe(&["orders"]).await.expect("subscribe on a");
    let mut also_on_a = node_a.subscribe(&["orders"]).await.expect("second subscribe on a");
    let mut on_b = node_b.subscribe(&["orders"]).await.expect("subscribe on b");

    node_a.publish("orders", numbered(1)).await.expect("publish");

    for subscription in [&mut on_a, &mut also_on_a, &mut on_b] {
        assert_eq!(next_sequence(subscription).await, ("orders".to_owned(), 1));
    }
}

async fn skips_subscribers_of_other_channels(mut notify: TestNotify) {
    let publisher = notify.node("publisher").await;
    let listener = notify.node("listener").await;
    let mut orders = listener.subscribe(&["orders"]).await.expect("subscribe orders");
    let mut imports = listener.subscribe(&["imports"]).await.expect("subscribe imports");
    // `orders.de` shares a prefix with `orders`: names are matched whole, never as patterns.
    let mut orders_de = listener.subscribe(&["orders.de"]).await.expect("subscribe orders.de");

    publisher.publish("orders", numbered(1)).await.expect("publish orders");
    // Published after `orders` by the same node, so it arrives after it: when `imports` sees this
    // first, the `orders` notification did not reach it.
    publisher
        .publish("imports", numbered(2))
        .await
        .expect("publish imports");
    publisher
        .publish("orders.de", numbered(3))
        .await
        .expect("publish orders.de");

    assert_eq!(next_sequence(&mut orders).await, ("orders".to_owned(), 1));
    assert_eq!(next_sequence(&mut imports).await, ("imports".to_owned(), 2));
    assert_eq!(next_sequence(&mut orders_de).await, ("orders.de".to_owned(), 3));
}

async fn keeps_the_order_of_a_channel(mut notify: TestNotify) {
    let publisher = notify.node("publisher").await;
    let listener = notify.node("listener").await;
    let mut subscription = listener.subscribe(&["import.progress"]).await.expect("subscribe");

    let count = 200;
    for sequence in 0..count {
        publisher
            .publish("import.progress", numbered(sequence))
            .await
            .expect("publish");
    }

    for expected in 0..count {
        assert_eq!(next_sequence(&mut subscription).await.1, expected);
    }
}

async fn one_subscription_listens_on_several_channels(mut notify: TestNotify) {
    let publisher = notify.node("publisher").await;
    let listener = notify.node("listener").await;
    let mut subscription = listener
        .subscribe(&["orders", "cache", "orders"])
        .await
        .expect("subscribe to two channels");
    assert_eq!(subscription.channels().collect::<Vec<_>>(), ["orders", "cache"]);

    for sequence in 0..10 {
        let channel = if sequence % 2 == 0 { "orders" } else { "cache" };
        publisher.publish(channel, numbered(sequence)).await.expect("publish");
    }

    let mut orders_seen = Vec::new();
    let mut cache_seen = Vec::new();
    for _ in 0..10 {
        match next_sequence(&mut subscription).await {
            (channel, sequence) if channel == "orders" => orders_seen.push(sequence),
            (_cache, sequence) => cache_seen.push(sequence),
        }
    }
    assert_eq!(orders_seen, [0, 2, 4, 6, 8], "order kept per channel");
    assert_eq!(cache_seen, [1, 3, 5, 7, 9], "order kept per channel");
}

async fn stamps_origin_node_and_time(mut notify: TestNotify) {
    let publisher = notify.node("publisher").await;
    let listener = notify.node("listener").await;
    let mut subscription = listener.subscribe(&["orders"]).await.expect("subscribe");
    let before_micros = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_micros(),
    )
    .expect("micros fit i64");

    let mut sent = Notification::new(
        "order.status_changed",
        json!({"order_reference": "DE--1", "status": "shipped"}),
    );
    sent.origin_node = "forged".to_owned();
    publisher.publish("orders", sent).await.expect("publish");

    let received = next_event(&mut subscription).await;
    let notification = received.notification().expect("a notification");
    assert_eq!(notification.kind, "order.status_changed");
    assert_eq!(
        notification.payload,
        json!({"order_reference": "DE--1", "status": "shipped"})
    );
    assert_eq!(notification.origin_node, publisher.node_id(), "publish sets the origin");
    assert!(
        notification.sent_at_micros >= before_micros && notification.sent_at_micros < before_micros + 60_000_000,
        "sent_at_micros {} is the publishing time (test started at {before_micros})",
        notification.sent_at_micros
    );
}

async fn dropping_a_subscription_stops_only_its_delivery(mut notify: TestNotify) {
    let publisher = notify.node("publisher").await;
    let listener = notify.node("listener").await;
    let dropped = listener.subscribe(&["orders"]).await.expect("subscribe");
    let mut kept = listener.subscribe(&["orders"]).await.expect("subscribe again");
    drop(dropped);

    publisher.publish("orders", numbered(1)).await.expect("publish");
    assert_eq!(next_sequence(&mut kept).await.1, 1);

    // With every subscription of the channel gone, a new one subscribes afresh.
    drop(kept);
    let mut renewed = listener
        .subscribe(&["orders"])
        .await
        .expect("subscribe after all dropped");
    publisher.publish("orders", numbered(2)).await.expect("publish");
    assert_eq!(next_sequence(&mut renewed).await.1, 2);
}

async fn subscriptions_end_when_their_notifier_is_dropped(notify: TestNotify) {
    let notifier = notify.standalone_node("short-lived").await;
    let mut subscription = notifier.subscribe(&["orders"]).await.expect("subscribe");
    drop(notifier);

    let ended = tokio::time::timeout(crate::harness::EVENT_TIMEOUT, subscription.recv())
        .await
        .expect("recv returns once the notifier is gone");
    assert_eq!(ended, None);
}

async fn publishing_without_subscribers_succeeds(mut notify: TestNotify) {
    let publisher = notify.node("publisher").await;
    publisher
        .publish("nobody.listens", numbered(1))
        .await
        .expect("a hint nobody wants is not an error");

    let mut late = publisher.subscribe(&["nobody.listens"]).await.expect("subscribe");
    publisher.publish("nobody.listens", numbered(2)).await.expect("publish");
    assert!(
        matches!(next_event(&mut late).await, Received::Notification { notification, .. } if notification.payload["sequence"] == 2),
        "a late subscriber gets only what is published after it subscribed"
    );
}

async fn a_subscription_works_as_a_stream(mut notify: TestNotify) {
    let publisher = notify.node("publisher").await;
    let listener = notify.node("listener").await;
    let subscription = listener.subscribe(&["orders"]).await.expect("subscribe");
    // What a WebSocket handler would do: forward the stream from a task of its own.
    let forwarder = tokio::spawn(async move {
        subscription
            .into_stream()
            .filter_map(
                |received| async move { received.notification().map(|notification| notification.payload.clone()) },
            )
            .take(3)
            .collect::<Vec<_>>()
            .await
    });
    // The subscription exists before the task runs, so nothing published now is missed.
    for sequence in 0..3 {
        publisher.publish("orders", numbered(sequence)).await.expect("publish");
    }
    let payloads = tokio::time::timeout(crate::harness::EVENT_TIMEOUT, forwarder)
        .await
        .expect("three notifications in time")
        .expect("the forwarding task did not panic");
    assert_eq!(
        payloads,
        [json!({"sequence": 0}), json!({"sequence": 1}), json!({"sequence": 2})]
    );
}
