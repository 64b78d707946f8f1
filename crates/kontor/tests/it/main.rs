//! The binary as an operator uses it: real processes, a real SQLite file, real HTTP.

mod cli;
mod cluster;
mod scheduler;
