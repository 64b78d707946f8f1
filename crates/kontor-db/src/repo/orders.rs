//! SQL storage of checkout and sales (`OrderRepository`): shipment and payment methods of a store,
//! placing an order in one transaction, and reading orders back in batches.
//!
//! Overselling is impossible: placing an order first locks the stock rows of the ordered SKUs in the
//! store's active warehouses (`SELECT … FOR UPDATE` in id order on PostgreSQL and MariaDB; SQLite has
//! one writer, taken up front), then reads the reservations with a locking read, so two checkouts of
//! the same SKU run one after the other and the second sees the first one's reservation. The cart row
//! is locked as well and must still hold exactly the priced lines, so an edit racing the checkout
//! cannot slip in unpriced quantities.

use super::carts::{Attempt, storage as cart_storage, tax_rate_of};
use super::{OutboxRow, SqlDatabase, names_by_id, record_changes, rows_in};
use crate::entity::carts::{cart, cart_item};
use crate::entity::orders::{
    oms_event_timeout, oms_product_reservation, oms_state_history, payment_method, payment_method_store, sales_expense,
    sales_order, sales_order_address, sales_order_item, sales_order_reference_sequence, sales_payment, sales_shipment,
    shipment_method, shipment_method_price, shipment_method_store,
};
use crate::entity::{
    currency, locale, product_abstract_localized, product_concrete, product_concrete_localized, stock_product,
    tax_rate, warehouse, warehouse_store,
};
use crate::repo::resource::ForeignKeys;
use async_trait::async_trait;
use kontor_domain::DomainError;
use kontor_domain::cart::{CartError, PriceMode, StoreSettings, new_cart_uuid, tax_percent};
use kontor_domain::checkout::{
    NewOrder, OrderFilter, OrderRepository, PaymentMethod, PlaceOutcome, ShipmentMethod, Shortage, StoredExpense,
    StoredOrder, StoredOrderItem, StoredPayment, StoredShipment, owner_key, payment_status,
};
use kontor_domain::gateway::{OrderAddress, OrderTotals};
use kontor_domain::outbox::{ChangeKind, RESERVATION_QUANTITY_EVENT};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, OnConflict, Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How often a placement that lost a race (deadlock, unique violation) is retried.
const MAX_RETRIES: u32 = 5;

/// The store's active warehouses.
pub(crate) async fn active_warehouses<C: ConnectionTrait>(connection: &C, store_id: i64) -> Result<Vec<i64>, DbErr> {
    let linked = Query::select()
        .column(warehouse_store::Column::WarehouseId)
        .from(warehouse_store::Entity)
        .and_where(warehouse_store::Column::StoreId.eq(store_id))
        .to_owned();
    warehouse::Entity::find()
        .select_only()
        .column(warehouse::Column::Id)
        .filter(warehouse::Column::Id.in_subquery(linked))
        .filter(warehouse::Column::IsActive.eq(true))
        .order_by_asc(warehouse::Column::Id)
        .into_tuple()
        .all(connection)
        .await
}

/// Reserved quantities of `skus` in a store: `{sku → quantity}`.
pub(crate) async fn reserved_quantities<C: ConnectionTrait>(
    connection: &C,
    store_id: i64,
    skus: &[String],
    locking: bool,
) -> Result<HashMap<String, i64>, DbErr> {
    let mut reserved = HashMap::new();
    for chunk in skus.chunks(1000) {
        let mut query = oms_product_reservation::Entity::find()
            .filter(oms_product_reservation::Column::StoreId.eq(store_id))
            .filter(oms_product_reservation::Column::Sku.is_in(chunk.iter().cloned()));
        if locking {
            query = query.lock_exclusive();
        }
        for row in query.all(connection).await? {
            reserved.insert(row.sku, Ord::max(row.quantity, 0));
        }
    }
    Ok(reserved)
}

/// Adds `delta` (may be negative) to the reservation of a SKU in a store, never below zero, and
/// announces the availability change of its abstract product.
pub(crate) async fn adjust_reservation(
    transaction: &DatabaseTransaction,
    sku: &str,
    store_id: i64,
    delta: i64,
    now: i64,
) -> Result<(), DbErr> {
    if delta == 0 {
        return Ok(());
    }
    change_reservation(transaction, sku, store_id, delta).await?;
    announce_availability(transaction, &[sku.to_owned()], now).await
}

/// Adds `delta` (may be negative) to the reservation of a SKU in a store, never below zero; the
/// caller announces the change.
async fn change_reservation(
    transaction: &DatabaseTransaction,
    sku: &str,
    store_id: i64,
    delta: i64,
) -> Result<(), DbErr> {
    let updated = oms_product_reservation::Entity::update_many()
        .col_expr(
            oms_product_reservation::Column::Quantity,
            Expr::col(oms_product_reservation::Column::Quantity).add(delta),
        )
        .filter(oms_product_reservation::Column::Sku.eq(sku))
        .filter(oms_product_reservation::Column::StoreId.eq(store_id))
        .exec(transaction)
        .await?;
    if updated.rows_affected == 0 {
        oms_product_reservation::ActiveModel {
            id: NotSet,
            sku: Set(sku.to_owned()),
            store_id: Set(store_id),
            quantity: Set(Ord::max(delta, 0)),
        }
        .insert(transaction)
        .await?;
    } else if delta < 0 {
        // Rounding of history (a state made reserved later) must never leave a negative reservation.
        oms_product_reservation::Entity::update_many()
            .col_expr(oms_product_reservation::Column::Quantity, Expr::value(0_i64))
            .filter(oms_product_reservation::Column::Sku.eq(sku))
            .filter(oms_product_reservation::Column::StoreId.eq(store_id))
            .filter(oms_product_reservation::Column::Quantity.lt(0))
            .exec(transaction)
            .await?;
    }
    Ok(())
}

