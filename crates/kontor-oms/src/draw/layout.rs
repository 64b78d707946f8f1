//! A small layered ("Sugiyama") layout for the SVG drawing, so no Graphviz binary is needed.
//!
//! Steps, each deliberately simple:
//! 1. break cycles: a depth-first search from the initial state turns back edges around;
//! 2. rank by longest path, then double the ranks so that every edge crosses at least one in-between layer,
//!    where a dummy node carries its label (Graphviz does the same, so labels get space of their own);
//! 3. order each layer by weighted barycenters (happy edges weigh more, so the happy path runs straight),
//!    keeping the order with the fewest crossings;
//! 4. place x by pulling nodes toward their neighbours, solved per layer as an isotonic regression so
//!    nodes never overlap; y follows from the layer heights.
//!
//! Text widths are estimated from character counts (Verdana-like averages), which is good enough for boxes.

use std::collections::HashMap;

use super::{Diagram, Line, NodeKind};

pub(super) const STATE_FONT: f64 = 14.0;
pub(super) const SMALL_FONT: f64 = 10.0;
pub(super) const EDGE_FONT: f64 = 11.0;
pub(super) const TITLE_FONT: f64 = 16.0;
pub(super) const STATE_LINE: f64 = 18.0;
pub(super) const SMALL_LINE: f64 = 13.0;
pub(super) const EDGE_LINE: f64 = 14.0;
pub(super) const NODE_PAD_X: f64 = 12.0;
pub(super) const NODE_PAD_Y: f64 = 8.0;
pub(super) const DIAMOND: f64 = 22.0;
/// Distance from the edge line to its label text.
pub(super) const LABEL_GAP: f64 = 6.0;
const MARGIN: f64 = 24.0;
const TITLE_HEIGHT: f64 = 30.0;
const NODE_GAP: f64 = 28.0;
const DUMMY_GAP: f64 = 10.0;
const LAYER_GAP: f64 = 18.0;
const HAPPY_WEIGHT: f64 = 8.0;
const ORDER_SWEEPS: usize = 12;
const PLACE_SWEEPS: usize = 16;
const SELF_LOOP_WIDTH: f64 = 26.0;
const TILE_PAD: f64 = 8.0;

/// Average glyph width as a share of the font size; Verdana is wide.
fn glyph_width(font: f64, bold: bool) -> f64 {
    font * if bold { 0.66 } else { 0.6 }
}

/// Estimated width of one label line.
pub(super) fn line_width(line: &Line, font: f64) -> f64 {
    line.iter()
        .map(|span| {
            let size = if span.small { SMALL_FONT } else { font };
            span.text.chars().count() as f64 * glyph_width(size, span.bold)
        })
        .sum()
}

fn line_height(line: &Line, normal: f64) -> f64 {
    if line.iter().all(|span| span.small) {
        SMALL_LINE
    } else {
        normal
    }
}

/// Size of a state box or edge label.
pub(super) fn label_size(lines: &[Line], font: f64, line: f64) -> (f64, f64) {
    let width = lines.iter().map(|text| line_width(text, font)).fold(0.0, f64::max);
    let height = lines.iter().map(|text| line_height(text, line)).sum();
    (width, height)
}

