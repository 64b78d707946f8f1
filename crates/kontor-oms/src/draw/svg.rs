//! SVG output: draws the diagram model at the positions computed by [`super::layout`], with the same colours
//! as the DOT output. The result is a standalone document; all text is XML-escaped.

use std::fmt::Write;

use super::layout::{
    self, EDGE_FONT, EDGE_LINE, Layout, Placed, SMALL_FONT, SMALL_LINE, STATE_FONT, STATE_LINE, TITLE_FONT,
};
use super::{Diagram, Edge, Line, Node, NodeKind, colors};

pub(super) fn render(diagram: &Diagram) -> String {
    let placed = layout::layout(diagram);
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason only.
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" \
         font-family=\"Verdana, 'DejaVu Sans', sans-serif\">",
        w = placed.width.ceil(),
        h = placed.height.ceil()
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&diagram.title));
    out.push_str(&defs());
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"white\"/>"
    );
    let _ = writeln!(
        out,
        "<text x=\"24\" y=\"38\" font-size=\"{TITLE_FONT}\" font-weight=\"bold\" fill=\"#333333\">{}</text>",
        escape(&diagram.title)
    );
    draw_tiles(&mut out, diagram, &placed);
    for (edge, routed) in diagram.edges.iter().zip(&placed.edges) {
        draw_edge(&mut out, edge, routed);
    }
    for (node, position) in diagram.nodes.iter().zip(&placed.nodes) {
        draw_node(&mut out, node, position);
    }
    out.push_str("</svg>\n");
    out
}

fn defs() -> String {
    let arrow = |id: &str, color: &str| {
        format!(
            "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" \
             markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{color}\"/></marker>\n"
        )
    };
    // The crow's foot marks edges of onEnter events at their tail, as `arrowtail=crow` does in Graphviz.
    let crow = |id: &str, color: &str| {
        format!(
            "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"0\" refY=\"5\" markerWidth=\"10\" markerHeight=\"10\" \
             markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M10,5 L0,0 M10,5 L0,5 M10,5 L0,10\" \
             stroke=\"{color}\" fill=\"none\" stroke-width=\"1.5\"/></marker>\n"
        )
    };
    let mut defs = String::from("<defs>\n");
    defs.push_str(&arrow("arrow", colors::EDGE));
    defs.push_str(&arrow("arrow-happy", colors::HAPPY));
    defs.push_str(&crow("crow", colors::EDGE));
    defs.push_str(&crow("crow-happy", colors::HAPPY));
    defs.push_str("</defs>\n");
    defs
}

fn draw_tiles(out: &mut String, diagram: &Diagram, placed: &Layout) {
    for tile in &placed.tiles {
        let _ = writeln!(
            out,
            "<rect class=\"cluster\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"8\" fill=\"{}\" \
             fill-opacity=\"0.45\" stroke=\"#ffffff\"/>",
            tile.x,
            tile.y,
            tile.width,
            tile.height,
            colors::CLUSTER_FILL
        );
        if let Some(cluster) = diagram.clusters.get(tile.cluster)
            && tile.labelled
        {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#555555\">{}</text>",
                tile.x + 6.0,
                tile.y + 12.0,
                escape(&cluster.name)
            );
        }
    }
}

fn draw_edge(out: &mut String, edge: &Edge, routed: &layout::Routed) {
    let (color, suffix) = if edge.happy {
        (colors::HAPPY, "-happy")
    } else {
        (colors::EDGE, "")
    };
    let path = if routed.self_loop {
        loop_path(&routed.points)
    } else {
        smooth_path(&routed.points)
    };
    let mut attributes = format!(
        "d=\"{path}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{}\" marker-end=\"url(#arrow{suffix})\"",
        if edge.happy { "2" } else { "1.2" }
    );
    if edge.dashed {
        attributes.push_str(" stroke-dasharray=\"6 4\"");
    }
    if edge.on_enter {
        let _ = write!(attributes, " marker-start=\"url(#crow{suffix})\"");
    }
    let _ = writeln!(out, "<path class=\"edge\" {attributes}/>");
    write_lines(
        out,
        &edge.label,
        routed.label_at.0,
        routed.label_at.1,
        EDGE_FONT,
        EDGE_LINE,
        "start",
    );
}

