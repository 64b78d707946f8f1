//! Product data sets: abstracts (attributes, localized texts, URLs, tax set, categories), their store
//! links, and concretes (variants). Lookups (SKUs, tax sets, categories, attribute keys, URLs) are
//! loaded once per data set; rows are validated against them and against earlier rows of the file.
//!
//! Outbox routing mirrors `kontor-db`'s repositories: a product_abstract row carries `fk_product_concrete`
//! (its concretes) and `fk_url` (its URL rows); a product_concrete row carries `fk_product_abstract`;
//! a product_category row `fk_product_abstract` and `fk_category`.

use super::catalog::store_locales;
use super::config::lookup;
use super::{
    attributes, decode_map, did_you_mean, encode_map, is_attribute_column, localized, parse_bool, required, slugify,
};
use crate::importer::{Batch, ColumnKind, DataSet, Outcome, RowError};
use crate::name_map;
use crate::reader::{Header, RowView};
use kontor_core::Sku;
use kontor_db::entity::{
    category, product_abstract, product_abstract_localized, product_abstract_store, product_attribute_key,
    product_category, product_concrete, product_concrete_localized, store, tax_set, url,
};
use kontor_domain::outbox::ChangeKind;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, ModelTrait, QueryFilter,
    Set,
};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

type Attributes = BTreeMap<String, String>;

fn parse_sku(row: &RowView<'_>, column: &str) -> Result<String, RowError> {
    let raw = required(row, column)?;
    Sku::parse(raw).map_err(|error| RowError::new(column, error.0))?;
    Ok(raw.to_owned())
}

/// Adds `fk_product_concrete` and `fk_url` to every product_abstract touched in the batch.
async fn route_abstracts(transaction: &DatabaseTransaction, batch: &mut Batch, ids: &[i64]) -> Result<(), DbErr> {
    let touched: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| batch.touched("product_abstract", *id))
        .collect();
    if touched.is_empty() {
        return Ok(());
    }
    for concrete in product_concrete::Entity::find()
        .filter(product_concrete::Column::ProductAbstractId.is_in(touched.clone()))
        .all(transaction)
        .await?
    {
        batch.add_keys(
            "product_abstract",
            concrete.product_abstract_id,
            &[("fk_product_concrete", concrete.id)],
        );
    }
    for row in url::Entity::find()
        .filter(url::Column::ProductAbstractId.is_in(touched))
        .all(transaction)
        .await?
    {
        if let Some(owner) = row.product_abstract_id {
            batch.add_keys("product_abstract", owner, &[("fk_url", row.id)]);
        }
    }
    Ok(())
}

// -------------------------------------------------------------------------------------- abstracts

#[derive(Debug, Default)]
pub(crate) struct AbstractTexts {
    lang: String,
    name: Option<String>,
    description: Option<String>,
    meta_title: Option<String>,
    meta_keywords: Option<String>,
    meta_description: Option<String>,
    attributes: Option<Attributes>,
    url: Option<String>,
}

pub(crate) struct AbstractRow {
    sku: String,
    /// `None`: column absent; `Some(None)`: empty, clears the tax set.
    tax_set_id: Option<Option<i64>>,
    attributes: Option<Attributes>,
    texts: BTreeMap<i64, AbstractTexts>,
    /// `(category id, sort order)`; `None` when the column is absent.
    categories: Option<Vec<(i64, i32)>>,
}

const ABSTRACT_TEXTS: &[&str] = &[
    "name",
    "description",
    "meta_title",
    "meta_keywords",
    "meta_description",
    "url",
];

/// `product_abstract.csv`.
pub(crate) struct Abstracts {
    tax_sets: HashMap<String, i64>,
    categories: HashMap<String, i64>,
    locales: BTreeMap<String, i64>,
    attribute_keys: HashMap<String, i64>,
    /// Stored URL → owning abstract id (other owners as 0).
    urls: HashMap<String, i64>,
    abstract_ids: HashMap<String, i64>,
    seen: HashMap<String, u64>,
    claimed_urls: HashMap<String, String>,
}

/// What abstract rows are checked against: the stored catalog, by natural key.
pub(crate) struct AbstractLookups {
    pub tax_sets: HashMap<String, i64>,
    pub categories: HashMap<String, i64>,
    /// Locales named by the header that some store uses (see [`super::header_locales`]).
    pub locales: BTreeMap<String, i64>,
    pub attribute_keys: HashMap<String, i64>,
    /// Stored URL → owning abstract id (other owners as 0).
    pub urls: HashMap<String, i64>,
    pub abstract_ids: HashMap<String, i64>,
}

impl Abstracts {
    /// Ready for a pass over a file; `prepare` loads the lookups from the database, the
    /// database-free check of [`crate::parse_product_rows`] is given them.
    pub(crate) fn new(lookups: AbstractLookups) -> Self {
        Self {
            tax_sets: lookups.tax_sets,
            categories: lookups.categories,
            locales: lookups.locales,
            attribute_keys: lookups.attribute_keys,
            urls: lookups.urls,
            abstract_ids: lookups.abstract_ids,
            seen: HashMap::new(),
            claimed_urls: HashMap::new(),
        }
    }

