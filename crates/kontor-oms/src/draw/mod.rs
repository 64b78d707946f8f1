//! Diagrams of a process (oms.md §8), with Spryker's Graphviz conventions.
//!
//! Both outputs share one diagram model built here: which boxes, diamonds and edges exist and what their
//! labels say. [`draw_dot`] prints it as Graphviz DOT; [`draw_svg`] lays it out itself (no graphviz binary
//! needed on servers) with a simple layered layout, see [`layout`].

mod dot;
mod layout;
mod svg;

use std::collections::HashMap;

use crate::model::{Process, Transition};
use crate::plugins::PluginKeys;

/// Colours shared by DOT and SVG, from Spryker's drawer.
pub(crate) mod colors {
    pub const HAPPY: &str = "#70ab28";
    pub const HIGHLIGHT: &str = "#FFFFCC";
    pub const STATE_FILL: &str = "#f9f9f9";
    pub const CLUSTER_FILL: &str = "#cfcfcf";
    pub const RESERVED: &str = "blue";
    pub const FLAG: &str = "violet";
    pub const NOT_IMPLEMENTED: &str = "red";
    pub const EDGE: &str = "#333333";
}

/// What to draw besides the process itself.
#[derive(Clone, Copy)]
pub struct DrawOptions<'a> {
    /// A state to fill `#FFFFCC` (e.g. the state an item is in).
    pub highlight: Option<&'a str>,
    /// Used to mark by-order commands and to draw unregistered keys red "(not implemented)".
    pub keys: &'a dyn PluginKeys,
}

/// The process as Graphviz DOT.
pub fn draw_dot(process: &Process, options: &DrawOptions) -> String {
    dot::render(&Diagram::build(process, options))
}

/// The process as a standalone SVG document, laid out in Rust.
pub fn draw_svg(process: &Process, options: &DrawOptions) -> String {
    svg::render(&Diagram::build(process, options))
}

/// A piece of label text; a label is a list of lines, each a list of spans.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Span {
    pub text: String,
    pub bold: bool,
    pub color: Option<&'static str>,
    /// Drawn smaller (state annotations).
    pub small: bool,
}

impl Span {
    fn plain(text: impl Into<String>) -> Span {
        Span {
            text: text.into(),
            bold: false,
            color: None,
            small: false,
        }
    }

    fn bold(text: impl Into<String>) -> Span {
        Span {
            bold: true,
            ..Span::plain(text)
        }
    }

    fn colored(text: impl Into<String>, color: &'static str) -> Span {
        Span {
            color: Some(color),
            ..Span::plain(text)
        }
    }

    fn small(text: impl Into<String>, color: &'static str) -> Span {
        Span {
            small: true,
            ..Span::colored(text, color)
        }
    }

    fn not_implemented() -> Span {
        Span::colored("(not implemented)", colors::NOT_IMPLEMENTED)
    }
}

pub(crate) type Line = Vec<Span>;

#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    pub name: String,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    State {
        name: String,
        final_state: bool,
        highlighted: bool,
    },
    /// The "?" diamond through which one event fans out to several targets.
    Decision,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Unique id for DOT.
    pub id: String,
    pub kind: NodeKind,
    /// Name first, then "reserved" and the flags.
    pub label: Vec<Line>,
    pub cluster: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub from: usize,
    pub to: usize,
    pub label: Vec<Line>,
    /// Background transition: dashed.
    pub dashed: bool,
    /// Happy path: green, weight 100.
    pub happy: bool,
    /// Leaves through an onEnter event: crow's foot at the tail.
    pub on_enter: bool,
}

pub(crate) struct Diagram {
    pub title: String,
    pub clusters: Vec<Cluster>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// Which half of a fanned-out transition an edge draws: the event part above the diamond, the condition
/// part below it, or both on a direct edge.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Half {
    Full,
    Upper,
    Lower,
}