/// Outbox rows that make the availability and search documents of the SKUs' products re-publish.
pub(crate) async fn announce_availability(
    transaction: &DatabaseTransaction,
    skus: &[String],
    now: i64,
) -> Result<(), DbErr> {
    let concretes: Vec<(i64, i64)> = product_concrete::Entity::find()
        .select_only()
        .column(product_concrete::Column::Id)
        .column(product_concrete::Column::ProductAbstractId)
        .filter(product_concrete::Column::Sku.is_in(skus.iter().cloned()))
        .into_tuple()
        .all(transaction)
        .await?;
    let event = ChangeKind::Update.event_name(RESERVATION);
    let rows = concretes
        .into_iter()
        .map(|(concrete_id, abstract_id)| reservation_change(concrete_id, abstract_id, event.clone()))
        .collect();
    record_changes(transaction, rows, now)
        .await
        .map_err(|error| DbErr::Custom(error.to_string()))
}

/// Inserts an order's items and answers their ids in the order of `uuids` (the items' own): one
/// statement where the database returns what it inserted, else the insert and a read by order.
async fn insert_items(
    transaction: &DatabaseTransaction,
    order_id: i64,
    items: Vec<sales_order_item::ActiveModel>,
    uuids: &[String],
) -> Result<Vec<i64>, DbErr> {
    let by_uuid: HashMap<String, i64> = if transaction.support_returning() {
        let query = sales_order_item::Entity::insert_many(items)
            .into_query()
            .returning(Query::returning().columns([sales_order_item::Column::Uuid, sales_order_item::Column::Id]))
            .to_owned();
        let rows = transaction.query_all(&query).await?;
        rows.iter()
            .map(|row| Ok((row.try_get("", "uuid")?, row.try_get("", "id")?)))
            .collect::<Result<_, DbErr>>()?
    } else {
        sales_order_item::Entity::insert_many(items)
            .exec_without_returning(transaction)
            .await?;
        sales_order_item::Entity::find()
            .select_only()
            .column(sales_order_item::Column::Uuid)
            .column(sales_order_item::Column::Id)
            .filter(sales_order_item::Column::OrderId.eq(order_id))
            .into_tuple::<(String, i64)>()
            .all(transaction)
            .await?
            .into_iter()
            .collect()
    };
    uuids
        .iter()
        .map(|uuid| {
            by_uuid
                .get(uuid)
                .copied()
                .ok_or_else(|| DbErr::Custom(format!("order item {uuid} was not written")))
        })
        .collect()
}

/// Inserts an order's addresses and answers their ids in the same order: one statement where the
/// database returns what it inserted (ids follow the rows' order, as they are drawn from the sequence
/// row by row), else one insert each.
async fn insert_addresses(
    transaction: &DatabaseTransaction,
    addresses: Vec<sales_order_address::ActiveModel>,
) -> Result<Vec<i64>, DbErr> {
    if transaction.support_returning() {
        let count = addresses.len();
        let query = sales_order_address::Entity::insert_many(addresses)
            .into_query()
            .returning(Query::returning().columns([sales_order_address::Column::Id]))
            .to_owned();
        let mut ids: Vec<i64> = transaction
            .query_all(&query)
            .await?
            .iter()
            .map(|row| row.try_get("", "id"))
            .collect::<Result<_, DbErr>>()?;
        ids.sort_unstable();
        if ids.len() != count {
            return Err(DbErr::Custom(format!(
                "{count} addresses inserted, {} ids returned",
                ids.len()
            )));
        }
        return Ok(ids);
    }
    let mut ids = Vec::with_capacity(addresses.len());
    for address in addresses {
        ids.push(
            sales_order_address::Entity::insert(address)
                .exec(transaction)
                .await?
                .last_insert_id,
        );
    }
    Ok(ids)
}

/// The outbox resource of reservation changes.
const RESERVATION: &str = "oms_product_reservation";

/// The outbox row of a changed reservation of a concrete product.
fn reservation_change(concrete_id: i64, abstract_id: i64, event: String) -> OutboxRow<'static> {
    let mut keys = ForeignKeys::default();
    keys.add("fk_product_abstract", Some(abstract_id));
    keys.add("fk_product_concrete", Some(concrete_id));
    OutboxRow {
        resource: RESERVATION,
        entity_id: concrete_id,
        event,
        foreign_keys: keys.to_json(),
    }
}

/// Whether a concrete is in stock in a store: some units beyond those reserved, or never out of stock.
/// The availability and search documents decide it the same way.
fn in_stock(stock: i64, never_out_of_stock: bool, reserved: i64) -> bool {
    never_out_of_stock || stock > reserved
}

