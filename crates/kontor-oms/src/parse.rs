//! The OMS vocabulary of oms.md §2: turns one file's element tree into raw processes and subprocess file
//! declarations, reporting unknown elements and attributes (typos) and bad attribute values.
//!
//! Nothing here looks across files or processes; names are not resolved yet. Raw items keep the location of
//! each attribute and child that later checks may complain about.

use std::path::Path;

use crate::diagnostics::Diagnostic;
use crate::model::{Event, Location, State, Transition};
use crate::timeout::Timeout;
use crate::xml::Element;

/// Namespaces of the root element: Spryker's OMS and its generic state machine use the same format.
pub const NAMESPACES: [&str; 2] = ["spryker:oms-01", "spryker:state-machine-01"];

/// One parsed file.
#[derive(Debug, Clone)]
pub(crate) struct RawFile {
    pub root: Location,
    /// The `xmlns` of the root element, if any.
    pub namespace: Option<String>,
    pub processes: Vec<RawProcess>,
    pub includes: Vec<RawInclude>,
}

/// `<process name="X" file="Sub/X.xml" prefix="Gift"/>`: a subprocess file to merge in.
#[derive(Debug, Clone)]
pub(crate) struct RawInclude {
    pub name: Option<String>,
    pub file: String,
    pub prefix: Option<String>,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub(crate) struct RawProcess {
    pub name: String,
    pub main: bool,
    pub location: Location,
    pub subprocesses: Vec<(String, Location)>,
    pub states: Vec<State>,
    pub transitions: Vec<RawTransition>,
    pub events: Vec<RawEvent>,
}

/// A transition plus where its parts are, for "unknown state"-style messages.
#[derive(Debug, Clone)]
pub(crate) struct RawTransition {
    pub transition: Transition,
    pub source_at: Location,
    pub target_at: Location,
    pub event_at: Location,
    pub condition_at: Location,
}

#[derive(Debug, Clone)]
pub(crate) struct RawEvent {
    pub event: Event,
    pub command_at: Location,
    pub timeout_processor_at: Location,
}

impl RawProcess {
    /// Prefixes every process, state and event name (and the references to them) with `<prefix> - `, as for
    /// `<process … prefix="Gift"/>`.
    pub fn apply_prefix(&mut self, prefix: &str) {
        let add = |name: &mut String| *name = format!("{prefix} - {name}");
        add(&mut self.name);
        self.subprocesses.iter_mut().for_each(|(name, _)| add(name));
        self.states.iter_mut().for_each(|state| add(&mut state.name));
        self.events.iter_mut().for_each(|raw| add(&mut raw.event.name));
        for raw in &mut self.transitions {
            add(&mut raw.transition.source);
            add(&mut raw.transition.target);
            if let Some(event) = raw.transition.event.as_mut() {
                add(event);
            }
        }
    }
}

/// Walks a document; problems go to `diagnostics`, what could be understood is returned.
pub(crate) fn read_file(file: &Path, root: &Element, diagnostics: &mut Vec<Diagnostic>) -> RawFile {
    let mut walker = Walker { file, diagnostics };
    walker.file(root)
}

struct Walker<'a> {
    file: &'a Path,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Walker<'_> {
    fn at(&self, line: u32) -> Location {
        Location::new(self.file, line)
    }

    fn error(&mut self, line: u32, message: String) {
        let location = self.at(line);
        self.diagnostics.push(Diagnostic::error(location, message));
    }

    /// Reports attributes outside `allowed`; typos such as `commnd=` end up here.
    fn check_attributes(&mut self, element: &Element, allowed: &[&str]) {
        for attribute in &element.attributes {
            if !allowed.contains(&attribute.name.as_str()) {
                let message = format!("unknown attribute '{}' on <{}>", attribute.name, element.name);
                self.error(attribute.line, message);
            }
        }
    }

    fn check_no_children(&mut self, element: &Element) {
        for child in &element.children {
            self.error(
                child.line,
                format!("unknown element <{}> in <{}>", child.name, element.name),
            );
        }
    }

    /// Elements whose content is only child elements must not carry stray text.
    fn check_no_text(&mut self, element: &Element) {
        let text = element.text.trim();
        if !text.is_empty() {
            self.error(
                element.text_line,
                format!("unexpected text '{}' in <{}>", shorten(text), element.name),
            );
        }
    }

    /// An attribute value; empty counts as absent (Spryker treats both the same).
    fn string(&self, element: &Element, name: &str) -> Option<(String, Location)> {
        let attribute = element.attribute(name)?;
        let value = attribute.value.trim();
        (!value.is_empty()).then(|| (value.to_owned(), self.at(attribute.line)))
    }

    fn boolean(&mut self, element: &Element, name: &str) -> bool {
        let Some(attribute) = element.attribute(name) else {
            return false;
        };
        match attribute.value.trim() {
            "true" | "1" => true,
            "false" | "0" | "" => false,
            other => {
                let message = format!(
                    "attribute '{name}' on <{}> must be \"true\" or \"false\", not '{other}'",
                    element.name
                );
                self.error(attribute.line, message);
                false
            }
        }
    }

    fn required_name(&mut self, element: &Element) -> Option<String> {
        let name = self.string(element, "name").map(|(name, _)| name);
        if name.is_none() {
            self.error(element.line, format!("<{}> without a name", element.name));
        }
        name
    }

    /// The trimmed text of a leaf element such as `<source>`.
    fn leaf_text(&mut self, element: &Element) -> Option<(String, Location)> {
        self.check_attributes(element, &[]);
        self.check_no_children(element);
        let text = element.text.trim();
        if text.is_empty() {
            self.error(element.line, format!("empty <{}>", element.name));
            return None;
        }
        Some((text.to_owned(), self.at(element.text_line)))
    }

    fn file(&mut self, root: &Element) -> RawFile {
        let namespace = root
            .attribute("xmlns")
            .map(|attribute| attribute.value.trim().to_owned());
        let mut raw = RawFile {
            root: self.at(root.line),
            namespace,
            processes: Vec::new(),
            includes: Vec::new(),
        };
        if root.name != "statemachine" {
            self.error(
                root.line,
                format!("unknown root element <{}>, expected <statemachine>", root.name),
            );
            return raw;
        }
        for attribute in &root.attributes {
            let name = attribute.name.as_str();
            if name == "xmlns" {
                if !NAMESPACES.contains(&attribute.value.trim()) {
                    let message = format!(
                        "unknown namespace '{}' (expected {} or {})",
                        attribute.value, NAMESPACES[0], NAMESPACES[1]
                    );
                    self.error(attribute.line, message);
                }
            } else if !(name.starts_with("xmlns:")
                || name.ends_with(":schemaLocation")
                || name.ends_with(":noNamespaceSchemaLocation"))
            {
                self.error(attribute.line, format!("unknown attribute '{name}' on <statemachine>"));
            }
        }
        self.check_no_text(root);
        for child in &root.children {
            if child.name != "process" {
                self.error(
                    child.line,
                    format!("unknown element <{}> in <statemachine>", child.name),
                );
            } else if child.attribute("file").is_some() {
                if let Some(include) = self.include(child) {
                    raw.includes.push(include);
                }
            } else {
                let process = self.process(child);
                raw.processes.push(process);
            }
        }
        raw
    }

    fn include(&mut self, element: &Element) -> Option<RawInclude> {
        self.check_attributes(element, &["name", "file", "prefix"]);
        self.check_no_children(element);
        self.check_no_text(element);
        let Some((file, _)) = self.string(element, "file") else {
            self.error(element.line, "empty file attribute on <process>".to_owned());
            return None;
        };
        Some(RawInclude {
            name: self.string(element, "name").map(|(name, _)| name),
            file,
            prefix: self.string(element, "prefix").map(|(prefix, _)| prefix),
            location: self.at(element.line),
        })
    }

    fn process(&mut self, element: &Element) -> RawProcess {
        // `prefix` is reported on its own below, with a better message than "unknown attribute".
        self.check_attributes(element, &["name", "main", "prefix"]);
        if let Some(prefix) = element.attribute("prefix") {
            self.error(
                prefix.line,
                "attribute 'prefix' on <process> needs a 'file' attribute".to_owned(),
            );
        }
        self.check_no_text(element);
        let name = self.required_name(element);
        let main = self.boolean(element, "main");
        let mut process = RawProcess {
            name: name.unwrap_or_default(),
            main,
            location: self.at(element.line),
            subprocesses: Vec::new(),
            states: Vec::new(),
            transitions: Vec::new(),
            events: Vec::new(),
        };
        for section in &element.children {
            match section.name.as_str() {
                "subprocesses" => self.subprocesses(section, &mut process),
                "states" => self.states(section, &mut process),
                "transitions" => self.transitions(section, &mut process),
                "events" => self.events(section, &mut process),
                other => self.error(section.line, format!("unknown element <{other}> in <process>")),
            }
        }
        process
    }

    fn section_children<'e>(&mut self, section: &'e Element, child_name: &str) -> Vec<&'e Element> {
        self.check_attributes(section, &[]);
        self.check_no_text(section);
        let mut matching = Vec::new();
        for child in &section.children {
            if child.name == child_name {
                matching.push(child);
            } else {
                self.error(
                    child.line,
                    format!("unknown element <{}> in <{}>", child.name, section.name),
                );
            }
        }
        matching
    }

    fn subprocesses(&mut self, section: &Element, process: &mut RawProcess) {
        for child in self.section_children(section, "process") {
            if let Some(entry) = self.leaf_text(child) {
                process.subprocesses.push(entry);
            }
        }
    }

    fn states(&mut self, section: &Element, process: &mut RawProcess) {
        for element in self.section_children(section, "state") {
            self.check_attributes(element, &["name", "display", "reserved"]);
            self.check_no_text(element);
            let Some(name) = self.required_name(element) else {
                continue;
            };
            let mut flags = Vec::new();
            for child in &element.children {
                if child.name == "flag" {
                    if let Some((flag, _)) = self.leaf_text(child) {
                        flags.push(flag);
                    }
                } else {
                    self.error(child.line, format!("unknown element <{}> in <state>", child.name));
                }
            }
            process.states.push(State {
                name,
                display: self.string(element, "display").map(|(display, _)| display),
                reserved: self.boolean(element, "reserved"),
                flags,
                location: self.at(element.line),
            });
        }
    }

    fn transitions(&mut self, section: &Element, process: &mut RawProcess) {
        for element in self.section_children(section, "transition") {
            self.check_attributes(element, &["happy", "condition"]);
            self.check_no_text(element);
            let mut source = None;
            let mut target = None;
            let mut event = None;
            for child in &element.children {
                let slot = match child.name.as_str() {
                    "source" => &mut source,
                    "target" => &mut target,
                    "event" => &mut event,
                    other => {
                        self.error(child.line, format!("unknown element <{other}> in <transition>"));
                        continue;
                    }
                };
                if slot.is_some() {
                    self.error(child.line, format!("second <{}> in <transition>", child.name));
                    continue;
                }
                // An empty child is reported by leaf_text; keep an empty slot so it is not reported twice.
                *slot = Some(
                    self.leaf_text(child)
                        .unwrap_or_else(|| (String::new(), self.at(child.line))),
                );
            }
            let element_at = self.at(element.line);
            if source.is_none() {
                self.error(element.line, "<transition> without <source>".to_owned());
            }
            if target.is_none() {
                self.error(element.line, "<transition> without <target>".to_owned());
            }
            let (Some((source, source_at)), Some((target, target_at))) = (source, target) else {
                continue;
            };
            if source.is_empty() || target.is_empty() {
                continue;
            }
            let (event, event_at) = match event {
                Some((name, at)) if !name.is_empty() => (Some(name), at),
                _ => (None, element_at.clone()),
            };
            let (condition, condition_at) = match self.string(element, "condition") {
                Some((condition, at)) => (Some(condition), at),
                None => (None, element_at.clone()),
            };
            let happy = self.boolean(element, "happy");
            process.transitions.push(RawTransition {
                transition: Transition {
                    source,
                    target,
                    event,
                    condition,
                    happy,
                    location: element_at,
                },
                source_at,
                target_at,
                event_at,
                condition_at,
            });
        }
    }

    fn events(&mut self, section: &Element, process: &mut RawProcess) {
        for element in self.section_children(section, "event") {
            self.check_attributes(
                element,
                &["name", "onEnter", "manual", "timeout", "timeoutProcessor", "command"],
            );
            self.check_no_children(element);
            self.check_no_text(element);
            let Some(name) = self.required_name(element) else {
                continue;
            };
            let element_at = self.at(element.line);
            let timeout = match self.string(element, "timeout") {
                Some((text, at)) => match Timeout::parse(&text) {
                    Ok(timeout) => Some(timeout),
                    Err(error) => {
                        self.diagnostics
                            .push(Diagnostic::error(at, format!("invalid timeout '{text}': {error}")));
                        None
                    }
                },
                None => None,
            };
            let (command, command_at) = split(self.string(element, "command"), &element_at);
            let (timeout_processor, timeout_processor_at) =
                split(self.string(element, "timeoutProcessor"), &element_at);
            let event = Event {
                name,
                on_enter: self.boolean(element, "onEnter"),
                manual: self.boolean(element, "manual"),
                timeout,
                timeout_processor,
                command,
                location: element_at,
            };
            process.events.push(RawEvent {
                event,
                command_at,
                timeout_processor_at,
            });
        }
    }
}

fn split(value: Option<(String, Location)>, fallback: &Location) -> (Option<String>, Location) {
    match value {
        Some((value, at)) => (Some(value), at),
        None => (None, fallback.clone()),
    }
}

/// Keeps messages about stray text readable.
fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}…")
    }
}
