//! Prices and stock: many rows, keyed by product, so each batch loads its stored rows with one query
//! per table, inserts new ones with one multi-row insert and updates only the rows that differ.
//!
//! Outbox routing mirrors `kontor-db`: price_product → `fk_product_concrete`, `fk_product_abstract`,
//! and `fk_price_product_abstract` for abstract-level prices; stock_product → `fk_product_concrete`,
//! `fk_product_abstract`.

use super::config::lookup;
use super::{money, parse_bool, required};
use crate::importer::{Batch, ColumnKind, DataSet, Outcome, RowError};
use crate::name_map;
use crate::reader::{Header, RowView};
use kontor_db::entity::{
    currency, price_product, price_type, product_abstract, product_concrete, stock_product, store, store_currency,
    warehouse,
};
use kontor_domain::outbox::ChangeKind;
use kontor_domain::pricing::{VolumePrice, encode_volume_prices};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use std::collections::{HashMap, HashSet};

/// Concrete SKU → (id, abstract id).
async fn concretes(connection: &DatabaseTransaction) -> Result<HashMap<String, (i64, i64)>, DbErr> {
    Ok(product_concrete::Entity::find()
        .all(connection)
        .await?
        .into_iter()
        .map(|row| (row.sku, (row.id, row.product_abstract_id)))
        .collect())
}

// ------------------------------------------------------------------------------------------ prices

pub(crate) struct PriceRow {
    key: String,
    abstract_id: i64,
    concrete_id: Option<i64>,
    price_type: String,
    store_id: i64,
    currency_id: i64,
    net: Option<i64>,
    gross: Option<i64>,
    /// The stored form of the volume prices (`price_product.volume_prices`).
    volume_prices: Option<String>,
}

/// `product_price.csv`. An abstract-level price has an empty `concrete_sku`; a concrete-level one
/// may leave `abstract_sku` empty, which must match when given. Unknown price types are created.
pub(crate) struct Prices {
    abstracts: HashMap<String, i64>,
    concretes: HashMap<String, (i64, i64)>,
    stores: HashMap<String, i64>,
    currencies: HashMap<String, i64>,
    store_currencies: HashSet<(i64, i64)>,
    price_types: HashMap<String, i64>,
    seen: HashMap<String, u64>,
    new_types: HashSet<String>,
}

/// `[{"quantity":5,"net_price":10840,"gross_price":11900}, …]` (Spryker's `price_data.volume_prices`; tiers
/// in any order, an amount as a number, a digit string or null) → volume prices ascending by quantity.
/// `None` when it is not such a list, a quantity is below 2 or repeated, an amount is negative, or a tier
/// has no amount at all.
fn parse_volume_prices(raw: &str) -> Option<Vec<VolumePrice>> {
    use serde_json::Value;
    let amount = |tier: &Value, field: &str| -> Result<Option<i64>, ()> {
        match tier.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number.as_i64().filter(|value| *value >= 0).map(Some).ok_or(()),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => text.parse::<i64>().ok().filter(|value| *value >= 0).map(Some).ok_or(()),
            Some(_) => Err(()),
        }
    };
    let Ok(Value::Array(tiers)) = serde_json::from_str::<Value>(raw) else {
        return None;
    };
    let mut prices = Vec::with_capacity(tiers.len());
    for tier in &tiers {
        let quantity = tier
            .get("quantity")
            .and_then(Value::as_u64)
            .and_then(|quantity| u32::try_from(quantity).ok())
            .filter(|quantity| *quantity >= 2)?;
        let (net_amount, gross_amount) = (amount(tier, "net_price").ok()?, amount(tier, "gross_price").ok()?);
        if net_amount.is_none() && gross_amount.is_none() {
            return None;
        }
        prices.push(VolumePrice {
            quantity,
            net_amount,
            gross_amount,
        });
    }
    prices.sort_by_key(|price| price.quantity);
    if prices.windows(2).any(|pair| pair[0].quantity == pair[1].quantity) {
        return None;
    }
    Some(prices)
}

