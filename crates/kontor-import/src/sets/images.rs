//! `product_image.csv`, Spryker's `product-image` data set: named image sets of abstract or concrete
//! products, per locale or for every locale (empty `locale` → `locale_id` NULL), each row one image of
//! a set. Alt texts (`alt_text_small.<locale>`, `alt_text_large.<locale>`) are not stored: the image
//! documents carry none.
//!
//! Natural keys: a set is its `product_image_set_key` when given, else its (product, locale, name)
//! among the sets without a key; an image is its `product_image_key` when given, else its large URL
//! within its set among the images without a key. A keyed set or image takes the row's values, so it
//! can be renamed or move to another product or set. A row without any product but with a set key
//! keeps an ownerless set (Spryker's demo has those for configurable bundle templates, which name the
//! set by key); no product document shows it.
//!
//! Outbox routing mirrors the image projections (`kontor-sync` routing): a product_image_set or
//! product_image row carries `fk_product_abstract` or `fk_product_concrete` of the product owning the
//! set, and of the previous owner too when a set or image moved, so both image documents re-publish.

use super::config::lookup;
use super::{localized, required};
use crate::importer::{Batch, ColumnKind, DataSet, Outcome, RowError};
use crate::name_map;
use crate::reader::{Header, RowView};
use kontor_db::entity::{locale, product_abstract, product_concrete, product_image, product_image_set};
use kontor_domain::outbox::ChangeKind;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use std::collections::{HashMap, HashSet};

/// The product an image set belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Owner {
    Abstract(i64),
    Concrete(i64),
    /// Only with a set key: a set other data sets refer to by that key.
    Nobody,
}

impl Owner {
    fn of(set: &product_image_set::Model) -> Self {
        match (set.product_abstract_id, set.product_concrete_id) {
            (_, Some(concrete)) => Self::Concrete(concrete),
            (Some(abstract_id), None) => Self::Abstract(abstract_id),
            (None, None) => Self::Nobody,
        }
    }

    fn abstract_id(self) -> Option<i64> {
        match self {
            Self::Abstract(id) => Some(id),
            _ => None,
        }
    }

    fn concrete_id(self) -> Option<i64> {
        match self {
            Self::Concrete(id) => Some(id),
            _ => None,
        }
    }

    /// The outbox foreign key that routes a change to this owner's image document.
    fn route(self) -> Vec<(&'static str, i64)> {
        match self {
            Self::Abstract(id) => vec![("fk_product_abstract", id)],
            Self::Concrete(id) => vec![("fk_product_concrete", id)],
            Self::Nobody => Vec::new(),
        }
    }
}

/// What a set is besides its key: the values a row gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SetValues {
    owner: Owner,
    locale_id: Option<i64>,
    name: String,
}

impl SetValues {
    fn of(set: &product_image_set::Model) -> Self {
        Self {
            owner: Owner::of(set),
            locale_id: set.locale_id,
            name: set.name.clone(),
        }
    }
}

/// How a set is found again on the next import.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SetIdentity {
    Key(String),
    /// Among sets without a key; never [`Owner::Nobody`] (such a row needs a key).
    Values(SetValues),
}

pub(crate) struct ImageRow {
    set: SetIdentity,
    values: SetValues,
    image_key: Option<String>,
    url_large: String,
    url_small: String,
    /// `None`: the column is absent, the stored order stays (0 for a new image).
    sort_order: Option<i32>,
}

/// A set of the batch as stored after the batch's set writes.
struct ResolvedSet {
    id: i64,
    owner: Owner,
    /// Created or changed by this batch: its rows count as written even when their image is not.
    changed: bool,
}

/// `product_image.csv`.
pub(crate) struct Images {
    abstracts: HashMap<String, i64>,
    concretes: HashMap<String, i64>,
    locales: HashMap<String, i64>,
    /// Image keys of the file and the line each is on.
    image_keys: HashMap<String, u64>,
    /// Images without a key, by set and large URL, and their line.
    keyless_images: HashMap<(SetIdentity, String), u64>,
    /// Set keys of the file with the values and line of their first row; later rows must agree.
    set_keys: HashMap<String, (SetValues, u64)>,
}

