//! Persistent carts of customers and guests, with totals computed from the catalog's prices and taxes
//! (storefront-api.md §7, §8.8–§8.9).
//!
//! Rules:
//! - A customer has any number of carts per store; the first one is the default. A guest has exactly one
//!   cart per store, created by the first added item. Someone else's cart is `101`, never a leak.
//! - Lines are keyed by group key (the SKU for now); adding a SKU again adds to its quantity. A line's
//!   quantity never exceeds the SKU's availability in the store unless it is never out of stock; lowering
//!   a quantity is always allowed.
//! - Nothing about prices is stored: every view is priced with the catalog's current DEFAULT prices in the
//!   cart's currency and price mode, volume prices applied to each line's quantity ([`totals`] has the
//!   arithmetic). A line whose product can no longer be priced (deactivated, price removed) is shown with
//!   zero amounts and counts for nothing until removed.
//! - Tax country: stores have no country of their own, so a store named with two letters (`DE`, `AT`)
//!   taxes as that country, any other store as the region of its default locale (`en_US` → `US`). An
//!   abstract product without tax set, or without a rate for that country, is taxed at 0 %.
//! - `Idempotency-Key` on creating a cart or adding an item (storefront-api.md §1): the key is stored in
//!   the transaction of the write, so a repeat (a retry after a timeout or a crash) within 24 h changes
//!   nothing and gets the first answer; the same key on a different request is refused. Keys are per owner.

mod ports;
pub mod totals;

pub use ports::{
    CartCatalog, CartEdit, CartError, CartLocator, CartRepository, CatalogItem, ClaimedWrite, IdempotencyClaim,
    IdempotentWrite, NewCart, PriceMode, StoreSettings, StoredCart, StoredItem,
};

