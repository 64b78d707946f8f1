//! Kontor's order management state machine definitions: Spryker OMS XML (oms.md) → validated, immutable
//! [`Process`] graphs, plus diagrams of them.
//!
//! Layer 1, pure: no database, no async runtime, no I/O besides reading the XML files it is asked to load.
//! The engine that moves order items (locks, history, timeouts) lives in a higher crate and uses the lookups
//! of [`Process`] (`candidates`, `on_enter_event`, `timed_events`, …).
//!
//! Pipeline: `xml` reads a file into an element tree with line numbers; `parse` checks the OMS
//! vocabulary; `load` follows subprocess file declarations; `validate` merges the processes of one main file
//! and applies every rule of oms.md §7, collecting all findings as [`Diagnostic`]s; [`draw_dot`] and
//! [`draw_svg`] render a process with Spryker's drawing conventions (oms.md §8).

mod diagnostics;
mod draw;
mod load;
mod model;
mod parse;
mod plugins;
mod timeout;
mod validate;
mod xml;

pub use diagnostics::{Diagnostic, LoadError, Severity};
pub use draw::{DrawOptions, draw_dot, draw_svg};
pub use load::{ProcessSet, load_process_file, load_process_str};
pub use model::{Event, Location, Process, ProcessPart, State, Transition};
pub use parse::NAMESPACES;
pub use plugins::{Checks, KeyList, NoPlugins, PluginKeys};
pub use timeout::{TimeUnit, Timeout, TimeoutError};
pub use validate::INITIAL_STATE;
