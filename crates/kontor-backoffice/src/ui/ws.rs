//! `GET /backoffice/ws` (dashboard.read): live notifications for signed-in Back Office users, read by
//! `assets/backoffice.js`. Every message is a JSON object with a `type`:
//!
//! - `order.placed` (from the [`ORDERS_CHANNEL`], for users with orders.read) with the notification's
//!   payload: `reference`, `customer_reference`, `store`, `grand_total`, `currency`;
//! - `import.progress` (from the [`IMPORTS_CHANNEL`], for users with imports.run): `job`, `processed`,
//!   `total`, `errors`, `done`;
//! - `record.changed` (from the [`RECORDS_CHANNEL`]): `record` (`<type>:<id>`) and `user`, only for
//!   records this socket watches and only when someone else changed them. A page watches a record by
//!   sending `{"type": "watch", "record": "products:12"}` (and `unwatch` to stop);
//! - `resync` after notifications were lost (`Missed`, `Interrupted`): the page should reload what it shows.
//!
//! Edit handlers publish `record.changed` with [`announce_change`] after a successful save.
//!
//! The socket is pinged every [`PING_EVERY`]; each ping also re-reads the user's permissions, so a
//! deactivated user or a revoked role closes the socket within one period, as it ends their pages at
//! the next request. A browser's handshake must come from this site (403 otherwise): its cookies would
//! also ride along on another site's WebSocket. Nothing global is kept: each socket owns its
//! subscription and watch list, which ends with it.

use super::kit;
use crate::acl::{GuardedRouter, Principal};
use crate::state::AdminState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kontor_domain::acl::Permission;
use kontor_notify::{Notification, Received, Subscription};
use kontor_web::html::same_origin;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;

/// Orders placed and their status changes (`order.placed`, `order.status`).
pub const ORDERS_CHANNEL: &str = "orders";
/// Import jobs' progress (`import.progress`).
pub const IMPORTS_CHANNEL: &str = "imports";
/// Records saved in the Back Office (`record.changed`).
pub const RECORDS_CHANNEL: &str = "records";

pub const ORDER_PLACED: &str = "order.placed";
pub const IMPORT_PROGRESS: &str = "import.progress";
pub const RECORD_CHANGED: &str = "record.changed";

/// How often an open socket is pinged (below the usual 30–60 s idle cut-off of proxies).
pub const PING_EVERY: Duration = Duration::from_secs(25);
/// A socket silent for this long (two missed pongs and some slack) is gone.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// A client that cannot take one message within this is too slow or gone.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Clients send only small watch requests; anything large is not a client of ours.
const MAX_INCOMING_BYTES: usize = 4 * 1024;
/// Records one socket may watch; a page watches one or two.
const MAX_WATCHED: usize = 32;
/// `<type>:<id>` is short; a longer one is not a record name.
const MAX_RECORD_BYTES: usize = 200;

pub fn routes() -> GuardedRouter {
    GuardedRouter::new().get("/backoffice/ws", Permission::DashboardRead, connect)
}

/// Tells the watchers of `record` (`<type>:<id>`, e.g. `products:12`) that `principal` just saved it.
/// A hint: when there is no notifier or it fails, the change is saved all the same and only logged.
pub async fn announce_change(state: &AdminState, principal: &Principal, record: &str) {
    let Some(notifier) = state.ui.as_ref().and_then(|kit| kit.notifier.clone()) else {
        return;
    };
    let notification = Notification::new(RECORD_CHANGED, json!({"record": record, "user": principal.user.email}));
    if let Err(error) = notifier.publish(RECORDS_CHANNEL, notification).await {
        tracing::warn!(%error, record, "a record change could not be announced");
    }
}

/// The channels a principal may hear from.
fn channels_for(principal: &Principal) -> Vec<&'static str> {
    let mut channels = vec![RECORDS_CHANNEL];
    if principal.may(Permission::OrdersRead) {
        channels.push(ORDERS_CHANNEL);
    }
    if principal.may(Permission::ImportsRun) {
        channels.push(IMPORTS_CHANNEL);
    }
    channels
}