use crate::gateway::{
    Cart, CartChanges, CartCommand, CartInput, CartItem, CartOwner, GatewayError, GatewayReply, ItemCalculations,
    ItemInput, Rejection,
};
use kontor_core::{Clock, Sku, SystemClock};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How long an untouched guest cart is kept by default (storefront-api.md §7;
/// `backend.guest_cart_lifetime_days`).
pub const DEFAULT_GUEST_CART_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Guest carts deleted per transaction by [`CartService::purge_stale_guest_carts`]: each batch is a short
/// write, so carts stay writable (and SQLite's other writers get their turn) while a purge of many runs.
pub const GUEST_CART_PURGE_BATCH: u64 = 500;

/// How long an `Idempotency-Key` of a cart write holds (storefront-api.md §1).
pub const IDEMPOTENCY_KEY_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Expired idempotency keys deleted per transaction by [`CartService::purge_expired_idempotency_keys`].
pub const IDEMPOTENCY_KEY_PURGE_BATCH: u64 = 1000;

/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_LENGTH: usize = 255;

/// The name of a cart created without one.
pub const DEFAULT_CART_NAME: &str = "My Cart";

const MAX_NAME_LENGTH: usize = 255;
const MAX_ANONYMOUS_ID_LENGTH: usize = 255;

/// Glue's cart error codes (storefront-api.md §5).
mod code {
    pub const CART_NOT_FOUND: &str = "101";
    pub const ITEM_NOT_FOUND: &str = "103";
    pub const CREATE_FAILED: &str = "107";
    pub const ANONYMOUS_ID_EMPTY: &str = "109";
    pub const PRICE_MODE_LOCKED: &str = "111";
    pub const STORE_INVALID: &str = "112";
    pub const ITEM_NOT_ADDED: &str = "113";
    pub const ITEM_NOT_UPDATED: &str = "114";
    pub const CURRENCY_MISSING: &str = "116";
    pub const CURRENCY_INCORRECT: &str = "117";
    pub const PRICE_MODE_MISSING: &str = "118";
    pub const PRICE_MODE_INCORRECT: &str = "119";
    pub const INVALID_DATA: &str = "901";
}

mod pointer {
    pub const NAME: &str = "/data/attributes/name";
    pub const CURRENCY: &str = "/data/attributes/currency";
    pub const PRICE_MODE: &str = "/data/attributes/priceMode";
    pub const STORE: &str = "/data/attributes/store";
    pub const SKU: &str = "/data/attributes/sku";
    pub const QUANTITY: &str = "/data/attributes/quantity";
}

impl From<CartError> for GatewayError {
    fn from(error: CartError) -> Self {
        match error {
            CartError::Rejected(rejections) => GatewayError::Rejected(rejections),
            // Logged by the gateway's HTTP layer, never shown to clients.
            CartError::Storage(reason) => GatewayError::Internal(reason),
        }
    }
}

/// The country whose tax rates apply in a store: the store name when it is two letters (Spryker names
/// stores by country), else the region of the store's default locale.
pub fn store_tax_country(store_name: &str, default_locale: &str) -> String {
    if store_name.len() == 2 && store_name.chars().all(|c| c.is_ascii_alphabetic()) {
        return store_name.to_ascii_uppercase();
    }
    default_locale
        .rsplit_once('_')
        .map_or_else(String::new, |(_, region)| region.to_ascii_uppercase())
}

/// A tax rate stored in basis points (1900) as the percentage carts use (19).
pub fn tax_percent(basis_points: i32) -> rust_decimal::Decimal {
    rust_decimal::Decimal::new(i64::from(basis_points), 2).normalize()
}

/// A fresh random (version 4) UUID in its hyphenated lower-case form.
pub fn new_cart_uuid() -> String {
    use rand::RngCore;
    let mut bytes = [0_u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Runs the cart commands of the backend gateway.
pub struct CartService {
    carts: Arc<dyn CartRepository>,
    catalog: Arc<dyn CartCatalog>,
    clock: Arc<dyn Clock>,
}

impl CartService {
    /// A service over cart storage and the catalog (both `kontor_db::SqlDatabase` in the backend).
    pub fn new(carts: Arc<dyn CartRepository>, catalog: Arc<dyn CartCatalog>) -> Self {
        Self {
            carts,
            catalog,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock that decides which guest carts are stale.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs one cart command; every change is one transaction, and every cart comes back priced.
    pub async fn execute(&self, mut command: CartCommand) -> Result<GatewayReply, GatewayError> {
        let claim = match command.take_idempotency_key() {
            Some(key) => Some(self.claim(&command, key)?),
            None => None,
        };
        match command {
            CartCommand::ListCarts { owner, store } => {
                check_owner(&owner)?;
                self.store_settings(&store).await?;
                let carts = self.carts.list_carts(&owner, &store).await?;
                Ok(GatewayReply::Carts(self.views(carts).await?))
            }
            CartCommand::GetCart { owner, cart_id } => {
                check_owner(&owner)?;
                let cart = self.owned_cart(&owner, &cart_id).await?;
                Ok(GatewayReply::Cart(self.view(cart).await?))
            }
            CartCommand::CreateCart { owner, store, cart, .. } => {
                check_owner(&owner)?;
                if let Some(earlier) = self.earlier_write(claim.as_ref()).await? {
                    return self.repeat(&owner, claim.as_ref(), earlier, code::CREATE_FAILED).await;
                }
                let created = self.create_cart(owner.clone(), &store, cart, claim.as_ref()).await?;
                self.answer_once(&owner, claim.as_ref(), created, code::CREATE_FAILED)
                    .await
            }
            CartCommand::UpdateCart {
                owner,
                cart_id,
                changes,
            } => {
                check_owner(&owner)?;
                let updated = self.update_cart(&owner, &cart_id, changes).await?;
                Ok(GatewayReply::Cart(self.view(updated).await?))
            }
            CartCommand::DeleteCart { owner, cart_id } => {
                check_owner(&owner)?;
                if self.carts.delete_cart(&owner, &cart_id).await? {
                    Ok(GatewayReply::Done)
                } else {
                    Err(cart_not_found(&cart_id))
                }
            }
            CartCommand::AddItem {
                owner,
                store,
                cart_id,
                item,
                ..
            } => {
                check_owner(&owner)?;
                if let Some(earlier) = self.earlier_write(claim.as_ref()).await? {
                    return self.repeat(&owner, claim.as_ref(), earlier, code::ITEM_NOT_ADDED).await;
                }
                let cart = self.add_item(&owner, &store, cart_id, item, claim.as_ref()).await?;
                self.answer_once(&owner, claim.as_ref(), cart, code::ITEM_NOT_ADDED)
                    .await
            }
            CartCommand::UpdateItem {
                owner,
                cart_id,
                group_key,
                quantity,
            } => {
                check_owner(&owner)?;
                let cart = self.update_item(&owner, &cart_id, &group_key, quantity).await?;
                Ok(GatewayReply::Cart(self.view(cart).await?))
            }
            CartCommand::RemoveItem {
                owner,
                cart_id,
                group_key,
            } => {
                check_owner(&owner)?;
                let edit = |cart: &mut StoredCart| {
                    let before = cart.items.len();
                    cart.items.retain(|item| item.group_key != group_key);
                    if cart.items.len() == before {
                        return Err(item_not_found(&group_key));
                    }
                    Ok(())
                };
                let locator = CartLocator::Id(cart_id.clone());
                match self.carts.change_cart(&owner, &locator, None, &edit).await? {
                    Some(_) => Ok(GatewayReply::Done),
                    None => Err(cart_not_found(&cart_id)),
                }
            }
        }
    }

    /// Moves a guest's cart into the customer's default cart in `store` (quantities added per group key)
    /// and deletes the guest cart; nothing to do when the guest has no cart.
    pub async fn merge_guest_cart(
        &self,
        anonymous_id: &str,
        customer_reference: &str,
        store: &str,
    ) -> Result<(), GatewayError> {
        check_owner(&CartOwner::Guest(anonymous_id.to_owned()))?;
        self.carts
            .merge_guest_cart(anonymous_id, customer_reference, store)
            .await?;
        Ok(())
    }

    /// Deletes guest carts untouched for `older_than` (`kontor carts purge-guests` and the
    /// `carts-purge-guests` job pass `backend.guest_cart_lifetime_days`), at most `batch` per transaction
    /// until none is left; returns how many went. Carts touched while it runs are newer than the cut-off,
    /// so the loop ends.
    pub async fn purge_stale_guest_carts(&self, older_than: Duration, batch: u64) -> Result<u64, GatewayError> {
        let age = chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
        let cutoff = self
            .clock
            .now()
            .checked_sub_signed(age)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        // A batch of zero would delete nothing forever.
        let batch = batch.max(1);
        let mut purged: u64 = 0;
        loop {
            let deleted = self.carts.delete_stale_guest_carts(cutoff, batch).await?;
            purged = purged.saturating_add(deleted);
            if deleted < batch {
                return Ok(purged);
            }
        }
    }

    /// Deletes the idempotency keys of cart writes older than [`IDEMPOTENCY_KEY_LIFETIME`], at most
    /// `batch` per transaction until none is left; returns how many went.
    pub async fn purge_expired_idempotency_keys(&self, batch: u64) -> Result<u64, GatewayError> {
        let cutoff = self.idempotency_cutoff();
        let batch = batch.max(1);
        let mut purged: u64 = 0;
        loop {
            let deleted = self.carts.delete_expired_idempotency_keys(cutoff, batch).await?;
            purged = purged.saturating_add(deleted);
            if deleted < batch {
                return Ok(purged);
            }
        }
    }

    fn idempotency_cutoff(&self) -> chrono::DateTime<chrono::Utc> {
        let lifetime = chrono::Duration::from_std(IDEMPOTENCY_KEY_LIFETIME).unwrap_or(chrono::Duration::MAX);
        self.clock
            .now()
            .checked_sub_signed(lifetime)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
    }

    /// The claim of `key` for `command` (the command without its key, which the fingerprint covers).
    fn claim(&self, command: &CartCommand, key: String) -> Result<IdempotencyClaim, GatewayError> {
        if key.trim().is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LENGTH {
            return Err(GatewayError::rejected(
                code::INVALID_DATA,
                "Idempotency-Key must be 1 to 255 characters",
            ));
        }
        let owner = match command {
            CartCommand::CreateCart { owner, .. } | CartCommand::AddItem { owner, .. } => owner,
            _ => return Err(GatewayError::Internal("an idempotency key on a read".to_owned())),
        };
        let request = serde_json::to_vec(command).map_err(|error| GatewayError::Internal(error.to_string()))?;
        Ok(IdempotencyClaim {
            owner_key: crate::checkout::owner_key(owner),
            key,
            fingerprint: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&request)),
            valid_since: self.idempotency_cutoff().timestamp_micros(),
        })
    }

    /// The write made earlier under the claimed key, if any. Looked up before anything else, so a repeat
    /// gets the first answer even when the request would now be refused (the product sold out meanwhile).
    async fn earlier_write(&self, claim: Option<&IdempotencyClaim>) -> Result<Option<IdempotentWrite>, GatewayError> {
        let Some(claim) = claim else {
            return Ok(None);
        };
        Ok(self
            .carts
            .find_idempotent_write(&claim.owner_key, &claim.key, claim.valid_since)
            .await?)
    }

    /// The answer to a write under a claim: the priced cart, recorded for repeats; or, when the key turned
    /// out to be used (a concurrent repeat won), the first answer.
    async fn answer_once(
        &self,
        owner: &CartOwner,
        claim: Option<&IdempotencyClaim>,
        written: ClaimedWrite<StoredCart>,
        code: &str,
    ) -> Result<GatewayReply, GatewayError> {
        let cart = match written {
            ClaimedWrite::Written(cart) => cart,
            ClaimedWrite::Repeated(earlier) => return self.repeat(owner, claim, earlier, code).await,
        };
        let reply = GatewayReply::Cart(self.view(cart).await?);
        if let Some(claim) = claim {
            // The write has committed: failing to keep its answer must not fail the request. A repeat then
            // answers with the cart as it is.
            let recorded = match serde_json::to_string(&reply) {
                Ok(json) => self
                    .carts
                    .record_idempotent_reply(&claim.owner_key, &claim.key, &json)
                    .await
                    .map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            };
            if let Err(reason) = recorded {
                tracing::warn!(%reason, "could not record the answer to an idempotent cart write");
            }
        }
        Ok(reply)
    }

    /// The answer to a repeat of an earlier write: refused if the request differs, else the first answer
    /// (or, if it was never recorded, the cart as it is now).
    async fn repeat(
        &self,
        owner: &CartOwner,
        claim: Option<&IdempotencyClaim>,
        earlier: IdempotentWrite,
        code: &str,
    ) -> Result<GatewayReply, GatewayError> {
        if claim.is_some_and(|claim| claim.fingerprint != earlier.fingerprint) {
            return Err(GatewayError::rejected(
                code,
                "this Idempotency-Key was already used for a different request; use a new key",
            ));
        }
        if let Some(reply) = earlier.reply.as_deref()
            && let Ok(reply) = serde_json::from_str::<GatewayReply>(reply)
        {
            return Ok(reply);
        }
        let cart = self.owned_cart(owner, &earlier.cart_uuid).await?;
        Ok(GatewayReply::Cart(self.view(cart).await?))
    }

    async fn store_settings(&self, store: &str) -> Result<StoreSettings, GatewayError> {
        self.catalog
            .store_settings(store)
            .await?
            .ok_or_else(|| GatewayError::rejected(code::STORE_INVALID, format!("unknown store {store}")))
    }

    async fn owned_cart(&self, owner: &CartOwner, cart_id: &str) -> Result<StoredCart, GatewayError> {
        self.carts
            .find_cart(owner, &CartLocator::Id(cart_id.to_owned()))
            .await?
            .ok_or_else(|| cart_not_found(cart_id))
    }

    async fn create_cart(
        &self,
        owner: CartOwner,
        store: &str,
        input: CartInput,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<ClaimedWrite<StoredCart>, GatewayError> {
        if matches!(owner, CartOwner::Guest(_)) {
            return Err(GatewayError::rejected(
                code::CREATE_FAILED,
                "a guest's cart is created with its first item",
            ));
        }
        let settings = self.store_settings(store).await?;
        let mut rejections = Vec::new();
        if let Some(named) = input.store.as_deref().filter(|named| *named != settings.name) {
            rejections.push(
                Rejection::new(
                    code::STORE_INVALID,
                    format!("store {named} is not the store of the request"),
                )
                .at(pointer::STORE),
            );
        }
        let name = match input.name.as_deref() {
            None => Some(DEFAULT_CART_NAME.to_owned()),
            Some(raw) => valid_name(raw, &mut rejections),
        };
        let price_mode = match input.price_mode.as_deref() {
            None => {
                rejections
                    .push(Rejection::new(code::PRICE_MODE_MISSING, "priceMode is required").at(pointer::PRICE_MODE));
                None
            }
            Some(raw) => valid_price_mode(raw, &mut rejections),
        };
        let currency = match input.currency.as_deref() {
            None => {
                rejections.push(Rejection::new(code::CURRENCY_MISSING, "currency is required").at(pointer::CURRENCY));
                None
            }
            Some(raw) => valid_currency(raw, &settings, &mut rejections),
        };
        let (Some(name), Some(price_mode), Some(currency), true) = (name, price_mode, currency, rejections.is_empty())
        else {
            return Err(GatewayError::Rejected(rejections));
        };
        let cart = NewCart {
            uuid: new_cart_uuid(),
            store: settings.name,
            owner,
            name,
            currency,
            price_mode,
        };
        Ok(match claim {
            Some(claim) => self.carts.create_cart_once(&cart, claim).await?,
            None => ClaimedWrite::Written(self.carts.create_cart(&cart).await?),
        })
    }

    async fn update_cart(
        &self,
        owner: &CartOwner,
        cart_id: &str,
        changes: CartChanges,
    ) -> Result<StoredCart, GatewayError> {
        let current = self.owned_cart(owner, cart_id).await?;
        let settings = self.store_settings(&current.store).await?;
        let mut rejections = Vec::new();
        if let Some(named) = changes.store.as_deref().filter(|named| *named != current.store) {
            rejections.push(
                Rejection::new(code::STORE_INVALID, format!("a cart cannot move to store {named}")).at(pointer::STORE),
            );
        }
        let name = changes.name.as_deref().and_then(|raw| valid_name(raw, &mut rejections));
        let price_mode = changes
            .price_mode
            .as_deref()
            .and_then(|raw| valid_price_mode(raw, &mut rejections));
        let currency = changes
            .currency
            .as_deref()
            .and_then(|raw| valid_currency(raw, &settings, &mut rejections));
        if !rejections.is_empty() {
            return Err(GatewayError::Rejected(rejections));
        }
        // A new currency needs no stored prices changed: every view is priced on read.
        let edit = |cart: &mut StoredCart| {
            if let Some(mode) = price_mode.filter(|mode| *mode != cart.price_mode) {
                if !cart.items.is_empty() {
                    return Err(CartError::rejected_at(
                        code::PRICE_MODE_LOCKED,
                        pointer::PRICE_MODE,
                        "the price mode of a cart with items cannot be changed",
                    ));
                }
                cart.price_mode = mode;
            }
            if let Some(name) = &name {
                cart.name.clone_from(name);
            }
            if let Some(currency) = &currency {
                cart.currency.clone_from(currency);
            }
            Ok(())
        };
        self.carts
            .change_cart(owner, &CartLocator::Id(cart_id.to_owned()), None, &edit)
            .await?
            .ok_or_else(|| cart_not_found(cart_id))
    }

    async fn add_item(
        &self,
        owner: &CartOwner,
        store: &str,
        cart_id: Option<String>,
        item: ItemInput,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<ClaimedWrite<StoredCart>, GatewayError> {
        if item.quantity == 0 {
            return Err(GatewayError::rejected_at(
                code::INVALID_DATA,
                pointer::QUANTITY,
                "quantity must be at least 1",
            ));
        }
        let sku = item.sku.trim().to_owned();
        if Sku::parse(&sku).is_err() {
            return Err(GatewayError::rejected_at(
                code::ITEM_NOT_ADDED,
                pointer::SKU,
                format!("product {sku:?} does not exist"),
            ));
        }
        let locator = match cart_id {
            Some(id) => CartLocator::Id(id),
            None => CartLocator::Default {
                store: store.to_owned(),
            },
        };
        // The cart decides store, currency and price mode; a missing default cart will be created with the
        // store's defaults.
        let existing = self.carts.find_cart(owner, &locator).await?;
        let (settings, currency, price_mode, create_missing) = match (&existing, &locator) {
            (Some(cart), _) => (
                self.store_settings(&cart.store).await?,
                cart.currency.clone(),
                cart.price_mode,
                None,
            ),
            (None, CartLocator::Id(id)) => return Err(cart_not_found(id)),
            (None, CartLocator::Default { .. }) => {
                let settings = self.store_settings(store).await?;
                let new_cart = NewCart {
                    uuid: new_cart_uuid(),
                    store: settings.name.clone(),
                    owner: owner.clone(),
                    name: DEFAULT_CART_NAME.to_owned(),
                    currency: settings.default_currency.clone(),
                    price_mode: PriceMode::Gross,
                };
                let currency = new_cart.currency.clone();
                (settings, currency, PriceMode::Gross, Some(new_cart))
            }
        };
        let product = self
            .catalog
            .catalog_items(&settings, &currency, price_mode, std::slice::from_ref(&sku))
            .await?
            .remove(&sku);
        let product = sellable(product, &sku, &currency, price_mode)?;
        if !product.can_supply(u64::from(item.quantity)) {
            return Err(not_available(&product, code::ITEM_NOT_ADDED).into());
        }
        let edit = |cart: &mut StoredCart| {
            if cart.currency != currency || cart.price_mode != price_mode {
                return Err(CartError::rejected(
                    code::ITEM_NOT_ADDED,
                    format!("the cart's currency or price mode changed while {sku} was added; please retry"),
                ));
            }
            let in_cart = cart.item(&sku).map_or(0, |line| line.quantity);
            let wanted = u64::from(in_cart) + u64::from(item.quantity);
            if !product.can_supply(wanted) {
                return Err(not_available(&product, code::ITEM_NOT_ADDED));
            }
            let quantity = u32::try_from(wanted).map_err(|_| {
                CartError::rejected_at(code::ITEM_NOT_ADDED, pointer::QUANTITY, format!("too many of {sku}"))
            })?;
            match cart.item_mut(&sku) {
                Some(line) => line.quantity = quantity,
                None => cart.items.push(StoredItem {
                    sku: sku.clone(),
                    group_key: sku.clone(),
                    quantity,
                }),
            }
            Ok(())
        };
        let cart_reference = match &locator {
            CartLocator::Id(id) => id.clone(),
            CartLocator::Default { store } => format!("default cart in {store}"),
        };
        let written = match claim {
            Some(claim) => {
                self.carts
                    .change_cart_once(owner, &locator, create_missing.as_ref(), claim, &edit)
                    .await?
            }
            None => ClaimedWrite::Written(
                self.carts
                    .change_cart(owner, &locator, create_missing.as_ref(), &edit)
                    .await?,
            ),
        };
        match written {
            ClaimedWrite::Written(cart) => cart
                .map(ClaimedWrite::Written)
                .ok_or_else(|| cart_not_found(&cart_reference)),
            ClaimedWrite::Repeated(earlier) => Ok(ClaimedWrite::Repeated(earlier)),
        }
    }

    async fn update_item(
        &self,
        owner: &CartOwner,
        cart_id: &str,
        group_key: &str,
        quantity: u32,
    ) -> Result<StoredCart, GatewayError> {
        let current = self.owned_cart(owner, cart_id).await?;
        let Some(line) = current.item(group_key) else {
            return Err(item_not_found(group_key).into());
        };
        // Only an increase needs the catalog: lowering a quantity or removing a line is always allowed,
        // even for a product that is no longer sold.
        let product = if quantity > line.quantity {
            let settings = self.store_settings(&current.store).await?;
            let product = self
                .catalog
                .catalog_items(
                    &settings,
                    &current.currency,
                    current.price_mode,
                    std::slice::from_ref(&line.sku),
                )
                .await?
                .remove(&line.sku);
            let product = sellable(product, &line.sku, &current.currency, current.price_mode)
                .map_err(|error| retag(error, code::ITEM_NOT_UPDATED, pointer::QUANTITY))?;
            if !product.can_supply(u64::from(quantity)) {
                return Err(not_available(&product, code::ITEM_NOT_UPDATED).into());
            }
            Some(product)
        } else {
            None
        };
        let edit = |cart: &mut StoredCart| {
            if quantity == 0 {
                let before = cart.items.len();
                cart.items.retain(|line| line.group_key != group_key);
                return if cart.items.len() == before {
                    Err(item_not_found(group_key))
                } else {
                    Ok(())
                };
            }
            let Some(line) = cart.item_mut(group_key) else {
                return Err(item_not_found(group_key));
            };
            if let Some(product) = product.as_ref().filter(|_| quantity > line.quantity)
                && !product.can_supply(u64::from(quantity))
            {
                return Err(not_available(product, code::ITEM_NOT_UPDATED));
            }
            line.quantity = quantity;
            Ok(())
        };
        self.carts
            .change_cart(owner, &CartLocator::Id(cart_id.to_owned()), None, &edit)
            .await?
            .ok_or_else(|| cart_not_found(cart_id))
    }

    async fn view(&self, cart: StoredCart) -> Result<Cart, GatewayError> {
        let mut views = self.views(vec![cart]).await?;
        views
            .pop()
            .ok_or_else(|| GatewayError::Internal("a priced cart went missing".to_owned()))
    }

    /// Prices carts with the current catalog: one catalog load per store × currency × price mode.
    async fn views(&self, carts: Vec<StoredCart>) -> Result<Vec<Cart>, GatewayError> {
        let mut skus_by_pricing: HashMap<(String, String, PriceMode), BTreeSet<String>> = HashMap::new();
        for cart in &carts {
            skus_by_pricing
                .entry((cart.store.clone(), cart.currency.clone(), cart.price_mode))
                .or_default()
                .extend(cart.items.iter().map(|item| item.sku.clone()));
        }
        let mut settings_by_store: HashMap<String, StoreSettings> = HashMap::new();
        let mut catalog: HashMap<(String, String, PriceMode), HashMap<String, CatalogItem>> = HashMap::new();
        for ((store, currency, mode), skus) in skus_by_pricing {
            if skus.is_empty() {
                continue;
            }
            if !settings_by_store.contains_key(&store) {
                let settings = self.store_settings(&store).await?;
                settings_by_store.insert(store.clone(), settings);
            }
            let Some(settings) = settings_by_store.get(&store) else {
                continue;
            };
            let skus: Vec<String> = skus.into_iter().collect();
            let items = self.catalog.catalog_items(settings, &currency, mode, &skus).await?;
            catalog.insert((store, currency, mode), items);
        }
        let empty = HashMap::new();
        Ok(carts
            .into_iter()
            .map(|cart| {
                let products = catalog
                    .get(&(cart.store.clone(), cart.currency.clone(), cart.price_mode))
                    .unwrap_or(&empty);
                price_cart(cart, products)
            })
            .collect())
    }
}

/// A cart view priced with `products` (the catalog entries of its SKUs in its currency and mode).
pub fn price_cart(cart: StoredCart, products: &HashMap<String, CatalogItem>) -> Cart {
    let mode = cart.price_mode;
    let items: Vec<CartItem> = cart
        .items
        .into_iter()
        .map(|line| {
            let product = products.get(&line.sku);
            let sellable = product.filter(|product| product.is_active && product.is_in_store);
            let priced =
                sellable.and_then(|product| product.unit_price_for(line.quantity).map(|price| (product, price)));
            let calculations = match priced {
                Some((product, price)) => totals::item_calculations(mode, price, line.quantity, product.tax_rate),
                None => ItemCalculations::default(),
            };
            CartItem {
                abstract_sku: product.map(|product| product.abstract_sku.clone()).unwrap_or_default(),
                sku: line.sku,
                quantity: line.quantity,
                group_key: line.group_key,
                amount: None,
                calculations,
                selected_product_options: Vec::new(),
                sales_unit: None,
            }
        })
        .collect();
    let totals = totals::cart_totals(mode, items.iter().map(|item| &item.calculations));
    Cart {
        id: cart.uuid,
        name: cart.name,
        is_default: cart.is_default,
        price_mode: mode.as_str().to_owned(),
        currency: cart.currency,
        store: cart.store,
        totals,
        discounts: Vec::new(),
        thresholds: Vec::new(),
        items,
    }
}

fn check_owner(owner: &CartOwner) -> Result<(), GatewayError> {
    match owner {
        CartOwner::Guest(id) if id.trim().is_empty() || id.len() > MAX_ANONYMOUS_ID_LENGTH => {
            Err(GatewayError::rejected(
                code::ANONYMOUS_ID_EMPTY,
                "X-Anonymous-Customer-Unique-Id must be 1 to 255 characters",
            ))
        }
        // A customer reference comes from a verified token; an empty one owns nothing.
        _ => Ok(()),
    }
}

fn cart_not_found(cart_id: &str) -> GatewayError {
    GatewayError::rejected(code::CART_NOT_FOUND, format!("cart {cart_id} not found"))
}

fn item_not_found(group_key: &str) -> CartError {
    CartError::rejected(code::ITEM_NOT_FOUND, format!("item {group_key} not found in the cart"))
}

fn valid_name(raw: &str, rejections: &mut Vec<Rejection>) -> Option<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LENGTH {
        rejections.push(Rejection::new(code::INVALID_DATA, "name must be 1 to 255 characters").at(pointer::NAME));
        return None;
    }
    Some(name.to_owned())
}

fn valid_price_mode(raw: &str, rejections: &mut Vec<Rejection>) -> Option<PriceMode> {
    let mode = PriceMode::parse(raw);
    if mode.is_none() {
        rejections.push(
            Rejection::new(
                code::PRICE_MODE_INCORRECT,
                format!("price mode {raw:?} is not GROSS_MODE or NET_MODE"),
            )
            .at(pointer::PRICE_MODE),
        );
    }
    mode
}

fn valid_currency(raw: &str, settings: &StoreSettings, rejections: &mut Vec<Rejection>) -> Option<String> {
    if settings.currencies.iter().any(|code| code == raw) {
        return Some(raw.to_owned());
    }
    rejections.push(
        Rejection::new(
            code::CURRENCY_INCORRECT,
            format!("currency {raw:?} is not a currency of store {}", settings.name),
        )
        .at(pointer::CURRENCY),
    );
    None
}

/// The product if it can be put into a cart: known, active, sold in the store and priced.
fn sellable(
    product: Option<CatalogItem>,
    sku: &str,
    currency: &str,
    mode: PriceMode,
) -> Result<CatalogItem, GatewayError> {
    let reject = |detail: String| GatewayError::rejected_at(code::ITEM_NOT_ADDED, pointer::SKU, detail);
    let Some(product) = product else {
        return Err(reject(format!("product {sku} does not exist")));
    };
    if !product.is_active || !product.is_in_store {
        return Err(reject(format!("product {sku} is not available in this store")));
    }
    if product.unit_price.is_none() {
        return Err(reject(format!("product {sku} has no price in {currency} ({mode})")));
    }
    Ok(product)
}

fn not_available(product: &CatalogItem, code: &str) -> CartError {
    CartError::rejected_at(
        code,
        pointer::QUANTITY,
        format!(
            "only {} of product {} are available",
            product.available_quantity.max(0),
            product.sku
        ),
    )
}

/// The same rejections under another code (an update refuses with `114` what an add refuses with `113`).
fn retag(error: GatewayError, code: &str, pointer: &str) -> GatewayError {
    match error {
        GatewayError::Rejected(rejections) => GatewayError::Rejected(
            rejections
                .into_iter()
                .map(|rejection| Rejection::new(code, rejection.detail).at(pointer))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn stores_tax_as_their_country_or_their_locale_region() {
        assert_eq!(store_tax_country("DE", "de_DE"), "DE");
        assert_eq!(store_tax_country("AT", "en_US"), "AT");
        assert_eq!(store_tax_country("US_WEST", "en_US"), "US");
        assert_eq!(store_tax_country("MAIN", "broken"), "");
    }

    #[test]
    fn cart_uuids_are_version_4() {
        let uuid = new_cart_uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4');
        assert!(matches!(uuid.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{uuid}");
        assert_ne!(uuid, new_cart_uuid());
    }

    #[test]
    fn price_modes_parse_glue_spelling_only() {
        assert_eq!(PriceMode::parse("GROSS_MODE"), Some(PriceMode::Gross));
        assert_eq!(PriceMode::parse("NET_MODE"), Some(PriceMode::Net));
        assert_eq!(PriceMode::parse("gross"), None);
        assert_eq!(PriceMode::Net.to_string(), "NET_MODE");
    }

    fn product(sku: &str, price: Option<i64>) -> CatalogItem {
        CatalogItem {
            sku: sku.to_owned(),
            abstract_sku: format!("{sku}-abstract"),
            is_active: true,
            is_in_store: true,
            unit_price: price,
            volume_prices: Vec::new(),
            tax_rate: Decimal::from(19),
            available_quantity: 5,
            is_never_out_of_stock: false,
        }
    }

    #[test]
    fn unpriceable_lines_show_zero_and_count_for_nothing() {
        let cart = StoredCart {
            uuid: "u".to_owned(),
            store: "DE".to_owned(),
            owner: CartOwner::Customer("DE--1".to_owned()),
            name: DEFAULT_CART_NAME.to_owned(),
            currency: "EUR".to_owned(),
            price_mode: PriceMode::Gross,
            is_default: true,
            items: vec![
                StoredItem {
                    sku: "a".to_owned(),
                    group_key: "a".to_owned(),
                    quantity: 2,
                },
                StoredItem {
                    sku: "b".to_owned(),
                    group_key: "b".to_owned(),
                    quantity: 1,
                },
                StoredItem {
                    sku: "gone".to_owned(),
                    group_key: "gone".to_owned(),
                    quantity: 1,
                },
            ],
            created_at: 0,
            updated_at: 0,
        };
        let products = HashMap::from([
            ("a".to_owned(), product("a", Some(1190))),
            ("b".to_owned(), product("b", None)),
        ]);
        let view = price_cart(cart, &products);
        assert_eq!(view.items[0].calculations.sum_price, 2380);
        assert_eq!(view.items[0].abstract_sku, "a-abstract");
        assert_eq!(view.items[1].calculations, ItemCalculations::default());
        assert_eq!(view.items[2].abstract_sku, "");
        assert_eq!(view.totals.grand_total, 2380);
        assert_eq!(view.totals.tax_total, 380);
        assert_eq!(view.price_mode, "GROSS_MODE");
    }

    #[test]
    fn availability_allows_up_to_the_stock_or_anything_when_never_out() {
        let mut item = product("a", Some(1));
        assert!(item.can_supply(5));
        assert!(!item.can_supply(6));
        item.is_never_out_of_stock = true;
        assert!(item.can_supply(u64::MAX));
    }
}