impl Diagram {
    fn build(process: &Process, options: &DrawOptions) -> Diagram {
        let clusters: Vec<Cluster> = process
            .parts()
            .iter()
            .map(|part| Cluster {
                name: part.name.clone(),
            })
            .collect();
        let cluster_of = |state: &str| {
            process
                .subprocess_of(state)
                .and_then(|name| clusters.iter().position(|cluster| cluster.name == name))
                .unwrap_or(0)
        };
        let mut diagram = Diagram {
            title: process.name().to_owned(),
            clusters: Vec::new(),
            nodes: Vec::new(),
            edges: Vec::new(),
        };
        for state in process.states() {
            let mut label = vec![vec![Span::plain(state.name.clone())]];
            if state.reserved {
                label.push(vec![Span::small("reserved", colors::RESERVED)]);
            }
            if !state.flags.is_empty() {
                label.push(vec![Span::small(state.flags.join(", "), colors::FLAG)]);
            }
            let only_self_references = process
                .outgoing(&state.name)
                .iter()
                .all(|transition| transition.target == state.name);
            diagram.nodes.push(Node {
                id: state.name.clone(),
                kind: NodeKind::State {
                    name: state.name.clone(),
                    final_state: only_self_references,
                    highlighted: options.highlight == Some(state.name.as_str()),
                },
                label,
                cluster: cluster_of(&state.name),
            });
        }
        // States are the first nodes, in the order of `process.states()`.
        let state_nodes: HashMap<String, usize> = process
            .states()
            .enumerate()
            .map(|(index, state)| (state.name.clone(), index))
            .collect();
        let index_of = |name: &str| state_nodes.get(name).copied();
        let mut decisions = 0;
        for state in process.states() {
            let Some(from) = index_of(&state.name) else { continue };
            for event in process.events_leaving(&state.name) {
                let transitions = process.candidates(&state.name, Some(&event.name));
                let targets: Vec<usize> = transitions
                    .iter()
                    .filter_map(|transition| index_of(&transition.target))
                    .collect();
                if transitions.len() == 1 {
                    if let Some(&to) = targets.first() {
                        diagram.edge(process, options, transitions[0], Half::Full, from, to);
                    }
                    continue;
                }
                decisions += 1;
                let decision = diagram.nodes.len();
                diagram.nodes.push(Node {
                    id: decision_id(process, decisions),
                    kind: NodeKind::Decision,
                    label: vec![vec![Span::plain("?")]],
                    cluster: cluster_of(&state.name),
                });
                let upper_happy = transitions.iter().any(|transition| transition.happy);
                diagram.edge(process, options, transitions[0], Half::Upper, from, decision);
                if let Some(upper) = diagram.edges.last_mut() {
                    upper.happy = upper_happy;
                }
                for (transition, to) in transitions.iter().zip(targets) {
                    diagram.edge(process, options, transition, Half::Lower, decision, to);
                }
            }
            for transition in process.candidates(&state.name, None) {
                if let Some(to) = index_of(&transition.target) {
                    diagram.edge(process, options, transition, Half::Full, from, to);
                }
            }
        }
        diagram.clusters = clusters;
        diagram
    }

    fn edge(
        &mut self,
        process: &Process,
        options: &DrawOptions,
        transition: &Transition,
        half: Half,
        from: usize,
        to: usize,
    ) {
        let keys = options.keys;
        let event = transition.event.as_deref().and_then(|name| process.event(name));
        let mut label: Vec<Line> = Vec::new();
        if half != Half::Lower {
            match event {
                Some(event) => {
                    let mut title = vec![Span::bold(event.name.clone())];
                    if event.on_enter {
                        title.push(Span::plain(" (on enter)"));
                    }
                    label.push(title);
                    if let Some(timeout) = &event.timeout {
                        label.push(vec![Span::plain(format!("timeout: {}", timeout.text()))]);
                    }
                    if let Some(command) = &event.command {
                        let mut line = vec![Span::plain(format!("c:{command} "))];
                        if !keys.has_command(command) {
                            line.push(Span::not_implemented());
                        } else if keys.command_is_by_order(command) {
                            line.push(Span::plain("(by order)"));
                        } else {
                            line.push(Span::plain("(by item)"));
                        }
                        label.push(line);
                    }
                    if let Some(processor) = &event.timeout_processor {
                        let mut line = vec![Span::plain(format!("timeout processor: {processor}"))];
                        if !keys.has_timeout_processor(processor) {
                            line.push(Span::plain(" "));
                            line.push(Span::not_implemented());
                        }
                        label.push(line);
                    }
                    if event.manual {
                        label.push(vec![Span::plain("manually executable")]);
                    }
                }
                None => label.push(vec![Span::plain("∞")]),
            }
        }
        if let Some(condition) = &transition.condition
            && half != Half::Upper
        {
            let mut line = vec![Span::plain(condition.clone())];
            if !keys.has_condition(condition) {
                line.push(Span::plain(" "));
                line.push(Span::not_implemented());
            }
            label.push(line);
        }
        if label.is_empty() {
            label.push(vec![Span::plain("else")]);
        }
        self.edges.push(Edge {
            from,
            to,
            label,
            dashed: transition.event.is_none(),
            happy: transition.happy,
            on_enter: half != Half::Lower && event.is_some_and(|event| event.on_enter),
        });
    }
}

/// A diamond id that cannot collide with a state name.
fn decision_id(process: &Process, number: usize) -> String {
    let mut id = format!("?{number}");
    while process.state(&id).is_some() {
        id.insert(0, '?');
    }
    id
}
