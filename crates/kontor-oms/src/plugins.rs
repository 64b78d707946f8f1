//! Which plugin keys exist, as far as loading and drawing need to know.
//!
//! The real registry (trait objects for commands, conditions and timeout processors) lives in a crate with
//! I/O; this pure crate only asks it yes/no questions through [`PluginKeys`], so an unregistered key can be
//! reported at load time (oms.md §4, §7.6) and drawn red.

use std::collections::BTreeSet;

/// Answers whether a plugin key is registered. Implemented by the runtime registry.
pub trait PluginKeys {
    fn has_command(&self, key: &str) -> bool;
    fn has_condition(&self, key: &str) -> bool;
    fn has_timeout_processor(&self, key: &str) -> bool;
    /// Whether the command runs once per order rather than once per item; only used for drawing.
    fn command_is_by_order(&self, _key: &str) -> bool {
        false
    }
}

/// No plugin is registered: use with [`Checks::StructureOnly`] or to draw every key as "not implemented".
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPlugins;

impl PluginKeys for NoPlugins {
    fn has_command(&self, _key: &str) -> bool {
        false
    }
    fn has_condition(&self, _key: &str) -> bool {
        false
    }
    fn has_timeout_processor(&self, _key: &str) -> bool {
        false
    }
}

/// A plain list of keys, for tests and tools that have no runtime registry.
#[derive(Debug, Clone, Default)]
pub struct KeyList {
    commands: BTreeSet<String>,
    by_order_commands: BTreeSet<String>,
    conditions: BTreeSet<String>,
    timeout_processors: BTreeSet<String>,
}

impl KeyList {
    pub fn new() -> KeyList {
        KeyList::default()
    }

    /// Registers a by-item command.
    pub fn command(mut self, key: &str) -> KeyList {
        self.commands.insert(key.to_owned());
        self
    }

    /// Registers a by-order command (drawn "(by order)").
    pub fn by_order_command(mut self, key: &str) -> KeyList {
        self.commands.insert(key.to_owned());
        self.by_order_commands.insert(key.to_owned());
        self
    }

    pub fn condition(mut self, key: &str) -> KeyList {
        self.conditions.insert(key.to_owned());
        self
    }

    pub fn timeout_processor(mut self, key: &str) -> KeyList {
        self.timeout_processors.insert(key.to_owned());
        self
    }
}

impl PluginKeys for KeyList {
    fn has_command(&self, key: &str) -> bool {
        self.commands.contains(key)
    }
    fn has_condition(&self, key: &str) -> bool {
        self.conditions.contains(key)
    }
    fn has_timeout_processor(&self, key: &str) -> bool {
        self.timeout_processors.contains(key)
    }
    fn command_is_by_order(&self, key: &str) -> bool {
        self.by_order_commands.contains(key)
    }
}

/// How strictly a process is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checks {
    /// Everything in oms.md §7, including that every plugin key is registered (start-up, `oms validate`).
    #[default]
    Full,
    /// Everything except plugin registration (`--allow-missing`): a Spryker file naming keys Kontor lacks
    /// still validates and draws.
    StructureOnly,
}