#[derive(Debug, Clone)]
pub(super) struct Placed {
    /// Centre of the box.
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Placed {
    pub fn left(&self) -> f64 {
        self.x - self.width / 2.0
    }
    pub fn right(&self) -> f64 {
        self.x + self.width / 2.0
    }
    pub fn top(&self) -> f64 {
        self.y - self.height / 2.0
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.height / 2.0
    }
}

#[derive(Debug, Clone)]
pub(super) struct Routed {
    /// From the edge's source to its target (the arrow is at the last point).
    pub points: Vec<(f64, f64)>,
    /// Top-left corner of the label text.
    pub label_at: (f64, f64),
    /// A loop drawn as one cubic curve from `points[0]` via `points[1]`, `points[2]` to `points[3]`.
    pub self_loop: bool,
}

/// A background rectangle of a subprocess within one layer (clusters are drawn as tiles per layer).
#[derive(Debug, Clone)]
pub(super) struct Tile {
    pub cluster: usize,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The first tile of a cluster carries its name.
    pub labelled: bool,
}

pub(super) struct Layout {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<Placed>,
    pub edges: Vec<Routed>,
    pub tiles: Vec<Tile>,
}

/// A node of the layered graph: a diagram node or a dummy on a long edge.
#[derive(Debug, Clone)]
struct LayerNode {
    layer: usize,
    width: f64,
    height: f64,
    /// Where edges attach, relative to the centre (labels sit right of their dummy's edge line; a self loop
    /// takes room right of its box).
    anchor: f64,
    real: Option<usize>,
    x: f64,
}

struct Link {
    upper: usize,
    lower: usize,
    weight: f64,
}

pub(super) fn layout(diagram: &Diagram) -> Layout {
    let count = diagram.nodes.len();
    let (box_sizes, loop_widths) = node_sizes(diagram);

    // 1. Cycle breaking.
    let reversed = back_edges(diagram);

    // 2. Ranks on the acyclic graph (edges oriented downwards), doubled for label layers.
    let mut downward: Vec<Option<(usize, usize)>> = Vec::with_capacity(diagram.edges.len());
    for (index, edge) in diagram.edges.iter().enumerate() {
        downward.push(match (edge.from == edge.to, reversed[index]) {
            (true, _) => None,
            (false, false) => Some((edge.from, edge.to)),
            (false, true) => Some((edge.to, edge.from)),
        });
    }
    let ranks = longest_path_ranks(count, &downward);

    let mut nodes: Vec<LayerNode> = (0..count)
        .map(|index| {
            let (width, height) = box_sizes[index];
            let loop_width = loop_widths[index];
            LayerNode {
                layer: ranks[index] * 2,
                width: width + loop_width,
                height,
                anchor: -loop_width / 2.0,
                real: Some(index),
                x: 0.0,
            }
        })
        .collect();
    let mut links: Vec<Link> = Vec::new();
    // Per diagram edge: its chain of layer nodes from top to bottom (empty for self loops).
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(diagram.edges.len());
    for (index, edge) in diagram.edges.iter().enumerate() {
        let Some((upper, lower)) = downward[index] else {
            chains.push(Vec::new());
            continue;
        };
        let weight = if edge.happy { HAPPY_WEIGHT } else { 1.0 };
        let (label_width, label_height) = label_size(&edge.label, EDGE_FONT, EDGE_LINE);
        let mut chain = vec![upper];
        for layer in nodes[upper].layer + 1..nodes[lower].layer {
            let carries_label = layer == nodes[upper].layer + 1;
            let (width, height, anchor) = if carries_label {
                let width = label_width + 2.0 * LABEL_GAP;
                (width, label_height, -width / 2.0 + LABEL_GAP / 2.0)
            } else {
                (2.0, 0.0, 0.0)
            };
            chain.push(nodes.len());
            nodes.push(LayerNode {
                layer,
                width,
                height,
                anchor,
                real: None,
                x: 0.0,
            });
        }
        chain.push(lower);
        for pair in chain.windows(2) {
            links.push(Link {
                upper: pair[0],
                lower: pair[1],
                weight,
            });
        }
        chains.push(chain);
    }

    // 3. Ordering.
    let layer_count = nodes.iter().map(|node| node.layer + 1).max().unwrap_or(0);
    let mut layers = initial_order(diagram, &nodes, &chains, layer_count);
    order_layers(&mut layers, &links, nodes.len());

    // 4. Coordinates.
    place_x(&mut nodes, &layers, &links);
    let layer_tops = place_y(&nodes, &layers);

    let mut placed: Vec<Placed> = Vec::with_capacity(count);
    for (index, node) in nodes.iter().take(count).enumerate() {
        let (width, height) = box_sizes[index];
        let band = layer_tops[node.layer];
        placed.push(Placed {
            x: node.x + node.anchor,
            y: band.0 + band.1 / 2.0,
            width,
            height,
        });
    }
    let edges = route_edges(diagram, &nodes, &chains, &reversed, &placed, &layer_tops);
    let tiles = tiles(diagram, &layers, &placed);

    let title_width = diagram.title.chars().count() as f64 * glyph_width(TITLE_FONT, true);
    let mut width: f64 = MARGIN + title_width;
    for node in &nodes {
        width = width.max(node.x + node.width / 2.0);
    }
    for &(x, _) in edges.iter().flat_map(|edge| &edge.points) {
        width = width.max(x);
    }
    for (edge, routed) in diagram.edges.iter().zip(&edges) {
        let (label_width, _) = label_size(&edge.label, EDGE_FONT, EDGE_LINE);
        width = width.max(routed.label_at.0 + label_width);
    }
    let height = layer_tops
        .last()
        .map_or(TITLE_HEIGHT + MARGIN, |&(top, band)| top + band);
    Layout {
        width: width + MARGIN,
        height: height + MARGIN,
        nodes: placed,
        edges,
        tiles,
    }
}

/// Box size of every diagram node and the room its self loop (if any) needs on the right.
fn node_sizes(diagram: &Diagram) -> (Vec<(f64, f64)>, Vec<f64>) {
    let mut sizes = Vec::with_capacity(diagram.nodes.len());
    for node in &diagram.nodes {
        sizes.push(match node.kind {
            NodeKind::State { .. } => {
                let (width, height) = label_size(&node.label, STATE_FONT, STATE_LINE);
                (width + 2.0 * NODE_PAD_X, height + 2.0 * NODE_PAD_Y)
            }
            NodeKind::Decision => (DIAMOND, DIAMOND),
        });
    }
    let mut loops = vec![0.0_f64; diagram.nodes.len()];
    for edge in diagram.edges.iter().filter(|edge| edge.from == edge.to) {
        let (label_width, _) = label_size(&edge.label, EDGE_FONT, EDGE_LINE);
        loops[edge.from] = loops[edge.from].max(SELF_LOOP_WIDTH + LABEL_GAP + label_width);
    }
    (sizes, loops)
}

/// Edges that close a cycle, found by depth-first search from the initial state (or the nodes nothing leads
/// to), following edges in diagram order.
fn back_edges(diagram: &Diagram) -> Vec<bool> {
    let count = diagram.nodes.len();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut has_incoming = vec![false; count];
    for (index, edge) in diagram.edges.iter().enumerate() {
        out[edge.from].push(index);
        if edge.from != edge.to {
            has_incoming[edge.to] = true;
        }
    }
    let initial = diagram
        .nodes
        .iter()
        .position(|node| matches!(&node.kind, NodeKind::State { name, .. } if name == crate::validate::INITIAL_STATE));
    let mut roots: Vec<usize> = initial.into_iter().collect();
    roots.extend((0..count).filter(|&node| !has_incoming[node]));
    roots.extend(0..count);

    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0_u8; count];
    let mut reversed = vec![false; diagram.edges.len()];
    for root in roots {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&edge) = out[node].get(*next) {
                *next += 1;
                let target = diagram.edges[edge].to;
                match state[target] {
                    0 => {
                        state[target] = 1;
                        stack.push((target, 0));
                    }
                    1 if target != node => reversed[edge] = true,
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    reversed
}

/// Rank = length of the longest path from a node without incoming edges (Kahn's order over the DAG).
fn longest_path_ranks(count: usize, edges: &[Option<(usize, usize)>]) -> Vec<usize> {
    let mut incoming = vec![0_usize; count];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); count];
    for &(upper, lower) in edges.iter().flatten() {
        incoming[lower] += 1;
        out[upper].push(lower);
    }
    let mut ranks = vec![0_usize; count];
    let mut ready: Vec<usize> = (0..count).filter(|&node| incoming[node] == 0).collect();
    while let Some(node) = ready.pop() {
        for &lower in &out[node] {
            ranks[lower] = ranks[lower].max(ranks[node] + 1);
            incoming[lower] -= 1;
            if incoming[lower] == 0 {
                ready.push(lower);
            }
        }
    }
    ranks
}

