//! SQL storage of carts.
