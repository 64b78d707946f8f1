//! Shipment and payment methods (spec §2, entities 24–28): `shipment.csv`, `shipment_method_store.csv`,
//! `shipment_price.csv`, `payment_method.csv` and `payment_method_store.csv`.
//!
//! Natural keys: methods by `shipment_method_key` / `payment_method_key`, store links by (key, `store`),
//! shipment prices by (key, `store`, `currency`). Each batch loads the stored rows of its keys with one
//! query per table, inserts the new rows with one multi-row insert and updates only the rows whose
//! values differ, so re-importing the same files writes nothing. Store links are only ever added: a file
//! does not take a method out of a store it does not list (as in Spryker).
//!
//! `shipment.csv` keeps Spryker's camelCase `taxSetName` (`tax_set_name` is accepted too); an empty tax
//! set means "no tax set". Spryker's plugin columns (`pricePlugin`, `deliveryTimePlugin`,
//! `availabilityPlugin`) are skipped with a note. Shipment prices need the store to sell in the currency
//! (`currency_store.csv`), like product prices; an empty `value_net` or `value_gross` means "no price in
//! that mode", both empty is a row error. A payment provider key names one provider, so its name must be
//! the same on every row of a file.
//!
//! Methods are checkout configuration, not storefront documents: no outbox rows (like customers).

use super::config::lookup;
use super::{money, parse_bool, required};
use crate::importer::{Batch, ColumnKind, DataSet, Outcome, RowError};
use crate::name_map;
use crate::reader::{Header, RowView};
use kontor_db::entity::orders::{
    payment_method, payment_method_store, shipment_method, shipment_method_price, shipment_method_store,
};
use kontor_db::entity::{currency, store, store_currency, tax_set};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};
use std::collections::{HashMap, HashSet};

/// Rows per multi-row insert (well below every backend's bind-parameter limit).
const INSERT_CHUNK: usize = 200;