    fn parse_url(&mut self, sku: &str, column: &str, url: &str, lang: &str) -> Result<String, RowError> {
        let url = url.to_lowercase();
        if !(url == format!("/{lang}") || url.starts_with(&format!("/{lang}/"))) {
            return Err(RowError::new(column, format!("\"{url}\" must start with /{lang}/")));
        }
        let own_id = self.abstract_ids.get(sku).copied();
        if let Some(owner) = self.urls.get(&url)
            && Some(*owner) != own_id
        {
            return Err(RowError::new(
                column,
                format!("URL \"{url}\" already belongs to another resource"),
            ));
        }
        if let Some(other) = self.claimed_urls.get(&url)
            && other != sku
        {
            return Err(RowError::new(
                column,
                format!("URL \"{url}\" is also claimed by product \"{other}\" in this file"),
            ));
        }
        self.claimed_urls.insert(url.clone(), sku.to_owned());
        Ok(url)
    }
}

impl DataSet for Abstracts {
    type Row = AbstractRow;
    const REQUIRED: &'static [&'static str] = &["abstract_sku"];

    fn column_kind(column: &str) -> ColumnKind {
        match column {
            "abstract_sku" | "category_key" | "category_product_order" | "tax_set_name" => ColumnKind::Used,
            "color_code" | "new_from" | "new_to" | "icecat_pdp_url" | "icecat_license" | "is_featured" => {
                ColumnKind::Ignored
            }
            other if is_attribute_column(other) => ColumnKind::Used,
            other => match localized(other) {
                Some((field, _)) if ABSTRACT_TEXTS.contains(&field) => ColumnKind::Used,
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
        let urls = url::Entity::find()
            .all(connection)
            .await?
            .into_iter()
            .map(|row| (row.url, row.product_abstract_id.unwrap_or(0)))
            .collect();
        Ok(Self::new(AbstractLookups {
            tax_sets: name_map!(connection, tax_set::Entity, name),
            categories: name_map!(connection, category::Entity, category_key),
            locales: super::header_locales(header, &used, notes),
            attribute_keys: name_map!(connection, product_attribute_key::Entity, key),
            urls,
            abstract_ids: name_map!(connection, product_abstract::Entity, sku),
        }))
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
        self.claimed_urls.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<AbstractRow, RowError> {
        let sku = parse_sku(row, "abstract_sku")?;
        if let Some(first) = self.seen.insert(sku.clone(), row.line) {
            return Err(RowError::new(
                "abstract_sku",
                format!("SKU \"{sku}\" appears twice in the file (first on line {first})"),
            ));
        }
        let tax_set_id = match row.get("tax_set_name") {
            None => None,
            Some("") => Some(None),
            Some(name) => Some(Some(lookup(&self.tax_sets, "tax_set_name", "tax set", name)?)),
        };
        let categories = match row.get("category_key") {
            None => None,
            Some(raw) => {
                let keys: Vec<&str> = raw.split(',').map(str::trim).filter(|key| !key.is_empty()).collect();
                let orders: Vec<&str> = row
                    .get("category_product_order")
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .filter(|order| !order.is_empty())
                    .collect();
                if !orders.is_empty() && orders.len() != keys.len() {
                    return Err(RowError::new(
                        "category_product_order",
                        format!("{} orders for {} categories", orders.len(), keys.len()),
                    ));
                }
                let mut links = Vec::with_capacity(keys.len());
                for (at, key) in keys.iter().enumerate() {
                    let id = lookup(&self.categories, "category_key", "category", key)?;
                    let order = match orders.get(at) {
                        Some(raw) => raw.parse::<i32>().map_err(|_| {
                            RowError::new("category_product_order", format!("\"{raw}\" is not a whole number"))
                        })?,
                        None => 0,
                    };
                    links.push((id, order));
                }
                Some(links)
            }
        };
        let attributes = attributes(row, "")?;
        let mut texts = BTreeMap::new();
        let locales = self.locales.clone();
        for (locale, locale_id) in &locales {
            let lang = locale[..2].to_owned();
            let text = |field: &str| row.get(&format!("{field}.{locale}")).map(str::to_owned);
            let name = text("name");
            let url_column = format!("url.{locale}");
            let url = match (row.get(&url_column), &name) {
                (Some(given), _) if !given.is_empty() => Some(self.parse_url(&sku, &url_column, given, &lang)?),
                // Empty, or absent on a new product: generated from the name.
                (Some(_), Some(name)) | (None, Some(name))
                    if !name.is_empty() && (row.header.has(&url_column) || !self.abstract_ids.contains_key(&sku)) =>
                {
                    let slug = slugify(name);
                    let generated = if slug.is_empty() {
                        format!("/{lang}/{}", slugify(&sku))
                    } else {
                        format!("/{lang}/{slug}-{}", slugify(&sku))
                    };
                    Some(self.parse_url(&sku, &url_column, &generated, &lang)?)
                }
                _ => None,
            };
            texts.insert(
                *locale_id,
                AbstractTexts {
                    lang,
                    name,
                    description: text("description"),
                    meta_title: text("meta_title"),
                    meta_keywords: text("meta_keywords"),
                    meta_description: text("meta_description"),
                    attributes: attributes_for(row, locale)?,
                    url,
                },
            );
        }
        Ok(AbstractRow {
            sku,
            tax_set_id,
            attributes,
            texts,
            categories,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<AbstractRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        // Attribute keys used but never declared are created as non-super keys.
        let mut used_keys = HashSet::new();
        for row in &rows {
            used_keys.extend(row.attributes.iter().flatten().map(|(key, _)| key.clone()));
            for texts in row.texts.values() {
                used_keys.extend(texts.attributes.iter().flatten().map(|(key, _)| key.clone()));
            }
        }
        for key in used_keys {
            if let Entry::Vacant(slot) = self.attribute_keys.entry(key.clone()) {
                let created = product_attribute_key::ActiveModel {
                    key: Set(key),
                    is_super: Set(false),
                    ..Default::default()
                }
                .insert(transaction)
                .await?;
                batch.touch("product_attribute_key", created.id, ChangeKind::Create, &[]);
                slot.insert(created.id);
            }
        }

        let stored: HashMap<String, product_abstract::Model> = product_abstract::Entity::find()
            .filter(product_abstract::Column::Sku.is_in(rows.iter().map(|row| row.sku.clone())))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| (row.sku.clone(), row))
            .collect();
        // New abstracts go in multi-row inserts; their ids are read back by SKU.
        let new_rows: Vec<product_abstract::ActiveModel> = rows
            .iter()
            .filter(|row| !stored.contains_key(&row.sku))
            .map(|row| product_abstract::ActiveModel {
                sku: Set(row.sku.clone()),
                attributes: Set(encode_map(&row.attributes.clone().unwrap_or_default())),
                tax_set_id: Set(row.tax_set_id.flatten()),
                created_at: Set(batch.now),
                updated_at: Set(batch.now),
                ..Default::default()
            })
            .collect();
        for chunk in new_rows.chunks(INSERT_CHUNK) {
            let skus: Vec<String> = chunk
                .iter()
                .filter_map(|model| model.sku.try_as_ref().cloned())
                .collect();
            product_abstract::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
            self.abstract_ids.extend(
                ids_by_sku::<product_abstract::Entity>(
                    transaction,
                    product_abstract::Column::Sku,
                    product_abstract::Column::Id,
                    skus,
                )
                .await?,
            );
        }
        // Texts, URLs and category links of the abstracts that existed, one query per chunk each.
        let stored_ids: Vec<i64> = stored.values().map(|row| row.id).collect();
        let stored_texts = StoredAbstractTexts::load(transaction, &stored_ids).await?;
        let linked_ids: Vec<i64> = rows
            .iter()
            .filter(|row| row.categories.is_some())
            .filter_map(|row| stored.get(&row.sku).map(|found| found.id))
            .collect();
        let mut stored_links: HashMap<i64, Vec<product_category::Model>> = HashMap::new();
        for chunk in linked_ids.chunks(INSERT_CHUNK) {
            for link in product_category::Entity::find()
                .filter(product_category::Column::ProductAbstractId.is_in(chunk.iter().copied()))
                .all(transaction)
                .await?
            {
                stored_links.entry(link.product_abstract_id).or_default().push(link);
            }
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut new_texts = Vec::new();
        let mut new_urls = Vec::new();
        let mut new_links = Vec::new();
        for row in rows {
            let (id, mut changed, created) = match stored.get(&row.sku) {
                Some(found) => {
                    let attributes = row
                        .attributes
                        .as_ref()
                        .map(encode_map)
                        .unwrap_or_else(|| found.attributes.clone());
                    let tax_set_id = row.tax_set_id.unwrap_or(found.tax_set_id);
                    let changed = attributes != found.attributes || tax_set_id != found.tax_set_id;
                    if changed {
                        let mut model = found.clone().into_active_model();
                        model.attributes = Set(attributes);
                        model.tax_set_id = Set(tax_set_id);
                        model.updated_at = Set(batch.now);
                        model.update(transaction).await?;
                    }
                    (found.id, changed, false)
                }
                None => {
                    let id = self.abstract_ids.get(&row.sku).copied().ok_or_else(|| {
                        DbErr::RecordNotFound(format!("product_abstract {} after its insert", row.sku))
                    })?;
                    (id, true, true)
                }
            };
            ids.push(id);
            let plan = stored_texts.plan(id, &row.texts, batch.now);
            for update in plan.text_updates {
                update.update(transaction).await?;
            }
            for update in plan.url_updates {
                update.update(transaction).await?;
            }
            new_texts.extend(plan.text_inserts);
            new_urls.extend(plan.url_inserts);
            changed |= plan.changed;
            // A changed category link has its own outbox row; it still makes the row an update.
            let mut links_changed = false;
            if let Some(links) = &row.categories {
                let stored = stored_links.remove(&id).unwrap_or_default();
                let (updated, created) = update_product_categories(transaction, id, &stored, links, batch).await?;
                links_changed = updated || !created.is_empty();
                new_links.extend(created);
            }
            if changed {
                let kind = if created {
                    ChangeKind::Create
                } else {
                    ChangeKind::Update
                };
                batch.touch("product_abstract", id, kind, &[]);
            }
            let linked = batch.touched("product_abstract", id);
            batch.count(match (created, changed || linked || links_changed) {
                (true, _) => Outcome::Inserted,
                (false, true) => Outcome::Updated,
                (false, false) => Outcome::Unchanged,
            });
        }
        for chunk in new_texts.chunks(INSERT_CHUNK) {
            product_abstract_localized::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
        }
        for chunk in new_urls.chunks(INSERT_CHUNK) {
            url::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
        }
        insert_product_categories(transaction, new_links, batch).await?;
        route_abstracts(transaction, batch, &ids).await
    }
}

/// The localized attribute map of `locale`, from `attribute_key_N.<locale>` / `value_N.<locale>`.
fn attributes_for(row: &RowView<'_>, locale: &str) -> Result<Option<Attributes>, RowError> {
    attributes(row, &format!(".{locale}"))
}

/// The stored localized texts and URLs of a batch's abstracts, by abstract and locale.
struct StoredAbstractTexts {
    texts: HashMap<i64, HashMap<i64, product_abstract_localized::Model>>,
    urls: HashMap<i64, HashMap<i64, url::Model>>,
}

/// What writing an abstract's texts and URLs takes: rows to insert (in bulk) and rows to update.
struct AbstractTextPlan {
    text_inserts: Vec<product_abstract_localized::ActiveModel>,
    text_updates: Vec<product_abstract_localized::ActiveModel>,
    url_inserts: Vec<url::ActiveModel>,
    url_updates: Vec<url::ActiveModel>,
    changed: bool,
}

impl StoredAbstractTexts {
    async fn load(transaction: &DatabaseTransaction, ids: &[i64]) -> Result<Self, DbErr> {
        let mut stored = Self {
            texts: HashMap::new(),
            urls: HashMap::new(),
        };
        for chunk in ids.chunks(INSERT_CHUNK) {
            for text in product_abstract_localized::Entity::find()
                .filter(product_abstract_localized::Column::ProductAbstractId.is_in(chunk.iter().copied()))
                .all(transaction)
                .await?
            {
                stored
                    .texts
                    .entry(text.product_abstract_id)
                    .or_default()
                    .insert(text.locale_id, text);
            }
            for row in url::Entity::find()
                .filter(url::Column::ProductAbstractId.is_in(chunk.iter().copied()))
                .all(transaction)
                .await?
            {
                if let Some(owner) = row.product_abstract_id {
                    stored.urls.entry(owner).or_default().insert(row.locale_id, row);
                }
            }
        }
        Ok(stored)
    }

    /// The texts and URLs of abstract `id` per locale to insert or update; a text column the file leaves
    /// out keeps its stored value.
    fn plan(&self, id: i64, texts: &BTreeMap<i64, AbstractTexts>, now: i64) -> AbstractTextPlan {
        let mut plan = AbstractTextPlan {
            text_inserts: Vec::new(),
            text_updates: Vec::new(),
            url_inserts: Vec::new(),
            url_updates: Vec::new(),
            changed: false,
        };
        let stored = self.texts.get(&id);
        let urls = self.urls.get(&id);
        for (locale_id, text) in texts {
            let current = stored.and_then(|texts| texts.get(locale_id));
            let pick = |given: &Option<String>, stored: Option<&String>| {
                given.clone().or_else(|| stored.cloned()).unwrap_or_default()
            };
            let name = pick(&text.name, current.map(|row| &row.name));
            let description = pick(&text.description, current.map(|row| &row.description));
            let meta_title = pick(&text.meta_title, current.map(|row| &row.meta_title));
            let meta_keywords = pick(&text.meta_keywords, current.map(|row| &row.meta_keywords));
            let meta_description = pick(&text.meta_description, current.map(|row| &row.meta_description));
            let attributes = match (&text.attributes, current) {
                (Some(map), _) => encode_map(map),
                (None, Some(row)) => row.attributes.clone(),
                (None, None) => "{}".to_owned(),
            };
            let has_any = text.name.is_some() || text.description.is_some() || text.attributes.is_some();
            match current {
                Some(row)
                    if row.name == name
                        && row.description == description
                        && row.meta_title == meta_title
                        && row.meta_keywords == meta_keywords
                        && row.meta_description == meta_description
                        && decode_map(&row.attributes) == decode_map(&attributes) => {}
                Some(row) => {
                    let mut model = row.clone().into_active_model();
                    model.name = Set(name);
                    model.description = Set(description);
                    model.meta_title = Set(meta_title);
                    model.meta_keywords = Set(meta_keywords);
                    model.meta_description = Set(meta_description);
                    model.attributes = Set(attributes);
                    plan.text_updates.push(model);
                    plan.changed = true;
                }
                None if has_any => {
                    plan.text_inserts.push(product_abstract_localized::ActiveModel {
                        product_abstract_id: Set(id),
                        locale_id: Set(*locale_id),
                        name: Set(name),
                        description: Set(description),
                        meta_title: Set(meta_title),
                        meta_keywords: Set(meta_keywords),
                        meta_description: Set(meta_description),
                        attributes: Set(attributes),
                        ..Default::default()
                    });
                    plan.changed = true;
                }
                None => {}
            }
            let Some(wanted) = &text.url else { continue };
            debug_assert!(wanted.starts_with(&format!("/{}", text.lang)));
            match urls.and_then(|urls| urls.get(locale_id)) {
                Some(row) if row.url == *wanted => {}
                Some(row) => {
                    let mut model = row.clone().into_active_model();
                    model.url = Set(wanted.clone());
                    model.updated_at = Set(now);
                    plan.url_updates.push(model);
                    plan.changed = true;
                }
                None => {
                    plan.url_inserts.push(url::ActiveModel {
                        url: Set(wanted.clone()),
                        locale_id: Set(*locale_id),
                        product_abstract_id: Set(Some(id)),
                        updated_at: Set(now),
                        ..Default::default()
                    });
                    plan.changed = true;
                }
            }
        }
        plan
    }
}

/// Makes an abstract's stored category links agree with `links`: changed sort orders are updated and
/// links no longer wanted deleted here (each with its product_category outbox row). Returns whether it
/// changed a stored link, and the links to create for [`insert_product_categories`].
async fn update_product_categories(
    transaction: &DatabaseTransaction,
    id: i64,
    stored: &[product_category::Model],
    links: &[(i64, i32)],
    batch: &mut Batch,
) -> Result<(bool, Vec<product_category::ActiveModel>), DbErr> {
    let wanted: HashMap<i64, i32> = links.iter().copied().collect();
    let mut changed = false;
    for link in stored {
        let keys = [("fk_product_abstract", id), ("fk_category", link.category_id)];
        match wanted.get(&link.category_id) {
            Some(order) if *order == link.sort_order => {}
            Some(order) => {
                let mut model = link.clone().into_active_model();
                model.sort_order = Set(*order);
                model.updated_at = Set(batch.now);
                model.update(transaction).await?;
                batch.touch("product_category", link.id, ChangeKind::Update, &keys);
                changed = true;
            }
            None => {
                batch.touch("product_category", link.id, ChangeKind::Delete, &keys);
                link.clone().delete(transaction).await?;
                changed = true;
            }
        }
    }
    let created = links
        .iter()
        .filter(|(category_id, _)| !stored.iter().any(|link| link.category_id == *category_id))
        .map(|(category_id, order)| product_category::ActiveModel {
            product_abstract_id: Set(id),
            category_id: Set(*category_id),
            sort_order: Set(*order),
            created_at: Set(batch.now),
            updated_at: Set(batch.now),
            ..Default::default()
        })
        .collect();
    Ok((changed, created))
}

/// Inserts new category links in bulk, then reads their ids back to give each its outbox row.
async fn insert_product_categories(
    transaction: &DatabaseTransaction,
    links: Vec<product_category::ActiveModel>,
    batch: &mut Batch,
) -> Result<(), DbErr> {
    for chunk in links.chunks(INSERT_CHUNK) {
        let pairs: HashSet<(i64, i64)> = chunk
            .iter()
            .filter_map(|link| Some((*link.product_abstract_id.try_as_ref()?, *link.category_id.try_as_ref()?)))
            .collect();
        product_category::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(transaction)
            .await?;
        let owners: BTreeSet<i64> = pairs.iter().map(|(owner, _)| *owner).collect();
        for created in product_category::Entity::find()
            .filter(product_category::Column::ProductAbstractId.is_in(owners))
            .all(transaction)
            .await?
        {
            if pairs.contains(&(created.product_abstract_id, created.category_id)) {
                let keys = [
                    ("fk_product_abstract", created.product_abstract_id),
                    ("fk_category", created.category_id),
                ];
                batch.touch("product_category", created.id, ChangeKind::Create, &keys);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------- abstract-store

/// `product_abstract_store.csv`: `abstract_sku,store_name`.
pub(crate) struct AbstractStores {
    abstracts: HashMap<String, i64>,
    stores: HashMap<String, i64>,
    seen: HashSet<(i64, i64)>,
}

impl DataSet for AbstractStores {
    type Row = (i64, i64);
    const REQUIRED: &'static [&'static str] = &["abstract_sku", "store_name"];

    fn column_kind(column: &str) -> ColumnKind {
        if Self::REQUIRED.contains(&column) {
            ColumnKind::Used
        } else {
            ColumnKind::Unknown
        }
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            abstracts: name_map!(connection, product_abstract::Entity, sku),
            stores: name_map!(connection, store::Entity, name),
            seen: HashSet::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<(i64, i64), RowError> {
        let abstract_id = lookup(
            &self.abstracts,
            "abstract_sku",
            "abstract product",
            required(row, "abstract_sku")?,
        )?;
        let store_id = lookup(&self.stores, "store_name", "store", required(row, "store_name")?)?;
        if !self.seen.insert((abstract_id, store_id)) {
            return Err(RowError::new("abstract_sku", "the pair appears twice in the file"));
        }
        Ok((abstract_id, store_id))
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<(i64, i64)>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let ids: Vec<i64> = rows.iter().map(|row| row.0).collect();
        let existing: HashSet<(i64, i64)> = product_abstract_store::Entity::find()
            .filter(product_abstract_store::Column::ProductAbstractId.is_in(ids.clone()))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| (row.product_abstract_id, row.store_id))
            .collect();
        let mut links = Vec::new();
        for (abstract_id, store_id) in rows {
            if existing.contains(&(abstract_id, store_id)) {
                batch.count(Outcome::Unchanged);
                continue;
            }
            batch.count(Outcome::Inserted);
            batch.touch("product_abstract", abstract_id, ChangeKind::Update, &[]);
            links.push(product_abstract_store::ActiveModel {
                product_abstract_id: Set(abstract_id),
                store_id: Set(store_id),
            });
        }
        if !links.is_empty() {
            product_abstract_store::Entity::insert_many(links)
                .exec_without_returning(transaction)
                .await?;
        }
        route_abstracts(transaction, batch, &ids).await
    }
}

// -------------------------------------------------------------------------------------- concretes

pub(crate) struct ConcreteTexts {
    name: Option<String>,
    description: Option<String>,
    is_searchable: Option<bool>,
    attributes: Option<Attributes>,
}

pub(crate) struct ConcreteRow {
    sku: String,
    abstract_id: i64,
    attributes: Option<Attributes>,
    is_active: Option<bool>,
    texts: BTreeMap<i64, ConcreteTexts>,
}

/// `product_concrete.csv`. Attribute keys must be declared; the concretes of one abstract must differ
/// in their super-attribute values (checked within the file).
pub(crate) struct Concretes {
    abstracts: HashMap<String, i64>,
    /// Declared attribute keys and whether each is a super attribute.
    keys: HashMap<String, bool>,
    locales: BTreeMap<String, i64>,
    seen: HashMap<String, u64>,
    variants: HashMap<(i64, Vec<(String, String)>), String>,
}

impl Concretes {
    /// Ready for a pass over a file: stored abstract SKU → id, declared attribute keys (and whether
    /// each is a super attribute), and the header's locales some store uses.
    pub(crate) fn new(
        abstracts: HashMap<String, i64>,
        keys: HashMap<String, bool>,
        locales: BTreeMap<String, i64>,
    ) -> Self {
        Self {
            abstracts,
            keys,
            locales,
            seen: HashMap::new(),
            variants: HashMap::new(),
        }
    }

    fn check_keys(&self, row: &RowView<'_>, map: &Attributes, suffix: &str) -> Result<(), RowError> {
        for key in map.keys() {
            if !self.keys.contains_key(key) {
                let column = row
                    .header
                    .names
                    .iter()
                    .find(|column| {
                        column.starts_with("attribute_key_") && column.ends_with(suffix) && row.get(column) == Some(key)
                    })
                    .map(|column| column.replacen("attribute_key_", "value_", 1))
                    .unwrap_or_else(|| "attribute_key".to_owned());
                let hint = did_you_mean(key, self.keys.keys());
                return Err(RowError::new(
                    column,
                    format!("attribute key \"{key}\" is unknown{hint}"),
                ));
            }
        }
        Ok(())
    }
}

impl DataSet for Concretes {
    type Row = ConcreteRow;
    const REQUIRED: &'static [&'static str] = &["concrete_sku", "abstract_sku"];

    fn column_kind(column: &str) -> ColumnKind {
        match column {
            "concrete_sku" | "abstract_sku" | "is_active" => ColumnKind::Used,
            "bundled" | "is_quantity_splittable" | "old_sku" => ColumnKind::Ignored,
            other if is_attribute_column(other) => ColumnKind::Used,
            other => match localized(other) {
                Some(("name" | "description" | "is_searchable", _)) => ColumnKind::Used,
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
        let keys = product_attribute_key::Entity::find()
            .all(connection)
            .await?
            .into_iter()
            .map(|row| (row.key, row.is_super))
            .collect();
        Ok(Self::new(
            name_map!(connection, product_abstract::Entity, sku),
            keys,
            super::header_locales(header, &used, notes),
        ))
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
        self.variants.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<ConcreteRow, RowError> {
        let sku = parse_sku(row, "concrete_sku")?;
        let abstract_sku = required(row, "abstract_sku")?;
        let abstract_id = lookup(&self.abstracts, "abstract_sku", "abstract product", abstract_sku)?;
        if let Some(first) = self.seen.insert(sku.clone(), row.line) {
            return Err(RowError::new(
                "concrete_sku",
                format!("SKU \"{sku}\" appears twice in the file (first on line {first})"),
            ));
        }
        let attributes = attributes(row, "")?;
        if let Some(map) = &attributes {
            self.check_keys(row, map, "")?;
            let variant: Vec<(String, String)> = map
                .iter()
                .filter(|(key, _)| self.keys.get(*key).copied().unwrap_or(false))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            if !variant.is_empty()
                && let Some(other) = self.variants.insert((abstract_id, variant), sku.clone())
            {
                return Err(RowError::new(
                    "concrete_sku",
                    format!("has the same super-attribute values as \"{other}\" of abstract \"{abstract_sku}\""),
                ));
            }
        }
        let mut texts = BTreeMap::new();
        for (locale, locale_id) in &self.locales {
            let searchable_column = format!("is_searchable.{locale}");
            let is_searchable = match row.get(&searchable_column) {
                Some(_) => Some(parse_bool(row, &searchable_column, true)?),
                None => None,
            };
            let localized_attributes = attributes_for(row, locale)?;
            if let Some(map) = &localized_attributes {
                self.check_keys(row, map, &format!(".{locale}"))?;
            }
            texts.insert(
                *locale_id,
                ConcreteTexts {
                    name: row.get(&format!("name.{locale}")).map(str::to_owned),
                    description: row.get(&format!("description.{locale}")).map(str::to_owned),
                    is_searchable,
                    attributes: localized_attributes,
                },
            );
        }
        let is_active = match row.get("is_active") {
            Some(_) => Some(parse_bool(row, "is_active", true)?),
            None => None,
        };
        Ok(ConcreteRow {
            sku,
            abstract_id,
            attributes,
            is_active,
            texts,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<ConcreteRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let stored: HashMap<String, product_concrete::Model> = product_concrete::Entity::find()
            .filter(product_concrete::Column::Sku.is_in(rows.iter().map(|row| row.sku.clone())))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| (row.sku.clone(), row))
            .collect();
        // New concretes go in multi-row inserts; their ids are read back by SKU (RETURNING is not
        // portable to MariaDB).
        let new_rows: Vec<product_concrete::ActiveModel> = rows
            .iter()
            .filter(|row| !stored.contains_key(&row.sku))
            .map(|row| product_concrete::ActiveModel {
                sku: Set(row.sku.clone()),
                product_abstract_id: Set(row.abstract_id),
                attributes: Set(encode_map(&row.attributes.clone().unwrap_or_default())),
                is_active: Set(row.is_active.unwrap_or(true)),
                created_at: Set(batch.now),
                updated_at: Set(batch.now),
                ..Default::default()
            })
            .collect();
        let mut created_ids: HashMap<String, i64> = HashMap::with_capacity(new_rows.len());
        for chunk in new_rows.chunks(INSERT_CHUNK) {
            let skus: Vec<String> = chunk
                .iter()
                .filter_map(|model| model.sku.try_as_ref().cloned())
                .collect();
            product_concrete::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
            created_ids.extend(
                ids_by_sku::<product_concrete::Entity>(
                    transaction,
                    product_concrete::Column::Sku,
                    product_concrete::Column::Id,
                    skus,
                )
                .await?,
            );
        }
        // The texts of the concretes that existed, in one query per chunk; new concretes have none.
        let stored_ids: Vec<i64> = stored.values().map(|row| row.id).collect();
        let mut stored_texts: HashMap<i64, HashMap<i64, product_concrete_localized::Model>> = HashMap::new();
        for chunk in stored_ids.chunks(INSERT_CHUNK) {
            for text in product_concrete_localized::Entity::find()
                .filter(product_concrete_localized::Column::ProductConcreteId.is_in(chunk.iter().copied()))
                .all(transaction)
                .await?
            {
                stored_texts
                    .entry(text.product_concrete_id)
                    .or_default()
                    .insert(text.locale_id, text);
            }
        }
        let no_texts = HashMap::new();
        let mut new_texts = Vec::new();
        for row in rows {
            let (id, mut changed, created) = match stored.get(&row.sku) {
                Some(found) => {
                    let attributes = row
                        .attributes
                        .as_ref()
                        .map(encode_map)
                        .unwrap_or_else(|| found.attributes.clone());
                    let is_active = row.is_active.unwrap_or(found.is_active);
                    let changed = decode_map(&attributes) != decode_map(&found.attributes)
                        || is_active != found.is_active
                        || row.abstract_id != found.product_abstract_id;
                    if changed {
                        let mut model = found.clone().into_active_model();
                        model.attributes = Set(attributes);
                        model.is_active = Set(is_active);
                        model.product_abstract_id = Set(row.abstract_id);
                        model.updated_at = Set(batch.now);
                        model.update(transaction).await?;
                    }
                    (found.id, changed, false)
                }
                None => {
                    let id = created_ids.get(&row.sku).copied().ok_or_else(|| {
                        DbErr::RecordNotFound(format!("product_concrete {} after its insert", row.sku))
                    })?;
                    (id, true, true)
                }
            };
            let plan = plan_concrete_texts(id, &row.texts, stored_texts.get(&id).unwrap_or(&no_texts));
            for update in plan.updates {
                update.update(transaction).await?;
            }
            new_texts.extend(plan.inserts);
            changed |= plan.changed;
            if changed {
                let kind = if created {
                    ChangeKind::Create
                } else {
                    ChangeKind::Update
                };
                batch.touch(
                    "product_concrete",
                    id,
                    kind,
                    &[("fk_product_abstract", row.abstract_id)],
                );
            }
            batch.count(match (created, changed) {
                (true, _) => Outcome::Inserted,
                (false, true) => Outcome::Updated,
                (false, false) => Outcome::Unchanged,
            });
        }
        for chunk in new_texts.chunks(INSERT_CHUNK) {
            product_concrete_localized::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
        }
        Ok(())
    }
}

/// Rows per multi-row insert and ids per `IN` list: far below SQLite's 32 766 bound parameters for the
/// widest table written here (about ten columns).
const INSERT_CHUNK: usize = 500;

/// `(sku, id)` of the rows with these SKUs: reads back the ids of rows just inserted.
async fn ids_by_sku<E>(
    transaction: &DatabaseTransaction,
    sku_column: E::Column,
    id_column: E::Column,
    skus: Vec<String>,
) -> Result<Vec<(String, i64)>, DbErr>
where
    E: EntityTrait,
{
    use sea_orm::QuerySelect;
    E::find()
        .select_only()
        .column(sku_column)
        .column(id_column)
        .filter(sku_column.is_in(skus))
        .into_tuple()
        .all(transaction)
        .await
}

/// What writing a row's localized texts takes: rows to insert (in bulk) and rows to update.
struct TextPlan<A> {
    inserts: Vec<A>,
    updates: Vec<A>,
    changed: bool,
}

/// The localized rows of a concrete to insert or update; a text column the file leaves out keeps its
/// stored value.
fn plan_concrete_texts(
    id: i64,
    texts: &BTreeMap<i64, ConcreteTexts>,
    stored: &HashMap<i64, product_concrete_localized::Model>,
) -> TextPlan<product_concrete_localized::ActiveModel> {
    let mut plan = TextPlan {
        inserts: Vec::new(),
        updates: Vec::new(),
        changed: false,
    };
    for (locale_id, text) in texts {
        let current = stored.get(locale_id);
        let pick = |given: &Option<String>, stored: Option<&String>| {
            given.clone().or_else(|| stored.cloned()).unwrap_or_default()
        };
        let name = pick(&text.name, current.map(|row| &row.name));
        let description = pick(&text.description, current.map(|row| &row.description));
        let is_searchable = text
            .is_searchable
            .or(current.map(|row| row.is_searchable))
            .unwrap_or(true);
        let attributes = match (&text.attributes, current) {
            (Some(map), _) => encode_map(map),
            (None, Some(row)) => row.attributes.clone(),
            (None, None) => "{}".to_owned(),
        };
        match current {
            Some(row)
                if row.name == name
                    && row.description == description
                    && row.is_searchable == is_searchable
                    && decode_map(&row.attributes) == decode_map(&attributes) => {}
            Some(row) => {
                let mut model = row.clone().into_active_model();
                model.name = Set(name);
                model.description = Set(description);
                model.is_searchable = Set(is_searchable);
                model.attributes = Set(attributes);
                plan.updates.push(model);
                plan.changed = true;
            }
            None if text.name.is_some() || text.description.is_some() || text.attributes.is_some() => {
                plan.inserts.push(product_concrete_localized::ActiveModel {
                    product_concrete_id: Set(id),
                    locale_id: Set(*locale_id),
                    name: Set(name),
                    description: Set(description),
                    is_searchable: Set(is_searchable),
                    attributes: Set(attributes),
                    ..Default::default()
                });
                plan.changed = true;
            }
            None => {}
        }
    }
    plan
}
