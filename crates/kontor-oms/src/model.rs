//! The validated state machine: one main process with its subprocesses merged into one namespace.
//!
//! A [`Process`] is immutable once loaded and only ever built by the loader after validation, so the engine
//! can rely on its invariants: every transition's source and target is a state, every named event exists,
//! at most one onEnter event leaves a state, and per (source, event) at most one transition is unconditioned.
//! Lookups used on every trigger (`candidates`, `on_enter_event`) go through indexes built once.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use crate::timeout::Timeout;

/// Where an element was declared; displays as `path:line` (just `path` for file-level problems, line 0).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: PathBuf,
    pub line: u32,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: u32) -> Location {
        Location {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// A state an item can be in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub name: String,
    /// Glossary key of the customer-facing name (`oms.state.paid`).
    pub display: Option<String>,
    /// Quantities of items in this state count as reserved stock.
    pub reserved: bool,
    /// Free tags such as `cancellable` or `exclude from customer`, in document order.
    pub flags: Vec<String>,
    pub location: Location,
}

impl State {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|own| own == flag)
    }
}

/// An edge of the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub source: String,
    pub target: String,
    /// `None` = background transition, taken by the condition checker (oms.md §3).
    pub event: Option<String>,
    /// Condition plugin key; the unconditioned transition of a (source, event) is the "else" branch.
    pub condition: Option<String>,
    /// Marks the happy path; only used for drawing.
    pub happy: bool,
    pub location: Location,
}

/// Something that moves items: fired by a user, on entering a state, or by a timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub on_enter: bool,
    pub manual: bool,
    pub timeout: Option<Timeout>,
    pub timeout_processor: Option<String>,
    pub command: Option<String>,
    pub location: Location,
}

/// One of the processes merged into a [`Process`]: the main one or a subprocess (a drawing cluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessPart {
    pub name: String,
    pub main: bool,
    pub location: Location,
}

/// A main process with its subprocesses merged (oms.md §1).
#[derive(Debug, Clone)]
pub struct Process {
    name: String,
    parts: Vec<ProcessPart>,
    states: Vec<State>,
    /// Index into `parts` of the process that declared each state (same order as `states`).
    state_parts: Vec<usize>,
    state_index: HashMap<String, usize>,
    events: Vec<Event>,
    event_index: HashMap<String, usize>,
    transitions: Vec<Transition>,
    /// Transition indexes by source state, in document order.
    outgoing: HashMap<String, Vec<usize>>,
}

impl Process {
    /// Builds the indexes. Callers (the loader) guarantee unique state and event names and that the main
    /// process is `parts[0]`.
    pub(crate) fn assemble(
        parts: Vec<ProcessPart>,
        states: Vec<(State, usize)>,
        events: Vec<Event>,
        transitions: Vec<Transition>,
    ) -> Process {
        let name = parts.first().map(|part| part.name.clone()).unwrap_or_default();
        let (states, state_parts): (Vec<State>, Vec<usize>) = states.into_iter().unzip();
        let state_index = states
            .iter()
            .enumerate()
            .map(|(index, state)| (state.name.clone(), index))
            .collect();
        let event_index = events
            .iter()
            .enumerate()
            .map(|(index, event)| (event.name.clone(), index))
            .collect();
        let mut outgoing: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, transition) in transitions.iter().enumerate() {
            outgoing.entry(transition.source.clone()).or_default().push(index);
        }
        Process {
            name,
            parts,
            states,
            state_parts,
            state_index,
            events,
            event_index,
            transitions,
            outgoing,
        }
    }

    /// The main process name (e.g. `DummyPayment01`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the main `<process main="true">` element is.
    pub fn location(&self) -> Option<&Location> {
        self.parts.first().map(|part| &part.location)
    }

    /// The main process followed by the subprocesses, in load order.
    pub fn parts(&self) -> &[ProcessPart] {
        &self.parts
    }

    /// All states in document order (main process first, then subprocess files in declaration order).
    pub fn states(&self) -> impl Iterator<Item = &State> {
        self.states.iter()
    }

    pub fn state(&self, name: &str) -> Option<&State> {
        self.state_index.get(name).map(|&index| &self.states[index])
    }

    /// All events in document order; for an event declared twice, the later declaration's content at the
    /// earlier position.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    pub fn event(&self, name: &str) -> Option<&Event> {
        self.event_index.get(name).map(|&index| &self.events[index])
    }

    /// All transitions in document order, merged.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// Transitions leaving `state`, in document order.
    pub fn outgoing(&self, state: &str) -> Vec<&Transition> {
        self.outgoing_iter(state).collect()
    }

    fn outgoing_iter<'a>(&'a self, state: &str) -> impl Iterator<Item = &'a Transition> + 'a {
        self.outgoing
            .get(state)
            .into_iter()
            .flatten()
            .map(|&index| &self.transitions[index])
    }

    /// Transitions leaving `source` for `event` (None = background/event-less), in document order.
    pub fn candidates(&self, source: &str, event: Option<&str>) -> Vec<&Transition> {
        self.outgoing_iter(source)
            .filter(|transition| transition.event.as_deref() == event)
            .collect()
    }

    /// The onEnter event leaving `state`, if any (validation guarantees at most one).
    pub fn on_enter_event(&self, state: &str) -> Option<&Event> {
        self.events_leaving(state).into_iter().find(|event| event.on_enter)
    }

    /// Names of manual events that have a transition leaving `state` (sorted, deduplicated).
    pub fn manual_events(&self, state: &str) -> Vec<&str> {
        let names: BTreeSet<&str> = self
            .events_leaving(state)
            .into_iter()
            .filter(|event| event.manual)
            .map(|event| event.name.as_str())
            .collect();
        names.into_iter().collect()
    }

    /// Events with a timeout that have a transition leaving `state` (document order of the transitions).
    pub fn timed_events(&self, state: &str) -> Vec<&Event> {
        self.events_leaving(state)
            .into_iter()
            .filter(|event| event.timeout.is_some())
            .collect()
    }

    /// Distinct events of the transitions leaving `state`, in the order the transitions are declared.
    pub fn events_leaving(&self, state: &str) -> Vec<&Event> {
        let mut seen = BTreeSet::new();
        self.outgoing_iter(state)
            .filter_map(|transition| transition.event.as_deref())
            .filter(|name| seen.insert(*name))
            .filter_map(|name| self.event(name))
            .collect()
    }

    pub fn has_background_transitions(&self, state: &str) -> bool {
        self.outgoing_iter(state).any(|transition| transition.event.is_none())
    }

    /// A state without outgoing transitions.
    pub fn is_final(&self, state: &str) -> bool {
        self.outgoing_iter(state).next().is_none()
    }

    /// Names of the states flagged `reserved="true"`, in document order.
    pub fn reserved_states(&self) -> Vec<&str> {
        self.states
            .iter()
            .filter(|state| state.reserved)
            .map(|state| state.name.as_str())
            .collect()
    }

    /// Which (sub)process declared `state` (the main process name for its own states), for drawing clusters.
    pub fn subprocess_of(&self, state: &str) -> Option<&str> {
        let index = *self.state_index.get(state)?;
        self.parts.get(self.state_parts[index]).map(|part| part.name.as_str())
    }
}
