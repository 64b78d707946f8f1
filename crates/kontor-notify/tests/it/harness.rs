//! Per-test notifiers: which backends run, how each test gets its own namespace and nodes, and
//! helpers to wait for events without hanging forever.

use kontor_notify::{Notification, Notifier, NotifierOptions, Received, Subscription};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// How long a test waits for an event that must come; far above any healthy latency.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Broadcast,
    Redis,
}

impl TestBackend {
    pub fn name(self) -> &'static str {
        match self {
            TestBackend::Broadcast => "broadcast",
            TestBackend::Redis => "redis",
        }
    }

    /// Whether `KONTOR_TEST_BACKENDS` (default: all) includes this backend, as in kontor-kv. The
    /// broadcast backend needs no server and always runs.
    pub fn is_selected(self) -> bool {
        if self == TestBackend::Broadcast {
            return true;
        }
        match std::env::var("KONTOR_TEST_BACKENDS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .any(|name| name.trim().eq_ignore_ascii_case(self.name())),
            _ => true,
        }
    }
}

pub fn redis_url() -> String {
    std::env::var("KONTOR_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned())
}

/// The notifiers of one test: a unique namespace, and nodes opened on demand.
pub struct TestNotify {
    backend: TestBackend,
    namespace: String,
    /// A unique suffix for node ids, so Redis client names of parallel tests never collide.
    run_id: String,
    channel_capacity: usize,
    /// The one in-process notifier every broadcast "node" shares.
    shared_broadcast: Option<Arc<dyn Notifier>>,
}

impl TestNotify {
    pub fn new(backend: TestBackend) -> Self {
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            backend,
            namespace: format!("t_{run_id}:"),
            run_id,
            channel_capacity: kontor_notify::DEFAULT_CHANNEL_CAPACITY,
            shared_broadcast: None,
        }
    }

    pub fn backend(&self) -> TestBackend {
        self.backend
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Nodes opened from now on keep at most `capacity` notifications per channel backlog.
    pub fn set_channel_capacity(&mut self, capacity: usize) {
        self.channel_capacity = capacity;
    }

    /// A node called `name`: on Redis a notifier of its own, on broadcast the shared one.
    pub async fn node(&mut self, name: &str) -> Arc<dyn Notifier> {
        if self.backend == TestBackend::Broadcast
            && let Some(shared) = &self.shared_broadcast
        {
            return Arc::clone(shared);
        }
        let notifier = self.open_node(name).await;
        if self.backend == TestBackend::Broadcast {
            self.shared_broadcast = Some(Arc::clone(&notifier));
        }
        notifier
    }

    /// A notifier of its own on either backend, shared with no other node of the test.
    pub async fn standalone_node(&self, name: &str) -> Arc<dyn Notifier> {
        self.open_node(name).await
    }

    /// A notifier of its own at `url` (e.g. through a proxy), in this test's namespace.
    pub async fn node_via(&self, url: &str, name: &str) -> Arc<dyn Notifier> {
        self.open_node_at(url, name).await
    }

    async fn open_node(&self, name: &str) -> Arc<dyn Notifier> {
        let url = match self.backend {
            TestBackend::Broadcast => "broadcast".to_owned(),
            TestBackend::Redis => redis_url(),
        };
        self.open_node_at(&url, name).await
    }

    async fn open_node_at(&self, url: &str, name: &str) -> Arc<dyn Notifier> {
        let options = NotifierOptions {
            channel_capacity: self.channel_capacity,
            ..NotifierOptions::new(&self.namespace, format!("{name}-{}", self.run_id))
        };
        match kontor_notify::open_with_options(url, options).await {
            Ok(notifier) => notifier,
            Err(error) if self.backend == TestBackend::Redis => panic!(
                "redis at {url} is unreachable, so the redis notifier tests cannot run: {error}. \
                 Start redis-server, point KONTOR_TEST_REDIS_URL at one, or deselect redis on purpose \
                 with KONTOR_TEST_BACKENDS=broadcast"
            ),
            Err(error) => panic!("the {} notifier cannot be opened: {error}", self.backend.name()),
        }
    }
}

/// Runs `test` with fresh notifiers on `backend`, or says that the backend was deselected.
pub async fn run_on<F, Fut>(backend: TestBackend, test: F)
where
    F: FnOnce(TestNotify) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if !backend.is_selected() {
        eprintln!("{} deselected by KONTOR_TEST_BACKENDS", backend.name());
        return;
    }
    // The reconnect logs are part of what a failing test should show (nextest prints captured output).
    let _already_installed = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("kontor_notify=debug")
        .try_init();
    test(TestNotify::new(backend)).await;
}

/// An `order.status_changed` notification numbered `sequence`.
pub fn numbered(sequence: u64) -> Notification {
    Notification::new("order.status_changed", json!({ "sequence": sequence }))
}

/// The next event of `subscription`; fails the test when none comes in time or the notifier is gone.
pub async fn next_event(subscription: &mut Subscription) -> Received {
    match tokio::time::timeout(EVENT_TIMEOUT, subscription.recv()).await {
        Ok(Some(received)) => received,
        Ok(None) => panic!(
            "the subscription to {:?} ended",
            subscription.channels().collect::<Vec<_>>()
        ),
        Err(_elapsed) => panic!(
            "no event within {EVENT_TIMEOUT:?} on {:?}",
            subscription.channels().collect::<Vec<_>>()
        ),
    }
}

/// The next event, which must be a notification: returns its channel and sequence number.
pub async fn next_sequence(subscription: &mut Subscription) -> (String, u64) {
    let received = next_event(subscription).await;
    let Received::Notification { channel, notification } = received else {
        panic!("expected a notification, got {received:?}");
    };
    let sequence = notification.payload["sequence"]
        .as_u64()
        .unwrap_or_else(|| panic!("notification without a sequence: {notification:?}"));
    (channel, sequence)
}
