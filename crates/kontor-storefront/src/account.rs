//! Customer resources: `customers`, `access-tokens`, `refresh-tokens`, `token`, `addresses`,
//! `customer-password`, `customer-forgotten-password`, `customer-restore-password`.

use crate::state::StorefrontState;
use axum::Router;

pub fn routes() -> Router<StorefrontState> {
    Router::new()
}
