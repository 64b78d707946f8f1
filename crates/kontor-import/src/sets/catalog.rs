//! Catalog structure data sets: attribute keys, the category tree (nodes, localized names, URLs built
//! from the localized name path) and category–store links.
//!
//! Categories are written row by row in file order, because a child needs its parent's node and URL,
//! which may have been written by an earlier row of the same batch; category files are small.

use super::config::lookup;
use super::{localized, parse_bool, required, slugify};
use crate::importer::{Batch, ColumnKind, DataSet, Outcome, RowError};
use crate::name_map;
use crate::reader::{Header, RowView};
use kontor_db::entity::{
    category, category_localized, category_node, category_store, product_attribute_key, store, store_locale, url,
};
use kontor_domain::outbox::ChangeKind;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, ModelTrait, QueryFilter,
    Set,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Locales some store uses, by name; localized columns of other locales are skipped with a note.
pub(crate) async fn store_locales(connection: &DatabaseTransaction) -> Result<HashMap<String, i64>, DbErr> {
    let used: HashSet<i64> = store_locale::Entity::find()
        .all(connection)
        .await?
        .into_iter()
        .map(|link| link.locale_id)
        .collect();
    let all = name_map!(connection, kontor_db::entity::locale::Entity, name);
    Ok(all.into_iter().filter(|(_, id)| used.contains(id)).collect())
}

// ------------------------------------------------------------------------------ attribute keys

/// `product_attribute_key.csv`: `attribute_key,is_super`.
pub(crate) struct AttributeKeys {
    seen: HashSet<String>,
}

