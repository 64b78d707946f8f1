//! Merges the raw processes of one main file (and its subprocess files) into a [`Process`] and checks the
//! rules of oms.md §7 on the merged graph.
//!
//! Every rule runs even after an earlier one failed, so one run reports everything. Where Kontor is stricter
//! than Spryker the message says what Spryker would silently have done wrong; where real Spryker files need
//! leniency (an event declared twice) the finding is a warning.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use crate::diagnostics::Diagnostic;
use crate::model::{Event, Location, Process, ProcessPart, State, Transition};
use crate::parse::{RawEvent, RawProcess, RawTransition};
use crate::plugins::{Checks, PluginKeys};

/// The state checkout puts every item in (oms.md §3); reachability is measured from it when it exists.
pub const INITIAL_STATE: &str = "new";

/// What the loader knows about the main file besides its processes.
pub(crate) struct MainFile {
    /// The root element; None when the file could not be parsed, so "no main process" would only be noise.
    pub root: Option<Location>,
    /// Names of every declared subprocess, loaded or not.
    pub declared: Vec<String>,
    /// An order process (`spryker:oms-01`) rather than a generic state machine (`spryker:state-machine-01`),
    /// whose initial state is chosen by its handler, not fixed to `new`.
    pub order_process: bool,
}

/// Merges and validates.
pub(crate) fn build(
    raw: Vec<RawProcess>,
    file: &MainFile,
    keys: &dyn PluginKeys,
    checks: Checks,
    diagnostics: &mut Vec<Diagnostic>,
) -> Process {
    let ordered = main_first(raw, file.root.as_ref(), diagnostics);
    let merged = merge(ordered, &file.declared, diagnostics);
    let mut rules = Rules {
        merged: &merged,
        order_process: file.order_process,
        diagnostics,
    };
    rules.references();
    if checks == Checks::Full {
        rules.plugin_keys(keys);
    }
    rules.unconditioned_transitions();
    rules.on_enter_events();
    rules.events();
    rules.reachability();
    rules.initial_state();
    Process::assemble(
        merged.parts,
        merged.states,
        merged.events.into_iter().map(|raw| raw.event).collect(),
        merged.transitions.into_iter().map(|raw| raw.transition).collect(),
    )
}

/// Checks there is exactly one main process and moves it to the front (the rest keep load order).
fn main_first(mut raw: Vec<RawProcess>, root: Option<&Location>, diagnostics: &mut Vec<Diagnostic>) -> Vec<RawProcess> {
    let mains: Vec<usize> = raw
        .iter()
        .enumerate()
        .filter(|(_, process)| process.main)
        .map(|(index, _)| index)
        .collect();
    match (mains.first(), root) {
        (None, Some(root)) => {
            diagnostics.push(Diagnostic::error(
                root.clone(),
                "no main process (one <process> needs main=\"true\")",
            ));
        }
        (Some(&first), _) => {
            for &other in &mains[1..] {
                let message = format!(
                    "second main process '{}' (the main process is '{}' at {})",
                    raw[other].name, raw[first].name, raw[first].location
                );
                diagnostics.push(Diagnostic::error(raw[other].location.clone(), message));
            }
            let main = raw.remove(first);
            raw.insert(0, main);
        }
        (None, None) => {}
    }
    raw
}

/// The merged namespace, still with the locations of the parts.
struct Merged {
    parts: Vec<ProcessPart>,
    states: Vec<(State, usize)>,
    state_index: HashMap<String, usize>,
    events: Vec<RawEvent>,
    event_index: HashMap<String, usize>,
    transitions: Vec<RawTransition>,
}

