//! The binary as an operator uses it: real processes, a real SQLite file, real HTTP.

mod browser;
mod cli;
mod cluster;
mod import_crash;
mod import_flags;
mod scenarios;
mod scheduler;
mod sync_maintenance;
