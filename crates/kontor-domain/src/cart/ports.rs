//! The ports of the cart module and the records they exchange: [`CartRepository`] stores carts and
//! their lines, [`CartCatalog`] answers what the shop sells (store currencies, prices, tax rates and
//! availability). Both are implemented by `kontor_db::SqlDatabase`.
//!
//! Invariants the adapters keep: every read and write is filtered by the owner (someone else's cart
//! is simply not found); a store holds at most one default cart per owner (a guest's one cart is its
//! default); [`CartRepository::change_cart`] runs the edit under a lock on the cart, so concurrent
//! edits of one cart serialise and never lose a quantity.

use crate::gateway::{CartOwner, Rejection};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_core::ids::StoreId;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::fmt;

/// Whether a cart's prices include tax (`GROSS_MODE`) or tax is added on top (`NET_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceMode {
    Gross,
    Net,
}

impl PriceMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            PriceMode::Gross => "GROSS_MODE",
            PriceMode::Net => "NET_MODE",
        }
    }

    /// `GROSS_MODE` or `NET_MODE`, exactly as Glue spells them.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "GROSS_MODE" => Some(PriceMode::Gross),
            "NET_MODE" => Some(PriceMode::Net),
            _ => None,
        }
    }
}

impl fmt::Display for PriceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a cart needs to know about its store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub id: StoreId,
    pub name: String,
    /// ISO currency codes the store accepts, in the store's order.
    pub currencies: Vec<String>,
    pub default_currency: String,
    /// The country whose tax rates apply (see [`super::store_tax_country`]).
    pub tax_country: String,
}

/// A stored cart with its lines, owner-checked by the repository that returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCart {
    /// The cart's UUID, its public id.
    pub uuid: String,
    pub store: String,
    pub owner: CartOwner,
    pub name: String,
    /// ISO currency code.
    pub currency: String,
    pub price_mode: PriceMode,
    pub is_default: bool,
    /// Lines in the order they were first added.
    pub items: Vec<StoredItem>,
    /// Epoch microseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl StoredCart {
    pub fn item(&self, group_key: &str) -> Option<&StoredItem> {
        self.items.iter().find(|item| item.group_key == group_key)
    }

    pub fn item_mut(&mut self, group_key: &str) -> Option<&mut StoredItem> {
        self.items.iter_mut().find(|item| item.group_key == group_key)
    }
}

/// One cart line: a concrete SKU and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub sku: String,
    /// The line's identity inside the cart; the SKU for now (product options will extend it).
    pub group_key: String,
    pub quantity: u32,
}

/// A cart to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCart {
    pub uuid: String,
    pub store: String,
    pub owner: CartOwner,
    pub name: String,
    pub currency: String,
    pub price_mode: PriceMode,
}

/// Which cart of an owner a command addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartLocator {
    /// By UUID, in whichever store it is.
    Id(String),
    /// The owner's default cart in a store (a guest's one cart).
    Default { store: String },
}

/// An `Idempotency-Key` on a cart write (storefront-api.md §1). The repository stores it in the
/// transaction of the write, so it exists exactly when the write committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// `c:<customer reference>` / `g:<anonymous id>`: every owner has keys of its own.
    pub owner_key: String,
    pub key: String,
    /// Hex SHA-256 of the request without its key: a repeat must be the same request.
    pub fingerprint: String,
    /// Epoch microseconds: a key stored before this has expired and is free again.
    pub valid_since: i64,
}

/// What the first write under an idempotency key left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentWrite {
    pub fingerprint: String,
    /// The cart the write created or changed.
    pub cart_uuid: String,
    /// The first answer as gateway JSON; `None` until it is recorded after the commit.
    pub reply: Option<String>,
}

/// The outcome of a write under an [`IdempotencyClaim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimedWrite<T> {
    /// The write happened now.
    Written(T),
    /// The key was used before (and has not expired): nothing was written.
    Repeated(IdempotentWrite),
}

/// An edit of a cart under its lock: it may change the name, currency, price mode and items, or refuse
/// with [`CartError::Rejected`], in which case nothing is written.
pub type CartEdit<'a> = dyn Fn(&mut StoredCart) -> Result<(), CartError> + Send + Sync + 'a;

/// Why a cart operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CartError {
    /// A rule refused the change; nothing was written.
    #[error("cart change rejected: {}", .0.first().map_or("", |rejection| rejection.detail.as_str()))]
    Rejected(Vec<Rejection>),
    /// The storage failed; the message is for logs only.
    #[error("cart storage failed: {0}")]
    Storage(String),
}

impl CartError {
    pub fn rejected(code: &str, detail: impl Into<String>) -> Self {
        Self::Rejected(vec![Rejection::new(code, detail)])
    }

    pub fn rejected_at(code: &str, pointer: &str, detail: impl Into<String>) -> Self {
        Self::Rejected(vec![Rejection::new(code, detail).at(pointer)])
    }
}

impl From<crate::DomainError> for CartError {
    fn from(error: crate::DomainError) -> Self {
        Self::Storage(error.to_string())
    }
}

/// Cart storage.
#[async_trait]
pub trait CartRepository: Send + Sync {
    /// The owner's carts in `store`: the default cart first, then the oldest first.
    async fn list_carts(&self, owner: &CartOwner, store: &str) -> Result<Vec<StoredCart>, CartError>;

    /// The addressed cart if it exists and belongs to `owner`.
    async fn find_cart(&self, owner: &CartOwner, locator: &CartLocator) -> Result<Option<StoredCart>, CartError>;