fn merge(raw: Vec<RawProcess>, declared: &[String], diagnostics: &mut Vec<Diagnostic>) -> Merged {
    let mut merged = Merged {
        parts: Vec::new(),
        states: Vec::new(),
        state_index: HashMap::new(),
        events: Vec::new(),
        event_index: HashMap::new(),
        transitions: Vec::new(),
    };
    let mut part_names: HashMap<String, Location> = HashMap::new();
    for process in &raw {
        if let Some(first) = part_names.get(&process.name) {
            let message = format!("process '{}' is declared twice (first at {first})", process.name);
            diagnostics.push(Diagnostic::error(process.location.clone(), message));
        } else {
            part_names.insert(process.name.clone(), process.location.clone());
        }
    }
    for (part, process) in raw.into_iter().enumerate() {
        merged.parts.push(ProcessPart {
            name: process.name,
            main: process.main,
            location: process.location,
        });
        for (name, at) in process.subprocesses {
            if !part_names.contains_key(&name) && !declared.contains(&name) {
                diagnostics.push(Diagnostic::error(at, format!("subprocess '{name}' is not declared")));
            }
        }
        for state in process.states {
            if let Some(&first) = merged.state_index.get(&state.name) {
                let message = format!(
                    "duplicate state '{}' (first declared at {})",
                    state.name, merged.states[first].0.location
                );
                diagnostics.push(Diagnostic::error(state.location, message));
                continue;
            }
            merged.state_index.insert(state.name.clone(), merged.states.len());
            merged.states.push((state, part));
        }
        for raw_event in process.events {
            // Real Spryker files declare some events twice (e.g. once in the main process and once in the
            // subprocess that uses it); Spryker keeps the later one, so do we, but say so.
            if let Some(&first) = merged.event_index.get(&raw_event.event.name) {
                let message = format!(
                    "event '{}' is declared again; this declaration replaces the one at {}",
                    raw_event.event.name, merged.events[first].event.location
                );
                diagnostics.push(Diagnostic::warning(raw_event.event.location.clone(), message));
                merged.events[first] = raw_event;
                continue;
            }
            merged
                .event_index
                .insert(raw_event.event.name.clone(), merged.events.len());
            merged.events.push(raw_event);
        }
        merged.transitions.extend(process.transitions);
    }
    merged
}

