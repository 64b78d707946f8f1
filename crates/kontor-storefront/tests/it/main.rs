//! Storefront integration tests: the HTTP API against real KV and search backends.
