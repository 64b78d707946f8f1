//! Cart resources: `carts`, `carts/{id}/items`, `guest-carts`, `guest-cart-items`.

use crate::state::StorefrontState;
use axum::Router;

pub fn routes() -> Router<StorefrontState> {
    Router::new()
}