impl SqlDatabase {
    async fn try_place_order(&self, order: &NewOrder) -> Result<PlaceOutcome, Attempt> {
        // Read-only lookups happen before the write transaction, so its locks are held shorter.
        let mut skus: Vec<String> = order.items.iter().map(|item| item.sku.clone()).collect();
        skus.sort();
        skus.dedup();
        let connection = self.connection();
        let locale_id = self
            .cached_id("locale", &order.locale, || {
                locale::Entity::find()
                    .select_only()
                    .column(locale::Column::Id)
                    .filter(locale::Column::Name.eq(order.locale.as_str()))
                    .into_tuple()
                    .one(connection)
            })
            .await?;
        let names = match locale_id {
            Some(locale_id) => item_names(connection, locale_id, &skus).await?,
            None => HashMap::new(),
        };
        // On the servers the number comes before the transaction: reserving a block needs a
        // connection of its own, which must not be awaited while holding one (the pool could run dry).
        let sqlite = self.backend() == sea_orm::DbBackend::Sqlite;
        let early_number = if sqlite {
            None
        } else {
            Some(self.take_order_number(None, order.store.id.0).await?)
        };
        let (transaction, _turn) = self.write_transaction().await?;
        let owner = owner_key(&order.owner);
        if let Some(key) = &order.idempotency_key
            && let Some(existing) = sales_order::Entity::find()
                .filter(sales_order::Column::OwnerKey.eq(owner.as_str()))
                .filter(sales_order::Column::IdempotencyKey.eq(key.as_str()))
                .one(&transaction)
                .await?
        {
            transaction.commit().await?;
            return Ok(PlaceOutcome::Existing {
                order_id: existing.id,
                order_reference: existing.order_reference,
            });
        }

        // The cart must still hold exactly the lines that were priced.
        let Some(cart_row) = cart::Entity::find()
            .filter(cart::Column::Uuid.eq(order.cart_uuid.as_str()))
            .lock_exclusive()
            .one(&transaction)
            .await?
        else {
            return Ok(PlaceOutcome::CartChanged);
        };
        let lines = cart_item::Entity::find()
            .filter(cart_item::Column::CartId.eq(cart_row.id))
            .lock_exclusive()
            .all(&transaction)
            .await?;
        let in_cart: BTreeMap<&str, i64> = lines.iter().map(|line| (line.sku.as_str(), line.quantity)).collect();
        let ordered: BTreeMap<&str, i64> = order
            .items
            .iter()
            .map(|item| (item.sku.as_str(), item.quantity))
            .collect();
        if in_cart != ordered {
            return Ok(PlaceOutcome::CartChanged);
        }

        // Lock the stock, then check it against what is already reserved.
        let store_id = order.store.id.0;
        let concretes: Vec<(i64, String, i64)> = product_concrete::Entity::find()
            .select_only()
            .column(product_concrete::Column::Id)
            .column(product_concrete::Column::Sku)
            .column(product_concrete::Column::ProductAbstractId)
            .filter(product_concrete::Column::Sku.is_in(skus.iter().cloned()))
            .into_tuple()
            .all(&transaction)
            .await?;
        let sku_of: HashMap<i64, String> = concretes.iter().map(|(id, sku, _)| (*id, sku.clone())).collect();
        let warehouses = active_warehouses(&transaction, store_id).await?;
        let mut on_hand: HashMap<String, (i64, bool)> = HashMap::new();
        if !warehouses.is_empty() && !sku_of.is_empty() {
            let rows = stock_product::Entity::find()
                .filter(stock_product::Column::ProductConcreteId.is_in(sku_of.keys().copied()))
                .filter(stock_product::Column::WarehouseId.is_in(warehouses.iter().copied()))
                .order_by_asc(stock_product::Column::Id)
                .lock_exclusive()
                .all(&transaction)
                .await?;
            for row in rows {
                if let Some(sku) = sku_of.get(&row.product_concrete_id) {
                    let entry = on_hand.entry(sku.clone()).or_insert((0, false));
                    entry.0 = entry.0.saturating_add(Ord::max(row.quantity, 0));
                    entry.1 |= row.is_never_out_of_stock;
                }
            }
        }
        let reserved = reserved_quantities(&transaction, store_id, &skus, true).await?;
        let mut wanted: BTreeMap<&str, i64> = BTreeMap::new();
        for item in &order.items {
            *wanted.entry(item.sku.as_str()).or_default() += item.quantity;
        }
        let shortages: Vec<Shortage> = wanted
            .iter()
            .filter_map(|(sku, quantity)| {
                let (stock, never_out) = on_hand.get(*sku).copied().unwrap_or((0, false));
                let available = Ord::max(stock - reserved.get(*sku).copied().unwrap_or(0), 0);
                (!never_out && *quantity > available).then(|| Shortage {
                    sku: (*sku).to_owned(),
                    requested: *quantity,
                    available,
                })
            })
            .collect();
        if !shortages.is_empty() {
            transaction.rollback().await?;
            return Ok(PlaceOutcome::OutOfStock(shortages));
        }

        let now = order.created_at_micros;
        // On the servers the number is known already. On SQLite it is taken last, just before commit:
        // its sequence row is the one lock every checkout of the store shares, so it is held for one
        // statement, not for the whole write.
        let reference_of = |number: i64| format!("{}--{number}", order.store.name);
        let first_reference = match early_number {
            Some(number) => reference_of(number),
            None => format!("pending-{}", new_cart_uuid()),
        };
        let order_row = sales_order::ActiveModel {
            id: NotSet,
            order_reference: Set(first_reference.clone()),
            store_id: Set(store_id),
            owner_key: Set(owner),
            customer_reference: Set(match &order.owner {
                kontor_domain::gateway::CartOwner::Customer(reference) => Some(reference.clone()),
                kontor_domain::gateway::CartOwner::Guest(_) => None,
            }),
            idempotency_key: Set(order.idempotency_key.clone()),
            email: Set(order.email.clone()),
            salutation: Set(order.salutation.clone()),
            first_name: Set(order.first_name.clone()),
            last_name: Set(order.last_name.clone()),
            locale: Set(order.locale.clone()),
            currency_code: Set(order.currency.clone()),
            price_mode: Set(order.price_mode.as_str().to_owned()),
            subtotal: Set(order.totals.subtotal),
            expense_total: Set(order.totals.expense_total),
            tax_total: Set(order.totals.tax_total),
            grand_total: Set(order.totals.grand_total),
            canceled_total: Set(0),
            refunded_total: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let order_id = sales_order::Entity::insert(order_row)
            .exec(&transaction)
            .await?
            .last_insert_id;
        let mut addresses = vec![address_row(order_id, "billing", &order.billing_address)];
        addresses.extend(
            order
                .shipments
                .iter()
                .map(|shipment| address_row(order_id, "shipping", &shipment.address)),
        );
        let address_ids = insert_addresses(&transaction, addresses).await?;
        let mut shipment_ids = Vec::with_capacity(order.shipments.len());
        for (shipment, address_id) in order.shipments.iter().zip(address_ids.into_iter().skip(1)) {
            let row = sales_shipment::ActiveModel {
                id: NotSet,
                order_id: Set(order_id),
                shipment_method_id: Set(Some(shipment.method.id)),
                method_key: Set(shipment.method.key.clone()),
                method_name: Set(shipment.method.name.clone()),
                carrier_name: Set(shipment.method.carrier_name.clone()),
                address_id: Set(Some(address_id)),
                requested_delivery_date: Set(shipment.requested_delivery_date.clone()),
            };
            shipment_ids.push(
                sales_shipment::Entity::insert(row)
                    .exec(&transaction)
                    .await?
                    .last_insert_id,
            );
        }
        let expenses = order.shipments.iter().map(|shipment| sales_expense::ActiveModel {
            id: NotSet,
            order_id: Set(order_id),
            kind: Set(kontor_domain::checkout::SHIPMENT_EXPENSE.to_owned()),
            name: Set(shipment.method.name.clone()),
            unit_price: Set(shipment.method.price),
            sum_price: Set(shipment.method.price),
            tax_rate_basis_points: Set(kontor_domain::checkout::basis_points(shipment.method.tax_rate)),
            sum_tax_amount: Set(shipment.expense_tax),
        });
        if !order.shipments.is_empty() {
            sales_expense::Entity::insert_many(expenses)
                .exec_without_returning(&transaction)
                .await?;
        }
        let uuids: Vec<String> = order.items.iter().map(|_| new_cart_uuid()).collect();
        let name_of = |sku: &str| names.get(sku).cloned().unwrap_or_else(|| sku.to_owned());
        let items: Vec<sales_order_item::ActiveModel> = order
            .items
            .iter()
            .zip(&uuids)
            .map(|(item, uuid)| sales_order_item::ActiveModel {
                id: NotSet,
                uuid: Set(uuid.clone()),
                order_id: Set(order_id),
                shipment_id: Set(shipment_ids.get(item.shipment).copied()),
                sku: Set(item.sku.clone()),
                abstract_sku: Set(item.abstract_sku.clone()),
                name: Set(name_of(&item.sku)),
                quantity: Set(item.quantity),
                unit_price: Set(item.unit_price),
                sum_price: Set(item.sum_price),
                tax_rate_basis_points: Set(item.tax_rate_basis_points),
                sum_tax_amount: Set(item.sum_tax_amount),
                canceled_amount: Set(0),
                refunded_amount: Set(0),
                oms_process: Set(order.process.clone()),
                oms_state: Set(order.initial_state.clone()),
                oms_state_entered_at: Set(now),
                oms_last_checked_at: Set(None),
            })
            .collect();
        let item_ids = insert_items(&transaction, order_id, items, &uuids).await?;
        let history: Vec<oms_state_history::ActiveModel> = item_ids
            .iter()
            .map(|item_id| oms_state_history::ActiveModel {
                id: NotSet,
                order_item_id: Set(*item_id),
                process: Set(order.process.clone()),
                state: Set(order.initial_state.clone()),
                entered_at: Set(now),
            })
            .collect();
        oms_state_history::Entity::insert_many(history)
            .exec_without_returning(&transaction)
            .await?;
        let timeouts: Vec<oms_event_timeout::ActiveModel> = item_ids
            .iter()
            .flat_map(|item_id| {
                order
                    .initial_timeouts
                    .iter()
                    .map(|(event, due_at)| oms_event_timeout::ActiveModel {
                        id: NotSet,
                        order_item_id: Set(*item_id),
                        order_id: Set(order_id),
                        state: Set(order.initial_state.clone()),
                        event: Set(event.clone()),
                        due_at: Set(*due_at),
                        attempts: Set(0),
                    })
            })
            .collect();
        if !timeouts.is_empty() {
            oms_event_timeout::Entity::insert_many(timeouts)
                .exec_without_returning(&transaction)
                .await?;
        }
        let payment = sales_payment::ActiveModel {
            id: NotSet,
            order_id: Set(order_id),
            provider: Set(order.payment.provider_key.clone()),
            method: Set(order.payment.name.clone()),
            amount: Set(order.totals.grand_total),
            status: Set(payment_status::PENDING.to_owned()),
            captured_amount: Set(0),
            refunded_amount: Set(0),
            external_reference: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let payment_id = sales_payment::Entity::insert(payment)
            .exec(&transaction)
            .await?
            .last_insert_id;
        let mut changes = Vec::with_capacity(concretes.len() + 1);
        if order.initial_state_reserved {
            for (sku, quantity) in &wanted {
                change_reservation(&transaction, sku, store_id, *quantity).await?;
            }
            for (concrete_id, sku, abstract_id) in &concretes {
                let Some(&quantity) = wanted.get(sku.as_str()).filter(|quantity| **quantity != 0) else {
                    continue;
                };
                // The stock and reservation were read under lock above, so whether this reservation takes
                // the concrete out of stock is known here; if it does not, the search page stays as it is.
                let (stock, never_out) = on_hand.get(sku).copied().unwrap_or((0, false));
                let held = reserved.get(sku).copied().unwrap_or(0);
                let event = if in_stock(stock, never_out, held) == in_stock(stock, never_out, held + quantity) {
                    RESERVATION_QUANTITY_EVENT.to_owned()
                } else {
                    ChangeKind::Update.event_name(RESERVATION)
                };
                changes.push(reservation_change(*concrete_id, *abstract_id, event));
            }
        }
        // The order itself goes to `oms.events`: a worker runs its first steps.
        changes.push(OutboxRow {
            resource: "sales_order",
            entity_id: order_id,
            event: ChangeKind::Create.event_name("sales_order"),
            foreign_keys: None,
        });
        record_changes(&transaction, changes, now).await?;
        cart::Entity::delete_by_id(cart_row.id).exec(&transaction).await?;
        let reference = match early_number {
            Some(_) => first_reference,
            None => {
                let reference = reference_of(self.take_order_number(Some(&transaction), store_id).await?);
                sales_order::Entity::update_many()
                    .col_expr(sales_order::Column::OrderReference, Expr::value(reference.as_str()))
                    .filter(sales_order::Column::Id.eq(order_id))
                    .exec(&transaction)
                    .await?;
                reference
            }
        };
        transaction.commit().await?;
        // The order as written, so the caller need not read it back.
        let stored = StoredOrder {
            id: order_id,
            reference: reference.clone(),
            store: order.store.name.clone(),
            store_id,
            customer_reference: match &order.owner {
                kontor_domain::gateway::CartOwner::Customer(reference) => Some(reference.clone()),
                kontor_domain::gateway::CartOwner::Guest(_) => None,
            },
            email: order.email.clone(),
            salutation: order.salutation.clone(),
            first_name: order.first_name.clone(),
            last_name: order.last_name.clone(),
            locale: order.locale.clone(),
            currency: order.currency.clone(),
            price_mode: order.price_mode.as_str().to_owned(),
            totals: order.totals,
            created_at_micros: now,
            billing_address: Some(order.billing_address.clone()),
            shipments: order
                .shipments
                .iter()
                .zip(&shipment_ids)
                .map(|(shipment, id)| StoredShipment {
                    id: *id,
                    method_key: shipment.method.key.clone(),
                    method_name: shipment.method.name.clone(),
                    carrier_name: shipment.method.carrier_name.clone(),
                    requested_delivery_date: shipment.requested_delivery_date.clone(),
                    address: Some(shipment.address.clone()),
                })
                .collect(),
            expenses: order
                .shipments
                .iter()
                .map(|shipment| StoredExpense {
                    kind: kontor_domain::checkout::SHIPMENT_EXPENSE.to_owned(),
                    name: shipment.method.name.clone(),
                    sum_price: shipment.method.price,
                    tax_rate_basis_points: kontor_domain::checkout::basis_points(shipment.method.tax_rate),
                    sum_tax_amount: shipment.expense_tax,
                })
                .collect(),
            items: order
                .items
                .iter()
                .zip(uuids)
                .zip(&item_ids)
                .map(|((item, uuid), id)| StoredOrderItem {
                    id: *id,
                    uuid,
                    sku: item.sku.clone(),
                    abstract_sku: item.abstract_sku.clone(),
                    name: name_of(&item.sku),
                    quantity: item.quantity,
                    unit_price: item.unit_price,
                    sum_price: item.sum_price,
                    tax_rate_basis_points: item.tax_rate_basis_points,
                    sum_tax_amount: item.sum_tax_amount,
                    canceled_amount: 0,
                    refunded_amount: 0,
                    shipment_id: shipment_ids.get(item.shipment).copied(),
                    process: order.process.clone(),
                    state: order.initial_state.clone(),
                    state_entered_at_micros: now,
                    history: vec![order.initial_state.clone()],
                })
                .collect(),
            payments: vec![StoredPayment {
                id: payment_id,
                provider: order.payment.provider_key.clone(),
                method: order.payment.name.clone(),
                amount: order.totals.grand_total,
                status: payment_status::PENDING.to_owned(),
                captured_amount: 0,
                refunded_amount: 0,
                external_reference: None,
            }],
        };
        Ok(PlaceOutcome::Placed(Box::new(stored)))
    }

    /// Orders with everything they show, loaded in one query per table.
    pub(crate) async fn load_orders<C: ConnectionTrait>(
        &self,
        connection: &C,
        rows: Vec<sales_order::Model>,
    ) -> Result<Vec<StoredOrder>, DbErr> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let domain = |error: DomainError| DbErr::Custom(error.to_string());
        let stores = names_by_id::<crate::entity::store::Entity, _>(
            connection,
            crate::entity::store::Column::Id,
            crate::entity::store::Column::Name,
            rows.iter().map(|row| row.store_id),
        )
        .await
        .map_err(domain)?;
        let addresses =
            rows_in::<sales_order_address::Entity, _>(connection, sales_order_address::Column::OrderId, &ids)
                .await
                .map_err(domain)?;
        let address_by_id: HashMap<i64, &sales_order_address::Model> =
            addresses.iter().map(|row| (row.id, row)).collect();
        let shipments = rows_in::<sales_shipment::Entity, _>(connection, sales_shipment::Column::OrderId, &ids)
            .await
            .map_err(domain)?;
        let expenses = rows_in::<sales_expense::Entity, _>(connection, sales_expense::Column::OrderId, &ids)
            .await
            .map_err(domain)?;
        let mut items = rows_in::<sales_order_item::Entity, _>(connection, sales_order_item::Column::OrderId, &ids)
            .await
            .map_err(domain)?;
        items.sort_by_key(|item| item.id);
        let item_ids: Vec<i64> = items.iter().map(|item| item.id).collect();
        let mut history =
            rows_in::<oms_state_history::Entity, _>(connection, oms_state_history::Column::OrderItemId, &item_ids)
                .await
                .map_err(domain)?;
        history.sort_by_key(|row| row.id);
        let mut history_of: HashMap<i64, Vec<String>> = HashMap::new();
        for row in history {
            history_of.entry(row.order_item_id).or_default().push(row.state);
        }
        let payments = rows_in::<sales_payment::Entity, _>(connection, sales_payment::Column::OrderId, &ids)
            .await
            .map_err(domain)?;
        Ok(rows
            .into_iter()
            .map(|row| StoredOrder {
                id: row.id,
                reference: row.order_reference,
                store: stores.get(&row.store_id).cloned().unwrap_or_default(),
                store_id: row.store_id,
                customer_reference: row.customer_reference,
                email: row.email,
                salutation: row.salutation,
                first_name: row.first_name,
                last_name: row.last_name,
                locale: row.locale,
                currency: row.currency_code,
                price_mode: row.price_mode,
                totals: OrderTotals {
                    expense_total: row.expense_total,
                    discount_total: 0,
                    tax_total: row.tax_total,
                    subtotal: row.subtotal,
                    grand_total: row.grand_total,
                    canceled_total: row.canceled_total,
                    remuneration_total: row.refunded_total,
                },
                created_at_micros: row.created_at,
                billing_address: addresses
                    .iter()
                    .find(|address| address.order_id == row.id && address.kind == "billing")
                    .map(order_address),
                shipments: shipments
                    .iter()
                    .filter(|shipment| shipment.order_id == row.id)
                    .map(|shipment| StoredShipment {
                        id: shipment.id,
                        method_key: shipment.method_key.clone(),
                        method_name: shipment.method_name.clone(),
                        carrier_name: shipment.carrier_name.clone(),
                        requested_delivery_date: shipment.requested_delivery_date.clone(),
                        address: shipment
                            .address_id
                            .and_then(|id| address_by_id.get(&id))
                            .map(|address| order_address(address)),
                    })
                    .collect(),
                expenses: expenses
                    .iter()
                    .filter(|expense| expense.order_id == row.id)
                    .map(|expense| StoredExpense {
                        kind: expense.kind.clone(),
                        name: expense.name.clone(),
                        sum_price: expense.sum_price,
                        tax_rate_basis_points: expense.tax_rate_basis_points,
                        sum_tax_amount: expense.sum_tax_amount,
                    })
                    .collect(),
                items: items
                    .iter()
                    .filter(|item| item.order_id == row.id)
                    .map(|item| StoredOrderItem {
                        id: item.id,
                        uuid: item.uuid.clone(),
                        sku: item.sku.clone(),
                        abstract_sku: item.abstract_sku.clone(),
                        name: item.name.clone(),
                        quantity: item.quantity,
                        unit_price: item.unit_price,
                        sum_price: item.sum_price,
                        tax_rate_basis_points: item.tax_rate_basis_points,
                        sum_tax_amount: item.sum_tax_amount,
                        canceled_amount: item.canceled_amount,
                        refunded_amount: item.refunded_amount,
                        shipment_id: item.shipment_id,
                        process: item.oms_process.clone(),
                        state: item.oms_state.clone(),
                        state_entered_at_micros: item.oms_state_entered_at,
                        history: history_of.remove(&item.id).unwrap_or_default(),
                    })
                    .collect(),
                payments: payments
                    .iter()
                    .filter(|payment| payment.order_id == row.id)
                    .map(|payment| StoredPayment {
                        id: payment.id,
                        provider: payment.provider.clone(),
                        method: payment.method.clone(),
                        amount: payment.amount,
                        status: payment.status.clone(),
                        captured_amount: payment.captured_amount,
                        refunded_amount: payment.refunded_amount,
                        external_reference: payment.external_reference.clone(),
                    })
                    .collect(),
            })
            .collect())
    }
}

#[async_trait]
impl OrderRepository for SqlDatabase {
    async fn shipment_methods(
        &self,
        store: &StoreSettings,
        currency_code: &str,
        mode: PriceMode,
    ) -> Result<Vec<ShipmentMethod>, CartError> {
        let connection = self.connection();
        let Some(currency_id) = self
            .cached_id("currency", currency_code, || {
                currency::Entity::find()
                    .select_only()
                    .column(currency::Column::Id)
                    .filter(currency::Column::Code.eq(currency_code))
                    .into_tuple()
                    .one(connection)
            })
            .await
            .map_err(cart_storage)?
        else {
            return Ok(Vec::new());
        };
        // One statement: the store's active methods with their price in the currency and their tax
        // rate in the store's country; a method without a price there is not offered.
        let assigned = Query::select()
            .column(shipment_method_store::Column::ShipmentMethodId)
            .from(shipment_method_store::Entity)
            .and_where(shipment_method_store::Column::StoreId.eq(store.id.0))
            .to_owned();
        let query = Query::select()
            .columns(
                [
                    shipment_method::Column::Id,
                    shipment_method::Column::MethodKey,
                    shipment_method::Column::Name,
                    shipment_method::Column::CarrierName,
                    shipment_method::Column::DeliveryTime,
                ]
                .map(|column| (shipment_method::Entity, column)),
            )
            .column((shipment_method_price::Entity, shipment_method_price::Column::NetAmount))
            .column((
                shipment_method_price::Entity,
                shipment_method_price::Column::GrossAmount,
            ))
            .column((tax_rate::Entity, tax_rate::Column::RateBasisPoints))
            .from(shipment_method::Entity)
            .join(
                JoinType::InnerJoin,
                shipment_method_price::Entity,
                Condition::all()
                    .add(
                        Expr::col((
                            shipment_method_price::Entity,
                            shipment_method_price::Column::ShipmentMethodId,
                        ))
                        .equals((shipment_method::Entity, shipment_method::Column::Id)),
                    )
                    .add(
                        Expr::col((shipment_method_price::Entity, shipment_method_price::Column::StoreId))
                            .eq(store.id.0),
                    )
                    .add(
                        Expr::col((shipment_method_price::Entity, shipment_method_price::Column::CurrencyId))
                            .eq(currency_id),
                    ),
            )
            .join(
                JoinType::LeftJoin,
                tax_rate::Entity,
                tax_rate_of(
                    (shipment_method::Entity, shipment_method::Column::TaxSetId),
                    &store.tax_country,
                ),
            )
            .and_where(Expr::col((shipment_method::Entity, shipment_method::Column::Id)).in_subquery(assigned))
            .and_where(Expr::col((shipment_method::Entity, shipment_method::Column::IsActive)).eq(true))
            .order_by((shipment_method::Entity, shipment_method::Column::Name), Order::Asc)
            .order_by((shipment_method::Entity, shipment_method::Column::Id), Order::Asc)
            .to_owned();
        // Each join finds at most one row (unique keys: method, store and currency; tax set and country).
        let mut methods: Vec<ShipmentMethod> = Vec::new();
        for row in connection.query_all(&query).await.map_err(cart_storage)? {
            let amount: Option<i64> = match mode {
                PriceMode::Gross => row.try_get("", "gross_amount"),
                PriceMode::Net => row.try_get("", "net_amount"),
            }
            .map_err(cart_storage)?;
            let Some(price) = amount else {
                continue;
            };
            let rate: Option<i32> = row.try_get("", "rate_basis_points").map_err(cart_storage)?;
            methods.push(ShipmentMethod {
                id: row.try_get("", "id").map_err(cart_storage)?,
                key: row.try_get("", "method_key").map_err(cart_storage)?,
                name: row.try_get("", "name").map_err(cart_storage)?,
                carrier_name: row.try_get("", "carrier_name").map_err(cart_storage)?,
                delivery_time: row.try_get("", "delivery_time").map_err(cart_storage)?,
                price,
                tax_rate: tax_percent(rate.unwrap_or(0)),
            });
        }
        Ok(methods)
    }