    /// Inserts a cart. It becomes the owner's default cart in its store when the owner has none there.
    async fn create_cart(&self, cart: &NewCart) -> Result<StoredCart, CartError>;

    /// In one transaction: locks the addressed cart (inserting `create_missing` as the owner's default
    /// cart when a [`CartLocator::Default`] finds none), runs `edit` on it and stores the result.
    /// `Ok(None)` when the cart does not exist (or is not the owner's) and nothing was to be created.
    async fn change_cart(
        &self,
        owner: &CartOwner,
        locator: &CartLocator,
        create_missing: Option<&NewCart>,
        edit: &CartEdit<'_>,
    ) -> Result<Option<StoredCart>, CartError>;

    /// [`CartRepository::create_cart`] that also stores `claim` in its transaction, unless the claimed key
    /// was used before: then nothing is written.
    async fn create_cart_once(
        &self,
        cart: &NewCart,
        claim: &IdempotencyClaim,
    ) -> Result<ClaimedWrite<StoredCart>, CartError>;

    /// [`CartRepository::change_cart`] that also stores `claim` in its transaction, unless the claimed key
    /// was used before: then nothing is written and `edit` does not run.
    async fn change_cart_once(
        &self,
        owner: &CartOwner,
        locator: &CartLocator,
        create_missing: Option<&NewCart>,
        claim: &IdempotencyClaim,
        edit: &CartEdit<'_>,
    ) -> Result<ClaimedWrite<Option<StoredCart>>, CartError>;

    /// The unexpired write an owner made under `key`, if any.
    async fn find_idempotent_write(
        &self,
        owner_key: &str,
        key: &str,
        valid_since: i64,
    ) -> Result<Option<IdempotentWrite>, CartError>;

    /// Records the answer to the write made under `key`, for repeats to return.
    async fn record_idempotent_reply(&self, owner_key: &str, key: &str, reply: &str) -> Result<(), CartError>;

    /// Deletes at most `batch` idempotency keys stored before `cutoff`; returns how many.
    async fn delete_expired_idempotency_keys(&self, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, CartError>;

    /// Deletes the owner's cart; when it was the default, the owner's oldest remaining cart in that
    /// store becomes the default. `false` when there is no such cart of the owner.
    async fn delete_cart(&self, owner: &CartOwner, cart_id: &str) -> Result<bool, CartError>;

    /// In one transaction: adds the guest's cart lines in `store` to the customer's default cart there
    /// (quantities summed per group key) and deletes the guest cart; when the customer has no cart in the
    /// store, the guest cart itself becomes the customer's default cart. `false` when the guest has no cart.
    async fn merge_guest_cart(
        &self,
        anonymous_id: &str,
        customer_reference: &str,
        store: &str,
    ) -> Result<bool, CartError>;

    /// Deletes at most `batch` guest carts not changed since `cutoff` (with their lines) in one short
    /// transaction; returns how many.
    async fn delete_stale_guest_carts(&self, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, CartError>;
}

/// What the cart needs to know about one concrete product in a store, currency and price mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    pub sku: String,
    pub abstract_sku: String,
    /// The concrete product is active.
    pub is_active: bool,
    /// The abstract product is assigned to the store.
    pub is_in_store: bool,
    /// The DEFAULT price in the asked currency and mode, minor units: the concrete's own price, else the
    /// abstract's. `None` when neither has one.
    pub unit_price: Option<i64>,
    /// The volume prices of that same price in the asked mode: (from quantity, unit amount).
    pub volume_prices: Vec<(u32, i64)>,
    /// Percent (19 for 19 %), from the abstract's tax set for the store's tax country; 0 without one.
    pub tax_rate: Decimal,
    /// Σ stock of the SKU in the active warehouses that deliver to the store, less the units reserved by
    /// open orders (never below 0).
    pub available_quantity: i64,
    /// Some warehouse of the store never runs out of this SKU.
    pub is_never_out_of_stock: bool,
}

impl CatalogItem {
    /// The unit price of a line of `quantity` pieces, volume prices applied; `None` without a price.
    pub fn unit_price_for(&self, quantity: u32) -> Option<i64> {
        self.unit_price
            .map(|base| crate::pricing::unit_price_for(base, &self.volume_prices, quantity))
    }

    /// Whether `quantity` pieces can be sold.
    pub fn can_supply(&self, quantity: u64) -> bool {
        self.is_never_out_of_stock || i64::try_from(quantity).is_ok_and(|wanted| wanted <= self.available_quantity)
    }
}

/// The shop's catalog as carts see it. Loads are batched: one call per cart view, whatever its size.
#[async_trait]
pub trait CartCatalog: Send + Sync {
    /// The store's currencies and tax country; `None` for an unknown store.
    async fn store_settings(&self, store: &str) -> Result<Option<StoreSettings>, CartError>;

    /// The known concrete products among `skus`, keyed by SKU; unknown SKUs are absent.
    async fn catalog_items(
        &self,
        store: &StoreSettings,
        currency: &str,
        price_mode: PriceMode,
        skus: &[String],
    ) -> Result<HashMap<String, CatalogItem>, CartError>;

    /// Like [`CartCatalog::catalog_items`] for callers that check stock themselves (checkout does,
    /// under lock): availability fields may be left at zero.
    async fn catalog_prices(
        &self,
        store: &StoreSettings,
        currency: &str,
        price_mode: PriceMode,
        skus: &[String],
    ) -> Result<HashMap<String, CatalogItem>, CartError> {
        self.catalog_items(store, currency, price_mode, skus).await
    }
}
