//! Categories in the Back Office: the tree (catalog.read) and a category's name per locale
//! (catalog.write).
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/backoffice/categories` | every category as a nested list, roots first, siblings by sort order |
//! | GET | `/backoffice/categories/{id}` | one category: key, parent, stores, names per locale |
//! | POST | `/backoffice/categories/{id}` | save the names (`localizedAttributes.<locale>.name`) |
//!
//! Names are saved through the same service as the admin API (validation, outbox rows for publish &
//! sync); the rest of a category (parent, stores, URLs) is left to the admin API and the importer.

use super::products::{FailedForm, all_of, locale_names, not_found, parse_id, storage_error, with_audit};
use super::ws::announce_change;
use super::{Layout, flash, render};
use crate::acl::{GuardedRouter, Principal};
use crate::state::AdminState;
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use kontor_core::ids::CategoryId;
use kontor_domain::acl::Permission;
use kontor_domain::catalog::{CategoryAttributes, CategoryLocalized};
use kontor_domain::{DomainError, Record, Resource};
use kontor_web::html::{CsrfToken, FormErrors, FormFields, Session};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

pub fn routes() -> GuardedRouter {
    GuardedRouter::new()
        .get("/backoffice/categories", Permission::CatalogRead, tree)
        .get("/backoffice/categories/{id}", Permission::CatalogRead, show)
        .post("/backoffice/categories/{id}", Permission::CatalogWrite, save_names)
}

/// One node of the tree as the template's recursive loop reads it.
#[derive(Debug, Serialize)]
struct Node {
    id: i64,
    key: String,
    name: String,
    is_active: bool,
    stores: Vec<String>,
    children: Vec<Node>,
}

/// The name shown for a category: its first locale's, else its key.
fn display_name(attributes: &CategoryAttributes) -> String {
    attributes
        .localized_attributes
        .values()
        .next()
        .map(|localized| localized.name.clone())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| attributes.category_key.clone())
}

/// Nests the categories under their parents. A category whose parent is missing is shown as a root,
/// so nothing disappears from the tree; a loop of parents (which validation cannot see across
/// records) is cut where it closes.
fn build_tree(categories: Vec<Record<CategoryAttributes>>) -> Vec<Node> {
    let keys: std::collections::BTreeSet<String> = categories
        .iter()
        .map(|category| category.attributes.category_key.clone())
        .collect();
    let mut children_of: BTreeMap<Option<String>, Vec<Record<CategoryAttributes>>> = BTreeMap::new();
    for category in categories {
        let parent = category
            .attributes
            .parent_category_key
            .clone()
            .filter(|parent| keys.contains(parent));
        children_of.entry(parent).or_default().push(category);
    }
    for siblings in children_of.values_mut() {
        // Higher sort order first, as the storefront shows them; the key breaks ties.
        siblings.sort_by(|a, b| {
            b.attributes
                .sort_order
                .cmp(&a.attributes.sort_order)
                .then_with(|| a.attributes.category_key.cmp(&b.attributes.category_key))
        });
    }
    let mut placed = std::collections::BTreeSet::new();
    let mut roots = nodes_under(None, &mut children_of, &mut placed);
    // What is left hangs in a loop of parents: shown from wherever the loop is entered.
    while let Some(parent) = children_of.keys().next().cloned() {
        roots.extend(nodes_under(parent, &mut children_of, &mut placed));
    }
    roots
}

fn nodes_under(
    parent: Option<String>,
    children_of: &mut BTreeMap<Option<String>, Vec<Record<CategoryAttributes>>>,
    placed: &mut std::collections::BTreeSet<String>,
) -> Vec<Node> {
    let Some(children) = children_of.remove(&parent) else {
        return Vec::new();
    };
    let mut nodes = Vec::with_capacity(children.len());
    for child in children {
        let key = child.attributes.category_key.clone();
        if !placed.insert(key.clone()) {
            continue;
        }
        nodes.push(Node {
            id: child.id.0,
            name: display_name(&child.attributes),
            is_active: child.attributes.is_active,
            stores: child.attributes.stores.iter().map(ToString::to_string).collect(),
            children: nodes_under(Some(key.clone()), children_of, placed),
            key,
        });
    }
    nodes
}

async fn tree(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let categories = match all_of(&state.categories, None).await {
        Ok(categories) => categories,
        Err(error) => return storage_error(error),
    };
    let total = categories.len();
    let page = json!({"tree": build_tree(categories), "total": total});
    render(&state, StatusCode::OK, "backoffice/categories.html", &layout, page)
}

#[derive(Debug, Serialize)]
struct NameView {
    locale: String,
    name: String,
    translated: bool,
}

/// The category page, with the failed form's values and messages when there is one.
async fn category_page(
    state: &AdminState,
    layout: &Layout,
    status: StatusCode,
    category: &Record<CategoryAttributes>,
    failed: Option<FailedForm>,
) -> Response {
    let attributes = &category.attributes;
    let locales = match locale_names(state, attributes.localized_attributes.keys().cloned()).await {
        Ok(locales) => locales,
        Err(error) => return storage_error(error),
    };
    let names: Vec<NameView> = locales
        .iter()
        .map(|locale| {
            let localized = attributes.localized_attributes.get(locale);
            NameView {
                locale: locale.to_string(),
                name: localized.map(|texts| texts.name.clone()).unwrap_or_default(),
                translated: localized.is_some(),
            }
        })
        .collect();
    let page = json!({
        "category": {
            "id": category.id.0,
            "key": attributes.category_key,
            "parent": attributes.parent_category_key,
            "is_active": attributes.is_active,
            "sort_order": attributes.sort_order,
            "stores": attributes.stores.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "record": format!("{}:{}", CategoryAttributes::TYPE, category.id.0),
            "names": names,
        },
        "form": failed.unwrap_or_default(),
    });
    render(state, status, "backoffice/categories_edit.html", layout, page)
}

async fn load_or_404(
    state: &AdminState,
    layout: &Layout,
    raw_id: &str,
) -> Result<Record<CategoryAttributes>, Response> {
    let missing = || not_found(state, layout, format!("There is no category {raw_id}."));
    let Some(id) = parse_id(raw_id) else {
        return Err(missing());
    };
    match state.categories.get(CategoryId(id)).await {
        Ok(category) => Ok(category),
        Err(DomainError::NotFound { .. }) => Err(missing()),
        Err(error) => Err(storage_error(error)),
    }
}

async fn show(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(raw_id): Path<String>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    match load_or_404(&state, &layout, &raw_id).await {
        Ok(category) => category_page(&state, &layout, StatusCode::OK, &category, None).await,
        Err(response) => response,
    }
}

/// Saves the name of every locale the form carries; a locale without a name yet gets one only when
/// something was typed for it.
async fn save_names(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(raw_id): Path<String>,
    Form(fields): Form<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let category = match load_or_404(&state, &layout, &raw_id).await {
        Ok(category) => category,
        Err(response) => return response,
    };
    let id = category.id;
    let mut attributes = category.attributes.clone();
    let locales = match locale_names(&state, attributes.localized_attributes.keys().cloned()).await {
        Ok(locales) => locales,
        Err(error) => return storage_error(error),
    };
    let mut changes = serde_json::Map::new();
    for locale in &locales {
        let field = format!("localizedAttributes.{locale}.name");
        if !fields.0.contains_key(&field) {
            continue;
        }
        let name = fields.text(&field);
        let before = attributes
            .localized_attributes
            .get(locale)
            .map(|texts| texts.name.clone());
        match attributes.localized_attributes.get_mut(locale) {
            Some(texts) => texts.name = name.clone(),
            None if name.is_empty() => continue,
            None => {
                attributes.localized_attributes.insert(
                    locale.clone(),
                    CategoryLocalized {
                        name: name.clone(),
                        meta_title: String::new(),
                        meta_description: String::new(),
                        url: None,
                    },
                );
            }
        }
        if before.as_deref() != Some(name.as_str()) {
            changes.insert(format!("{locale}.name"), json!({"from": before, "to": name}));
        }
    }
    let url = format!("/backoffice/categories/{id}");
    if changes.is_empty() {
        flash(&session, "info", "Nothing changed.");
        return Redirect::to(&url).into_response();
    }
    match state.categories.update(id, attributes).await {
        Ok(_) => {
            announce_change(&state, &principal, &format!("{}:{id}", CategoryAttributes::TYPE)).await;
            flash(&session, "success", "The names are saved.");
            with_audit(Redirect::to(&url).into_response(), json!({"names": changes}))
        }
        Err(error @ (DomainError::Validation(_) | DomainError::Conflict { .. })) => {
            let failed = FailedForm {
                form: "names",
                target: id.to_string(),
                values: fields.echo(),
                errors: FormErrors::from_domain(&error),
            };
            let invalid = json!({"invalid": failed.errors});
            let response = category_page(
                &state,
                &layout,
                StatusCode::UNPROCESSABLE_ENTITY,
                &category,
                Some(failed),
            )
            .await;
            with_audit(response, invalid)
        }
        Err(error) => storage_error(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kontor_domain::Valid;

    fn category(id: i64, key: &str, parent: Option<&str>, sort_order: i32) -> Record<CategoryAttributes> {
        let attributes = CategoryAttributes {
            category_key: key.to_owned(),
            parent_category_key: parent.map(str::to_owned),
            is_active: true,
            sort_order,
            stores: Vec::new(),
            localized_attributes: BTreeMap::new(),
        };
        Record {
            id: CategoryId(id),
            attributes: Valid::new(attributes).expect("valid").into_inner(),
        }
    }

    fn keys(nodes: &[Node]) -> Vec<String> {
        nodes
            .iter()
            .map(|node| format!("{}{:?}", node.key, keys(&node.children)))
            .collect()
    }

    #[test]
    fn categories_nest_under_their_parents_by_sort_order() {
        let tree = build_tree(vec![
            category(1, "cameras", None, 0),
            category(2, "compact", Some("cameras"), 1),
            category(3, "dslr", Some("cameras"), 5),
            category(4, "lost", Some("gone"), 0),
            category(5, "a", Some("b"), 0),
            category(6, "b", Some("a"), 0),
        ]);
        assert_eq!(
            keys(&tree),
            ["cameras[\"dslr[]\", \"compact[]\"]", "lost[]", "b[\"a[]\"]"],
            "orphans become roots; a loop of parents is cut where it closes"
        );
    }
}
