//! Store configuration data sets: stores, currencies, locales, glossary, tax, warehouses. Small files,
//! so each batch loads the rows it touches and upserts only what differs.

use super::{parse_bool, required};
use crate::importer::{Batch, ColumnKind, DataSet, Outcome, RowError};
use crate::name_map;
use crate::reader::{Header, RowView};
use kontor_core::{CurrencyCode, LocaleName, StoreName};
use kontor_db::entity::{
    currency, glossary_key, glossary_translation, locale, store, store_currency, store_locale, tax_rate, tax_set,
    warehouse, warehouse_store,
};
use kontor_domain::outbox::ChangeKind;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    Set,
};
use std::collections::{HashMap, HashSet};

fn used(columns: &[&str], column: &str) -> ColumnKind {
    if columns.contains(&column) {
        ColumnKind::Used
    } else {
        ColumnKind::Unknown
    }
}

pub(crate) fn lookup(map: &HashMap<String, i64>, column: &str, what: &str, key: &str) -> Result<i64, RowError> {
    map.get(key).copied().ok_or_else(|| {
        RowError::new(
            column,
            format!("{what} \"{key}\" is unknown{}", super::did_you_mean(key, map.keys())),
        )
    })
}

/// Makes sure a locale exists, returning its id and whether it was created.
async fn ensure_locale(transaction: &DatabaseTransaction, name: &str, batch: &mut Batch) -> Result<i64, DbErr> {
    if let Some(found) = locale::Entity::find()
        .filter(locale::Column::Name.eq(name))
        .one(transaction)
        .await?
    {
        return Ok(found.id);
    }
    let created = locale::ActiveModel {
        name: Set(name.to_owned()),
        is_active: Set(true),
        ..Default::default()
    }
    .insert(transaction)
    .await?;
    batch.touch("locale", created.id, ChangeKind::Create, &[]);
    Ok(created.id)
}

// ---------------------------------------------------------------------------------------------- store

/// `store.csv`: one store code per line. A new store needs a default locale and currency before
/// `default-locale-store` / `currency-store` set the real ones, so it gets the first existing ones
/// (or `en_US` / `EUR`, created on an empty database).
pub(crate) struct Stores {
    seen: HashSet<String>,
}

