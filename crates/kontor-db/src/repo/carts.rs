//! SQL storage of carts (`CartRepository`) and the catalog as carts see it (`CartCatalog`).
//!
//! Concurrency: every write runs in one `write_transaction()` that first locks the cart row
//! (`SELECT … FOR UPDATE` on PostgreSQL and MariaDB; SQLite has one writer, taken up front), then reads
//! the lines with locking reads (which see the newest committed rows even under MariaDB's REPEATABLE
//! READ), so concurrent edits of one cart run one after the other and no quantity is lost. Two requests
//! creating the same owner's default cart at once collide on `uq_cart_store_id_default_owner_key` (or
//! deadlock on its gap lock on MariaDB); the loser's transaction is rolled back and retried, and then
//! finds the winner's cart.
//!
//! An `Idempotency-Key` is inserted in the transaction of the write it guards, after the cart lock, so a
//! repeat running at the same time either waits for the lock and then finds the key, or collides on the
//! key's primary key and is retried, and then finds it.
//!
//! Carts are not published to the storefront, so their writes add no outbox rows.

use super::{SqlDatabase, WriteTurn, rows_in, storage_error};
use crate::entity::carts::{cart, cart_idempotency_key, cart_item};
use crate::entity::{
    currency, locale, price_product, price_type, product_abstract, product_abstract_store, product_concrete,
    stock_product, store, store_currency, tax_rate,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_core::ids::StoreId;
use kontor_domain::cart::{
    CartCatalog, CartEdit, CartError, CartLocator, CartRepository, CatalogItem, ClaimedWrite, IdempotencyClaim,
    IdempotentWrite, NewCart, PriceMode, StoreSettings, StoredCart, StoredItem, store_tax_country, tax_percent,
};
use kontor_domain::checkout::owner_key;
use kontor_domain::gateway::CartOwner;
use kontor_domain::pricing::{PRICE_TYPE_DEFAULT, decode_volume_prices};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, IntoIden, JoinType, Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr,
};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Concretes and abstracts whose prices one statement reads: up to this many of each.
const PRICE_OWNERS_PER_QUERY: usize = 500;

/// A DEFAULT price in one mode: the base unit amount and the volume prices (from quantity, unit amount).
type UnitPrice = (i64, Vec<(u32, i64)>);

/// How often a transaction that lost a race (unique violation, deadlock) is retried.
const MAX_RETRIES: u32 = 3;

/// A failed attempt: either worth retrying in a new transaction, or final (carts and order placement).
pub(crate) enum Attempt {
    Retry(String),
    Failed(CartError),
}

impl From<DbErr> for Attempt {
    fn from(error: DbErr) -> Self {
        let lost_a_race = matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
            || error.to_string().to_ascii_lowercase().contains("deadlock")
            || error.to_string().contains("could not serialize");
        if lost_a_race {
            Attempt::Retry(error.to_string())
        } else {
            Attempt::Failed(CartError::Storage(error.to_string()))
        }
    }
}

impl From<CartError> for Attempt {
    fn from(error: CartError) -> Self {
        Attempt::Failed(error)
    }
}

impl From<kontor_domain::DomainError> for Attempt {
    fn from(error: kontor_domain::DomainError) -> Self {
        Attempt::Failed(CartError::from(error))
    }
}

/// Runs `$attempt` (an expression producing `Result<T, Attempt>`) until it succeeds, fails for good, or
/// has lost `MAX_RETRIES` races.
macro_rules! retrying {
    ($attempt:expr) => {{
        let mut retries = 0;
        loop {
            match $attempt.await {
                Ok(value) => break Ok(value),
                Err(Attempt::Failed(error)) => break Err(error),
                Err(Attempt::Retry(reason)) if retries < MAX_RETRIES => {
                    retries += 1;
                    tracing::debug!(%reason, retries, "cart transaction lost a race; retrying");
                }
                Err(Attempt::Retry(reason)) => break Err(CartError::Storage(reason)),
            }
        }
    }};
}

pub(crate) fn storage(error: DbErr) -> CartError {
    CartError::Storage(storage_error(error).to_string())
}

fn owned_by(owner: &CartOwner) -> Condition {
    match owner {
        CartOwner::Customer(reference) => Condition::all().add(cart::Column::CustomerReference.eq(reference.as_str())),
        CartOwner::Guest(anonymous_id) => Condition::all().add(cart::Column::AnonymousId.eq(anonymous_id.as_str())),
    }
}

fn owner_of(row: &cart::Model) -> Result<CartOwner, CartError> {
    match (&row.customer_reference, &row.anonymous_id) {
        (Some(reference), None) => Ok(CartOwner::Customer(reference.clone())),
        (None, Some(anonymous_id)) => Ok(CartOwner::Guest(anonymous_id.clone())),
        _ => Err(CartError::Storage(format!("cart {} has no single owner", row.uuid))),
    }
}

fn quantity_of(row: &cart_item::Model) -> u32 {
    u32::try_from(Ord::max(row.quantity, 0)).unwrap_or(u32::MAX)
}

async fn store_id_by_name<C: ConnectionTrait>(connection: &C, name: &str) -> Result<Option<i64>, DbErr> {
    store::Entity::find()
        .select_only()
        .column(store::Column::Id)
        .filter(store::Column::Name.eq(name))
        .into_tuple()
        .one(connection)
        .await
}

async fn currency_id_by_code<C: ConnectionTrait>(connection: &C, code: &str) -> Result<Option<i64>, DbErr> {
    currency::Entity::find()
        .select_only()
        .column(currency::Column::Id)
        .filter(currency::Column::Code.eq(code))
        .into_tuple()
        .one(connection)
        .await
}