/// `GET /backoffice/ws`: the upgrade, for principals the guard let through.
async fn connect(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-site WebSocket connections are refused").into_response();
    }
    let Some(notifier) = kit(&state).notifier.clone() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "live notifications are not available").into_response();
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // Subscribed before the handshake: a notifier that cannot subscribe is an honest 503 rather than a
    // socket that stays silent, and nothing published after the handshake can be missed.
    let subscription = match notifier.subscribe(&channels_for(&principal)).await {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::warn!(%error, "cannot subscribe to Back Office notifications");
            return (StatusCode::SERVICE_UNAVAILABLE, "live notifications are not available").into_response();
        }
    };
    upgrade
        .max_message_size(MAX_INCOMING_BYTES)
        .max_frame_size(MAX_INCOMING_BYTES)
        .on_upgrade(move |socket| follow(socket, subscription, state, principal))
}

/// What one socket knows about its user: who they are, what they may hear, which records they watch.
struct Listener {
    principal: Principal,
    watched: BTreeSet<String>,
}

/// Forwards notifications until the client leaves, goes silent, loses its access or the notifier ends.
async fn follow(mut socket: WebSocket, mut subscription: Subscription, state: AdminState, principal: Principal) {
    let mut listener = Listener {
        principal,
        watched: BTreeSet::new(),
    };
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_heard = Instant::now();
    loop {
        let outgoing = tokio::select! {
            received = subscription.recv() => match received {
                Some(received) => listener.message_for(&received),
                // The notifier is gone (shutdown): the page reconnects to a live one.
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(Message::Text(text))) => {
                    last_heard = Instant::now();
                    listener.handle_request(text.as_str());
                    None
                }
                Some(Ok(_)) => {
                    last_heard = Instant::now();
                    None
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_LIMIT {
                    tracing::debug!("closing a silent Back Office socket");
                    break;
                }
                if !still_allowed(&state, &mut listener.principal).await {
                    break;
                }
                Some(Message::Ping(Bytes::new()))
            }
        };
        if let Some(message) = outgoing
            && !matches!(
                tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await,
                Ok(Ok(()))
            )
        {
            return;
        }
    }
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(None))).await;
}

/// Re-reads the user's permissions (empty for a deactivated user); false once the socket's own
/// permission is gone. A storage hiccup keeps the socket and the permissions it had.
async fn still_allowed(state: &AdminState, principal: &mut Principal) -> bool {
    match state.acl.permissions_of(principal.user.id).await {
        Ok(permissions) => {
            principal.permissions = permissions;
            principal.may(Permission::DashboardRead)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot re-read a socket user's permissions");
            true
        }
    }
}

impl Listener {
    /// A page's `watch` / `unwatch` request; anything else is ignored.
    fn handle_request(&mut self, text: &str) {
        let Ok(request) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let Some(record) = request.get("record").and_then(Value::as_str) else {
            return;
        };
        if record.is_empty() || record.len() > MAX_RECORD_BYTES {
            return;
        }
        match request.get("type").and_then(Value::as_str) {
            Some("watch") if self.watched.len() < MAX_WATCHED => {
                self.watched.insert(record.to_owned());
            }
            Some("unwatch") => {
                self.watched.remove(record);
            }
            _ => {}
        }
    }

    /// What the page is sent for a notifier event, if anything (see the module docs).
    fn message_for(&self, received: &Received) -> Option<Message> {
        let message = match received {
            Received::Notification { channel, notification } => {
                let wanted = match (channel.as_str(), notification.kind.as_str()) {
                    (ORDERS_CHANNEL, ORDER_PLACED) => self.principal.may(Permission::OrdersRead),
                    (IMPORTS_CHANNEL, IMPORT_PROGRESS) => self.principal.may(Permission::ImportsRun),
                    (RECORDS_CHANNEL, RECORD_CHANGED) => self.watches_change_by_other(&notification.payload),
                    _ => false,
                };
                if !wanted {
                    return None;
                }
                let mut message = match &notification.payload {
                    Value::Object(fields) => fields.clone(),
                    _ => serde_json::Map::new(),
                };
                message.insert("type".to_owned(), Value::from(notification.kind.as_str()));
                Value::Object(message)
            }
            Received::Missed { .. } | Received::Interrupted { .. } => json!({"type": "resync"}),
        };
        Some(Message::Text(message.to_string().into()))
    }