    async fn payment_methods(&self, store: &StoreSettings) -> Result<Vec<PaymentMethod>, CartError> {
        let assigned = Query::select()
            .column(payment_method_store::Column::PaymentMethodId)
            .from(payment_method_store::Entity)
            .and_where(payment_method_store::Column::StoreId.eq(store.id.0))
            .to_owned();
        Ok(payment_method::Entity::find()
            .filter(payment_method::Column::Id.in_subquery(assigned))
            .filter(payment_method::Column::IsActive.eq(true))
            .order_by_desc(payment_method::Column::Priority)
            .order_by_asc(payment_method::Column::Name)
            .all(self.connection())
            .await
            .map_err(cart_storage)?
            .into_iter()
            .map(|row| PaymentMethod {
                key: row.method_key,
                name: row.name,
                provider_key: row.provider_key,
                provider_name: row.provider_name,
                priority: row.priority,
            })
            .collect())
    }

    async fn place_order(&self, order: &NewOrder) -> Result<PlaceOutcome, CartError> {
        let mut retries = 0;
        loop {
            match self.try_place_order(order).await {
                Ok(outcome) => return Ok(outcome),
                Err(Attempt::Failed(error)) => return Err(error),
                Err(Attempt::Retry(reason)) if retries < MAX_RETRIES => {
                    retries += 1;
                    tracing::debug!(%reason, retries, "order placement lost a race; retrying");
                }
                Err(Attempt::Retry(reason)) => return Err(CartError::Storage(reason)),
            }
        }
    }

