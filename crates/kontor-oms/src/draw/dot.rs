//! Graphviz DOT output: one `subgraph cluster_N` per (sub)process, HTML-like labels, one line per node and
//! per edge so the text diffs well and tests can look for single lines.

use std::fmt::Write;

use super::{Diagram, Edge, Line, Node, NodeKind, Span, colors};

pub(super) fn render(diagram: &Diagram) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason only.
    let _ = writeln!(out, "digraph {} {{", quote(&diagram.title));
    let _ = writeln!(
        out,
        "  graph [fontname=\"Verdana\", fontsize=12, labelloc=t, label={}];",
        quote(&diagram.title)
    );
    let _ = writeln!(
        out,
        "  node [fontname=\"Verdana\", fontsize=14, shape=box, style=\"rounded,filled\", fillcolor=\"{}\"];",
        colors::STATE_FILL
    );
    let _ = writeln!(out, "  edge [fontname=\"Verdana\", fontsize=12];");
    for (index, cluster) in diagram.clusters.iter().enumerate() {
        let _ = writeln!(out, "  subgraph \"cluster_{index}\" {{");
        let _ = writeln!(
            out,
            "    graph [label={}, style=filled, fillcolor=\"{}\", color=\"#ffffff\", fontcolor=black];",
            quote(&cluster.name),
            colors::CLUSTER_FILL
        );
        for node in diagram.nodes.iter().filter(|node| node.cluster == index) {
            let _ = writeln!(out, "    {}", node_line(node));
        }
        let _ = writeln!(out, "  }}");
    }
    for node in diagram
        .nodes
        .iter()
        .filter(|node| node.cluster >= diagram.clusters.len())
    {
        let _ = writeln!(out, "  {}", node_line(node));
    }
    for edge in &diagram.edges {
        let _ = writeln!(out, "  {}", edge_line(diagram, edge));
    }
    out.push_str("}\n");
    out
}

fn node_line(node: &Node) -> String {
    match &node.kind {
        NodeKind::State {
            final_state,
            highlighted,
            ..
        } => {
            let mut attributes = vec![format!("label=<{}>", html_label(&node.label, "<br/>"))];
            if *final_state {
                attributes.push("peripheries=2".to_owned());
            }
            if *highlighted {
                attributes.push(format!("fillcolor=\"{}\"", colors::HIGHLIGHT));
            }
            format!("{} [{}];", quote(&node.id), attributes.join(", "))
        }
        NodeKind::Decision => format!(
            "{} [label=\"?\", shape=diamond, style=filled, fillcolor=\"{}\", fontcolor=white, fontsize=1];",
            quote(&node.id),
            colors::STATE_FILL
        ),
    }
}

fn edge_line(diagram: &Diagram, edge: &Edge) -> String {
    let from = &diagram.nodes[edge.from].id;
    let to = &diagram.nodes[edge.to].id;
    // Left-aligned lines as in Spryker's drawings; the leading spaces keep the label off the line.
    let mut attributes = vec![format!(
        "label=<  {}<br align=\"left\"/>>",
        html_label(&edge.label, "<br align=\"left\"/>  ")
    )];
    if edge.dashed {
        attributes.push("style=dashed".to_owned());
    }
    if edge.on_enter {
        attributes.push("arrowtail=crow, dir=both".to_owned());
    }
    if edge.happy {
        attributes.push(format!("color=\"{}\", weight=100", colors::HAPPY));
    }
    format!("{} -> {} [{}];", quote(from), quote(to), attributes.join(", "))
}

fn html_label(lines: &[Line], separator: &str) -> String {
    lines
        .iter()
        .map(|line| line.iter().map(html_span).collect::<String>())
        .collect::<Vec<_>>()
        .join(separator)
}

fn html_span(span: &Span) -> String {
    let mut text = escape_html(&span.text);
    if span.bold {
        text = format!("<b>{text}</b>");
    }
    match (span.color, span.small) {
        (Some(color), true) => format!("<font color=\"{color}\" point-size=\"10\">{text}</font>"),
        (Some(color), false) => format!("<font color=\"{color}\">{text}</font>"),
        (None, true) => format!("<font point-size=\"10\">{text}</font>"),
        (None, false) => text,
    }
}

/// A DOT double-quoted id.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
