//! Customer accounts, sign-in tokens, password reset and addresses (storefront-api.md §6, §8.1–§8.2).

use crate::gateway::{CustomerCommand, GatewayError, GatewayReply};

/// Runs the customer commands of the backend gateway.
pub struct CustomerService {}

impl CustomerService {
    pub async fn execute(&self, command: CustomerCommand) -> Result<GatewayReply, GatewayError> {
        let _ = command;
        Err(GatewayError::Internal("customers are not built yet".to_owned()))
    }
}