    async fn find_order_by_idempotency_key(
        &self,
        owner_key: &str,
        idempotency_key: &str,
    ) -> Result<Option<StoredOrder>, CartError> {
        let rows = sales_order::Entity::find()
            .filter(sales_order::Column::OwnerKey.eq(owner_key))
            .filter(sales_order::Column::IdempotencyKey.eq(idempotency_key))
            .all(self.connection())
            .await
            .map_err(cart_storage)?;
        Ok(self
            .load_orders(self.connection(), rows)
            .await
            .map_err(cart_storage)?
            .pop())
    }

    async fn find_order(&self, order_reference: &str) -> Result<Option<StoredOrder>, CartError> {
        let rows = sales_order::Entity::find()
            .filter(sales_order::Column::OrderReference.eq(order_reference))
            .all(self.connection())
            .await
            .map_err(cart_storage)?;
        Ok(self
            .load_orders(self.connection(), rows)
            .await
            .map_err(cart_storage)?
            .pop())
    }

    async fn find_order_by_id(&self, order_id: i64) -> Result<Option<StoredOrder>, CartError> {
        // Read in a transaction so the order and its items are one consistent snapshot.
        let transaction = self.connection().begin().await.map_err(cart_storage)?;
        let rows = sales_order::Entity::find_by_id(order_id)
            .all(&transaction)
            .await
            .map_err(cart_storage)?;
        let order = self.load_orders(&transaction, rows).await.map_err(cart_storage)?.pop();
        transaction.commit().await.map_err(cart_storage)?;
        Ok(order)
    }