const COLUMNS: &[&str] = &[
    "image_set_name",
    "external_url_large",
    "external_url_small",
    "locale",
    "abstract_sku",
    "concrete_sku",
    "sort_order",
    "product_image_key",
    "product_image_set_key",
];

impl Images {
    fn owner(&self, row: &RowView<'_>, has_set_key: bool, warnings: &mut Vec<RowError>) -> Result<Owner, RowError> {
        match (row.value("abstract_sku"), row.value("concrete_sku")) {
            (Some(_), Some(_)) => Err(RowError::new(
                "concrete_sku",
                "abstract_sku is given too; an image set belongs to one product, give one of them",
            )),
            (Some(sku), None) => Ok(Owner::Abstract(lookup(
                &self.abstracts,
                "abstract_sku",
                "abstract product",
                sku,
            )?)),
            (None, Some(sku)) => Ok(Owner::Concrete(lookup(
                &self.concretes,
                "concrete_sku",
                "concrete product",
                sku,
            )?)),
            (None, None) if has_set_key => {
                warnings.push(RowError::new(
                    "abstract_sku",
                    "no product: the set is kept under its product_image_set_key for the data sets that name it; \
                     no product shows it",
                ));
                Ok(Owner::Nobody)
            }
            (None, None) => Err(RowError::new(
                "abstract_sku",
                "abstract_sku or concrete_sku must be given",
            )),
        }
    }
}

fn sort_order(row: &RowView<'_>) -> Result<Option<i32>, RowError> {
    match row.get("sort_order") {
        None => Ok(None),
        Some("") => Ok(Some(0)),
        Some(raw) => match raw.parse::<i32>() {
            Ok(order) if order >= 0 => Ok(Some(order)),
            _ => Err(RowError::new(
                "sort_order",
                format!("\"{raw}\" is not a whole number ≥ 0"),
            )),
        },
    }
}