/// A boolean column: `None` when absent from the header (stored value kept), else its value with
/// `default` for an empty field.
fn optional_bool(row: &RowView<'_>, column: &str, default: bool) -> Result<Option<bool>, RowError> {
    match row.get(column) {
        Some(_) => parse_bool(row, column, default).map(Some),
        None => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------- shipment

/// Columns of `shipment.csv` Kontor stores.
const SHIPMENT_USED: &[&str] = &[
    "shipment_method_key",
    "name",
    "carrier",
    "taxSetName",
    "tax_set_name",
    "is_active",
];
/// Spryker's plugin columns: Kontor computes prices, delivery times and availability itself.
const SHIPMENT_IGNORED: &[&str] = &[
    "pricePlugin",
    "deliveryTimePlugin",
    "availabilityPlugin",
    "price_plugin",
    "delivery_time_plugin",
    "availability_plugin",
];

/// One accepted row of `shipment.csv`.
pub(crate) struct ShipmentRow {
    key: String,
    name: String,
    carrier: String,
    /// `None` when no tax set column is in the header (stored value kept), `Some(None)` when empty.
    tax_set_id: Option<Option<i64>>,
    is_active: Option<bool>,
}

/// `shipment.csv`: `shipment_method_key,name,carrier,taxSetName`, upserted by `shipment_method_key`.
pub(crate) struct Shipments {
    tax_sets: HashMap<String, i64>,
    seen: HashMap<String, u64>,
}

impl Shipments {
    /// The tax set of a row, from `taxSetName` (Spryker's spelling) or `tax_set_name`; when a file has
    /// both, they must agree.
    fn tax_set(&self, row: &RowView<'_>) -> Result<Option<Option<i64>>, RowError> {
        let (column, name) = match (row.get("taxSetName"), row.get("tax_set_name")) {
            (None, None) => return Ok(None),
            (Some(camel), Some(snake)) if camel != snake => {
                return Err(RowError::new(
                    "tax_set_name",
                    format!("\"{snake}\" differs from taxSetName \"{camel}\""),
                ));
            }
            (Some(camel), _) => ("taxSetName", camel),
            (None, Some(snake)) => ("tax_set_name", snake),
        };
        if name.is_empty() {
            return Ok(Some(None));
        }
        lookup(&self.tax_sets, column, "tax set", name).map(|id| Some(Some(id)))
    }
}

impl DataSet for Shipments {
    type Row = ShipmentRow;
    const REQUIRED: &'static [&'static str] = &["shipment_method_key", "name", "carrier"];

    fn column_kind(column: &str) -> ColumnKind {
        if SHIPMENT_USED.contains(&column) {
            ColumnKind::Used
        } else if SHIPMENT_IGNORED.contains(&column) {
            ColumnKind::Ignored
        } else {
            ColumnKind::Unknown
        }
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            tax_sets: name_map!(connection, tax_set::Entity, name),
            seen: HashMap::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<ShipmentRow, RowError> {
        let key = required(row, "shipment_method_key")?;
        if let Some(first) = self.seen.get(key) {
            return Err(RowError::new(
                "shipment_method_key",
                format!("shipment method \"{key}\" appears twice in the file (first on line {first})"),
            ));
        }
        let name = required(row, "name")?;
        let carrier = required(row, "carrier")?;
        let tax_set_id = self.tax_set(row)?;
        let is_active = optional_bool(row, "is_active", true)?;
        self.seen.insert(key.to_owned(), row.line);
        Ok(ShipmentRow {
            key: key.to_owned(),
            name: name.to_owned(),
            carrier: carrier.to_owned(),
            tax_set_id,
            is_active,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<ShipmentRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let stored: HashMap<String, shipment_method::Model> = shipment_method::Entity::find()
            .filter(shipment_method::Column::MethodKey.is_in(rows.iter().map(|row| row.key.clone())))
            .all(transaction)
            .await?
            .into_iter()
            .map(|model| (model.method_key.clone(), model))
            .collect();
        let mut new_rows = Vec::new();
        for row in rows {
            let Some(found) = stored.get(&row.key) else {
                new_rows.push(shipment_method::ActiveModel {
                    id: NotSet,
                    method_key: Set(row.key),
                    name: Set(row.name),
                    carrier_name: Set(row.carrier),
                    delivery_time: Set(None),
                    tax_set_id: Set(row.tax_set_id.flatten()),
                    is_active: Set(row.is_active.unwrap_or(true)),
                    created_at: Set(batch.now),
                    updated_at: Set(batch.now),
                });
                batch.count(Outcome::Inserted);
                continue;
            };
            let mut changes = shipment_method::ActiveModel {
                id: Set(found.id),
                ..Default::default()
            };
            let mut changed = false;
            if found.name != row.name {
                changes.name = Set(row.name);
                changed = true;
            }
            if found.carrier_name != row.carrier {
                changes.carrier_name = Set(row.carrier);
                changed = true;
            }
            if let Some(tax_set_id) = row.tax_set_id
                && found.tax_set_id != tax_set_id
            {
                changes.tax_set_id = Set(tax_set_id);
                changed = true;
            }
            if let Some(is_active) = row.is_active
                && found.is_active != is_active
            {
                changes.is_active = Set(is_active);
                changed = true;
            }
            if !changed {
                batch.count(Outcome::Unchanged);
                continue;
            }
            changes.updated_at = Set(batch.now);
            shipment_method::Entity::update(changes).exec(transaction).await?;
            batch.count(Outcome::Updated);
        }
        for chunk in new_rows.chunks(INSERT_CHUNK) {
            shipment_method::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
        }
        Ok(())
    }
}

// --------------------------------------------------------------------------------- shipment price

/// One accepted row of `shipment_price.csv`.
pub(crate) struct ShipmentPriceRow {
    method_id: i64,
    store_id: i64,
    currency_id: i64,
    net: Option<i64>,
    gross: Option<i64>,
}

/// `shipment_price.csv`: `shipment_method_key,store,currency,value_net,value_gross`, upserted by
/// (method, store, currency).
pub(crate) struct ShipmentPrices {
    methods: HashMap<String, i64>,
    stores: HashMap<String, i64>,
    currencies: HashMap<String, i64>,
    store_currencies: HashSet<(i64, i64)>,
    seen: HashMap<(i64, i64, i64), u64>,
}

impl DataSet for ShipmentPrices {
    type Row = ShipmentPriceRow;
    const REQUIRED: &'static [&'static str] = &["shipment_method_key", "store", "currency", "value_net", "value_gross"];

    fn column_kind(column: &str) -> ColumnKind {
        if Self::REQUIRED.contains(&column) {
            ColumnKind::Used
        } else {
            ColumnKind::Unknown
        }
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        let store_currencies = store_currency::Entity::find()
            .all(connection)
            .await?
            .into_iter()
            .map(|link| (link.store_id, link.currency_id))
            .collect();
        Ok(Self {
            methods: name_map!(connection, shipment_method::Entity, method_key),
            stores: name_map!(connection, store::Entity, name),
            currencies: name_map!(connection, currency::Entity, code),
            store_currencies,
            seen: HashMap::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<ShipmentPriceRow, RowError> {
        let key = required(row, "shipment_method_key")?;
        let method_id = lookup(&self.methods, "shipment_method_key", "shipment method", key)?;
        let store_name = required(row, "store")?;
        let store_id = lookup(&self.stores, "store", "store", store_name)?;
        let currency_code = required(row, "currency")?;
        let currency_id = lookup(&self.currencies, "currency", "currency", currency_code)?;
        if !self.store_currencies.contains(&(store_id, currency_id)) {
            return Err(RowError::new(
                "currency",
                format!("store \"{store_name}\" does not sell in {currency_code}"),
            ));
        }
        let net = money(row, "value_net")?;
        let gross = money(row, "value_gross")?;
        if net.is_none() && gross.is_none() {
            return Err(RowError::new("value_gross", "value_net and value_gross are both empty"));
        }
        if let Some(first) = self.seen.insert((method_id, store_id, currency_id), row.line) {
            return Err(RowError::new(
                "currency",
                format!("the price of \"{key}\" in {store_name} and {currency_code} is also on line {first}"),
            ));
        }
        Ok(ShipmentPriceRow {
            method_id,
            store_id,
            currency_id,
            net,
            gross,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<ShipmentPriceRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let method_ids: HashSet<i64> = rows.iter().map(|row| row.method_id).collect();
        let stored: HashMap<(i64, i64, i64), shipment_method_price::Model> = shipment_method_price::Entity::find()
            .filter(shipment_method_price::Column::ShipmentMethodId.is_in(method_ids))
            .all(transaction)
            .await?
            .into_iter()
            .map(|price| ((price.shipment_method_id, price.store_id, price.currency_id), price))
            .collect();
        let mut new_rows = Vec::new();
        for row in rows {
            match stored.get(&(row.method_id, row.store_id, row.currency_id)) {
                Some(found) if found.net_amount == row.net && found.gross_amount == row.gross => {
                    batch.count(Outcome::Unchanged);
                }
                Some(found) => {
                    let changes = shipment_method_price::ActiveModel {
                        id: Set(found.id),
                        net_amount: Set(row.net),
                        gross_amount: Set(row.gross),
                        ..Default::default()
                    };
                    shipment_method_price::Entity::update(changes).exec(transaction).await?;
                    batch.count(Outcome::Updated);
                }
                None => {
                    new_rows.push(shipment_method_price::ActiveModel {
                        id: NotSet,
                        shipment_method_id: Set(row.method_id),
                        store_id: Set(row.store_id),
                        currency_id: Set(row.currency_id),
                        net_amount: Set(row.net),
                        gross_amount: Set(row.gross),
                    });
                    batch.count(Outcome::Inserted);
                }
            }
        }
        for chunk in new_rows.chunks(INSERT_CHUNK) {
            shipment_method_price::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------- payment method

/// Columns of `payment_method.csv` Kontor stores; `priority` is Kontor's (Spryker files have none).
const PAYMENT_USED: &[&str] = &[
    "payment_method_key",
    "payment_method_name",
    "payment_provider_key",
    "payment_provider_name",
    "is_active",
    "priority",
];

/// One accepted row of `payment_method.csv`.
pub(crate) struct PaymentMethodRow {
    key: String,
    name: String,
    provider_key: String,
    provider_name: String,
    /// `None` when the column is absent (stored value kept); empty is 0.
    priority: Option<i32>,
    is_active: Option<bool>,
}

/// `payment_method.csv`: `payment_method_key,payment_method_name,payment_provider_key,
/// payment_provider_name,is_active` (plus an optional `priority`), upserted by `payment_method_key`.
pub(crate) struct PaymentMethods {
    seen: HashMap<String, u64>,
    /// Provider key → its name and the line that named it first.
    providers: HashMap<String, (String, u64)>,
}

impl DataSet for PaymentMethods {
    type Row = PaymentMethodRow;
    const REQUIRED: &'static [&'static str] = &[
        "payment_method_key",
        "payment_method_name",
        "payment_provider_key",
        "payment_provider_name",
    ];

    fn column_kind(column: &str) -> ColumnKind {
        if PAYMENT_USED.contains(&column) {
            ColumnKind::Used
        } else {
            ColumnKind::Unknown
        }
    }

    async fn prepare(_: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            seen: HashMap::new(),
            providers: HashMap::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
        self.providers.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<PaymentMethodRow, RowError> {
        let key = required(row, "payment_method_key")?;
        if let Some(first) = self.seen.get(key) {
            return Err(RowError::new(
                "payment_method_key",
                format!("payment method \"{key}\" appears twice in the file (first on line {first})"),
            ));
        }
        let name = required(row, "payment_method_name")?;
        let provider_key = required(row, "payment_provider_key")?;
        let provider_name = required(row, "payment_provider_name")?;
        if let Some((other, line)) = self.providers.get(provider_key)
            && other != provider_name
        {
            return Err(RowError::new(
                "payment_provider_name",
                format!("provider \"{provider_key}\" is named \"{other}\" on line {line}"),
            ));
        }
        let priority = match row.get("priority") {
            None => None,
            Some("") => Some(0),
            Some(raw) => Some(
                raw.parse::<i32>()
                    .map_err(|_| RowError::new("priority", format!("\"{raw}\" is not a whole number")))?,
            ),
        };
        let is_active = optional_bool(row, "is_active", true)?;
        self.seen.insert(key.to_owned(), row.line);
        self.providers
            .entry(provider_key.to_owned())
            .or_insert_with(|| (provider_name.to_owned(), row.line));
        Ok(PaymentMethodRow {
            key: key.to_owned(),
            name: name.to_owned(),
            provider_key: provider_key.to_owned(),
            provider_name: provider_name.to_owned(),
            priority,
            is_active,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<PaymentMethodRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let stored: HashMap<String, payment_method::Model> = payment_method::Entity::find()
            .filter(payment_method::Column::MethodKey.is_in(rows.iter().map(|row| row.key.clone())))
            .all(transaction)
            .await?
            .into_iter()
            .map(|model| (model.method_key.clone(), model))
            .collect();
        let mut new_rows = Vec::new();
        for row in rows {
            let Some(found) = stored.get(&row.key) else {
                new_rows.push(payment_method::ActiveModel {
                    id: NotSet,
                    method_key: Set(row.key),
                    name: Set(row.name),
                    provider_key: Set(row.provider_key),
                    provider_name: Set(row.provider_name),
                    priority: Set(row.priority.unwrap_or(0)),
                    is_active: Set(row.is_active.unwrap_or(true)),
                    created_at: Set(batch.now),
                    updated_at: Set(batch.now),
                });
                batch.count(Outcome::Inserted);
                continue;
            };
            let mut changes = payment_method::ActiveModel {
                id: Set(found.id),
                ..Default::default()
            };
            let mut changed = false;
            for (current, wanted, column) in [
                (&found.name, row.name, &mut changes.name),
                (&found.provider_key, row.provider_key, &mut changes.provider_key),
                (&found.provider_name, row.provider_name, &mut changes.provider_name),
            ] {
                if *current != wanted {
                    *column = Set(wanted);
                    changed = true;
                }
            }
            if let Some(priority) = row.priority
                && found.priority != priority
            {
                changes.priority = Set(priority);
                changed = true;
            }
            if let Some(is_active) = row.is_active
                && found.is_active != is_active
            {
                changes.is_active = Set(is_active);
                changed = true;
            }
            if !changed {
                batch.count(Outcome::Unchanged);
                continue;
            }
            changes.updated_at = Set(batch.now);
            payment_method::Entity::update(changes).exec(transaction).await?;
            batch.count(Outcome::Updated);
        }
        for chunk in new_rows.chunks(INSERT_CHUNK) {
            payment_method::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------- method ↔ store

/// `shipment_method_store.csv` (`shipment_method_key,store`) and `payment_method_store.csv`
/// (`payment_method_key,store`): which stores offer a method. Links are only added.
pub(crate) struct MethodStoresOf<const PAYMENT: bool> {
    methods: HashMap<String, i64>,
    stores: HashMap<String, i64>,
    seen: HashMap<(i64, i64), u64>,
}

pub(crate) type ShipmentMethodStores = MethodStoresOf<false>;
pub(crate) type PaymentMethodStores = MethodStoresOf<true>;

impl<const PAYMENT: bool> MethodStoresOf<PAYMENT> {
    /// The column naming the method.
    const KEY: &'static str = if PAYMENT {
        "payment_method_key"
    } else {
        "shipment_method_key"
    };
    const WHAT: &'static str = if PAYMENT { "payment method" } else { "shipment method" };

    /// The stored links of these methods, as (method id, store id).
    async fn stored_links(
        transaction: &DatabaseTransaction,
        method_ids: HashSet<i64>,
    ) -> Result<HashSet<(i64, i64)>, DbErr> {
        let links = if PAYMENT {
            payment_method_store::Entity::find()
                .filter(payment_method_store::Column::PaymentMethodId.is_in(method_ids))
                .all(transaction)
                .await?
                .into_iter()
                .map(|link| (link.payment_method_id, link.store_id))
                .collect()
        } else {
            shipment_method_store::Entity::find()
                .filter(shipment_method_store::Column::ShipmentMethodId.is_in(method_ids))
                .all(transaction)
                .await?
                .into_iter()
                .map(|link| (link.shipment_method_id, link.store_id))
                .collect()
        };
        Ok(links)
    }

    async fn insert_links(transaction: &DatabaseTransaction, links: &[(i64, i64)]) -> Result<(), DbErr> {
        for chunk in links.chunks(INSERT_CHUNK) {
            if PAYMENT {
                let models = chunk
                    .iter()
                    .map(|(method_id, store_id)| payment_method_store::ActiveModel {
                        payment_method_id: Set(*method_id),
                        store_id: Set(*store_id),
                    });
                payment_method_store::Entity::insert_many(models)
                    .exec_without_returning(transaction)
                    .await?;
            } else {
                let models = chunk
                    .iter()
                    .map(|(method_id, store_id)| shipment_method_store::ActiveModel {
                        shipment_method_id: Set(*method_id),
                        store_id: Set(*store_id),
                    });
                shipment_method_store::Entity::insert_many(models)
                    .exec_without_returning(transaction)
                    .await?;
            }
        }
        Ok(())
    }
}

impl<const PAYMENT: bool> DataSet for MethodStoresOf<PAYMENT> {
    /// (method id, store id).
    type Row = (i64, i64);
    const REQUIRED: &'static [&'static str] = if PAYMENT {
        &["payment_method_key", "store"]
    } else {
        &["shipment_method_key", "store"]
    };

    fn column_kind(column: &str) -> ColumnKind {
        if Self::REQUIRED.contains(&column) {
            ColumnKind::Used
        } else {
            ColumnKind::Unknown
        }
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        let methods = if PAYMENT {
            name_map!(connection, payment_method::Entity, method_key)
        } else {
            name_map!(connection, shipment_method::Entity, method_key)
        };
        Ok(Self {
            methods,
            stores: name_map!(connection, store::Entity, name),
            seen: HashMap::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<(i64, i64), RowError> {
        let key = required(row, Self::KEY)?;
        let method_id = lookup(&self.methods, Self::KEY, Self::WHAT, key)?;
        let store_name = required(row, "store")?;
        let store_id = lookup(&self.stores, "store", "store", store_name)?;
        if let Some(first) = self.seen.insert((method_id, store_id), row.line) {
            return Err(RowError::new(
                "store",
                format!("\"{key}\" in {store_name} is also on line {first}"),
            ));
        }
        Ok((method_id, store_id))
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<(i64, i64)>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let method_ids = rows.iter().map(|(method_id, _)| *method_id).collect();
        let stored = Self::stored_links(transaction, method_ids).await?;
        let mut new_links = Vec::new();
        for link in rows {
            if stored.contains(&link) {
                batch.count(Outcome::Unchanged);
            } else {
                new_links.push(link);
                batch.count(Outcome::Inserted);
            }
        }
        Self::insert_links(transaction, &new_links).await
    }
}