    async fn list_orders(
        &self,
        filter: &OrderFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<StoredOrder>, u64), CartError> {
        let connection = self.connection();
        let mut condition = Condition::all();
        if let Some(reference) = &filter.customer_reference {
            condition = condition.add(sales_order::Column::CustomerReference.eq(reference.as_str()));
        }
        if let Some(email) = &filter.email {
            condition = condition.add(sales_order::Column::Email.eq(email.to_lowercase()));
        }
        if let Some(store) = &filter.store {
            let ids: Vec<i64> = crate::entity::store::Entity::find()
                .select_only()
                .column(crate::entity::store::Column::Id)
                .filter(crate::entity::store::Column::Name.eq(store.as_str()))
                .into_tuple()
                .all(connection)
                .await
                .map_err(cart_storage)?;
            condition = condition.add(sales_order::Column::StoreId.is_in(ids));
        }
        if let Some(from) = filter.created_from_micros {
            condition = condition.add(sales_order::Column::CreatedAt.gte(from));
        }
        if let Some(to) = filter.created_to_micros {
            condition = condition.add(sales_order::Column::CreatedAt.lt(to));
        }
        if let Some(state) = &filter.state {
            let order_ids: Vec<i64> = sales_order_item::Entity::find()
                .select_only()
                .column(sales_order_item::Column::OrderId)
                .filter(sales_order_item::Column::OmsState.eq(state.as_str()))
                .distinct()
                .into_tuple()
                .all(connection)
                .await
                .map_err(cart_storage)?;
            let ids: HashSet<i64> = order_ids.into_iter().collect();
            condition = condition.add(sales_order::Column::Id.is_in(ids));
        }
        let query = sales_order::Entity::find().filter(condition);
        let total = query.clone().count(connection).await.map_err(cart_storage)?;
        let rows = query
            .order_by_desc(sales_order::Column::CreatedAt)
            .order_by_desc(sales_order::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(connection)
            .await
            .map_err(cart_storage)?;
        Ok((self.load_orders(connection, rows).await.map_err(cart_storage)?, total))
    }
}

fn address_row(order_id: i64, kind: &str, address: &OrderAddress) -> sales_order_address::ActiveModel {
    sales_order_address::ActiveModel {
        id: NotSet,
        order_id: Set(order_id),
        kind: Set(kind.to_owned()),
        salutation: Set(address.salutation.clone()),
        first_name: Set(address.first_name.clone()),
        last_name: Set(address.last_name.clone()),
        address1: Set(address.address1.clone()),
        address2: Set(address.address2.clone()),
        address3: Set(address.address3.clone()),
        zip_code: Set(address.zip_code.clone()),
        city: Set(address.city.clone()),
        iso2_code: Set(address.iso2_code.clone()),
        company: Set(address.company.clone()),
        phone: Set(address.phone.clone()),
    }
}

fn order_address(row: &sales_order_address::Model) -> OrderAddress {
    OrderAddress {
        salutation: row.salutation.clone(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        address1: row.address1.clone(),
        address2: row.address2.clone(),
        address3: row.address3.clone(),
        zip_code: row.zip_code.clone(),
        city: row.city.clone(),
        iso2_code: row.iso2_code.clone(),
        company: row.company.clone(),
        phone: row.phone.clone(),
    }
}

/// Product names in the order's locale: the concrete's own, else its abstract's, else none.
async fn item_names<C: ConnectionTrait>(
    transaction: &C,
    locale_id: i64,
    skus: &[String],
) -> Result<HashMap<String, String>, DbErr> {
    // One statement: the concrete with both localized names joined.
    let own = Alias::new("own");
    let inherited = Alias::new("inherited");
    let query = Query::select()
        .column((product_concrete::Entity, product_concrete::Column::Sku))
        .expr_as(
            Expr::col((own.clone(), product_concrete_localized::Column::Name)),
            "own_name",
        )
        .expr_as(
            Expr::col((inherited.clone(), product_abstract_localized::Column::Name)),
            "inherited_name",
        )
        .from(product_concrete::Entity)
        .join_as(
            JoinType::LeftJoin,
            product_concrete_localized::Entity,
            own.clone(),
            Condition::all()
                .add(
                    Expr::col((own.clone(), product_concrete_localized::Column::ProductConcreteId))
                        .equals((product_concrete::Entity, product_concrete::Column::Id)),
                )
                .add(Expr::col((own.clone(), product_concrete_localized::Column::LocaleId)).eq(locale_id)),
        )
        .join_as(
            JoinType::LeftJoin,
            product_abstract_localized::Entity,
            inherited.clone(),
            Condition::all()
                .add(
                    Expr::col((inherited.clone(), product_abstract_localized::Column::ProductAbstractId))
                        .equals((product_concrete::Entity, product_concrete::Column::ProductAbstractId)),
                )
                .add(Expr::col((inherited.clone(), product_abstract_localized::Column::LocaleId)).eq(locale_id)),
        )
        .and_where(Expr::col((product_concrete::Entity, product_concrete::Column::Sku)).is_in(skus.iter().cloned()))
        .to_owned();
    let mut names = HashMap::new();
    for row in transaction.query_all(&query).await? {
        let sku: String = row.try_get("", "sku")?;
        let own: Option<String> = row.try_get("", "own_name")?;
        let inherited: Option<String> = row.try_get("", "inherited_name")?;
        if let Some(name) = own.filter(|name| !name.trim().is_empty()).or(inherited) {
            names.insert(sku, name);
        }
    }
    Ok(names)
}

/// Order numbers a process reserves at once. A shared counter row locked until commit would make
/// every checkout of a store wait for the previous one's commit (a disk flush); a block is taken in
/// one short statement and handed out from memory. Numbers of a block a process did not use before
/// it stopped, and of orders whose transaction failed after taking one, are skipped (gaps), as with
/// database sequences.
pub(crate) const ORDER_NUMBER_BLOCK: i64 = 20;

/// Advances the store's counter by `size` and answers its new value (the block's last number).
async fn reserve_block<C: ConnectionTrait>(connection: &C, store_id: i64, size: i64) -> Result<i64, DbErr> {
    let advance = || {
        sales_order_reference_sequence::Entity::update_many()
            .col_expr(
                sales_order_reference_sequence::Column::LastNumber,
                Expr::col(sales_order_reference_sequence::Column::LastNumber).add(size),
            )
            .filter(sales_order_reference_sequence::Column::StoreId.eq(store_id))
            .exec(connection)
    };
    // The store's first order creates its row; every later block only advances it.
    if advance().await?.rows_affected == 0 {
        sales_order_reference_sequence::Entity::insert(sales_order_reference_sequence::ActiveModel {
            store_id: Set(store_id),
            last_number: Set(0),
        })
        .on_conflict(
            OnConflict::column(sales_order_reference_sequence::Column::StoreId)
                .do_nothing_on([sales_order_reference_sequence::Column::StoreId])
                .to_owned(),
        )
        .exec_without_returning(connection)
        .await?;
        advance().await?;
    }
    let last: Option<i64> = sales_order_reference_sequence::Entity::find()
        .select_only()
        .column(sales_order_reference_sequence::Column::LastNumber)
        .filter(sales_order_reference_sequence::Column::StoreId.eq(store_id))
        .into_tuple()
        .one(connection)
        .await?;
    last.ok_or_else(|| DbErr::Custom(format!("no order number counter for store {store_id}")))
}

impl SqlDatabase {
    /// The next order number of a store: within `transaction` when given (SQLite: one writer, so a
    /// second transaction would wait for this one), else from this process's reserved block, a new
    /// block being reserved in its own short transaction when it runs out.
    async fn take_order_number(&self, transaction: Option<&DatabaseTransaction>, store_id: i64) -> Result<i64, DbErr> {
        let taken = {
            let mut blocks = self
                .order_numbers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            blocks
                .get_mut(&store_id)
                .and_then(std::collections::VecDeque::pop_front)
        };
        if let Some(number) = taken {
            return Ok(number);
        }
        if let Some(transaction) = transaction {
            // One number, in the order's own transaction: a rollback gives it back, and with a single
            // writer there is no queue of commits to spare.
            return reserve_block(transaction, store_id, 1).await;
        }
        let own = self.connection().begin().await?;
        let last = reserve_block(&own, store_id, ORDER_NUMBER_BLOCK).await?;
        own.commit().await?;
        let first = last - ORDER_NUMBER_BLOCK + 1;
        let mut blocks = self
            .order_numbers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        blocks.entry(store_id).or_default().extend(first + 1..=last);
        Ok(first)
    }
}