impl DataSet for AttributeKeys {
    type Row = (String, Option<bool>);
    const REQUIRED: &'static [&'static str] = &["attribute_key"];

    fn column_kind(column: &str) -> ColumnKind {
        match column {
            "attribute_key" | "is_super" => ColumnKind::Used,
            _ => ColumnKind::Unknown,
        }
    }

    async fn prepare(_: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self { seen: HashSet::new() })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<Self::Row, RowError> {
        let key = required(row, "attribute_key")?;
        if !self.seen.insert(key.to_owned()) {
            return Err(RowError::new(
                "attribute_key",
                format!("attribute key \"{key}\" appears twice in the file"),
            ));
        }
        let is_super = match row.get("is_super") {
            Some(_) => Some(parse_bool(row, "is_super", false)?),
            None => None,
        };
        Ok((key.to_owned(), is_super))
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<Self::Row>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let existing: HashMap<String, product_attribute_key::Model> = product_attribute_key::Entity::find()
            .filter(product_attribute_key::Column::Key.is_in(rows.iter().map(|row| row.0.clone())))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| (row.key.clone(), row))
            .collect();
        for (key, is_super) in rows {
            match existing.get(&key) {
                Some(found) => match is_super.filter(|wanted| *wanted != found.is_super) {
                    Some(wanted) => {
                        let mut model = found.clone().into_active_model();
                        model.is_super = Set(wanted);
                        model.update(transaction).await?;
                        batch.touch("product_attribute_key", found.id, ChangeKind::Update, &[]);
                        batch.count(Outcome::Updated);
                    }
                    None => batch.count(Outcome::Unchanged),
                },
                None => {
                    let created = product_attribute_key::ActiveModel {
                        key: Set(key),
                        is_super: Set(is_super.unwrap_or(false)),
                        ..Default::default()
                    }
                    .insert(transaction)
                    .await?;
                    batch.touch("product_attribute_key", created.id, ChangeKind::Create, &[]);
                    batch.count(Outcome::Inserted);
                }
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------ categories

#[derive(Debug, Default, Clone)]
pub(crate) struct CategoryTexts {
    name: Option<String>,
    meta_title: Option<String>,
    meta_description: Option<String>,
}

pub(crate) struct CategoryRow {
    key: String,
    parent: Option<String>,
    is_active: Option<bool>,
    is_root: bool,
    is_main: bool,
    sort_order: Option<i32>,
    texts: BTreeMap<i64, (String, CategoryTexts)>,
}

/// `category.csv`: the tree by `parent_category_key`, one node per category, localized names and URLs
/// (`/<lang>` for the root, `<parent url>/<slug of name>` below it).
pub(crate) struct Categories {
    stored_keys: HashSet<String>,
    locales: BTreeMap<String, i64>,
    seen: HashSet<String>,
}

impl DataSet for Categories {
    type Row = CategoryRow;
    const REQUIRED: &'static [&'static str] = &["category_key", "parent_category_key"];

    fn column_kind(column: &str) -> ColumnKind {
        match column {
            "category_key" | "parent_category_key" | "is_active" | "is_root" | "is_main" | "node_order" => {
                ColumnKind::Used
            }
            "is_in_menu" | "is_clickable" | "is_searchable" | "template_name" => ColumnKind::Ignored,
            other => match localized(other) {
                Some(("name" | "meta_title" | "meta_description", _)) => ColumnKind::Used,
                Some(("meta_keywords" | "category_image_name", _)) => ColumnKind::Ignored,
                _ => ColumnKind::Unknown,
            },
        }
    }

    async fn prepare(
        connection: &DatabaseTransaction,
        header: &Header,
        notes: &mut Vec<String>,
    ) -> Result<Self, DbErr> {
        let used = store_locales(connection).await?;
        Ok(Self {
            stored_keys: name_map!(connection, category::Entity, category_key)
                .into_keys()
                .collect(),
            locales: super::header_locales(header, &used, notes),
            seen: HashSet::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<CategoryRow, RowError> {
        let key = required(row, "category_key")?;
        let is_root = parse_bool(row, "is_root", false)?;
        let parent = row.value("parent_category_key").map(str::to_owned);
        match (&parent, is_root) {
            (None, false) => {
                return Err(RowError::new(
                    "parent_category_key",
                    "must not be empty (only the root, is_root=1, has none)",
                ));
            }
            (Some(_), true) => {
                return Err(RowError::new(
                    "parent_category_key",
                    "must be empty on the root (is_root=1)",
                ));
            }
            (Some(parent), false) if !self.seen.contains(parent) && !self.stored_keys.contains(parent) => {
                return Err(RowError::new(
                    "parent_category_key",
                    format!("category \"{parent}\" is unknown (a parent must come before its children)"),
                ));
            }
            _ => {}
        }
        if !self.seen.insert(key.to_owned()) {
            return Err(RowError::new(
                "category_key",
                format!("category \"{key}\" appears twice in the file"),
            ));
        }
        let sort_order = match row.value("node_order") {
            Some(raw) => Some(
                raw.parse::<i32>()
                    .map_err(|_| RowError::new("node_order", format!("\"{raw}\" is not a whole number")))?,
            ),
            None => None,
        };
        let is_active = match row.get("is_active") {
            Some(_) => Some(parse_bool(row, "is_active", true)?),
            None => None,
        };
        let mut texts = BTreeMap::new();
        for (locale, id) in &self.locales {
            let text = |field: &str| row.get(&format!("{field}.{locale}")).map(str::to_owned);
            texts.insert(
                *id,
                (
                    locale.clone(),
                    CategoryTexts {
                        name: text("name"),
                        meta_title: text("meta_title"),
                        meta_description: text("meta_description"),
                    },
                ),
            );
        }
        Ok(CategoryRow {
            key: key.to_owned(),
            parent,
            is_active,
            is_root,
            is_main: parse_bool(row, "is_main", true)?,
            sort_order,
            texts,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<CategoryRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        for row in rows {
            let outcome = write_category(transaction, row, batch).await?;
            batch.count(outcome);
        }
        Ok(())
    }
}

async fn main_node(transaction: &DatabaseTransaction, category_id: i64) -> Result<Option<category_node::Model>, DbErr> {
    let mut nodes = category_node::Entity::find()
        .filter(category_node::Column::CategoryId.eq(category_id))
        .all(transaction)
        .await?;
    nodes.sort_by_key(|node| (!node.is_main, node.id));
    Ok(nodes.into_iter().next())
}

async fn write_category(
    transaction: &DatabaseTransaction,
    row: CategoryRow,
    batch: &mut Batch,
) -> Result<Outcome, DbErr> {
    let mut changed = false;
    let stored = category::Entity::find()
        .filter(category::Column::CategoryKey.eq(row.key.as_str()))
        .one(transaction)
        .await?;
    let (category_id, created) = match stored {
        Some(found) => {
            let id = found.id;
            if let Some(active) = row.is_active.filter(|active| *active != found.is_active) {
                let mut model = found.into_active_model();
                model.is_active = Set(active);
                model.updated_at = Set(batch.now);
                model.update(transaction).await?;
                changed = true;
            }
            (id, false)
        }
        None => {
            let model = category::ActiveModel {
                category_key: Set(row.key.clone()),
                is_active: Set(row.is_active.unwrap_or(true)),
                created_at: Set(batch.now),
                updated_at: Set(batch.now),
                ..Default::default()
            }
            .insert(transaction)
            .await?;
            (model.id, true)
        }
    };

    // Texts per locale; absent columns keep what is stored.
    let stored_texts: HashMap<i64, category_localized::Model> = category_localized::Entity::find()
        .filter(category_localized::Column::CategoryId.eq(category_id))
        .all(transaction)
        .await?
        .into_iter()
        .map(|text| (text.locale_id, text))
        .collect();
    let mut names = HashMap::new();
    for (locale_id, (_, texts)) in &row.texts {
        let current = stored_texts.get(locale_id);
        let pick = |given: &Option<String>, stored: Option<&String>| {
            given.clone().or_else(|| stored.cloned()).unwrap_or_default()
        };
        let name = pick(&texts.name, current.map(|text| &text.name));
        let meta_title = pick(&texts.meta_title, current.map(|text| &text.meta_title));
        let meta_description = pick(&texts.meta_description, current.map(|text| &text.meta_description));
        names.insert(*locale_id, name.clone());
        match current {
            Some(text)
                if text.name == name && text.meta_title == meta_title && text.meta_description == meta_description => {}
            Some(text) => {
                let mut model = text.clone().into_active_model();
                model.name = Set(name);
                model.meta_title = Set(meta_title);
                model.meta_description = Set(meta_description);
                model.update(transaction).await?;
                changed = true;
            }
            None => {
                category_localized::ActiveModel {
                    category_id: Set(category_id),
                    locale_id: Set(*locale_id),
                    name: Set(name),
                    meta_title: Set(meta_title),
                    meta_description: Set(meta_description),
                    ..Default::default()
                }
                .insert(transaction)
                .await?;
                changed = true;
            }
        }
    }

    // The node under the parent's main node.
    let parent_node = match &row.parent {
        Some(parent_key) => {
            let parent = category::Entity::find()
                .filter(category::Column::CategoryKey.eq(parent_key.as_str()))
                .one(transaction)
                .await?;
            match parent {
                Some(parent) => main_node(transaction, parent.id).await?,
                None => None,
            }
        }
        None => None,
    };
    let parent_node_id = parent_node.as_ref().map(|node| node.id);
    let node = match main_node(transaction, category_id).await? {
        Some(node) => {
            let sort_order = row.sort_order.unwrap_or(node.sort_order);
            if node.parent_node_id != parent_node_id
                || node.is_root != row.is_root
                || node.is_main != row.is_main
                || node.sort_order != sort_order
            {
                let mut model = node.into_active_model();
                model.parent_node_id = Set(parent_node_id);
                model.is_root = Set(row.is_root);
                model.is_main = Set(row.is_main);
                model.sort_order = Set(sort_order);
                changed = true;
                model.update(transaction).await?
            } else {
                node
            }
        }
        None => {
            changed = true;
            category_node::ActiveModel {
                category_id: Set(category_id),
                parent_node_id: Set(parent_node_id),
                is_root: Set(row.is_root),
                is_main: Set(row.is_main),
                sort_order: Set(row.sort_order.unwrap_or(0)),
                ..Default::default()
            }
            .insert(transaction)
            .await?
        }
    };

    // URLs: the parent's URL plus the slug of the localized name.
    let mut url_ids = Vec::new();
    for (locale_id, (locale, _)) in &row.texts {
        let language = &locale[..2];
        let parent_url = match parent_node_id {
            Some(parent_id) => url::Entity::find()
                .filter(url::Column::CategoryNodeId.eq(parent_id))
                .filter(url::Column::LocaleId.eq(*locale_id))
                .one(transaction)
                .await?
                .map(|row| row.url),
            None => None,
        };
        let wanted = if row.is_root {
            format!("/{language}")
        } else {
            let name = names.get(locale_id).cloned().unwrap_or_default();
            let slug = Some(slugify(&name))
                .filter(|slug| !slug.is_empty())
                .unwrap_or_else(|| slugify(&row.key));
            format!("{}/{slug}", parent_url.unwrap_or_else(|| format!("/{language}")))
        };
        let stored = url::Entity::find()
            .filter(url::Column::CategoryNodeId.eq(node.id))
            .filter(url::Column::LocaleId.eq(*locale_id))
            .one(transaction)
            .await?;
        let id = match stored {
            Some(found) if found.url == wanted => found.id,
            Some(found) => {
                let id = found.id;
                let mut model = found.into_active_model();
                model.url = Set(wanted);
                model.updated_at = Set(batch.now);
                model.update(transaction).await?;
                changed = true;
                id
            }
            None => {
                changed = true;
                url::ActiveModel {
                    url: Set(wanted),
                    locale_id: Set(*locale_id),
                    category_node_id: Set(Some(node.id)),
                    updated_at: Set(batch.now),
                    ..Default::default()
                }
                .insert(transaction)
                .await?
                .id
            }
        };
        url_ids.push(id);
    }

    if !changed && !created {
        return Ok(Outcome::Unchanged);
    }
    let mut keys = vec![("fk_category_node", node.id)];
    if let Some(parent_id) = parent_node_id {
        keys.push(("fk_parent_category_node", parent_id));
    }
    keys.extend(url_ids.into_iter().map(|id| ("fk_url", id)));
    let kind = if created {
        ChangeKind::Create
    } else {
        ChangeKind::Update
    };
    batch.touch("category", category_id, kind, &keys);
    Ok(if created { Outcome::Inserted } else { Outcome::Updated })
}

// -------------------------------------------------------------------------------- category-store

pub(crate) struct CategoryStoreRow {
    category_id: i64,
    include: Option<HashSet<i64>>,
    exclude: HashSet<i64>,
}

/// `category_store.csv`: `category_key,included_store_names,excluded_store_names`; `*` means every
/// store. Unlike Spryker, the stores are not copied to child categories (not implemented yet).
pub(crate) struct CategoryStores {
    categories: HashMap<String, i64>,
    stores: HashMap<String, i64>,
    seen: HashSet<i64>,
}

impl CategoryStores {
    fn store_list(&self, row: &RowView<'_>, column: &str) -> Result<HashSet<i64>, RowError> {
        let raw = row.get(column).unwrap_or("");
        if raw == "*" {
            return Ok(self.stores.values().copied().collect());
        }
        raw.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| lookup(&self.stores, column, "store", name))
            .collect()
    }
}

impl DataSet for CategoryStores {
    type Row = CategoryStoreRow;
    const REQUIRED: &'static [&'static str] = &["category_key"];

    fn column_kind(column: &str) -> ColumnKind {
        match column {
            "category_key" | "included_store_names" | "excluded_store_names" => ColumnKind::Used,
            _ => ColumnKind::Unknown,
        }
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            categories: name_map!(connection, category::Entity, category_key),
            stores: name_map!(connection, store::Entity, name),
            seen: HashSet::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<CategoryStoreRow, RowError> {
        let category_id = lookup(
            &self.categories,
            "category_key",
            "category",
            required(row, "category_key")?,
        )?;
        if !self.seen.insert(category_id) {
            return Err(RowError::new("category_key", "the category appears twice in the file"));
        }
        let include = match row.get("included_store_names") {
            Some(_) => Some(self.store_list(row, "included_store_names")?),
            None => None,
        };
        Ok(CategoryStoreRow {
            category_id,
            include,
            exclude: self.store_list(row, "excluded_store_names")?,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<CategoryStoreRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        for row in rows {
            let links = category_store::Entity::find()
                .filter(category_store::Column::CategoryId.eq(row.category_id))
                .all(transaction)
                .await?;
            let current: HashSet<i64> = links.iter().map(|link| link.store_id).collect();
            let mut changed = false;
            for store_id in row.include.iter().flatten() {
                if !current.contains(store_id) && !row.exclude.contains(store_id) {
                    category_store::ActiveModel {
                        category_id: Set(row.category_id),
                        store_id: Set(*store_id),
                    }
                    .insert(transaction)
                    .await?;
                    changed = true;
                }
            }
            for link in links {
                if row.exclude.contains(&link.store_id) {
                    link.delete(transaction).await?;
                    changed = true;
                }
            }
            if changed {
                batch.touch("category", row.category_id, ChangeKind::Update, &[]);
                batch.count(Outcome::Updated);
            } else {
                batch.count(Outcome::Unchanged);
            }
        }
        Ok(())
    }
}
