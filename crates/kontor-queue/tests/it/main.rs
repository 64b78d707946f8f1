//! Integration tests of kontor-queue: one `MessageBus` conformance suite, instantiated by
//! `bus_test_suite!` on every backend (memory, SQL on SQLite/PostgreSQL/MariaDB, RabbitMQ).

mod harness;
mod open;
mod suite;
