//! Bad input is refused with an error naming it, and changes nothing.

use crate::harness::{TestNotify, next_sequence, numbered};
use kontor_notify::{MAX_NOTIFICATION_BYTES, Notification, NotifyError};
use serde_json::json;

notify_test_suite!(
    rejects_bad_channel_names_naming_them,
    a_bad_channel_in_a_list_subscribes_nothing,
    rejects_bad_kinds_and_oversized_notifications,
);

const BAD_CHANNELS: [&str; 6] = ["Orders", "orders status", "orders*", "café", "", "a/b"];

async fn rejects_bad_channel_names_naming_them(mut notify: TestNotify) {
    let notifier = notify.node("node").await;
    for channel in BAD_CHANNELS {
        let published = notifier.publish(channel, numbered(1)).await;
        let Err(error @ NotifyError::InvalidChannel { .. }) = published else {
            panic!("publish to {channel:?} was not refused as an invalid channel: {published:?}");
        };
        assert!(
            error.to_string().contains(&format!("channel `{channel}`")),
            "the error names the channel: {error}"
        );

        let subscribed = notifier.subscribe(&[channel]).await;
        let Err(error @ NotifyError::InvalidChannel { .. }) = subscribed else {
            panic!("subscribe to {channel:?} was not refused as an invalid channel: {subscribed:?}");
        };
        assert!(error.to_string().contains(&format!("channel `{channel}`")), "{error}");
    }
    let too_long = "c".repeat(kontor_notify::MAX_NAME_BYTES + 1);
    let error = notifier.subscribe(&[too_long.as_str()]).await.expect_err("too long");
    assert!(error.to_string().contains("at most 128 bytes"), "{error}");
    let error = notifier.subscribe(&[]).await.expect_err("no channel");
    assert!(matches!(error, NotifyError::NoChannels), "{error}");
}

async fn a_bad_channel_in_a_list_subscribes_nothing(mut notify: TestNotify) {
    let publisher = notify.node("publisher").await;
    let listener = notify.node("listener").await;
    let error = listener
        .subscribe(&["orders", "Bad Channel"])
        .await
        .expect_err("one bad name refuses the whole list");
    assert!(error.to_string().contains("`Bad Channel`"), "{error}");

    // Nothing of the refused subscription lingers: a later one on `orders` sees only its own
    // notifications, and one notification once.
    let mut subscription = listener.subscribe(&["orders"]).await.expect("subscribe");
    publisher.publish("orders", numbered(1)).await.expect("publish");
    publisher.publish("orders", numbered(2)).await.expect("publish");
    assert_eq!(next_sequence(&mut subscription).await.1, 1);
    assert_eq!(next_sequence(&mut subscription).await.1, 2);
}

async fn rejects_bad_kinds_and_oversized_notifications(mut notify: TestNotify) {
    let notifier = notify.node("node").await;
    let error = notifier
        .publish("orders", Notification::new("Order Changed", json!({})))
        .await
        .expect_err("kind with upper case and a space");
    assert!(error.to_string().contains("kind `Order Changed`"), "{error}");

    let oversized = Notification::new("import.progress", json!({ "blob": "x".repeat(MAX_NOTIFICATION_BYTES) }));
    let error = notifier.publish("imports", oversized).await.expect_err("oversized");
    let NotifyError::NotificationTooLarge { channel, bytes, limit } = &error else {
        panic!("expected NotificationTooLarge, got {error:?}");
    };
    assert_eq!((channel.as_str(), *limit), ("imports", MAX_NOTIFICATION_BYTES));
    assert!(*bytes > MAX_NOTIFICATION_BYTES);
    assert!(
        !error.to_string().contains("xxxx"),
        "payloads stay out of errors: {error}"
    );
}