impl DataSet for Images {
    type Row = ImageRow;
    const REQUIRED: &'static [&'static str] = &["image_set_name", "external_url_large", "external_url_small"];
    const GROWS: &'static [&'static str] = &["product_image_set", "product_image"];

    fn column_kind(column: &str) -> ColumnKind {
        if COLUMNS.contains(&column) {
            return ColumnKind::Used;
        }
        match localized(column) {
            Some(("alt_text_small" | "alt_text_large", _)) => ColumnKind::Ignored,
            _ => ColumnKind::Unknown,
        }
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            abstracts: name_map!(connection, product_abstract::Entity, sku),
            concretes: name_map!(connection, product_concrete::Entity, sku),
            locales: name_map!(connection, locale::Entity, name),
            image_keys: HashMap::new(),
            keyless_images: HashMap::new(),
            set_keys: HashMap::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.image_keys.clear();
        self.keyless_images.clear();
        self.set_keys.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, warnings: &mut Vec<RowError>) -> Result<ImageRow, RowError> {
        let name = required(row, "image_set_name")?.to_owned();
        let set_key = row.value("product_image_set_key").map(str::to_owned);
        let owner = self.owner(row, set_key.is_some(), warnings)?;
        let locale_id = match row.value("locale") {
            Some(locale) => Some(lookup(&self.locales, "locale", "locale", locale)?),
            None => None,
        };
        let url_large = required(row, "external_url_large")?.to_owned();
        let url_small = required(row, "external_url_small")?.to_owned();
        let sort_order = sort_order(row)?;
        let image_key = row.value("product_image_key").map(str::to_owned);
        let values = SetValues { owner, locale_id, name };
        let set = match &set_key {
            Some(key) => SetIdentity::Key(key.clone()),
            None => SetIdentity::Values(values.clone()),
        };

        // Keys are recorded only once the row is accepted, so that pass 2, which skips rejected rows,
        // sees the same first lines as pass 1.
        if let Some(key) = &set_key
            && let Some((first, line)) = self.set_keys.get(key)
            && *first != values
        {
            return Err(RowError::new(
                "product_image_set_key",
                format!("set \"{key}\" has another product, locale or image_set_name on line {line}"),
            ));
        }
        match &image_key {
            Some(key) => {
                if let Some(first) = self.image_keys.get(key) {
                    return Err(RowError::new(
                        "product_image_key",
                        format!("image key \"{key}\" appears twice in the file (first on line {first})"),
                    ));
                }
                self.image_keys.insert(key.clone(), row.line);
            }
            None => {
                let slot = (set.clone(), url_large.clone());
                if let Some(first) = self.keyless_images.get(&slot) {
                    return Err(RowError::new(
                        "external_url_large",
                        format!(
                            "the image is in this set on line {first} already (give product_image_key to import both)"
                        ),
                    ));
                }
                self.keyless_images.insert(slot, row.line);
            }
        }
        if let Some(key) = set_key {
            self.set_keys.entry(key).or_insert((values.clone(), row.line));
        }
        Ok(ImageRow {
            set,
            values,
            image_key,
            url_large,
            url_small,
            sort_order,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<ImageRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let sets = write_sets(transaction, &rows, batch).await?;
        write_images(transaction, &rows, &sets, batch).await
    }
}

/// Finds or creates every set the rows name, updating keyed sets whose values changed.
async fn write_sets(
    transaction: &DatabaseTransaction,
    rows: &[ImageRow],
    batch: &mut Batch,
) -> Result<HashMap<SetIdentity, ResolvedSet>, DbErr> {
    // The batch's sets in file order, each with the values of its first row (parse made keyed rows agree).
    let mut wanted: Vec<(&SetIdentity, &SetValues)> = Vec::new();
    let mut listed = HashSet::new();
    for row in rows {
        if listed.insert(&row.set) {
            wanted.push((&row.set, &row.values));
        }
    }
    let stored = stored_sets(transaction, &wanted).await?;

    let mut resolved = HashMap::with_capacity(wanted.len());
    let mut new_sets = Vec::new();
    for (identity, values) in &wanted {
        let Some(found) = stored.get(*identity) else {
            new_sets.push(product_image_set::ActiveModel {
                name: Set(values.name.clone()),
                product_abstract_id: Set(values.owner.abstract_id()),
                product_concrete_id: Set(values.owner.concrete_id()),
                locale_id: Set(values.locale_id),
                product_image_set_key: Set(match identity {
                    SetIdentity::Key(key) => Some(key.clone()),
                    SetIdentity::Values(_) => None,
                }),
                created_at: Set(batch.now),
                updated_at: Set(batch.now),
                ..Default::default()
            });
            continue;
        };
        let before = SetValues::of(found);
        let changed = before != **values;
        if changed {
            let mut model = found.clone().into_active_model();
            model.name = Set(values.name.clone());
            model.product_abstract_id = Set(values.owner.abstract_id());
            model.product_concrete_id = Set(values.owner.concrete_id());
            model.locale_id = Set(values.locale_id);
            model.updated_at = Set(batch.now);
            model.update(transaction).await?;
            // Both products' image documents change when a set moves.
            let mut routes = values.owner.route();
            routes.extend(before.owner.route());
            batch.touch("product_image_set", found.id, ChangeKind::Update, &routes);
        }
        resolved.insert(
            (*identity).clone(),
            ResolvedSet {
                id: found.id,
                owner: values.owner,
                changed,
            },
        );
    }
    if new_sets.is_empty() {
        return Ok(resolved);
    }
    product_image_set::Entity::insert_many(new_sets)
        .exec_without_returning(transaction)
        .await?;
    let created: Vec<(&SetIdentity, &SetValues)> = wanted
        .into_iter()
        .filter(|(identity, _)| !resolved.contains_key(*identity))
        .collect();
    let stored = stored_sets(transaction, &created).await?;
    for (identity, values) in created {
        if let Some(set) = stored.get(identity) {
            batch.touch("product_image_set", set.id, ChangeKind::Create, &values.owner.route());
            resolved.insert(
                identity.clone(),
                ResolvedSet {
                    id: set.id,
                    owner: values.owner,
                    changed: true,
                },
            );
        }
    }
    Ok(resolved)
}

/// The stored sets of these identities: keyed ones by key, the others by their values among the sets
/// without a key of the same products (the oldest when, unusually, several match).
async fn stored_sets(
    transaction: &DatabaseTransaction,
    wanted: &[(&SetIdentity, &SetValues)],
) -> Result<HashMap<SetIdentity, product_image_set::Model>, DbErr> {
    let mut keys = Vec::new();
    let mut abstract_ids = HashSet::new();
    let mut concrete_ids = HashSet::new();
    for (identity, values) in wanted {
        match identity {
            SetIdentity::Key(key) => keys.push(key.clone()),
            SetIdentity::Values(_) => {
                abstract_ids.extend(values.owner.abstract_id());
                concrete_ids.extend(values.owner.concrete_id());
            }
        }
    }
    let mut found = HashMap::new();
    if !keys.is_empty() {
        for set in product_image_set::Entity::find()
            .filter(product_image_set::Column::ProductImageSetKey.is_in(keys))
            .all(transaction)
            .await?
        {
            if let Some(key) = set.product_image_set_key.clone() {
                found.insert(SetIdentity::Key(key), set);
            }
        }
    }
    if abstract_ids.is_empty() && concrete_ids.is_empty() {
        return Ok(found);
    }
    let mut owners = Condition::any();
    if !abstract_ids.is_empty() {
        owners = owners.add(product_image_set::Column::ProductAbstractId.is_in(abstract_ids));
    }
    if !concrete_ids.is_empty() {
        owners = owners.add(product_image_set::Column::ProductConcreteId.is_in(concrete_ids));
    }
    for set in product_image_set::Entity::find()
        .filter(owners)
        .filter(product_image_set::Column::ProductImageSetKey.is_null())
        .order_by_asc(product_image_set::Column::Id)
        .all(transaction)
        .await?
    {
        found.entry(SetIdentity::Values(SetValues::of(&set))).or_insert(set);
    }
    Ok(found)
}

/// How a stored image is found: its key, or its set and large URL among the images without a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ImageIdentity {
    Key(String),
    Url(i64, String),
}