impl DataSet for Stores {
    type Row = String;
    const REQUIRED: &'static [&'static str] = &["name"];

    fn column_kind(column: &str) -> ColumnKind {
        used(&["name"], column)
    }

    async fn prepare(_: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self { seen: HashSet::new() })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<String, RowError> {
        let name = required(row, "name")?;
        StoreName::parse(name).map_err(|error| RowError::new("name", error.0))?;
        if !self.seen.insert(name.to_owned()) {
            return Err(RowError::new(
                "name",
                format!("store \"{name}\" appears twice in the file"),
            ));
        }
        Ok(name.to_owned())
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<String>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let existing: HashSet<String> = store::Entity::find()
            .filter(store::Column::Name.is_in(rows.clone()))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| row.name)
            .collect();
        for name in rows {
            if existing.contains(&name) {
                batch.count(Outcome::Unchanged);
                continue;
            }
            let locale_id = match locale::Entity::find()
                .order_by_asc(locale::Column::Id)
                .one(transaction)
                .await?
            {
                Some(found) => found.id,
                None => ensure_locale(transaction, "en_US", batch).await?,
            };
            let currency_id = match currency::Entity::find()
                .order_by_asc(currency::Column::Id)
                .one(transaction)
                .await?
            {
                Some(found) => found.id,
                None => {
                    let created = currency::ActiveModel {
                        code: Set("EUR".to_owned()),
                        name: Set("Euro".to_owned()),
                        fraction_digits: Set(2),
                        ..Default::default()
                    }
                    .insert(transaction)
                    .await?;
                    batch.touch("currency", created.id, ChangeKind::Create, &[]);
                    created.id
                }
            };
            let created = store::ActiveModel {
                name: Set(name),
                default_locale_id: Set(locale_id),
                default_currency_id: Set(currency_id),
                timezone: Set("UTC".to_owned()),
                created_at: Set(batch.now),
                updated_at: Set(batch.now),
                ..Default::default()
            }
            .insert(transaction)
            .await?;
            batch.touch("store", created.id, ChangeKind::Create, &[]);
            batch.count(Outcome::Inserted);
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------- currency

pub(crate) struct CurrencyRow {
    code: String,
    name: Option<String>,
}

/// `currency.csv`: `iso_code` plus optional `name` (`currency_symbol` is not stored).
pub(crate) struct Currencies {
    seen: HashSet<String>,
}

impl DataSet for Currencies {
    type Row = CurrencyRow;
    const REQUIRED: &'static [&'static str] = &["iso_code"];

    fn column_kind(column: &str) -> ColumnKind {
        match column {
            "iso_code" | "name" => ColumnKind::Used,
            "currency_symbol" => ColumnKind::Ignored,
            _ => ColumnKind::Unknown,
        }
    }

    async fn prepare(_: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self { seen: HashSet::new() })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<CurrencyRow, RowError> {
        let code = required(row, "iso_code")?;
        CurrencyCode::parse(code).map_err(|error| RowError::new("iso_code", error.0))?;
        if !self.seen.insert(code.to_owned()) {
            return Err(RowError::new(
                "iso_code",
                format!("currency \"{code}\" appears twice in the file"),
            ));
        }
        Ok(CurrencyRow {
            code: code.to_owned(),
            name: row.get("name").map(str::to_owned),
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<CurrencyRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let existing: HashMap<String, currency::Model> = currency::Entity::find()
            .filter(currency::Column::Code.is_in(rows.iter().map(|row| row.code.clone())))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| (row.code.clone(), row))
            .collect();
        for row in rows {
            match existing.get(&row.code) {
                Some(found) => match row.name.filter(|name| *name != found.name) {
                    Some(name) => {
                        let mut model = found.clone().into_active_model();
                        model.name = Set(name);
                        model.update(transaction).await?;
                        batch.touch("currency", found.id, ChangeKind::Update, &[]);
                        batch.count(Outcome::Updated);
                    }
                    None => batch.count(Outcome::Unchanged),
                },
                None => {
                    let created = currency::ActiveModel {
                        name: Set(row
                            .name
                            .filter(|name| !name.is_empty())
                            .unwrap_or_else(|| row.code.clone())),
                        code: Set(row.code),
                        fraction_digits: Set(2),
                        ..Default::default()
                    }
                    .insert(transaction)
                    .await?;
                    batch.touch("currency", created.id, ChangeKind::Create, &[]);
                    batch.count(Outcome::Inserted);
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------- currency-store

pub(crate) struct CurrencyStoreRow {
    store_id: i64,
    currency_id: i64,
    is_default: Option<bool>,
}

/// `currency_store.csv`: which currencies a store sells in; `is_default=1` makes one the default.
pub(crate) struct CurrencyStores {
    stores: HashMap<String, i64>,
    currencies: HashMap<String, i64>,
    seen: HashSet<(i64, i64)>,
}

impl DataSet for CurrencyStores {
    type Row = CurrencyStoreRow;
    const REQUIRED: &'static [&'static str] = &["currency_code", "store_name"];

    fn column_kind(column: &str) -> ColumnKind {
        used(&["currency_code", "store_name", "is_default"], column)
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            stores: name_map!(connection, store::Entity, name),
            currencies: name_map!(connection, currency::Entity, code),
            seen: HashSet::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<CurrencyStoreRow, RowError> {
        let currency_id = lookup(
            &self.currencies,
            "currency_code",
            "currency",
            required(row, "currency_code")?,
        )?;
        let store_id = lookup(&self.stores, "store_name", "store", required(row, "store_name")?)?;
        if !self.seen.insert((store_id, currency_id)) {
            return Err(RowError::new("currency_code", "the pair appears twice in the file"));
        }
        let is_default = match row.get("is_default") {
            Some(_) => Some(parse_bool(row, "is_default", false)?),
            None => None,
        };
        Ok(CurrencyStoreRow {
            store_id,
            currency_id,
            is_default,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<CurrencyStoreRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        for row in rows {
            let mut changed = false;
            let links = store_currency::Entity::find()
                .filter(store_currency::Column::StoreId.eq(row.store_id))
                .all(transaction)
                .await?;
            if !links.iter().any(|link| link.currency_id == row.currency_id) {
                store_currency::ActiveModel {
                    store_id: Set(row.store_id),
                    currency_id: Set(row.currency_id),
                    position: Set(i32::try_from(links.len()).unwrap_or(i32::MAX)),
                }
                .insert(transaction)
                .await?;
                changed = true;
            }
            if row.is_default == Some(true) {
                changed |= set_store_default(transaction, row.store_id, None, Some(row.currency_id), batch.now).await?;
            }
            if changed {
                batch.touch("store", row.store_id, ChangeKind::Update, &[]);
                batch.count(if links.is_empty() {
                    Outcome::Inserted
                } else {
                    Outcome::Updated
                });
            } else {
                batch.count(Outcome::Unchanged);
            }
        }
        Ok(())
    }
}

/// Sets a store's default locale or currency; `true` when that changed anything.
async fn set_store_default(
    transaction: &DatabaseTransaction,
    store_id: i64,
    locale_id: Option<i64>,
    currency_id: Option<i64>,
    now: i64,
) -> Result<bool, DbErr> {
    let Some(found) = store::Entity::find_by_id(store_id).one(transaction).await? else {
        return Ok(false);
    };
    let locale_id = locale_id.unwrap_or(found.default_locale_id);
    let currency_id = currency_id.unwrap_or(found.default_currency_id);
    if locale_id == found.default_locale_id && currency_id == found.default_currency_id {
        return Ok(false);
    }
    let mut model = found.into_active_model();
    model.default_locale_id = Set(locale_id);
    model.default_currency_id = Set(currency_id);
    model.updated_at = Set(now);
    model.update(transaction).await?;
    Ok(true)
}

// ------------------------------------------------------------------------- locale-store, default

pub(crate) struct LocaleStoreRow {
    store_id: i64,
    locale: String,
}

/// `locale_store.csv` (creates locales, assigns them) and `default_locale_store.csv` (same columns,
/// sets the store's default locale, which must be assigned or assigned by this row).
pub(crate) struct LocaleStoresOf<const DEFAULT: bool> {
    stores: HashMap<String, i64>,
    seen: HashSet<(i64, String)>,
}

pub(crate) type LocaleStores = LocaleStoresOf<false>;
pub(crate) type DefaultLocaleStores = LocaleStoresOf<true>;

impl<const DEFAULT: bool> DataSet for LocaleStoresOf<DEFAULT> {
    type Row = LocaleStoreRow;
    const REQUIRED: &'static [&'static str] = &["locale_name", "store_name"];

    fn column_kind(column: &str) -> ColumnKind {
        used(&["locale_name", "store_name"], column)
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            stores: name_map!(connection, store::Entity, name),
            seen: HashSet::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<LocaleStoreRow, RowError> {
        let locale = required(row, "locale_name")?;
        LocaleName::parse(locale).map_err(|error| RowError::new("locale_name", error.0))?;
        let store_id = lookup(&self.stores, "store_name", "store", required(row, "store_name")?)?;
        let key = if DEFAULT { String::new() } else { locale.to_owned() };
        if !self.seen.insert((store_id, key)) {
            return Err(RowError::new("store_name", "the store appears twice in the file"));
        }
        Ok(LocaleStoreRow {
            store_id,
            locale: locale.to_owned(),
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<LocaleStoreRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        for row in rows {
            let locale_id = ensure_locale(transaction, &row.locale, batch).await?;
            let links = store_locale::Entity::find()
                .filter(store_locale::Column::StoreId.eq(row.store_id))
                .all(transaction)
                .await?;
            let mut changed = false;
            if !links.iter().any(|link| link.locale_id == locale_id) {
                store_locale::ActiveModel {
                    store_id: Set(row.store_id),
                    locale_id: Set(locale_id),
                    position: Set(i32::try_from(links.len()).unwrap_or(i32::MAX)),
                }
                .insert(transaction)
                .await?;
                changed = true;
            }
            if DEFAULT {
                changed |= set_store_default(transaction, row.store_id, Some(locale_id), None, batch.now).await?;
            }
            if changed {
                batch.touch("store", row.store_id, ChangeKind::Update, &[]);
                batch.count(Outcome::Updated);
            } else {
                batch.count(Outcome::Unchanged);
            }
        }
        Ok(())
    }
}

// -------------------------------------------------------------------------------------- glossary

pub(crate) struct GlossaryRow {
    key: String,
    locale_id: i64,
    translation: String,
}

/// `glossary.csv`: `key,translation,locale`; a repeated key and locale is not an error, the last row
/// wins.
pub(crate) struct Glossary {
    locales: HashMap<String, i64>,
}

impl DataSet for Glossary {
    type Row = GlossaryRow;
    const REQUIRED: &'static [&'static str] = &["key", "translation", "locale"];

    fn column_kind(column: &str) -> ColumnKind {
        used(&["key", "translation", "locale"], column)
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            locales: name_map!(connection, locale::Entity, name),
        })
    }

    fn begin_pass(&mut self) {}

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<GlossaryRow, RowError> {
        let key = required(row, "key")?;
        let locale_id = lookup(&self.locales, "locale", "locale", required(row, "locale")?)?;
        Ok(GlossaryRow {
            key: key.to_owned(),
            locale_id,
            translation: row.get("translation").unwrap_or("").to_owned(),
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<GlossaryRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        // Last row per key and locale wins within the batch; later batches overwrite earlier ones.
        let mut last: HashMap<(String, i64), String> = HashMap::new();
        let mut order = Vec::new();
        for row in rows {
            let slot = (row.key, row.locale_id);
            if last.insert(slot.clone(), row.translation).is_none() {
                order.push(slot);
            } else {
                batch.count(Outcome::Unchanged);
            }
        }
        let keys: HashSet<String> = order.iter().map(|(key, _)| key.clone()).collect();
        let mut key_ids: HashMap<String, i64> = glossary_key::Entity::find()
            .filter(glossary_key::Column::Key.is_in(keys.iter().cloned()))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| (row.key, row.id))
            .collect();
        let new_keys: Vec<glossary_key::ActiveModel> = keys
            .iter()
            .filter(|key| !key_ids.contains_key(*key))
            .map(|key| glossary_key::ActiveModel {
                key: Set(key.clone()),
                created_at: Set(batch.now),
                updated_at: Set(batch.now),
                ..Default::default()
            })
            .collect();
        if !new_keys.is_empty() {
            glossary_key::Entity::insert_many(new_keys)
                .exec_without_returning(transaction)
                .await?;
            for row in glossary_key::Entity::find()
                .filter(glossary_key::Column::Key.is_in(keys.iter().cloned()))
                .all(transaction)
                .await?
            {
                if !key_ids.contains_key(&row.key) {
                    batch.touch("glossary_key", row.id, ChangeKind::Create, &[]);
                }
                key_ids.insert(row.key, row.id);
            }
        }
        let ids: Vec<i64> = key_ids.values().copied().collect();
        let existing: HashMap<(i64, i64), String> = glossary_translation::Entity::find()
            .filter(glossary_translation::Column::GlossaryKeyId.is_in(ids))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| ((row.glossary_key_id, row.locale_id), row.value))
            .collect();
        let mut upserts = Vec::new();
        for slot in order {
            let Some(key_id) = key_ids.get(&slot.0).copied() else {
                continue;
            };
            let value = last.remove(&slot).unwrap_or_default();
            let outcome = match existing.get(&(key_id, slot.1)) {
                Some(stored) if *stored == value => Outcome::Unchanged,
                Some(_) => Outcome::Updated,
                None => Outcome::Inserted,
            };
            batch.count(outcome);
            if outcome != Outcome::Unchanged {
                batch.touch("glossary_key", key_id, ChangeKind::Update, &[]);
                upserts.push(glossary_translation::ActiveModel {
                    glossary_key_id: Set(key_id),
                    locale_id: Set(slot.1),
                    value: Set(value),
                    ..Default::default()
                });
            }
        }
        if !upserts.is_empty() {
            glossary_translation::Entity::insert_many(upserts)
                .on_conflict(
                    OnConflict::columns([
                        glossary_translation::Column::GlossaryKeyId,
                        glossary_translation::Column::LocaleId,
                    ])
                    .update_column(glossary_translation::Column::Value)
                    .to_owned(),
                )
                .exec_without_returning(transaction)
                .await?;
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------- tax

pub(crate) struct TaxRow {
    set: String,
    country: String,
    name: String,
    basis_points: i32,
}

/// `tax.csv`: a tax set is the group of its rows, one rate per country.
pub(crate) struct Tax {
    seen: HashSet<(String, String)>,
}

/// English country names Kontor accepts besides ISO codes: the EU, plus US, GB and CH.
const COUNTRIES: &[(&str, &str)] = &[
    ("Austria", "AT"),
    ("Belgium", "BE"),
    ("Bulgaria", "BG"),
    ("Croatia", "HR"),
    ("Cyprus", "CY"),
    ("Czech Republic", "CZ"),
    ("Czechia", "CZ"),
    ("Denmark", "DK"),
    ("Estonia", "EE"),
    ("Finland", "FI"),
    ("France", "FR"),
    ("Germany", "DE"),
    ("Greece", "GR"),
    ("Hungary", "HU"),
    ("Ireland", "IE"),
    ("Italy", "IT"),
    ("Latvia", "LV"),
    ("Lithuania", "LT"),
    ("Luxembourg", "LU"),
    ("Malta", "MT"),
    ("Netherlands", "NL"),
    ("Poland", "PL"),
    ("Portugal", "PT"),
    ("Romania", "RO"),
    ("Slovakia", "SK"),
    ("Slovenia", "SI"),
    ("Spain", "ES"),
    ("Sweden", "SE"),
    ("United States", "US"),
    ("United Kingdom", "GB"),
    ("Switzerland", "CH"),
];

fn country_code(raw: &str) -> Option<String> {
    if raw.len() == 2 && raw.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        return Some(raw.to_ascii_uppercase());
    }
    COUNTRIES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(raw))
        .map(|(_, code)| (*code).to_owned())
}

/// `19` or `7.5` → basis points (1900, 750); at most two fraction digits, 0–100 %.
fn basis_points(raw: &str) -> Option<i32> {
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty() || fraction.len() > 2 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i32 = whole.parse().ok()?;
    let fraction: i32 = format!("{fraction:0<2}").parse().ok()?;
    let points = whole.checked_mul(100)?.checked_add(fraction)?;
    (points <= 10_000).then_some(points)
}

impl DataSet for Tax {
    type Row = TaxRow;
    const REQUIRED: &'static [&'static str] = &["tax_set_name", "country_name", "tax_rate_name", "tax_rate_percent"];

    fn column_kind(column: &str) -> ColumnKind {
        used(Self::REQUIRED, column)
    }

    async fn prepare(_: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self { seen: HashSet::new() })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<TaxRow, RowError> {
        let set = required(row, "tax_set_name")?;
        let raw_country = required(row, "country_name")?;
        let country = country_code(raw_country)
            .ok_or_else(|| RowError::new("country_name", format!("country \"{raw_country}\" is unknown")))?;
        let name = required(row, "tax_rate_name")?;
        let raw_rate = required(row, "tax_rate_percent")?;
        let basis_points = basis_points(raw_rate).ok_or_else(|| {
            RowError::new(
                "tax_rate_percent",
                format!("\"{raw_rate}\" is not a percentage between 0 and 100"),
            )
        })?;
        if !self.seen.insert((set.to_owned(), country.clone())) {
            return Err(RowError::new(
                "country_name",
                format!("tax set \"{set}\" has a second rate for {country}"),
            ));
        }
        Ok(TaxRow {
            set: set.to_owned(),
            country,
            name: name.to_owned(),
            basis_points,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<TaxRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        for row in rows {
            let set_id = match tax_set::Entity::find()
                .filter(tax_set::Column::Name.eq(row.set.as_str()))
                .one(transaction)
                .await?
            {
                Some(found) => found.id,
                None => {
                    let created = tax_set::ActiveModel {
                        name: Set(row.set.clone()),
                        created_at: Set(batch.now),
                        updated_at: Set(batch.now),
                        ..Default::default()
                    }
                    .insert(transaction)
                    .await?;
                    batch.touch("tax_set", created.id, ChangeKind::Create, &[]);
                    created.id
                }
            };
            let stored = tax_rate::Entity::find()
                .filter(tax_rate::Column::TaxSetId.eq(set_id))
                .filter(tax_rate::Column::Country.eq(row.country.as_str()))
                .one(transaction)
                .await?;
            let outcome = match stored {
                Some(found) if found.name == row.name && found.rate_basis_points == row.basis_points => {
                    Outcome::Unchanged
                }
                Some(found) => {
                    let mut model = found.into_active_model();
                    model.name = Set(row.name);
                    model.rate_basis_points = Set(row.basis_points);
                    model.update(transaction).await?;
                    Outcome::Updated
                }
                None => {
                    tax_rate::ActiveModel {
                        tax_set_id: Set(set_id),
                        country: Set(row.country),
                        name: Set(row.name),
                        rate_basis_points: Set(row.basis_points),
                        ..Default::default()
                    }
                    .insert(transaction)
                    .await?;
                    Outcome::Inserted
                }
            };
            if outcome != Outcome::Unchanged {
                batch.touch("tax_set", set_id, ChangeKind::Update, &[]);
            }
            batch.count(outcome);
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------- warehouses

pub(crate) struct WarehouseRow {
    name: String,
    is_active: Option<bool>,
}

/// `warehouse.csv`: `name,is_active` (`picking_list_strategy` is not stored).
pub(crate) struct Warehouses {
    seen: HashSet<String>,
}

impl DataSet for Warehouses {
    type Row = WarehouseRow;
    const REQUIRED: &'static [&'static str] = &["name"];

    fn column_kind(column: &str) -> ColumnKind {
        match column {
            "name" | "is_active" => ColumnKind::Used,
            "picking_list_strategy" => ColumnKind::Ignored,
            _ => ColumnKind::Unknown,
        }
    }

    async fn prepare(_: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self { seen: HashSet::new() })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<WarehouseRow, RowError> {
        let name = required(row, "name")?;
        if !self.seen.insert(name.to_owned()) {
            return Err(RowError::new(
                "name",
                format!("warehouse \"{name}\" appears twice in the file"),
            ));
        }
        let is_active = match row.get("is_active") {
            Some(_) => Some(parse_bool(row, "is_active", true)?),
            None => None,
        };
        Ok(WarehouseRow {
            name: name.to_owned(),
            is_active,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<WarehouseRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let existing: HashMap<String, warehouse::Model> = warehouse::Entity::find()
            .filter(warehouse::Column::Name.is_in(rows.iter().map(|row| row.name.clone())))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| (row.name.clone(), row))
            .collect();
        for row in rows {
            match existing.get(&row.name) {
                Some(found) => match row.is_active.filter(|active| *active != found.is_active) {
                    Some(active) => {
                        let mut model = found.clone().into_active_model();
                        model.is_active = Set(active);
                        model.updated_at = Set(batch.now);
                        model.update(transaction).await?;
                        batch.touch("warehouse", found.id, ChangeKind::Update, &[]);
                        batch.count(Outcome::Updated);
                    }
                    None => batch.count(Outcome::Unchanged),
                },
                None => {
                    let created = warehouse::ActiveModel {
                        name: Set(row.name),
                        is_active: Set(row.is_active.unwrap_or(true)),
                        created_at: Set(batch.now),
                        updated_at: Set(batch.now),
                        ..Default::default()
                    }
                    .insert(transaction)
                    .await?;
                    batch.touch("warehouse", created.id, ChangeKind::Create, &[]);
                    batch.count(Outcome::Inserted);
                }
            }
        }
        Ok(())
    }
}

/// `warehouse_store.csv`: `warehouse_name,store_name`.
pub(crate) struct WarehouseStores {
    warehouses: HashMap<String, i64>,
    stores: HashMap<String, i64>,
    seen: HashSet<(i64, i64)>,
}

impl DataSet for WarehouseStores {
    type Row = (i64, i64);
    const REQUIRED: &'static [&'static str] = &["warehouse_name", "store_name"];

    fn column_kind(column: &str) -> ColumnKind {
        used(Self::REQUIRED, column)
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            warehouses: name_map!(connection, warehouse::Entity, name),
            stores: name_map!(connection, store::Entity, name),
            seen: HashSet::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<(i64, i64), RowError> {
        let warehouse_id = lookup(
            &self.warehouses,
            "warehouse_name",
            "warehouse",
            required(row, "warehouse_name")?,
        )?;
        let store_id = lookup(&self.stores, "store_name", "store", required(row, "store_name")?)?;
        if !self.seen.insert((warehouse_id, store_id)) {
            return Err(RowError::new("warehouse_name", "the pair appears twice in the file"));
        }
        Ok((warehouse_id, store_id))
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<(i64, i64)>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let existing: HashSet<(i64, i64)> = warehouse_store::Entity::find()
            .filter(warehouse_store::Column::WarehouseId.is_in(rows.iter().map(|row| row.0)))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| (row.warehouse_id, row.store_id))
            .collect();
        let mut new_links = Vec::new();
        for (warehouse_id, store_id) in rows {
            if existing.contains(&(warehouse_id, store_id)) {
                batch.count(Outcome::Unchanged);
            } else {
                batch.count(Outcome::Inserted);
                batch.touch("warehouse", warehouse_id, ChangeKind::Update, &[]);
                new_links.push(warehouse_store::ActiveModel {
                    warehouse_id: Set(warehouse_id),
                    store_id: Set(store_id),
                });
            }
        }
        if !new_links.is_empty() {
            warehouse_store::Entity::insert_many(new_links)
                .exec_without_returning(transaction)
                .await?;
        }
        Ok(())
    }
}
