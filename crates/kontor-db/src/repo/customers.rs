//! SQL storage of customers.