/// Starting order: diagram order (document order of states), dummies after the node their edge starts at.
fn initial_order(diagram: &Diagram, nodes: &[LayerNode], chains: &[Vec<usize>], layer_count: usize) -> Vec<Vec<usize>> {
    let mut key: Vec<f64> = vec![0.0; nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        if let Some(real) = node.real {
            key[index] = real as f64;
        }
    }
    for (edge, chain) in diagram.edges.iter().zip(chains) {
        for &dummy in chain.iter().filter(|&&member| nodes[member].real.is_none()) {
            key[dummy] = edge.from as f64 + 0.5;
        }
    }
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (index, node) in nodes.iter().enumerate() {
        layers[node.layer].push(index);
    }
    for layer in &mut layers {
        layer.sort_by(|a, b| key[*a].total_cmp(&key[*b]));
    }
    layers
}

/// Barycenter sweeps down and up; keeps the ordering with the fewest (weighted) crossings.
fn order_layers(layers: &mut [Vec<usize>], links: &[Link], node_count: usize) {
    let mut above: Vec<Vec<(usize, f64)>> = vec![Vec::new(); node_count];
    let mut below: Vec<Vec<(usize, f64)>> = vec![Vec::new(); node_count];
    for link in links {
        above[link.lower].push((link.upper, link.weight));
        below[link.upper].push((link.lower, link.weight));
    }
    let mut position = vec![0.0_f64; node_count];
    let update = |layers: &[Vec<usize>], position: &mut Vec<f64>| {
        for layer in layers {
            for (index, &node) in layer.iter().enumerate() {
                position[node] = index as f64;
            }
        }
    };
    update(layers, &mut position);
    let mut best = layers.to_vec();
    let mut best_crossings = crossings(layers, links, &position);
    for sweep in 0..ORDER_SWEEPS {
        let downwards = sweep % 2 == 0;
        let order: Vec<usize> = if downwards {
            (1..layers.len()).collect()
        } else {
            (0..layers.len().saturating_sub(1)).rev().collect()
        };
        for layer_index in order {
            let neighbours = if downwards { &above } else { &below };
            let layer = &mut layers[layer_index];
            let mut keyed: Vec<(f64, usize)> = layer
                .iter()
                .map(|&node| {
                    let total: f64 = neighbours[node].iter().map(|&(_, weight)| weight).sum();
                    let center = if total > 0.0 {
                        neighbours[node]
                            .iter()
                            .map(|&(other, weight)| position[other] * weight)
                            .sum::<f64>()
                            / total
                    } else {
                        position[node]
                    };
                    (center, node)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            *layer = keyed.into_iter().map(|(_, node)| node).collect();
            for (index, &node) in layer.iter().enumerate() {
                position[node] = index as f64;
            }
        }
        let now = crossings(layers, links, &position);
        if now < best_crossings {
            best_crossings = now;
            best = layers.to_vec();
        }
    }
    layers.clone_from_slice(&best);
}

fn crossings(layers: &[Vec<usize>], links: &[Link], position: &[f64]) -> f64 {
    let mut layer_of = HashMap::new();
    for (index, layer) in layers.iter().enumerate() {
        for &node in layer {
            layer_of.insert(node, index);
        }
    }
    let mut by_layer: Vec<Vec<&Link>> = vec![Vec::new(); layers.len()];
    for link in links {
        if let Some(&layer) = layer_of.get(&link.upper) {
            by_layer[layer].push(link);
        }
    }
    let mut total = 0.0;
    for group in &by_layer {
        for (index, first) in group.iter().enumerate() {
            for second in &group[index + 1..] {
                let upper = position[first.upper] - position[second.upper];
                let lower = position[first.lower] - position[second.lower];
                if upper * lower < 0.0 {
                    total += first.weight * second.weight;
                }
            }
        }
    }
    total
}

/// Horizontal placement: pack, then repeatedly pull every node toward its neighbours' anchors.
fn place_x(nodes: &mut [LayerNode], layers: &[Vec<usize>], links: &[Link]) {
    let mut above: Vec<Vec<(usize, f64)>> = vec![Vec::new(); nodes.len()];
    let mut below: Vec<Vec<(usize, f64)>> = vec![Vec::new(); nodes.len()];
    for link in links {
        // As in Graphviz, pieces of long edges pull harder so those edges run straight instead of zigzagging.
        let dummies = [link.upper, link.lower]
            .iter()
            .filter(|&&node| nodes[node].real.is_none())
            .count();
        let straightness = match dummies {
            2 => 8.0,
            1 => 2.0,
            _ => 1.0,
        };
        above[link.lower].push((link.upper, link.weight * straightness));
        below[link.upper].push((link.lower, link.weight * straightness));
    }
    for layer in layers {
        let mut x = 0.0;
        for (index, &node) in layer.iter().enumerate() {
            if index > 0 {
                x += gap(nodes, layer[index - 1], node);
            }
            nodes[node].x = x;
        }
    }
    for sweep in 0..PLACE_SWEEPS {
        // Alternate directions, finishing with sweeps that look both ways.
        let both = sweep >= PLACE_SWEEPS - 4;
        let downwards = sweep % 2 == 0;
        let order: Vec<usize> = if downwards {
            (0..layers.len()).collect()
        } else {
            (0..layers.len()).rev().collect()
        };
        for layer_index in order {
            let layer = &layers[layer_index];
            let mut desired = Vec::with_capacity(layer.len());
            let mut weights = Vec::with_capacity(layer.len());
            for &node in layer {
                let mut neighbours: Vec<(usize, f64)> = Vec::new();
                if downwards || both {
                    neighbours.extend(&above[node]);
                }
                if !downwards || both {
                    neighbours.extend(&below[node]);
                }
                let total: f64 = neighbours.iter().map(|&(_, weight)| weight).sum();
                if total > 0.0 {
                    let anchor_x = neighbours
                        .iter()
                        .map(|&(other, weight)| (nodes[other].x + nodes[other].anchor) * weight)
                        .sum::<f64>()
                        / total;
                    desired.push(anchor_x - nodes[node].anchor);
                    weights.push(total);
                } else {
                    desired.push(nodes[node].x);
                    weights.push(0.1);
                }
            }
            let gaps: Vec<f64> = (0..layer.len())
                .map(|index| {
                    if index == 0 {
                        0.0
                    } else {
                        gap(nodes, layer[index - 1], layer[index])
                    }
                })
                .collect();
            let solved = ordered_fit(&desired, &weights, &gaps);
            for (&node, x) in layer.iter().zip(solved) {
                nodes[node].x = x;
            }
        }
    }
    let left = nodes
        .iter()
        .map(|node| node.x - node.width / 2.0)
        .fold(f64::INFINITY, f64::min);
    if left.is_finite() {
        for node in nodes.iter_mut() {
            node.x += MARGIN - left;
        }
    }
}

fn gap(nodes: &[LayerNode], left: usize, right: usize) -> f64 {
    let spacing = if nodes[left].real.is_some() && nodes[right].real.is_some() {
        NODE_GAP
    } else {
        DUMMY_GAP
    };
    (nodes[left].width + nodes[right].width) / 2.0 + spacing
}

/// Positions closest (weighted least squares) to `desired` such that `x[i] >= x[i-1] + gaps[i]`: with the
/// cumulative gaps subtracted this is an isotonic regression, solved by pooling adjacent violators.
fn ordered_fit(desired: &[f64], weights: &[f64], gaps: &[f64]) -> Vec<f64> {
    let mut offsets = Vec::with_capacity(desired.len());
    let mut total = 0.0;
    for gap in gaps {
        total += gap;
        offsets.push(total);
    }
    // Blocks of (weighted mean, weight, length).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for index in 0..desired.len() {
        let mut block = (desired[index] - offsets[index], weights[index], 1);
        while let Some(&(mean, weight, length)) = blocks.last() {
            if mean <= block.0 {
                break;
            }
            blocks.pop();
            let merged_weight = weight + block.1;
            block = (
                (mean * weight + block.0 * block.1) / merged_weight,
                merged_weight,
                length + block.2,
            );
        }
        blocks.push(block);
    }
    let mut result = Vec::with_capacity(desired.len());
    for (mean, _, length) in blocks {
        for _ in 0..length {
            result.push(mean + offsets[result.len()]);
        }
    }
    result
}

/// Top and height of every layer band.
fn place_y(nodes: &[LayerNode], layers: &[Vec<usize>]) -> Vec<(f64, f64)> {
    let mut bands = Vec::with_capacity(layers.len());
    let mut top = MARGIN + TITLE_HEIGHT;
    for (index, layer) in layers.iter().enumerate() {
        let tallest = layer.iter().map(|&node| nodes[node].height).fold(0.0, f64::max);
        // Label layers keep some length so edges do not look cramped even without labels.
        let height = if index % 2 == 1 {
            tallest.max(12.0) + 8.0
        } else {
            tallest
        };
        bands.push((top, height));
        top += height + LAYER_GAP;
    }
    bands
}

fn route_edges(
    diagram: &Diagram,
    nodes: &[LayerNode],
    chains: &[Vec<usize>],
    reversed: &[bool],
    placed: &[Placed],
    bands: &[(f64, f64)],
) -> Vec<Routed> {
    let mut routed = Vec::with_capacity(diagram.edges.len());
    for (index, edge) in diagram.edges.iter().enumerate() {
        let chain = &chains[index];
        if chain.is_empty() {
            // Self loop on the right side of the box.
            let node = &placed[edge.from];
            let start = (node.right(), node.y - node.height / 4.0);
            let end = (node.right(), node.y + node.height / 4.0);
            let reach = node.right() + SELF_LOOP_WIDTH;
            let (_, label_height) = label_size(&edge.label, EDGE_FONT, EDGE_LINE);
            routed.push(Routed {
                points: vec![start, (reach, start.1 - 8.0), (reach, end.1 + 8.0), end],
                label_at: (reach + LABEL_GAP, node.y - label_height / 2.0),
                self_loop: true,
            });
            continue;
        }
        let upper = &placed[chain[0]];
        let lower = &placed[chain[chain.len() - 1]];
        let inner = &chain[1..chain.len() - 1];
        let anchor = |member: usize| nodes[member].x + nodes[member].anchor;
        let first_x = inner.first().map_or(lower.x, |&member| anchor(member));
        let last_x = inner.last().map_or(upper.x, |&member| anchor(member));
        let mut points = vec![(attach(upper, first_x), upper.bottom())];
        for (position, &member) in inner.iter().enumerate() {
            let (top, height) = bands[nodes[member].layer];
            if position == 0 {
                // Straight down past the label, so the line never runs through its text.
                points.push((anchor(member), top));
                points.push((anchor(member), top + height));
            } else {
                points.push((anchor(member), top + height / 2.0));
            }
        }
        points.push((attach(lower, last_x), lower.top()));
        let label_at = inner.first().map_or((upper.x, upper.bottom()), |&member| {
            let (top, height) = bands[nodes[member].layer];
            (anchor(member) + LABEL_GAP, top + (height - nodes[member].height) / 2.0)
        });
        if reversed[index] {
            points.reverse();
        }
        routed.push(Routed {
            points,
            label_at,
            self_loop: false,
        });
    }
    routed
}

/// Where an edge meets a box: straight above/below its next point if that is within the box, else near the
/// corner; diamonds are always met at their tip.
fn attach(node: &Placed, toward: f64) -> f64 {
    if node.width <= DIAMOND {
        return node.x;
    }
    let inset = (node.width / 4.0).min(14.0);
    toward.clamp(node.left() + inset, node.right() - inset)
}

/// Background tiles of the subprocesses: one per run of neighbouring boxes of the same subprocess in a layer.
fn tiles(diagram: &Diagram, layers: &[Vec<usize>], placed: &[Placed]) -> Vec<Tile> {
    let mut tiles: Vec<Tile> = Vec::new();
    let mut labelled = vec![false; diagram.clusters.len()];
    // Node layers are the even ones; the first `diagram.nodes.len()` layer nodes are the diagram's nodes.
    for layer in layers.iter().step_by(2) {
        let boxes: Vec<usize> = layer
            .iter()
            .copied()
            .filter(|&node| node < diagram.nodes.len())
            .collect();
        for run in boxes.chunk_by(|a, b| diagram.nodes[*a].cluster == diagram.nodes[*b].cluster) {
            let cluster = diagram.nodes[run[0]].cluster;
            // The main process is the whole picture; only subprocesses get tiles.
            if cluster == 0 {
                continue;
            }
            let left = run
                .iter()
                .map(|&member| placed[member].left())
                .fold(f64::INFINITY, f64::min);
            let right = run
                .iter()
                .map(|&member| placed[member].right())
                .fold(f64::NEG_INFINITY, f64::max);
            let top = run
                .iter()
                .map(|&member| placed[member].top())
                .fold(f64::INFINITY, f64::min);
            let bottom = run
                .iter()
                .map(|&member| placed[member].bottom())
                .fold(f64::NEG_INFINITY, f64::max);
            let first = labelled.get(cluster).is_some_and(|done| !done);
            if let Some(done) = labelled.get_mut(cluster) {
                *done = true;
            }
            let label_room = if first { 12.0 } else { 0.0 };
            tiles.push(Tile {
                cluster,
                x: left - TILE_PAD,
                y: top - TILE_PAD - label_room,
                width: right - left + 2.0 * TILE_PAD,
                height: bottom - top + 2.0 * TILE_PAD + label_room,
                labelled: first,
            });
        }
    }
    tiles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_fit_keeps_order_and_gaps() {
        let fitted = ordered_fit(&[10.0, 0.0, 50.0], &[1.0, 1.0, 1.0], &[0.0, 20.0, 20.0]);
        assert!(fitted[1] - fitted[0] >= 20.0 - 1e-9);
        assert!(fitted[2] - fitted[1] >= 20.0 - 1e-9);
        assert!((fitted[0] - (-5.0)).abs() < 1e-9, "{fitted:?}");
        assert!((fitted[2] - 50.0).abs() < 1e-9, "{fitted:?}");
    }

    #[test]
    fn longest_path_puts_a_node_below_all_its_predecessors() {
        let edges = [Some((0, 1)), Some((1, 2)), Some((0, 2)), None];
        assert_eq!(longest_path_ranks(3, &edges), vec![0, 1, 2]);
    }
}