    /// A change of a watched record, made by somebody else (one's own save needs no warning).
    fn watches_change_by_other(&self, payload: &Value) -> bool {
        let record = payload.get("record").and_then(Value::as_str);
        let by = payload.get("user").and_then(Value::as_str);
        record.is_some_and(|record| self.watched.contains(record)) && by != Some(self.principal.user.email.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::{HOST, ORIGIN};
    use kontor_core::ids::UserId;
    use kontor_domain::acl::PermissionSet;
    use kontor_domain::users::User;
    use std::sync::Arc;

    fn listener(permissions: &[Permission]) -> Listener {
        Listener {
            principal: Principal {
                user: User {
                    id: UserId(1),
                    email: "me@example.com".into(),
                    is_active: true,
                    created_at: chrono::Utc::now(),
                },
                permissions: PermissionSet::of(permissions),
            },
            watched: BTreeSet::new(),
        }
    }

    fn received(channel: &str, kind: &str, payload: Value) -> Received {
        Received::Notification {
            channel: channel.to_owned(),
            notification: Arc::new(Notification::new(kind, payload)),
        }
    }

    fn text(message: Option<Message>) -> Option<Value> {
        match message? {
            Message::Text(text) => serde_json::from_str(text.as_str()).ok(),
            _ => None,
        }
    }

    #[test]
    fn orders_and_imports_reach_only_those_allowed_to_see_them() {
        let order = received(
            ORDERS_CHANNEL,
            ORDER_PLACED,
            json!({"reference": "DE--1", "store": "DE"}),
        );
        let progress = received(IMPORTS_CHANNEL, IMPORT_PROGRESS, json!({"job": "j1", "processed": 5}));
        let order_manager = listener(&[Permission::DashboardRead, Permission::OrdersRead]);
        assert_eq!(
            text(order_manager.message_for(&order)),
            Some(json!({"type": "order.placed", "reference": "DE--1", "store": "DE"}))
        );
        assert!(order_manager.message_for(&progress).is_none());
        let importer = listener(&[Permission::DashboardRead, Permission::ImportsRun]);
        assert!(importer.message_for(&order).is_none());
        assert_eq!(
            text(importer.message_for(&progress)).map(|message| message["processed"].clone()),
            Some(json!(5))
        );
        let status = received(ORDERS_CHANNEL, "order.status", json!({"reference": "DE--1"}));
        assert!(
            order_manager.message_for(&status).is_none(),
            "only new orders are shown"
        );
        let missed = Received::Missed {
            channel: ORDERS_CHANNEL.to_owned(),
            count: 2,
        };
        assert_eq!(text(importer.message_for(&missed)), Some(json!({"type": "resync"})));
    }

    #[test]
    fn record_changes_reach_watchers_but_not_their_author() {
        let mut watcher = listener(&[Permission::DashboardRead]);
        let by_other = received(
            RECORDS_CHANNEL,
            RECORD_CHANGED,
            json!({"record": "products:12", "user": "other@example.com"}),
        );
        assert!(watcher.message_for(&by_other).is_none(), "not watched yet");
        watcher.handle_request(r#"{"type":"watch","record":"products:12"}"#);
        watcher.handle_request("not json");
        watcher.handle_request(&json!({"type": "watch", "record": "x".repeat(MAX_RECORD_BYTES + 1)}).to_string());
        assert_eq!(watcher.watched.len(), 1);
        assert_eq!(
            text(watcher.message_for(&by_other)),
            Some(json!({"type": "record.changed", "record": "products:12", "user": "other@example.com"}))
        );
        let by_self = received(
            RECORDS_CHANNEL,
            RECORD_CHANGED,
            json!({"record": "products:12", "user": "me@example.com"}),
        );
        assert!(watcher.message_for(&by_self).is_none());
        watcher.handle_request(r#"{"type":"unwatch","record":"products:12"}"#);
        assert!(watcher.message_for(&by_other).is_none());
    }

    #[test]
    fn a_browser_handshake_must_come_from_this_site() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "admin.example".parse().expect("header"));
        assert!(same_origin(&headers), "no Origin: not a browser page");
        headers.insert(ORIGIN, "https://admin.example".parse().expect("header"));
        assert!(same_origin(&headers));
        headers.insert(ORIGIN, "https://evil.example".parse().expect("header"));
        assert!(!same_origin(&headers));
    }
}
