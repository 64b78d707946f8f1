//! Integration tests of kontor-queue: one `MessageBus` conformance suite, instantiated by
//! `bus_test_suite!` on every backend (memory, SQL on SQLite/PostgreSQL/MariaDB, RabbitMQ).
//! The scheduler's tests run on the three SQL backends with a test clock (`scheduler`).

mod harness;
mod open;
mod scheduler;
mod suite;