/// A Catmull-Rom spline through the points, as cubic Bézier pieces. Tangents are vertical at both ends (edges
/// leave and enter boxes vertically) and next to vertical pieces (the stretch beside a label stays straight).
fn smooth_path(points: &[(f64, f64)]) -> String {
    let mut path = String::new();
    let Some(&(x, y)) = points.first() else { return path };
    let _ = write!(path, "M{x:.1},{y:.1}");
    let last = points.len() - 1;
    let vertical = |index: usize| index < last && (points[index + 1].0 - points[index].0).abs() < 0.5;
    let tangent = |index: usize| -> (f64, f64) {
        let before = points[index.saturating_sub(1)];
        let after = points[(index + 1).min(last)];
        let touches_vertical = vertical(index) || (index > 0 && vertical(index - 1));
        if index == 0 || index == last || touches_vertical {
            (0.0, (after.1 - before.1) / 2.0)
        } else {
            ((after.0 - before.0) / 2.0, (after.1 - before.1) / 2.0)
        }
    };
    for index in 0..last {
        let (x1, y1) = points[index + 1];
        if vertical(index) {
            let _ = write!(path, " L{x1:.1},{y1:.1}");
            continue;
        }
        let (x0, y0) = points[index];
        let (t0, t1) = (tangent(index), tangent(index + 1));
        let _ = write!(
            path,
            " C{:.1},{:.1} {:.1},{:.1} {x1:.1},{y1:.1}",
            x0 + t0.0 / 3.0,
            y0 + t0.1 / 3.0,
            x1 - t1.0 / 3.0,
            y1 - t1.1 / 3.0
        );
    }
    path
}

fn loop_path(points: &[(f64, f64)]) -> String {
    match points {
        [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] => {
            format!("M{x0:.1},{y0:.1} C{x1:.1},{y1:.1} {x2:.1},{y2:.1} {x3:.1},{y3:.1}")
        }
        _ => smooth_path(points),
    }
}

fn draw_node(out: &mut String, node: &Node, position: &Placed) {
    match &node.kind {
        NodeKind::State {
            final_state,
            highlighted,
            ..
        } => {
            let fill = if *highlighted {
                colors::HIGHLIGHT
            } else {
                colors::STATE_FILL
            };
            let _ = writeln!(
                out,
                "<rect class=\"state\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\" fill=\"{fill}\" \
                 stroke=\"#333333\"/>",
                position.left(),
                position.top(),
                position.width,
                position.height
            );
            if *final_state {
                // Graphviz's peripheries=2: a second border inside the first.
                let _ = writeln!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"4\" fill=\"none\" stroke=\"#333333\"/>",
                    position.left() + 3.0,
                    position.top() + 3.0,
                    position.width - 6.0,
                    position.height - 6.0
                );
            }
            write_lines(
                out,
                &node.label,
                position.x,
                position.top() + layout::NODE_PAD_Y,
                STATE_FONT,
                STATE_LINE,
                "middle",
            );
        }
        NodeKind::Decision => {
            let half = position.width / 2.0;
            let (x, y) = (position.x, position.y);
            let _ = writeln!(
                out,
                "<polygon class=\"decision\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"{}\" \
                 stroke=\"#333333\"/>",
                x,
                y - half,
                x + half,
                y,
                x,
                y + half,
                x - half,
                y,
                colors::STATE_FILL
            );
            let _ = writeln!(
                out,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#333333\">?</text>",
                y + 4.0
            );
        }
    }
}

/// Writes label lines starting at `top`; `anchor` is the SVG text-anchor (`start` or `middle`).
fn write_lines(out: &mut String, lines: &[Line], x: f64, top: f64, font: f64, line_height: f64, anchor: &str) {
    let mut y = top;
    for line in lines {
        let small = line.iter().all(|span| span.small);
        let height = if small { SMALL_LINE } else { line_height };
        let size = if small { SMALL_FONT } else { font };
        // Baseline at about 3/4 of the line; a white halo keeps edge labels readable over lines; spaces between
        // spans are significant.
        let _ = write!(
            out,
            "<text xml:space=\"preserve\" x=\"{x:.1}\" y=\"{:.1}\" font-size=\"{size}\" text-anchor=\"{anchor}\" \
             fill=\"#333333\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\" stroke-linejoin=\"round\">",
            y + height * 0.76
        );
        for span in line {
            let mut style = String::new();
            if span.bold {
                style.push_str(" font-weight=\"bold\"");
            }
            if let Some(color) = span.color {
                let _ = write!(style, " fill=\"{color}\"");
            }
            if span.small && !small {
                let _ = write!(style, " font-size=\"{SMALL_FONT}\"");
            }
            let _ = write!(out, "<tspan{style}>{}</tspan>", escape(&span.text));
        }
        out.push_str("</text>\n");
        y += height;
    }
}

/// Escapes text and attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Control characters other than tab and newlines are not allowed in XML 1.0 at all.
            control if control.is_control() && !matches!(control, '\t' | '\n' | '\r') => escaped.push('\u{fffd}'),
            other => escaped.push(other),
        }
    }
    escaped
}