/// The cart rows as domain carts, with their lines, store names and currency codes (two batched loads).
async fn stored_carts<C: ConnectionTrait>(
    connection: &C,
    rows: Vec<cart::Model>,
) -> Result<Vec<StoredCart>, CartError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut lines: Vec<cart_item::Model> = rows_in::<cart_item::Entity, _>(connection, cart_item::Column::CartId, &ids)
        .await
        .map_err(CartError::from)?;
    lines.sort_by_key(|line| line.id);
    let mut lines_by_cart: HashMap<i64, Vec<StoredItem>> = HashMap::new();
    for line in &lines {
        lines_by_cart.entry(line.cart_id).or_default().push(StoredItem {
            sku: line.sku.clone(),
            group_key: line.group_key.clone(),
            quantity: quantity_of(line),
        });
    }
    let (stores, currencies) = store_and_currency_names(connection, &rows).await.map_err(storage)?;
    rows.into_iter()
        .map(|row| {
            let missing = |what: &str| CartError::Storage(format!("cart {} has an unknown {what}", row.uuid));
            Ok(StoredCart {
                owner: owner_of(&row)?,
                store: stores.get(&row.store_id).cloned().ok_or_else(|| missing("store"))?,
                currency: currencies
                    .get(&row.currency_id)
                    .cloned()
                    .ok_or_else(|| missing("currency"))?,
                price_mode: PriceMode::parse(&row.price_mode).ok_or_else(|| missing("price mode"))?,
                items: lines_by_cart.remove(&row.id).unwrap_or_default(),
                uuid: row.uuid,
                name: row.name,
                is_default: row.is_default,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

/// A concrete as the cart catalog needs it, with what it takes from its abstract product.
struct CatalogRow {
    concrete_id: i64,
    sku: String,
    is_active: bool,
    abstract_id: i64,
    abstract_sku: String,
    /// Whether the abstract product is assigned to the store.
    is_in_store: bool,
    /// The abstract's tax rate in the store's country; 0 without one.
    rate_basis_points: i32,
}

/// The concretes of `skus` with their abstract's SKU, store assignment and tax rate, in one statement
/// per chunk of SKUs.
async fn catalog_rows<C: ConnectionTrait>(
    connection: &C,
    store_id: i64,
    tax_country: &str,
    skus: &[String],
) -> Result<Vec<CatalogRow>, DbErr> {
    let mut rows: Vec<CatalogRow> = Vec::with_capacity(skus.len());
    for chunk in skus.chunks(1000) {
        let query = Query::select()
            .column((product_concrete::Entity, product_concrete::Column::Id))
            .column((product_concrete::Entity, product_concrete::Column::Sku))
            .column((product_concrete::Entity, product_concrete::Column::IsActive))
            .column((product_concrete::Entity, product_concrete::Column::ProductAbstractId))
            .expr_as(
                Expr::col((product_abstract::Entity, product_abstract::Column::Sku)),
                "abstract_sku",
            )
            .expr_as(
                Expr::col((product_abstract_store::Entity, product_abstract_store::Column::StoreId)),
                "linked_store_id",
            )
            .column((tax_rate::Entity, tax_rate::Column::RateBasisPoints))
            .from(product_concrete::Entity)
            .join(
                JoinType::LeftJoin,
                product_abstract::Entity,
                Expr::col((product_abstract::Entity, product_abstract::Column::Id))
                    .equals((product_concrete::Entity, product_concrete::Column::ProductAbstractId)),
            )
            .join(
                JoinType::LeftJoin,
                product_abstract_store::Entity,
                Condition::all()
                    .add(
                        Expr::col((
                            product_abstract_store::Entity,
                            product_abstract_store::Column::ProductAbstractId,
                        ))
                        .equals((product_concrete::Entity, product_concrete::Column::ProductAbstractId)),
                    )
                    .add(
                        Expr::col((product_abstract_store::Entity, product_abstract_store::Column::StoreId))
                            .eq(store_id),
                    ),
            )
            .join(
                JoinType::LeftJoin,
                tax_rate::Entity,
                tax_rate_of(
                    (product_abstract::Entity, product_abstract::Column::TaxSetId),
                    tax_country,
                ),
            )
            .and_where(
                Expr::col((product_concrete::Entity, product_concrete::Column::Sku)).is_in(chunk.iter().cloned()),
            )
            .to_owned();
        // Each join finds at most one row (unique keys: abstract id; abstract and store; tax set and
        // country), so there is one row per concrete.
        for row in connection.query_all(&query).await? {
            let rate: Option<i32> = row.try_get("", "rate_basis_points")?;
            rows.push(CatalogRow {
                concrete_id: row.try_get("", "id")?,
                sku: row.try_get("", "sku")?,
                is_active: row.try_get("", "is_active")?,
                abstract_id: row.try_get("", "product_abstract_id")?,
                abstract_sku: row.try_get::<Option<String>>("", "abstract_sku")?.unwrap_or_default(),
                is_in_store: row.try_get::<Option<i64>>("", "linked_store_id")?.is_some(),
                rate_basis_points: rate.unwrap_or(0),
            });
        }
    }
    Ok(rows)
}

/// The join condition of `tax_rate` for the tax set in `tax_set` and the tax `country`: the rate that
/// applies, at most one row (unique on tax set and country).
pub(super) fn tax_rate_of(tax_set: (impl IntoIden, impl IntoIden), country: &str) -> Condition {
    Condition::all()
        .add(Expr::col((tax_rate::Entity, tax_rate::Column::TaxSetId)).equals(tax_set))
        .add(Expr::col((tax_rate::Entity, tax_rate::Column::Country)).eq(country))
}

/// The store names and currency codes of the carts, by id, in one statement: every pair of the carts'
/// stores and currencies, a handful of rows, as a shop has few of either. The cart table is not read:
/// a cart found by a locking read may be newer than a plain read's snapshot (MariaDB's REPEATABLE READ).
async fn store_and_currency_names<C: ConnectionTrait>(
    connection: &C,
    rows: &[cart::Model],
) -> Result<(HashMap<i64, String>, HashMap<i64, String>), DbErr> {
    let store_ids: BTreeSet<i64> = rows.iter().map(|row| row.store_id).collect();
    let currency_ids: BTreeSet<i64> = rows.iter().map(|row| row.currency_id).collect();
    let query = Query::select()
        .expr_as(Expr::col((store::Entity, store::Column::Id)), "store_id")
        .expr_as(Expr::col((store::Entity, store::Column::Name)), "store_name")
        .expr_as(Expr::col((currency::Entity, currency::Column::Id)), "currency_id")
        .expr_as(Expr::col((currency::Entity, currency::Column::Code)), "currency_code")
        .from(store::Entity)
        .cross_join(currency::Entity)
        .and_where(Expr::col((store::Entity, store::Column::Id)).is_in(store_ids))
        .and_where(Expr::col((currency::Entity, currency::Column::Id)).is_in(currency_ids))
        .to_owned();
    let mut stores = HashMap::new();
    let mut currencies = HashMap::new();
    for row in connection.query_all(&query).await? {
        stores.insert(row.try_get("", "store_id")?, row.try_get("", "store_name")?);
        currencies.insert(row.try_get("", "currency_id")?, row.try_get("", "currency_code")?);
    }
    Ok((stores, currencies))
}

async fn stored_cart<C: ConnectionTrait>(connection: &C, row: cart::Model) -> Result<StoredCart, CartError> {
    stored_carts(connection, vec![row])
        .await?
        .pop()
        .ok_or_else(|| CartError::Storage("a loaded cart went missing".to_owned()))
}

/// The condition that finds the addressed cart of `owner`; `None` when its store does not exist.
async fn locate<C: ConnectionTrait>(
    connection: &C,
    owner: &CartOwner,
    locator: &CartLocator,
) -> Result<Option<Condition>, DbErr> {
    Ok(match locator {
        CartLocator::Id(uuid) => Some(owned_by(owner).add(cart::Column::Uuid.eq(uuid.as_str()))),
        CartLocator::Default { store } => store_id_by_name(connection, store).await?.map(|store_id| {
            owned_by(owner)
                .add(cart::Column::StoreId.eq(store_id))
                .add(cart::Column::DefaultOwnerKey.eq(owner_key(owner)))
        }),
    })
}

fn idempotent_write(row: cart_idempotency_key::Model) -> IdempotentWrite {
    IdempotentWrite {
        fingerprint: row.fingerprint,
        cart_uuid: row.cart_uuid,
        reply: row.reply,
    }
}

/// The unexpired write made under `claim`'s key, read with a lock; an expired one is deleted, which frees
/// the key.
async fn claimed_before(
    transaction: &DatabaseTransaction,
    claim: Option<&IdempotencyClaim>,
) -> Result<Option<IdempotentWrite>, DbErr> {
    let Some(claim) = claim else {
        return Ok(None);
    };
    let key = (claim.owner_key.clone(), claim.key.clone());
    let Some(row) = cart_idempotency_key::Entity::find_by_id(key.clone())
        .lock_exclusive()
        .one(transaction)
        .await?
    else {
        return Ok(None);
    };
    if row.created_at >= claim.valid_since {
        return Ok(Some(idempotent_write(row)));
    }
    cart_idempotency_key::Entity::delete_by_id(key)
        .exec(transaction)
        .await?;
    Ok(None)
}

impl SqlDatabase {
    /// Stores `claim` for the write to `cart_uuid` in the write's transaction.
    async fn insert_claim(
        &self,
        transaction: &DatabaseTransaction,
        claim: Option<&IdempotencyClaim>,
        cart_uuid: &str,
    ) -> Result<(), DbErr> {
        let Some(claim) = claim else {
            return Ok(());
        };
        cart_idempotency_key::ActiveModel {
            owner_key: Set(claim.owner_key.clone()),
            idempotency_key: Set(claim.key.clone()),
            fingerprint: Set(claim.fingerprint.clone()),
            cart_uuid: Set(cart_uuid.to_owned()),
            reply: Set(None),
            created_at: Set(self.now_micros()),
        }
        .insert(transaction)
        .await?;
        Ok(())
    }

    async fn cart_transaction(&self) -> Result<(DatabaseTransaction, WriteTurn), CartError> {
        self.write_transaction().await.map_err(CartError::from)
    }

    /// Inserts `new`, as the owner's default cart in its store when `is_default`.
    async fn insert_cart(
        &self,
        transaction: &DatabaseTransaction,
        new: &NewCart,
        is_default: bool,
    ) -> Result<cart::Model, Attempt> {
        let store_id = store_id_by_name(transaction, &new.store)
            .await?
            .ok_or_else(|| CartError::rejected("112", format!("unknown store {}", new.store)))?;
        let currency_id = currency_id_by_code(transaction, &new.currency)
            .await?
            .ok_or_else(|| CartError::rejected("117", format!("unknown currency {}", new.currency)))?;
        let (customer_reference, anonymous_id) = match &new.owner {
            CartOwner::Customer(reference) => (Some(reference.clone()), None),
            CartOwner::Guest(anonymous_id) => (None, Some(anonymous_id.clone())),
        };
        let now = self.now_micros();
        let row = cart::ActiveModel {
            uuid: Set(new.uuid.clone()),
            store_id: Set(store_id),
            customer_reference: Set(customer_reference),
            anonymous_id: Set(anonymous_id),
            default_owner_key: Set(is_default.then(|| owner_key(&new.owner))),
            name: Set(new.name.clone()),
            currency_id: Set(currency_id),
            price_mode: Set(new.price_mode.as_str().to_owned()),
            is_default: Set(is_default),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
            ..Default::default()
        }
        .insert(transaction)
        .await?;
        Ok(row)
    }

    async fn try_create_cart(
        &self,
        new: &NewCart,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<ClaimedWrite<StoredCart>, Attempt> {
        let (transaction, _turn) = self.cart_transaction().await?;
        let locator = CartLocator::Default {
            store: new.store.clone(),
        };
        let has_default = match locate(&transaction, &new.owner, &locator).await? {
            Some(condition) => cart::Entity::find()
                .filter(condition)
                .lock_exclusive()
                .one(&transaction)
                .await?
                .is_some(),
            None => false,
        };
        if let Some(earlier) = claimed_before(&transaction, claim).await? {
            return Ok(ClaimedWrite::Repeated(earlier));
        }
        let row = self.insert_cart(&transaction, new, !has_default).await?;
        let created = stored_cart(&transaction, row).await?;
        self.insert_claim(&transaction, claim, &created.uuid).await?;
        transaction.commit().await?;
        Ok(ClaimedWrite::Written(created))
    }

    async fn try_change_cart(
        &self,
        owner: &CartOwner,
        locator: &CartLocator,
        create_missing: Option<&NewCart>,
        claim: Option<&IdempotencyClaim>,
        edit: &CartEdit<'_>,
    ) -> Result<ClaimedWrite<Option<StoredCart>>, Attempt> {
        let (transaction, _turn) = self.cart_transaction().await?;
        let found = match locate(&transaction, owner, locator).await? {
            Some(condition) => {
                cart::Entity::find()
                    .filter(condition)
                    .lock_exclusive()
                    .one(&transaction)
                    .await?
            }
            None => None,
        };
        let row = match (found, create_missing, locator) {
            (Some(row), _, _) => row,
            (None, Some(new), CartLocator::Default { .. }) => self.insert_cart(&transaction, new, true).await?,
            (None, _, _) => return Ok(ClaimedWrite::Written(None)),
        };
        if let Some(earlier) = claimed_before(&transaction, claim).await? {
            return Ok(ClaimedWrite::Repeated(earlier));
        }
        let cart_id = row.id;
        let lines = cart_item::Entity::find()
            .filter(cart_item::Column::CartId.eq(cart_id))
            .order_by_asc(cart_item::Column::Id)
            .lock_exclusive()
            .all(&transaction)
            .await?;
        let mut original = stored_cart(&transaction, row).await?;
        // The locking read above is the truth for the lines (stored_cart's plain read may be a snapshot).
        original.items = lines
            .iter()
            .map(|line| StoredItem {
                sku: line.sku.clone(),
                group_key: line.group_key.clone(),
                quantity: quantity_of(line),
            })
            .collect();
        let mut edited = original.clone();
        edit(&mut edited)?;

        let now = self.now_micros();
        self.write_lines(&transaction, cart_id, &original.items, &edited.items)
            .await?;
        let currency_id = if edited.currency == original.currency {
            None
        } else {
            Some(
                currency_id_by_code(&transaction, &edited.currency)
                    .await?
                    .ok_or_else(|| CartError::rejected("117", format!("unknown currency {}", edited.currency)))?,
            )
        };
        let mut update = cart::Entity::update_many()
            .col_expr(cart::Column::Name, Expr::value(edited.name.clone()))
            .col_expr(cart::Column::PriceMode, Expr::value(edited.price_mode.as_str()))
            .col_expr(cart::Column::UpdatedAt, Expr::value(now))
            .col_expr(cart::Column::Version, Expr::col(cart::Column::Version).add(1));
        if let Some(currency_id) = currency_id {
            update = update.col_expr(cart::Column::CurrencyId, Expr::value(currency_id));
        }
        update.filter(cart::Column::Id.eq(cart_id)).exec(&transaction).await?;
        self.insert_claim(&transaction, claim, &edited.uuid).await?;
        transaction.commit().await?;
        edited.updated_at = now;
        Ok(ClaimedWrite::Written(Some(edited)))
    }

    /// Brings the stored lines of `cart_id` from `before` to `after`, matching lines by group key.
    async fn write_lines(
        &self,
        transaction: &DatabaseTransaction,
        cart_id: i64,
        before: &[StoredItem],
        after: &[StoredItem],
    ) -> Result<(), DbErr> {
        let kept: HashSet<&str> = after.iter().map(|line| line.group_key.as_str()).collect();
        let removed: Vec<&str> = before
            .iter()
            .map(|line| line.group_key.as_str())
            .filter(|group_key| !kept.contains(group_key))
            .collect();
        if !removed.is_empty() {
            cart_item::Entity::delete_many()
                .filter(cart_item::Column::CartId.eq(cart_id))
                .filter(cart_item::Column::GroupKey.is_in(removed))
                .exec(transaction)
                .await?;
        }
        let previous: HashMap<&str, &StoredItem> = before.iter().map(|line| (line.group_key.as_str(), line)).collect();
        for line in after {
            match previous.get(line.group_key.as_str()) {
                Some(old) if old.quantity == line.quantity && old.sku == line.sku => {}
                Some(_) => {
                    cart_item::Entity::update_many()
                        .col_expr(cart_item::Column::Quantity, Expr::value(i64::from(line.quantity)))
                        .col_expr(cart_item::Column::Sku, Expr::value(line.sku.clone()))
                        .filter(cart_item::Column::CartId.eq(cart_id))
                        .filter(cart_item::Column::GroupKey.eq(line.group_key.as_str()))
                        .exec(transaction)
                        .await?;
                }
                None => {
                    cart_item::ActiveModel {
                        cart_id: Set(cart_id),
                        sku: Set(line.sku.clone()),
                        group_key: Set(line.group_key.clone()),
                        quantity: Set(i64::from(line.quantity)),
                        ..Default::default()
                    }
                    .insert(transaction)
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn try_delete_cart(&self, owner: &CartOwner, uuid: &str) -> Result<bool, Attempt> {
        let (transaction, _turn) = self.cart_transaction().await?;
        let Some(row) = cart::Entity::find()
            .filter(owned_by(owner).add(cart::Column::Uuid.eq(uuid)))
            .lock_exclusive()
            .one(&transaction)
            .await?
        else {
            return Ok(false);
        };
        cart::Entity::delete_by_id(row.id).exec(&transaction).await?;
        if row.is_default {
            // The oldest remaining cart of the owner in the store takes over as default.
            let successor = cart::Entity::find()
                .filter(owned_by(owner).add(cart::Column::StoreId.eq(row.store_id)))
                .order_by_asc(cart::Column::Id)
                .lock_exclusive()
                .one(&transaction)
                .await?;
            if let Some(successor) = successor {
                cart::Entity::update_many()
                    .col_expr(cart::Column::IsDefault, Expr::value(true))
                    .col_expr(cart::Column::DefaultOwnerKey, Expr::value(owner_key(owner)))
                    .col_expr(cart::Column::Version, Expr::col(cart::Column::Version).add(1))
                    .filter(cart::Column::Id.eq(successor.id))
                    .exec(&transaction)
                    .await?;
            }
        }
        transaction.commit().await?;
        Ok(true)
    }

    async fn try_merge_guest_cart(
        &self,
        anonymous_id: &str,
        customer_reference: &str,
        store_name: &str,
    ) -> Result<bool, Attempt> {
        let guest = CartOwner::Guest(anonymous_id.to_owned());
        let customer = CartOwner::Customer(customer_reference.to_owned());
        let (transaction, _turn) = self.cart_transaction().await?;
        let Some(store_id) = store_id_by_name(&transaction, store_name).await? else {
            return Ok(false);
        };
        let default_of = |owner: &CartOwner| {
            owned_by(owner)
                .add(cart::Column::StoreId.eq(store_id))
                .add(cart::Column::DefaultOwnerKey.eq(owner_key(owner)))
        };
        // Guest first, then customer: every merge locks in this order, so merges cannot deadlock each other.
        let Some(guest_cart) = cart::Entity::find()
            .filter(default_of(&guest))
            .lock_exclusive()
            .one(&transaction)
            .await?
        else {
            return Ok(false);
        };
        let target = cart::Entity::find()
            .filter(default_of(&customer))
            .lock_exclusive()
            .one(&transaction)
            .await?;
        let now = self.now_micros();
        match target {
            None => {
                // The customer has no cart here: the guest cart becomes theirs.
                cart::Entity::update_many()
                    .col_expr(cart::Column::CustomerReference, Expr::value(customer_reference))
                    .col_expr(cart::Column::AnonymousId, Expr::value(Option::<String>::None))
                    .col_expr(cart::Column::DefaultOwnerKey, Expr::value(owner_key(&customer)))
                    .col_expr(cart::Column::IsDefault, Expr::value(true))
                    .col_expr(cart::Column::UpdatedAt, Expr::value(now))
                    .col_expr(cart::Column::Version, Expr::col(cart::Column::Version).add(1))
                    .filter(cart::Column::Id.eq(guest_cart.id))
                    .exec(&transaction)
                    .await?;
            }
            Some(target) => {
                let lines = cart_item::Entity::find()
                    .filter(cart_item::Column::CartId.is_in([guest_cart.id, target.id]))
                    .order_by_asc(cart_item::Column::Id)
                    .lock_exclusive()
                    .all(&transaction)
                    .await?;
                let to_items = |cart_id: i64| -> Vec<StoredItem> {
                    lines
                        .iter()
                        .filter(|line| line.cart_id == cart_id)
                        .map(|line| StoredItem {
                            sku: line.sku.clone(),
                            group_key: line.group_key.clone(),
                            quantity: quantity_of(line),
                        })
                        .collect()
                };
                let before = to_items(target.id);
                let mut after = before.clone();
                for line in to_items(guest_cart.id) {
                    match after.iter_mut().find(|kept| kept.group_key == line.group_key) {
                        Some(kept) => kept.quantity = kept.quantity.saturating_add(line.quantity),
                        None => after.push(line),
                    }
                }
                self.write_lines(&transaction, target.id, &before, &after).await?;
                cart::Entity::delete_by_id(guest_cart.id).exec(&transaction).await?;
                cart::Entity::update_many()
                    .col_expr(cart::Column::UpdatedAt, Expr::value(now))
                    .col_expr(cart::Column::Version, Expr::col(cart::Column::Version).add(1))
                    .filter(cart::Column::Id.eq(target.id))
                    .exec(&transaction)
                    .await?;
            }
        }
        transaction.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl CartRepository for SqlDatabase {
    async fn list_carts(&self, owner: &CartOwner, store: &str) -> Result<Vec<StoredCart>, CartError> {
        let connection = self.connection();
        let Some(store_id) = store_id_by_name(connection, store).await.map_err(storage)? else {
            return Ok(Vec::new());
        };
        let rows = cart::Entity::find()
            .filter(owned_by(owner).add(cart::Column::StoreId.eq(store_id)))
            .order_by_desc(cart::Column::IsDefault)
            .order_by_asc(cart::Column::Id)
            .all(connection)
            .await
            .map_err(storage)?;
        stored_carts(connection, rows).await
    }

    async fn find_cart(&self, owner: &CartOwner, locator: &CartLocator) -> Result<Option<StoredCart>, CartError> {
        let connection = self.connection();
        let Some(condition) = locate(connection, owner, locator).await.map_err(storage)? else {
            return Ok(None);
        };
        let row = cart::Entity::find()
            .filter(condition)
            .one(connection)
            .await
            .map_err(storage)?;
        match row {
            Some(row) => Ok(Some(stored_cart(connection, row).await?)),
            None => Ok(None),
        }
    }

    async fn create_cart(&self, cart: &NewCart) -> Result<StoredCart, CartError> {
        match retrying!(self.try_create_cart(cart, None))? {
            ClaimedWrite::Written(created) => Ok(created),
            ClaimedWrite::Repeated(_) => Err(CartError::Storage("an unclaimed write was repeated".to_owned())),
        }
    }

    async fn change_cart(
        &self,
        owner: &CartOwner,
        locator: &CartLocator,
        create_missing: Option<&NewCart>,
        edit: &CartEdit<'_>,
    ) -> Result<Option<StoredCart>, CartError> {
        match retrying!(self.try_change_cart(owner, locator, create_missing, None, edit))? {
            ClaimedWrite::Written(changed) => Ok(changed),
            ClaimedWrite::Repeated(_) => Err(CartError::Storage("an unclaimed write was repeated".to_owned())),
        }
    }

    async fn create_cart_once(
        &self,
        cart: &NewCart,
        claim: &IdempotencyClaim,
    ) -> Result<ClaimedWrite<StoredCart>, CartError> {
        retrying!(self.try_create_cart(cart, Some(claim)))
    }

    async fn change_cart_once(
        &self,
        owner: &CartOwner,
        locator: &CartLocator,
        create_missing: Option<&NewCart>,
        claim: &IdempotencyClaim,
        edit: &CartEdit<'_>,
    ) -> Result<ClaimedWrite<Option<StoredCart>>, CartError> {
        retrying!(self.try_change_cart(owner, locator, create_missing, Some(claim), edit))
    }

    async fn find_idempotent_write(
        &self,
        owner_key: &str,
        key: &str,
        valid_since: i64,
    ) -> Result<Option<IdempotentWrite>, CartError> {
        let row = cart_idempotency_key::Entity::find_by_id((owner_key.to_owned(), key.to_owned()))
            .filter(cart_idempotency_key::Column::CreatedAt.gte(valid_since))
            .one(self.connection())
            .await
            .map_err(storage)?;
        Ok(row.map(idempotent_write))
    }

    async fn record_idempotent_reply(&self, owner_key: &str, key: &str, reply: &str) -> Result<(), CartError> {
        let (transaction, _turn) = self.cart_transaction().await?;
        cart_idempotency_key::Entity::update_many()
            .col_expr(cart_idempotency_key::Column::Reply, Expr::value(reply))
            .filter(cart_idempotency_key::Column::OwnerKey.eq(owner_key))
            .filter(cart_idempotency_key::Column::IdempotencyKey.eq(key))
            .exec(&transaction)
            .await
            .map_err(storage)?;
        transaction.commit().await.map_err(storage)
    }

    async fn delete_expired_idempotency_keys(&self, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, CartError> {
        let expired = || cart_idempotency_key::Column::CreatedAt.lt(cutoff.timestamp_micros());
        let (transaction, _turn) = self.cart_transaction().await?;
        // The batch ends at the creation time of its last key; keys created in the same microsecond go
        // with it, so a batch may be a little larger, never endless.
        let last: Option<i64> = cart_idempotency_key::Entity::find()
            .select_only()
            .column(cart_idempotency_key::Column::CreatedAt)
            .filter(expired())
            .order_by_asc(cart_idempotency_key::Column::CreatedAt)
            .offset(batch.saturating_sub(1))
            .limit(1)
            .into_tuple()
            .one(&transaction)
            .await
            .map_err(storage)?;
        let mut delete = cart_idempotency_key::Entity::delete_many().filter(expired());
        if let Some(last) = last {
            delete = delete.filter(cart_idempotency_key::Column::CreatedAt.lte(last));
        }
        let deleted = delete.exec(&transaction).await.map_err(storage)?.rows_affected;
        transaction.commit().await.map_err(storage)?;
        Ok(deleted)
    }

    async fn delete_cart(&self, owner: &CartOwner, cart_id: &str) -> Result<bool, CartError> {
        retrying!(self.try_delete_cart(owner, cart_id))
    }

    async fn merge_guest_cart(
        &self,
        anonymous_id: &str,
        customer_reference: &str,
        store: &str,
    ) -> Result<bool, CartError> {
        retrying!(self.try_merge_guest_cart(anonymous_id, customer_reference, store))
    }

    async fn delete_stale_guest_carts(&self, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, CartError> {
        let stale = || {
            Condition::all()
                .add(cart::Column::AnonymousId.is_not_null())
                .add(cart::Column::UpdatedAt.lt(cutoff.timestamp_micros()))
        };
        let (transaction, _turn) = self.cart_transaction().await?;
        let ids: Vec<i64> = cart::Entity::find()
            .select_only()
            .column(cart::Column::Id)
            .filter(stale())
            .order_by_asc(cart::Column::Id)
            .limit(batch)
            .into_tuple()
            .all(&transaction)
            .await
            .map_err(storage)?;
        if ids.is_empty() {
            return Ok(0);
        }
        // Lines go with their cart (ON DELETE CASCADE). The condition is repeated: a guest who touched
        // the cart since it was selected keeps it.
        let deleted = cart::Entity::delete_many()
            .filter(cart::Column::Id.is_in(ids))
            .filter(stale())
            .exec(&transaction)
            .await
            .map_err(storage)?;
        transaction.commit().await.map_err(storage)?;
        Ok(deleted.rows_affected)
    }
}

/// Rows of `E` whose `column` is one of `ids` and that meet `condition`, in chunks under the engines'
/// bind-parameter limits.
async fn rows_in_where<E, C>(
    connection: &C,
    column: E::Column,
    ids: &[i64],
    condition: Condition,
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        rows.extend(
            E::find()
                .filter(condition.clone())
                .filter(column.is_in(chunk.iter().copied()))
                .all(connection)
                .await?,
        );
    }
    Ok(rows)
}

#[async_trait]
impl CartCatalog for SqlDatabase {
    async fn store_settings(&self, name: &str) -> Result<Option<StoreSettings>, CartError> {
        // One statement: the store with its default locale and currency, one row per linked currency
        // (a single row with no linked currency when it has none).
        let default_currency = Alias::new("default_currency");
        let query = Query::select()
            .column((store::Entity, store::Column::Id))
            .column((store::Entity, store::Column::Name))
            .expr_as(Expr::col((locale::Entity, locale::Column::Name)), "default_locale")
            .expr_as(
                Expr::col((default_currency.clone(), currency::Column::Code)),
                "default_currency",
            )
            .expr_as(Expr::col((currency::Entity, currency::Column::Code)), "currency")
            .from(store::Entity)
            .join(
                JoinType::LeftJoin,
                locale::Entity,
                Expr::col((locale::Entity, locale::Column::Id)).equals((store::Entity, store::Column::DefaultLocaleId)),
            )
            .join_as(
                JoinType::LeftJoin,
                currency::Entity,
                default_currency.clone(),
                Expr::col((default_currency.clone(), currency::Column::Id))
                    .equals((store::Entity, store::Column::DefaultCurrencyId)),
            )
            .join(
                JoinType::LeftJoin,
                store_currency::Entity,
                Expr::col((store_currency::Entity, store_currency::Column::StoreId))
                    .equals((store::Entity, store::Column::Id)),
            )
            .join(
                JoinType::LeftJoin,
                currency::Entity,
                Expr::col((currency::Entity, currency::Column::Id))
                    .equals((store_currency::Entity, store_currency::Column::CurrencyId)),
            )
            .and_where(Expr::col((store::Entity, store::Column::Name)).eq(name))
            .order_by((store_currency::Entity, store_currency::Column::Position), Order::Asc)
            .order_by((store_currency::Entity, store_currency::Column::CurrencyId), Order::Asc)
            .to_owned();
        let rows = self.connection().query_all(&query).await.map_err(storage)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let id: i64 = first.try_get("", "id").map_err(storage)?;
        let store_name: String = first.try_get("", "name").map_err(storage)?;
        let default_locale: Option<String> = first.try_get("", "default_locale").map_err(storage)?;
        let default_currency: String = first
            .try_get::<Option<String>>("", "default_currency")
            .map_err(storage)?
            .ok_or_else(|| CartError::Storage(format!("store {name} has no default currency")))?;
        let mut currencies = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(code) = row.try_get::<Option<String>>("", "currency").map_err(storage)? {
                currencies.push(code);
            }
        }
        if !currencies.contains(&default_currency) {
            currencies.insert(0, default_currency.clone());
        }
        Ok(Some(StoreSettings {
            id: StoreId(id),
            tax_country: store_tax_country(&store_name, default_locale.as_deref().unwrap_or_default()),
            name: store_name,
            currencies,
            default_currency,
        }))
    }

    async fn catalog_items(
        &self,
        store: &StoreSettings,
        currency_code: &str,
        price_mode: PriceMode,
        skus: &[String],
    ) -> Result<HashMap<String, CatalogItem>, CartError> {
        self.catalog(store, currency_code, price_mode, skus, true).await
    }

    async fn catalog_prices(
        &self,
        store: &StoreSettings,
        currency_code: &str,
        price_mode: PriceMode,
        skus: &[String],
    ) -> Result<HashMap<String, CatalogItem>, CartError> {
        self.catalog(store, currency_code, price_mode, skus, false).await
    }
}

impl SqlDatabase {
    /// The catalog items of `skus`; with `with_stock`, their availability in the store too.
    async fn catalog(
        &self,
        store: &StoreSettings,
        currency_code: &str,
        price_mode: PriceMode,
        skus: &[String],
        with_stock: bool,
    ) -> Result<HashMap<String, CatalogItem>, CartError> {
        let connection = self.connection();
        let store_id = store.id.0;
        let concretes = catalog_rows(connection, store_id, &store.tax_country, skus)
            .await
            .map_err(storage)?;
        if concretes.is_empty() {
            return Ok(HashMap::new());
        }
        let concrete_ids: Vec<i64> = concretes.iter().map(|row| row.concrete_id).collect();
        let mut abstract_ids: Vec<i64> = concretes.iter().map(|row| row.abstract_id).collect();
        abstract_ids.sort_unstable();
        abstract_ids.dedup();

        // DEFAULT prices in the store and currency: the concrete's own, else the abstract's, per mode.
        let mut concrete_prices: HashMap<i64, UnitPrice> = HashMap::new();
        let mut abstract_prices: HashMap<i64, UnitPrice> = HashMap::new();
        let currency_id = self
            .cached_id("currency", currency_code, || {
                currency_id_by_code(connection, currency_code)
            })
            .await
            .map_err(storage)?;
        let default_type: Option<i64> = self
            .cached_id("price_type", PRICE_TYPE_DEFAULT, || {
                price_type::Entity::find()
                    .select_only()
                    .column(price_type::Column::Id)
                    .filter(price_type::Column::Name.eq(PRICE_TYPE_DEFAULT))
                    .into_tuple()
                    .one(connection)
            })
            .await
            .map_err(storage)?;
        if let (Some(currency_id), Some(default_type)) = (currency_id, default_type) {
            let gross = price_mode == PriceMode::Gross;
            // The base amount in the cart's mode, and the volume prices that have an amount in it.
            let amount = |row: &price_product::Model| {
                let base = if gross { row.gross_amount } else { row.net_amount };
                base.map(|base| {
                    let tiers = decode_volume_prices(row.volume_prices.as_deref())
                        .iter()
                        .filter_map(|tier| tier.amount(gross).map(|amount| (tier.quantity, amount)))
                        .collect::<Vec<_>>();
                    (base, tiers)
                })
            };
            let concrete_set: HashSet<i64> = concrete_ids.iter().copied().collect();
            let abstract_set: HashSet<i64> = abstract_ids.iter().copied().collect();
            // The concretes' and their abstracts' prices in one statement per chunk of both.
            let chunks = concrete_ids
                .len()
                .max(abstract_ids.len())
                .div_ceil(PRICE_OWNERS_PER_QUERY);
            for index in 0..chunks {
                let concrete_part = concrete_ids
                    .chunks(PRICE_OWNERS_PER_QUERY)
                    .nth(index)
                    .unwrap_or_default();
                let abstract_part = abstract_ids
                    .chunks(PRICE_OWNERS_PER_QUERY)
                    .nth(index)
                    .unwrap_or_default();
                let mut owners = Condition::any();
                if !concrete_part.is_empty() {
                    owners = owners.add(price_product::Column::ProductConcreteId.is_in(concrete_part.iter().copied()));
                }
                if !abstract_part.is_empty() {
                    owners = owners.add(price_product::Column::ProductAbstractId.is_in(abstract_part.iter().copied()));
                }
                let rows = price_product::Entity::find()
                    .filter(price_product::Column::StoreId.eq(store_id))
                    .filter(price_product::Column::CurrencyId.eq(currency_id))
                    .filter(price_product::Column::PriceTypeId.eq(default_type))
                    .filter(owners)
                    .all(connection)
                    .await
                    .map_err(storage)?;
                for row in rows {
                    let Some(price) = amount(&row) else { continue };
                    if let Some(owner) = row.product_concrete_id.filter(|id| concrete_set.contains(id)) {
                        concrete_prices.insert(owner, price.clone());
                    }
                    if let Some(owner) = row.product_abstract_id.filter(|id| abstract_set.contains(id)) {
                        abstract_prices.insert(owner, price);
                    }
                }
            }
        }

        let mut stock: HashMap<i64, (i64, bool)> = HashMap::new();
        let mut reserved: HashMap<String, i64> = HashMap::new();
        if with_stock {
            self.stock_of(store_id, &concretes, &concrete_ids, &mut stock, &mut reserved)
                .await?;
        }
        Ok(Self::items_of(
            concretes,
            &concrete_prices,
            &abstract_prices,
            &stock,
            &reserved,
        ))
    }

    /// Stock in the active warehouses that deliver to the store, and the units reserved by open orders.
    async fn stock_of(
        &self,
        store_id: i64,
        concretes: &[CatalogRow],
        concrete_ids: &[i64],
        stock: &mut HashMap<i64, (i64, bool)>,
        reserved: &mut HashMap<String, i64>,
    ) -> Result<(), CartError> {
        let connection = self.connection();
        let active_warehouses = super::orders::active_warehouses(connection, store_id)
            .await
            .map_err(storage)?;
        if !active_warehouses.is_empty() {
            let in_warehouses =
                Condition::all().add(stock_product::Column::WarehouseId.is_in(active_warehouses.iter().copied()));
            for row in rows_in_where::<stock_product::Entity, _>(
                connection,
                stock_product::Column::ProductConcreteId,
                concrete_ids,
                in_warehouses,
            )
            .await
            .map_err(storage)?
            {
                let entry = stock.entry(row.product_concrete_id).or_insert((0, false));
                entry.0 = entry.0.saturating_add(Ord::max(row.quantity, 0));
                entry.1 |= row.is_never_out_of_stock;
            }
        }
        // Units held by open orders are not for sale.
        let skus_here: Vec<String> = concretes.iter().map(|row| row.sku.clone()).collect();
        *reserved = super::orders::reserved_quantities(connection, store_id, &skus_here, false)
            .await
            .map_err(storage)?;
        Ok(())
    }

    /// Catalog items from the loaded rows.
    fn items_of(
        concretes: Vec<CatalogRow>,
        concrete_prices: &HashMap<i64, UnitPrice>,
        abstract_prices: &HashMap<i64, UnitPrice>,
        stock: &HashMap<i64, (i64, bool)>,
        reserved: &HashMap<String, i64>,
    ) -> HashMap<String, CatalogItem> {
        concretes
            .into_iter()
            .map(|concrete| {
                let (on_hand, is_never_out_of_stock) = stock.get(&concrete.concrete_id).copied().unwrap_or((0, false));
                let available_quantity = Ord::max(on_hand - reserved.get(&concrete.sku).copied().unwrap_or(0), 0);
                // A concrete's own price, volume prices included, replaces its abstract's.
                let price = concrete_prices
                    .get(&concrete.concrete_id)
                    .or_else(|| abstract_prices.get(&concrete.abstract_id));
                let item = CatalogItem {
                    abstract_sku: concrete.abstract_sku,
                    is_active: concrete.is_active,
                    is_in_store: concrete.is_in_store,
                    unit_price: price.map(|(base, _)| *base),
                    volume_prices: price.map(|(_, tiers)| tiers.clone()).unwrap_or_default(),
                    tax_rate: tax_percent(concrete.rate_basis_points),
                    available_quantity,
                    is_never_out_of_stock,
                    sku: concrete.sku.clone(),
                };
                (concrete.sku, item)
            })
            .collect()
    }
}
