//! `GET /ws`: a signed-in customer's live order status. Pages with `data-order-status="<reference>"`
//! (`assets/storefront.js`) connect here and replace the element's text when a message
//! `{"type": "order.status", "reference", "status"}` arrives. `status` is written as the pages write
//! it: the display names of the item states in the session's locale ([`StateNames`]).
//!
//! The socket follows the notifier's [`ORDERS_CHANNEL`] and forwards only the `order.status`
//! notifications whose `customer_reference` is the session's customer: a customer never learns of
//! anyone else's orders. Only signed-in sessions are upgraded (401 before the handshake otherwise), and
//! a browser's handshake must come from this site (403 otherwise), since cookies would also ride along
//! on another site's WebSocket. Notifications are hints ([`kontor_notify`]): when some were lost
//! (`Missed`, `Interrupted`) the page is sent `{"type": "resync"}` and may reload its statuses.
//!
//! Every connection is pinged every [`PING_EVERY`]; one that has not been heard from (not even a pong)
//! for [`IDLE_LIMIT`], or that cannot take a message within [`SEND_TIMEOUT`], is closed, so dead
//! browsers do not keep subscriptions. Nothing global is kept: each socket owns its subscription.

use super::order_states::StateNames;
use super::{ORDERS_CHANNEL, Shopper, SignedInCustomer, keys, kit};
use crate::state::StorefrontState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kontor_kv::KvStore;
use kontor_notify::{Received, Subscription};
use kontor_web::html::{Session, same_origin};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How often an open socket is pinged (below the usual 30–60 s idle cut-off of proxies).
pub const PING_EVERY: Duration = Duration::from_secs(25);
/// A socket silent for this long (two missed pongs and some slack) is gone.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// A client that cannot take one message within this is too slow or gone.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Clients send nothing but control frames; anything large is not a client of ours.
const MAX_INCOMING_BYTES: usize = 4 * 1024;

/// The notification kind forwarded to the page.
const ORDER_STATUS: &str = "order.status";

pub fn routes() -> Router<StorefrontState> {
    Router::new().route("/ws", get(connect))
}

/// `GET /ws`: the upgrade, for signed-in customers only.
async fn connect(
    State(state): State<StorefrontState>,
    session: Session,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Some(customer) = session.get::<SignedInCustomer>(keys::CUSTOMER) else {
        return (StatusCode::UNAUTHORIZED, "sign in to follow your orders").into_response();
    };
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-site WebSocket connections are refused").into_response();
    }
    let Some(notifier) = kit(&state).notifier.clone() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "live order status is not available").into_response();
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // The locale of the pages that follow: without one (KV down) statuses go out untranslated.
    let locale = Shopper::of(&state, &session).await.ok().map(|shopper| shopper.locale);
    let names = StatusNames {
        kv: Arc::clone(&state.kv),
        locale,
    };
    // Subscribed before the handshake: a notifier that cannot subscribe is an honest 503, not a socket
    // that stays silent; and nothing published after the handshake can be missed.
    let subscription = match notifier.subscribe(&[ORDERS_CHANNEL]).await {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::warn!(%error, "cannot subscribe to order notifications");
            return (StatusCode::SERVICE_UNAVAILABLE, "live order status is not available").into_response();
        }
    };
    upgrade
        .max_message_size(MAX_INCOMING_BYTES)
        .max_frame_size(MAX_INCOMING_BYTES)
        .on_upgrade(move |socket| follow(socket, subscription, customer.reference, names))
}

/// Where a socket finds the display names of states.
struct StatusNames {
    kv: Arc<dyn KvStore>,
    locale: Option<String>,
}

