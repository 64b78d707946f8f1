//! Storefront integration tests: the HTTP API against real KV and search backends.

mod accounts;
mod carts;
mod catalog;
mod checkout;
