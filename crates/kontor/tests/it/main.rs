//! The binary as an operator uses it: real processes, a real SQLite file, real HTTP.

mod browser;
mod cli;
mod cluster;
mod scenarios;
mod scheduler;