impl DataSet for Prices {
    type Row = PriceRow;
    const REQUIRED: &'static [&'static str] = &[
        "abstract_sku",
        "concrete_sku",
        "price_type",
        "store",
        "currency",
        "value_net",
        "value_gross",
    ];

    fn column_kind(column: &str) -> ColumnKind {
        if Self::REQUIRED.contains(&column) || column == "price_data.volume_prices" {
            ColumnKind::Used
        } else if column.starts_with("price_data") {
            ColumnKind::Ignored
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
            abstracts: name_map!(connection, product_abstract::Entity, sku),
            concretes: concretes(connection).await?,
            stores: name_map!(connection, store::Entity, name),
            currencies: name_map!(connection, currency::Entity, code),
            store_currencies,
            price_types: name_map!(connection, price_type::Entity, name),
            seen: HashMap::new(),
            new_types: HashSet::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, warnings: &mut Vec<RowError>) -> Result<PriceRow, RowError> {
        let abstract_sku = row.value("abstract_sku");
        let (abstract_id, concrete_id, owner) = match row.value("concrete_sku") {
            Some(sku) => {
                let (concrete_id, abstract_id) =
                    self.concretes.get(sku).copied().ok_or_else(|| {
                        RowError::new("concrete_sku", format!("concrete product \"{sku}\" is unknown"))
                    })?;
                if let Some(given) = abstract_sku
                    && self.abstracts.get(given) != Some(&abstract_id)
                {
                    return Err(RowError::new(
                        "abstract_sku",
                        format!("\"{given}\" is not the abstract product of \"{sku}\""),
                    ));
                }
                (abstract_id, Some(concrete_id), format!("c{concrete_id}"))
            }
            None => {
                let sku = abstract_sku
                    .ok_or_else(|| RowError::new("abstract_sku", "abstract_sku or concrete_sku must be given"))?;
                let id = lookup(&self.abstracts, "abstract_sku", "abstract product", sku)?;
                (id, None, format!("a{id}"))
            }
        };
        let type_name = required(row, "price_type")?;
        let store_id = lookup(&self.stores, "store", "store", required(row, "store")?)?;
        let currency_code = required(row, "currency")?;
        let currency_id = lookup(&self.currencies, "currency", "currency", currency_code)?;
        if !self.store_currencies.contains(&(store_id, currency_id)) {
            return Err(RowError::new(
                "currency",
                format!(
                    "store \"{}\" does not sell in {currency_code}",
                    row.get("store").unwrap_or("")
                ),
            ));
        }
        let net = money(row, "value_net")?;
        let gross = money(row, "value_gross")?;
        if net.is_none() && gross.is_none() {
            return Err(RowError::new("value_gross", "value_net and value_gross are both empty"));
        }
        let volume_prices = match row.value("price_data.volume_prices") {
            None => None,
            Some(raw) => match parse_volume_prices(raw) {
                Some(prices) => encode_volume_prices(&prices),
                None => {
                    warnings.push(RowError::new(
                        "price_data.volume_prices",
                        "not a JSON list of volume prices ([{\"quantity\":5,\"net_price\":…,\"gross_price\":…}], \
                         quantities of at least 2, each once), left empty",
                    ));
                    None
                }
            },
        };
        let type_key = self
            .price_types
            .get(type_name)
            .map_or_else(|| format!("new:{type_name}"), i64::to_string);
        let key = format!("{owner}:{type_key}:{store_id}:{currency_id}");
        if let Some(first) = self.seen.insert(key.clone(), row.line) {
            return Err(RowError::new(
                "price_type",
                format!("the same price appears on line {first}"),
            ));
        }
        if !self.price_types.contains_key(type_name) && self.new_types.insert(type_name.to_owned()) {
            warnings.push(RowError::new(
                "price_type",
                format!("price type \"{type_name}\" is new and will be created"),
            ));
        }
        Ok(PriceRow {
            key: owner,
            abstract_id,
            concrete_id,
            price_type: type_name.to_owned(),
            store_id,
            currency_id,
            net,
            gross,
            volume_prices,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<PriceRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        for row in &rows {
            if !self.price_types.contains_key(&row.price_type) {
                let created = price_type::ActiveModel {
                    name: Set(row.price_type.clone()),
                    price_mode: Set("BOTH".to_owned()),
                    ..Default::default()
                }
                .insert(transaction)
                .await?;
                self.price_types.insert(row.price_type.clone(), created.id);
            }
        }
        let keyed: Vec<(String, PriceRow)> = rows
            .into_iter()
            .map(|row| {
                let type_id = self.price_types.get(&row.price_type).copied().unwrap_or_default();
                (
                    format!("{}:{type_id}:{}:{}", row.key, row.store_id, row.currency_id),
                    row,
                )
            })
            .collect();
        let stored: HashMap<String, price_product::Model> = price_product::Entity::find()
            .filter(price_product::Column::PriceKey.is_in(keyed.iter().map(|(key, _)| key.clone())))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| (row.price_key.clone(), row))
            .collect();
        let mut new_rows = Vec::new();
        let mut new_keys = Vec::new();
        for (key, row) in &keyed {
            match stored.get(key) {
                Some(found)
                    if found.net_amount == row.net
                        && found.gross_amount == row.gross
                        && found.volume_prices == row.volume_prices =>
                {
                    batch.count(Outcome::Unchanged);
                }
                Some(found) => {
                    let mut model = found.clone().into_active_model();
                    model.net_amount = Set(row.net);
                    model.gross_amount = Set(row.gross);
                    model.volume_prices = Set(row.volume_prices.clone());
                    model.updated_at = Set(batch.now);
                    model.update(transaction).await?;
                    touch_price(batch, found.id, ChangeKind::Update, row);
                    batch.count(Outcome::Updated);
                }
                None => {
                    new_keys.push(key.clone());
                    new_rows.push(price_product::ActiveModel {
                        price_key: Set(key.clone()),
                        product_abstract_id: Set(row.concrete_id.is_none().then_some(row.abstract_id)),
                        product_concrete_id: Set(row.concrete_id),
                        price_type_id: Set(self.price_types.get(&row.price_type).copied().unwrap_or_default()),
                        store_id: Set(row.store_id),
                        currency_id: Set(row.currency_id),
                        net_amount: Set(row.net),
                        gross_amount: Set(row.gross),
                        volume_prices: Set(row.volume_prices.clone()),
                        created_at: Set(batch.now),
                        updated_at: Set(batch.now),
                        ..Default::default()
                    });
                    batch.count(Outcome::Inserted);
                }
            }
        }
        if new_rows.is_empty() {
            return Ok(());
        }
        price_product::Entity::insert_many(new_rows)
            .exec_without_returning(transaction)
            .await?;
        let by_key: HashMap<&String, &PriceRow> = keyed.iter().map(|(key, row)| (key, row)).collect();
        for created in price_product::Entity::find()
            .filter(price_product::Column::PriceKey.is_in(new_keys))
            .all(transaction)
            .await?
        {
            if let Some(row) = by_key.get(&created.price_key) {
                touch_price(batch, created.id, ChangeKind::Create, row);
            }
        }
        Ok(())
    }
}

fn touch_price(batch: &mut Batch, id: i64, kind: ChangeKind, row: &PriceRow) {
    let mut keys = vec![("fk_product_abstract", row.abstract_id)];
    match row.concrete_id {
        Some(concrete_id) => keys.push(("fk_product_concrete", concrete_id)),
        None => keys.push(("fk_price_product_abstract", row.abstract_id)),
    }
    batch.touch("price_product", id, kind, &keys);
}

// ------------------------------------------------------------------------------------------- stock

pub(crate) struct StockRow {
    concrete_id: i64,
    abstract_id: i64,
    warehouse_id: i64,
    quantity: i64,
    never_out: Option<bool>,
}

/// `product_stock.csv`: `concrete_sku,name,quantity,is_never_out_of_stock,is_bundle`. Concretes
/// without a stock row are simply not available; nothing is written for them.
pub(crate) struct Stock {
    concretes: HashMap<String, (i64, i64)>,
    warehouses: HashMap<String, i64>,
    seen: HashMap<(i64, i64), u64>,
}

/// `25` or `2.5000000000` → whole units; at most 10 fraction digits; fractions are dropped (stock is
/// stored in whole units) with a warning.
fn quantity(raw: &str, warnings: &mut Vec<RowError>) -> Result<i64, RowError> {
    let invalid = || {
        RowError::new(
            "quantity",
            format!("\"{raw}\" is not a quantity ≥ 0 (up to 10 fraction digits)"),
        )
    };
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty() || fraction.len() > 10 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    let whole = whole
        .parse::<i64>()
        .ok()
        .filter(|value| *value >= 0)
        .ok_or_else(invalid)?;
    if fraction.bytes().any(|byte| byte != b'0') {
        warnings.push(RowError::new(
            "quantity",
            format!("\"{raw}\" stored as {whole} (whole units)"),
        ));
    }
    Ok(whole)
}

impl DataSet for Stock {
    type Row = StockRow;
    const REQUIRED: &'static [&'static str] = &["concrete_sku", "name", "quantity"];

    fn column_kind(column: &str) -> ColumnKind {
        match column {
            "concrete_sku" | "name" | "quantity" | "is_never_out_of_stock" => ColumnKind::Used,
            "is_bundle" => ColumnKind::Ignored,
            _ => ColumnKind::Unknown,
        }
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        Ok(Self {
            concretes: concretes(connection).await?,
            warehouses: name_map!(connection, warehouse::Entity, name),
            seen: HashMap::new(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, warnings: &mut Vec<RowError>) -> Result<StockRow, RowError> {
        let sku = required(row, "concrete_sku")?;
        let (concrete_id, abstract_id) = self
            .concretes
            .get(sku)
            .copied()
            .ok_or_else(|| RowError::new("concrete_sku", format!("concrete product \"{sku}\" is unknown")))?;
        let warehouse_id = lookup(&self.warehouses, "name", "warehouse", required(row, "name")?)?;
        let quantity = quantity(required(row, "quantity")?, warnings)?;
        if let Some(first) = self.seen.insert((concrete_id, warehouse_id), row.line) {
            return Err(RowError::new(
                "name",
                format!("stock of \"{sku}\" in this warehouse is also on line {first}"),
            ));
        }
        let never_out = match row.get("is_never_out_of_stock") {
            Some(_) => Some(parse_bool(row, "is_never_out_of_stock", false)?),
            None => None,
        };
        Ok(StockRow {
            concrete_id,
            abstract_id,
            warehouse_id,
            quantity,
            never_out,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<StockRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let stored: HashMap<(i64, i64), stock_product::Model> = stock_product::Entity::find()
            .filter(stock_product::Column::ProductConcreteId.is_in(rows.iter().map(|row| row.concrete_id)))
            .all(transaction)
            .await?
            .into_iter()
            .map(|row| ((row.product_concrete_id, row.warehouse_id), row))
            .collect();
        let mut new_rows = Vec::new();
        let mut abstract_of = HashMap::new();
        for row in &rows {
            abstract_of.insert(row.concrete_id, row.abstract_id);
            match stored.get(&(row.concrete_id, row.warehouse_id)) {
                Some(found) => {
                    let never_out = row.never_out.unwrap_or(found.is_never_out_of_stock);
                    if found.quantity == row.quantity && found.is_never_out_of_stock == never_out {
                        batch.count(Outcome::Unchanged);
                        continue;
                    }
                    let mut model = found.clone().into_active_model();
                    model.quantity = Set(row.quantity);
                    model.is_never_out_of_stock = Set(never_out);
                    model.updated_at = Set(batch.now);
                    model.update(transaction).await?;
                    let keys = [
                        ("fk_product_concrete", row.concrete_id),
                        ("fk_product_abstract", row.abstract_id),
                    ];
                    batch.touch("stock_product", found.id, ChangeKind::Update, &keys);
                    batch.count(Outcome::Updated);
                }
                None => {
                    new_rows.push(stock_product::ActiveModel {
                        product_concrete_id: Set(row.concrete_id),
                        warehouse_id: Set(row.warehouse_id),
                        quantity: Set(row.quantity),
                        is_never_out_of_stock: Set(row.never_out.unwrap_or(false)),
                        created_at: Set(batch.now),
                        updated_at: Set(batch.now),
                        ..Default::default()
                    });
                    batch.count(Outcome::Inserted);
                }
            }
        }
        if new_rows.is_empty() {
            return Ok(());
        }
        stock_product::Entity::insert_many(new_rows)
            .exec_without_returning(transaction)
            .await?;
        for created in stock_product::Entity::find()
            .filter(stock_product::Column::ProductConcreteId.is_in(rows.iter().map(|row| row.concrete_id)))
            .all(transaction)
            .await?
        {
            if stored.contains_key(&(created.product_concrete_id, created.warehouse_id)) {
                continue;
            }
            let abstract_id = abstract_of
                .get(&created.product_concrete_id)
                .copied()
                .unwrap_or_default();
            let keys = [
                ("fk_product_concrete", created.product_concrete_id),
                ("fk_product_abstract", abstract_id),
            ];
            batch.touch("stock_product", created.id, ChangeKind::Create, &keys);
        }
        Ok(())
    }
}