impl ImageIdentity {
    fn of(image: &product_image::Model) -> Self {
        match &image.product_image_key {
            Some(key) => Self::Key(key.clone()),
            None => Self::Url(image.product_image_set_id, image.external_url_large.clone()),
        }
    }
}

/// Upserts the rows' images into their resolved sets; counts every row.
async fn write_images(
    transaction: &DatabaseTransaction,
    rows: &[ImageRow],
    sets: &HashMap<SetIdentity, ResolvedSet>,
    batch: &mut Batch,
) -> Result<(), DbErr> {
    let mut wanted = Vec::with_capacity(rows.len());
    for row in rows {
        // Every identity was resolved by `write_sets`; a missing one would be a bug, and skipping the
        // row is safer than writing it into a wrong set.
        let Some(set) = sets.get(&row.set) else {
            continue;
        };
        let identity = match &row.image_key {
            Some(key) => ImageIdentity::Key(key.clone()),
            None => ImageIdentity::Url(set.id, row.url_large.clone()),
        };
        wanted.push((row, set, identity));
    }
    let identities: Vec<&ImageIdentity> = wanted.iter().map(|(_, _, identity)| identity).collect();
    let stored = stored_images(transaction, &identities).await?;

    let mut new_images = Vec::new();
    // Images that left a set: their old set's owner must re-publish too.
    let mut moved_from: Vec<(i64, i64)> = Vec::new();
    for (row, set, identity) in &wanted {
        let Some(found) = stored.get(identity) else {
            new_images.push(product_image::ActiveModel {
                product_image_set_id: Set(set.id),
                external_url_small: Set(row.url_small.clone()),
                external_url_large: Set(row.url_large.clone()),
                sort_order: Set(row.sort_order.unwrap_or(0)),
                product_image_key: Set(row.image_key.clone()),
                ..Default::default()
            });
            batch.count(Outcome::Inserted);
            continue;
        };
        let sort_order = row.sort_order.unwrap_or(found.sort_order);
        let same = found.product_image_set_id == set.id
            && found.external_url_large == row.url_large
            && found.external_url_small == row.url_small
            && found.sort_order == sort_order;
        if same {
            batch.count(if set.changed {
                Outcome::Updated
            } else {
                Outcome::Unchanged
            });
            continue;
        }
        if found.product_image_set_id != set.id {
            moved_from.push((found.id, found.product_image_set_id));
        }
        let mut model = found.clone().into_active_model();
        model.product_image_set_id = Set(set.id);
        model.external_url_large = Set(row.url_large.clone());
        model.external_url_small = Set(row.url_small.clone());
        model.sort_order = Set(sort_order);
        model.update(transaction).await?;
        batch.touch("product_image", found.id, ChangeKind::Update, &set.owner.route());
        batch.count(Outcome::Updated);
    }
    if !moved_from.is_empty() {
        let old_owners: HashMap<i64, Owner> = product_image_set::Entity::find()
            .filter(product_image_set::Column::Id.is_in(moved_from.iter().map(|(_, set_id)| *set_id)))
            .all(transaction)
            .await?
            .iter()
            .map(|set| (set.id, Owner::of(set)))
            .collect();
        for (image_id, set_id) in moved_from {
            if let Some(owner) = old_owners.get(&set_id) {
                batch.add_keys("product_image", image_id, &owner.route());
            }
        }
    }
    if new_images.is_empty() {
        return Ok(());
    }
    product_image::Entity::insert_many(new_images)
        .exec_without_returning(transaction)
        .await?;
    let created: Vec<&(&ImageRow, &ResolvedSet, ImageIdentity)> = wanted
        .iter()
        .filter(|(_, _, identity)| !stored.contains_key(identity))
        .collect();
    let identities: Vec<&ImageIdentity> = created.iter().map(|(_, _, identity)| identity).collect();
    let now_stored = stored_images(transaction, &identities).await?;
    for (_, set, identity) in created {
        if let Some(image) = now_stored.get(identity) {
            batch.touch("product_image", image.id, ChangeKind::Create, &set.owner.route());
        }
    }
    Ok(())
}

/// The stored images of these identities (the oldest when, unusually, several keyless ones match).
async fn stored_images(
    transaction: &DatabaseTransaction,
    wanted: &[&ImageIdentity],
) -> Result<HashMap<ImageIdentity, product_image::Model>, DbErr> {
    let mut keys = Vec::new();
    let mut set_ids = HashSet::new();
    for identity in wanted {
        match identity {
            ImageIdentity::Key(key) => keys.push(key.clone()),
            ImageIdentity::Url(set_id, _) => {
                set_ids.insert(*set_id);
            }
        }
    }
    let mut found = HashMap::new();
    if !keys.is_empty() {
        for image in product_image::Entity::find()
            .filter(product_image::Column::ProductImageKey.is_in(keys))
            .all(transaction)
            .await?
        {
            found.insert(ImageIdentity::of(&image), image);
        }
    }
    if !set_ids.is_empty() {
        for image in product_image::Entity::find()
            .filter(product_image::Column::ProductImageSetId.is_in(set_ids))
            .filter(product_image::Column::ProductImageKey.is_null())
            .order_by_asc(product_image::Column::Id)
            .all(transaction)
            .await?
        {
            found.entry(ImageIdentity::of(&image)).or_insert(image);
        }
    }
    Ok(found)
}
