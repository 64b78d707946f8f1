//! `category-trees` and `category-nodes/{nodeId}` (`storefront-api.md` §8.7), from the
//! `category_tree:<store>:<locale>` and `category_node:<store>:<locale>:<node id>` documents.
//!
//! A node's `children` and `parents` have the node shape too. Their documents are fetched in one more
//! round trip; their own `children`/`parents` are left empty (a node answer is one level deep, not the
//! whole tree, which `category-trees` serves). Kontor keeps no meta keywords for categories, so
//! `metaKeywords` is null.

use super::fetch::KvReader;
use crate::context::RequestContext;
use crate::document::{Document, Resource};
use crate::state::StorefrontState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kontor_readmodel::key;
use kontor_readmodel::storage::{
    CategoryNodeRef, CategoryNodeStorage, CategoryTreeNode, CategoryTreeStorage, projection,
};
use kontor_web::{AppError, ErrorCode};
use serde_json::{Value, json};
use std::collections::HashMap;

pub(crate) const CATEGORY_NODES: &str = "category-nodes";
const CATEGORY_TREES: &str = "category-trees";

pub(crate) fn node_key(ctx: &RequestContext, id: i64) -> Option<String> {
    key(
        projection::CATEGORY_NODE,
        Some(&ctx.store.name),
        Some(&ctx.locale),
        Some(&id.to_string()),
    )
    .ok()
}

pub(crate) fn tree_key(ctx: &RequestContext) -> Option<String> {
    key(
        projection::CATEGORY_TREE,
        Some(&ctx.store.name),
        Some(&ctx.locale),
        None,
    )
    .ok()
}

fn node_not_found(id: &str) -> AppError {
    AppError::new(
        ErrorCode::CategoryNodeNotFound,
        format!("category node {id} was not found"),
    )
}

pub(crate) async fn node_id_missing() -> AppError {
    node_not_found("(none given)")
}

/// Queues the documents of these nodes.
pub(crate) fn want_nodes(reader: &mut KvReader<'_>, ctx: &RequestContext, ids: impl Iterator<Item = i64>) {
    for id in ids {
        reader.want(node_key(ctx, id));
    }
}

fn node_attributes(node: &CategoryNodeStorage, children: Vec<Value>, parents: Vec<Value>) -> Value {
    json!({
        "nodeId": node.node_id,
        "name": node.name,
        "metaTitle": node.meta_title,
        "metaKeywords": null,
        "metaDescription": node.meta_description,
        "isActive": node.is_active,
        "order": node.order,
        "url": node.url,
        "children": children,
        "parents": parents,
    })
}

/// A child or parent: its own document when it was readable, else what the reference knows.
fn nested(reader: &KvReader<'_>, ctx: &RequestContext, reference: &CategoryNodeRef) -> Value {
    match reader.peek::<CategoryNodeStorage>(node_key(ctx, reference.node_id).as_deref()) {
        Some(node) => node_attributes(&node, Vec::new(), Vec::new()),
        None => json!({
            "nodeId": reference.node_id, "name": reference.name, "metaTitle": null, "metaKeywords": null,
            "metaDescription": null, "isActive": true, "order": null, "url": reference.url,
            "children": [], "parents": [],
        }),
    }
}

/// Renders the (already fetched) nodes `ids`, fetching their children's and parents' documents in one
/// round trip. Nodes without a document in the store × locale are left out.
pub(crate) async fn render_nodes(
    reader: &mut KvReader<'_>,
    ctx: &RequestContext,
    ids: &[i64],
) -> Result<HashMap<i64, Resource>, AppError> {
    let nodes: Vec<CategoryNodeStorage> = ids
        .iter()
        .filter_map(|id| reader.peek(node_key(ctx, *id).as_deref()))
        .collect();
    for node in &nodes {
        let references = node.children.iter().chain(node.parents.iter());
        want_nodes(reader, ctx, references.map(|reference| reference.node_id));
    }
    reader.flush().await?;
    Ok(nodes
        .iter()
        .map(|node| {
            let children = node.children.iter().map(|child| nested(reader, ctx, child)).collect();
            let parents = node.parents.iter().map(|parent| nested(reader, ctx, parent)).collect();
            let id = node.node_id.to_string();
            let resource = Resource::new(ctx, CATEGORY_NODES, &id, node_attributes(node, children, parents));
            (node.node_id, resource)
        })
        .collect())
}

/// `GET /category-nodes/{nodeId}`.
pub(crate) async fn node(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let node_id: i64 = id.trim().parse().map_err(|_| node_not_found(&id))?;
    let mut reader = KvReader::new(state.kv.as_ref());
    want_nodes(&mut reader, &ctx, std::iter::once(node_id));
    reader.flush().await?;
    let mut rendered = render_nodes(&mut reader, &ctx, &[node_id]).await?;
    let resource = rendered.remove(&node_id).ok_or_else(|| node_not_found(&id))?;
    let mut document = Document::one(resource);
    if let Some(version) = reader.newest() {
        document.observe_version(version);
    }
    Ok(document.respond(&ctx, &headers, StatusCode::OK))
}

/// Siblings by `order`, highest first (the storage already is, but answers and pages must not depend
/// on it).
pub(crate) fn by_order(nodes: &[CategoryTreeNode]) -> Vec<&CategoryTreeNode> {
    let mut sorted: Vec<&CategoryTreeNode> = nodes.iter().collect();
    sorted.sort_by_key(|node| std::cmp::Reverse(node.order));
    sorted
}

/// The nodes from a root down to node `id` (a category page's breadcrumb); `None` when the store's
/// tree does not hold it (unknown, inactive or not in this store).
pub(crate) fn tree_path(nodes: &[CategoryTreeNode], id: i64) -> Option<Vec<&CategoryTreeNode>> {
    for node in nodes {
        if node.node_id == id {
            return Some(vec![node]);
        }
        if let Some(mut path) = tree_path(&node.children, id) {
            path.insert(0, node);
            return Some(path);
        }
    }
    None
}

fn tree_json(nodes: &[CategoryTreeNode]) -> Vec<Value> {
    by_order(nodes)
        .into_iter()
        .map(|node| {
            json!({"nodeId": node.node_id, "order": node.order, "name": node.name, "url": node.url,
                   "children": tree_json(&node.children)})
        })
        .collect()
}

/// `GET /category-trees`: one computed resource with the store's roots and their descendants.
pub(crate) async fn trees(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let mut reader = KvReader::new(state.kv.as_ref());
    let tree_key = tree_key(&ctx);
    reader.want(tree_key.clone());
    reader.flush().await?;
    let tree = reader
        .take::<CategoryTreeStorage>(tree_key.as_deref())
        .unwrap_or_default();
    let resource = Resource::with_link(
        CATEGORY_TREES,
        None,
        json!({"categoryNodesStorage": tree_json(&tree.category_nodes_storage)}),
        Some(format!("{}/{CATEGORY_TREES}", ctx.api_base)),
    );
    let mut document = Document::many(vec![resource]);
    if let Some(version) = reader.newest() {
        document.observe_version(version);
    }
    Ok(document.respond(&ctx, &headers, StatusCode::OK))
}
