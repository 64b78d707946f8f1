//! Live announcements on the notifier (channel `orders`, see `kontor_storefront::html::ORDERS_CHANNEL`):
//! an order's new item states after every committed OMS run ([`OrderAnnouncer`]), and each placed order
//! ([`AnnouncingGateway`]). They feed the customers' order pages and the Back Office over WebSockets;
//! losing one is harmless (pages re-read the order), so failures are only logged.

use async_trait::async_trait;
use kontor_domain::checkout::StoredOrder;
use kontor_domain::gateway::{BackendGateway, CheckoutCommand, GatewayError, GatewayReply, GatewayRequest};
use kontor_domain::oms::OrderObserver;
use kontor_notify::{Notification, Notifier};
use serde_json::json;
use std::sync::Arc;

/// The channel both announcements go to.
pub const ORDERS_CHANNEL: &str = kontor_storefront::html::ORDERS_CHANNEL;

/// Publishes `order.status` with the order's distinct item states after items moved.
pub struct OrderAnnouncer {
    pub notifier: Arc<dyn Notifier>,
}

#[async_trait]
impl OrderObserver for OrderAnnouncer {
    async fn items_moved(&self, order: &StoredOrder) {
        let mut states: Vec<&str> = order.items.iter().map(|item| item.state.as_str()).collect();
        states.sort_unstable();
        states.dedup();
        let payload = json!({
            "reference": order.reference,
            "customer_reference": order.customer_reference,
            "store": order.store,
            "status": states.join(", "),
            "item_states": states,
        });
        if let Err(error) = self
            .notifier
            .publish(ORDERS_CHANNEL, Notification::new("order.status", payload))
            .await
        {
            tracing::warn!(order_id = order.id, %error, "order status not announced");
        }
    }
}

/// The backend gateway, announcing `order.placed` for every order it places.
pub struct AnnouncingGateway {
    pub inner: Arc<dyn BackendGateway>,
    pub notifier: Arc<dyn Notifier>,
}

#[async_trait]
impl BackendGateway for AnnouncingGateway {
    async fn execute(&self, request: GatewayRequest) -> Result<GatewayReply, GatewayError> {
        let customer_reference = match &request {
            GatewayRequest::Checkout(CheckoutCommand::PlaceOrder {
                owner: kontor_domain::gateway::CartOwner::Customer(reference),
                ..
            }) => Some(reference.clone()),
            _ => None,
        };
        let reply = self.inner.execute(request).await?;
        if let GatewayReply::OrderPlaced(placed) = &reply {
            let payload = json!({
                "reference": placed.order_reference,
                "customer_reference": customer_reference,
                "store": placed.order.store,
                "grand_total": placed.order.totals.grand_total,
                "currency": placed.order.currency_iso_code,
            });
            if let Err(error) = self
                .notifier
                .publish(ORDERS_CHANNEL, Notification::new("order.placed", payload))
                .await
            {
                tracing::warn!(order = %placed.order_reference, %error, "new order not announced");
            }
        }
        Ok(reply)
    }
}
