//! Storefront documents and their keys (being written).