/// Forwards the customer's order statuses until the client leaves, goes silent or the notifier ends.
async fn follow(mut socket: WebSocket, mut subscription: Subscription, customer_reference: String, names: StatusNames) {
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_heard = Instant::now();
    loop {
        let outgoing = tokio::select! {
            received = subscription.recv() => match received {
                Some(received) => match update_for(&received, &customer_reference) {
                    Some(update) => Some(message(update, &names).await),
                    None => None,
                },
                // The notifier is gone (shutdown): the page reconnects to a live one.
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {
                    last_heard = Instant::now();
                    None
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_LIMIT {
                    tracing::debug!("closing a silent order-status socket");
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

/// What a notifier event means for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Update {
    /// One of the customer's orders changed: its reference, its item states (names) and the status
    /// text the backend wrote from them.
    Status {
        reference: String,
        states: Vec<String>,
        status: String,
    },
    /// Notifications were lost: the page should re-read its statuses.
    Resync,
}

/// The page's update for a notifier event: its own order's status, a resync after lost
/// notifications, nothing for anything else.
fn update_for(received: &Received, customer_reference: &str) -> Option<Update> {
    match received {
        Received::Notification { notification, .. } => {
            let payload = &notification.payload;
            let own = payload.get("customer_reference").and_then(Value::as_str) == Some(customer_reference);
            if notification.kind != ORDER_STATUS || !own {
                return None;
            }
            let states = payload
                .get("item_states")
                .and_then(Value::as_array)
                .map(|states| states.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            Some(Update::Status {
                reference: payload.get("reference")?.as_str()?.to_owned(),
                states,
                status: payload.get("status")?.as_str()?.to_owned(),
            })
        }
        Received::Missed { .. } | Received::Interrupted { .. } => Some(Update::Resync),
    }
}

/// The message of an update, its status in display names when the states and a locale are known.
async fn message(update: Update, names: &StatusNames) -> Message {
    let message = match update {
        Update::Status {
            reference,
            states,
            status,
        } => {
            let status = match &names.locale {
                Some(locale) if !states.is_empty() => {
                    let states: Vec<&str> = states.iter().map(String::as_str).collect();
                    StateNames::load(names.kv.as_ref(), locale, &states)
                        .await
                        .status(states.iter().copied())
                }
                _ => status,
            };
            json!({"type": ORDER_STATUS, "reference": reference, "status": status})
        }
        Update::Resync => json!({"type": "resync"}),
    };
    Message::Text(message.to_string().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::{HOST, ORIGIN};
    use kontor_notify::Notification;

    fn notification(kind: &str, customer: Option<&str>) -> Received {
        Received::Notification {
            channel: ORDERS_CHANNEL.to_owned(),
            notification: Arc::new(Notification::new(
                kind,
                json!({"reference": "DE--7", "customer_reference": customer, "status": "paid, payment pending",
                       "item_states": ["paid", "payment pending"], "store": "DE"}),
            )),
        }
    }

    fn text(message: Message) -> Option<Value> {
        match message {
            Message::Text(text) => serde_json::from_str(text.as_str()).ok(),
            _ => None,
        }
    }

    fn paid_update() -> Update {
        Update::Status {
            reference: "DE--7".to_owned(),
            states: vec!["paid".to_owned(), "payment pending".to_owned()],
            status: "paid, payment pending".to_owned(),
        }
    }

    #[test]
    fn only_the_customers_own_statuses_are_forwarded() {
        assert_eq!(
            update_for(&notification(ORDER_STATUS, Some("DE--1")), "DE--1"),
            Some(paid_update())
        );
        assert!(update_for(&notification(ORDER_STATUS, Some("DE--2")), "DE--1").is_none());
        assert!(
            update_for(&notification(ORDER_STATUS, None), "DE--1").is_none(),
            "guest orders"
        );
        assert!(update_for(&notification("order.placed", Some("DE--1")), "DE--1").is_none());
        let missed = Received::Missed {
            channel: ORDERS_CHANNEL.to_owned(),
            count: 3,
        };
        assert_eq!(update_for(&missed, "DE--1"), Some(Update::Resync));
    }

    #[tokio::test]
    async fn statuses_go_out_in_display_names_of_the_locale() {
        use kontor_kv::{KvOp, KvOptions, MemoryKv};
        let kv = Arc::new(MemoryKv::new(KvOptions::default()));
        kv.apply(&[KvOp::write_document(
            "translation:de_de:oms.state.payment-pending",
            json!({"value": "Zahlung ausstehend", "_timestamp": 1.0}),
        )
        .expect("a document")])
            .await
            .expect("written");
        let german = StatusNames {
            kv: kv.clone(),
            locale: Some("de_DE".to_owned()),
        };
        assert_eq!(
            text(message(paid_update(), &german).await),
            Some(json!({"type": "order.status", "reference": "DE--7", "status": "Zahlung ausstehend, paid"}))
        );
        // Without a locale (the KV store was down at connect) the backend's text goes out.
        let unknown = StatusNames { kv, locale: None };
        assert_eq!(
            text(message(paid_update(), &unknown).await),
            Some(json!({"type": "order.status", "reference": "DE--7", "status": "paid, payment pending"}))
        );
        assert_eq!(
            text(message(Update::Resync, &unknown).await),
            Some(json!({"type": "resync"}))
        );
    }

    #[test]
    fn a_browser_handshake_must_come_from_this_site() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "shop.example".parse().expect("header"));
        assert!(same_origin(&headers), "no Origin: not a browser page");
        headers.insert(ORIGIN, "https://shop.example".parse().expect("header"));
        assert!(same_origin(&headers));
        headers.insert(ORIGIN, "https://evil.example".parse().expect("header"));
        assert!(!same_origin(&headers));
    }
}