struct Rules<'a> {
    merged: &'a Merged,
    order_process: bool,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Rules<'_> {
    fn error(&mut self, at: &Location, message: String) {
        self.diagnostics.push(Diagnostic::error(at.clone(), message));
    }

    fn warning(&mut self, at: &Location, message: String) {
        self.diagnostics.push(Diagnostic::warning(at.clone(), message));
    }

    fn has_state(&self, name: &str) -> bool {
        self.merged.state_index.contains_key(name)
    }

    fn event(&self, name: &str) -> Option<&Event> {
        self.merged
            .event_index
            .get(name)
            .map(|&index| &self.merged.events[index].event)
    }

    /// Sources, targets and events of transitions must be declared.
    fn references(&mut self) {
        let merged = self.merged;
        for raw in &merged.transitions {
            let transition = &raw.transition;
            if !self.has_state(&transition.source) {
                self.error(&raw.source_at, format!("unknown state '{}'", transition.source));
            }
            if !self.has_state(&transition.target) {
                self.error(&raw.target_at, format!("unknown state '{}'", transition.target));
            }
            if let Some(event) = &transition.event
                && self.event(event).is_none()
            {
                self.error(&raw.event_at, format!("unknown event '{event}'"));
            }
        }
    }

    fn plugin_keys(&mut self, keys: &dyn PluginKeys) {
        let merged = self.merged;
        for raw in &merged.events {
            if let Some(command) = &raw.event.command
                && !keys.has_command(command)
            {
                self.error(&raw.command_at, format!("command '{command}' is not registered"));
            }
            if let Some(processor) = &raw.event.timeout_processor
                && !keys.has_timeout_processor(processor)
            {
                self.error(
                    &raw.timeout_processor_at,
                    format!("timeout processor '{processor}' is not registered"),
                );
            }
        }
        for raw in &merged.transitions {
            if let Some(condition) = &raw.transition.condition
                && !keys.has_condition(condition)
            {
                self.error(&raw.condition_at, format!("condition '{condition}' is not registered"));
            }
        }
    }

    /// Per (source, event) at most one transition without a condition: Spryker silently takes the first.
    fn unconditioned_transitions(&mut self) {
        let merged = self.merged;
        let mut first: HashMap<(&str, Option<&str>), &Location> = HashMap::new();
        for raw in &merged.transitions {
            let transition = &raw.transition;
            if transition.condition.is_some() {
                continue;
            }
            let key = (transition.source.as_str(), transition.event.as_deref());
            match first.get(&key) {
                None => {
                    first.insert(key, &transition.location);
                }
                Some(earlier) => {
                    let message = match &transition.event {
                        Some(event) => format!(
                            "second transition without condition for event '{event}' from state '{}' (first at {earlier})",
                            transition.source
                        ),
                        None => format!(
                            "second background transition without condition from state '{}' (first at {earlier})",
                            transition.source
                        ),
                    };
                    self.error(&transition.location, message);
                }
            }
        }
    }

    /// At most one onEnter event may leave a state: Spryker would only ever run one of them.
    fn on_enter_events(&mut self) {
        let merged = self.merged;
        let mut first: HashMap<&str, &str> = HashMap::new();
        for raw in &merged.transitions {
            let transition = &raw.transition;
            let Some(event_name) = transition.event.as_deref() else {
                continue;
            };
            if !self.event(event_name).is_some_and(|event| event.on_enter) {
                continue;
            }
            match first.get(transition.source.as_str()) {
                None => {
                    first.insert(&transition.source, event_name);
                }
                Some(&earlier) if earlier != event_name => {
                    let message = format!(
                        "more than one onEnter event leaving state '{}': '{earlier}' and '{event_name}'",
                        transition.source
                    );
                    self.error(&transition.location, message);
                }
                Some(_) => {}
            }
        }
    }

    fn events(&mut self) {
        let merged = self.merged;
        let used: HashSet<&str> = merged
            .transitions
            .iter()
            .filter_map(|raw| raw.transition.event.as_deref())
            .collect();
        for raw in &merged.events {
            let event = &raw.event;
            if !used.contains(event.name.as_str()) {
                self.error(
                    &event.location,
                    format!("event '{}' is used by no transition", event.name),
                );
            }
            if event.on_enter && event.manual {
                let message = format!(
                    "event '{}' is both onEnter and manual (it fires by itself anyway)",
                    event.name
                );
                self.warning(&event.location, message);
            }
        }
    }

    /// Every state must be reachable: from `new` when an order process has it, otherwise (and for generic
    /// state machines, whose initial state is chosen in code) from the states nothing leads to.
    fn reachability(&mut self) {
        let merged = self.merged;
        let transitions: Vec<&Transition> = merged
            .transitions
            .iter()
            .map(|raw| &raw.transition)
            .filter(|transition| self.has_state(&transition.source) && self.has_state(&transition.target))
            .collect();
        let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
        for transition in &transitions {
            next.entry(transition.source.as_str())
                .or_default()
                .push(transition.target.as_str());
        }
        let has_initial = self.order_process && self.has_state(INITIAL_STATE);
        let roots: Vec<&str> = if has_initial {
            vec![INITIAL_STATE]
        } else {
            let entered: HashSet<&str> = transitions
                .iter()
                .filter(|transition| transition.source != transition.target)
                .map(|transition| transition.target.as_str())
                .collect();
            merged
                .states
                .iter()
                .map(|(state, _)| state.name.as_str())
                .filter(|name| !entered.contains(name))
                .collect()
        };
        let mut seen: BTreeSet<&str> = roots.iter().copied().collect();
        let mut queue: VecDeque<&str> = roots.into_iter().collect();
        while let Some(state) = queue.pop_front() {
            for &target in next.get(state).into_iter().flatten() {
                if seen.insert(target) {
                    queue.push_back(target);
                }
            }
        }
        for (state, _) in &merged.states {
            if seen.contains(state.name.as_str()) {
                continue;
            }
            let message = if has_initial {
                format!("state '{}' is unreachable from '{INITIAL_STATE}'", state.name)
            } else {
                format!(
                    "state '{}' is unreachable (only entered from a cycle no state leads into)",
                    state.name
                )
            };
            self.error(&state.location, message);
        }
    }

    /// Checkout reserves stock by putting items in the initial state; unreserved, concurrent checkouts could
    /// oversell until a reserved state is reached (oms.md §7.7, §9).
    fn initial_state(&mut self) {
        let merged = self.merged;
        if !self.order_process {
            return;
        }
        if let Some(&index) = merged.state_index.get(INITIAL_STATE) {
            let state = &merged.states[index].0;
            if !state.reserved {
                let message = format!(
                    "initial state '{INITIAL_STATE}' is not reserved=\"true\" (concurrent checkouts could oversell \
                     until a reserved state is reached)"
                );
                self.warning(&state.location, message);
            }
        }
    }
}
