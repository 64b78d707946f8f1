//! `kontor-bench-seed`: loads a benchmark catalog straight into a migrated, empty Kontor database.
//!
//! Reference data (locales `de_DE` and `en_US`, currency EUR, store DE, warehouse `Bench`) goes through
//! the ordinary repositories, so it is exactly what the admin API would store (with outbox rows). The
//! products then go in as bulk `INSERT`s through the SeaORM entities, 500 products per transaction:
//! per abstract product its row, names in both locales, the store link and two URLs; two concrete
//! products with names in both locales; one abstract DEFAULT/DE/EUR price; one stock row per concrete.
//!
//! The reference data's own outbox rows are marked relayed at the end (a full `kontor publish` follows).
//! The bulk part bypasses the repositories' checks **and writes no outbox rows**: it is only fit for
//! measuring a full re-publish (`kontor publish` reads the source tables) and as the catalog a lag
//! benchmark updates through the admin API. Abstract product `n` has id `n`, concretes `2n-1` and `2n`.

use anyhow::{Context, bail};
use clap::Parser;
use kontor_db::SqlDatabase;
use kontor_db::entity::{
    price_product, price_type, product_abstract, product_abstract_localized, product_abstract_store, product_concrete,
    product_concrete_localized, stock_product, url,
};
use kontor_domain::pricing::PRICE_TYPE_DEFAULT;
use kontor_domain::stock::WarehouseAttributes;
use kontor_domain::store::{CurrencyAttributes, LocaleAttributes, StoreAttributes};
use kontor_domain::{Record, Resource, ResourceRepository, Valid};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::json;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Parser)]
#[command(about = "Bulk-load a benchmark catalog into a migrated, empty Kontor database")]
struct Args {
    /// `sqlite://…/kontor.db` or `postgres://…` (the database must be migrated: `kontor migrate`).
    #[arg(long, env = "KONTOR_DATABASE__URL")]
    database_url: String,
    /// Abstract products to create (each with 2 concretes, 2 locales, 1 price, 2 stock rows).
    #[arg(long, default_value_t = 100_000)]
    products: i64,
    /// Abstract products per transaction.
    #[arg(long, default_value_t = 500)]
    chunk: i64,
}

/// Creates one record through the repository, as the admin API would.
async fn create<R: Resource>(db: &SqlDatabase, attributes: serde_json::Value) -> anyhow::Result<Record<R>>
where
    SqlDatabase: ResourceRepository<R>,
{
    let parsed: R = serde_json::from_value(attributes).with_context(|| format!("parse {}", R::TYPE))?;
    let valid = Valid::new(parsed).map_err(|error| anyhow::anyhow!("{}: {error:?}", R::TYPE))?;
    ResourceRepository::create(db, &valid)
        .await
        .map_err(|error| anyhow::anyhow!("create {}: {error:?}", R::TYPE))
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
}

/// The ids the bulk rows refer to.
struct Refs {
    de_de: i64,
    en_us: i64,
    store: i64,
    currency: i64,
    warehouse: i64,
    price_type: i64,
}

async fn reference_data(db: &SqlDatabase) -> anyhow::Result<Refs> {
    let de_de = create::<LocaleAttributes>(db, json!({"name": "de_DE"}))
        .await?
        .id
        .into();
    let en_us = create::<LocaleAttributes>(db, json!({"name": "en_US"}))
        .await?
        .id
        .into();
    let currency = create::<CurrencyAttributes>(db, json!({"code": "EUR", "name": "Euro"}))
        .await?
        .id
        .into();
    let store = create::<StoreAttributes>(
        db,
        json!({"name": "DE", "defaultLocale": "de_DE", "defaultCurrency": "EUR", "locales": ["de_DE", "en_US"]}),
    )
    .await?
    .id
    .into();
    let warehouse = create::<WarehouseAttributes>(db, json!({"name": "Bench", "stores": ["DE"]}))
        .await?
        .id
        .into();
    let price_type = price_type::Entity::find()
        .filter(price_type::Column::Name.eq(PRICE_TYPE_DEFAULT))
        .one(db.connection())
        .await?
        .context("price type DEFAULT is missing (is the database migrated?)")?
        .id;
    Ok(Refs {
        de_de,
        en_us,
        store,
        currency,
        warehouse,
        price_type,
    })
}

/// Inserts abstract products `first..=last` with everything that hangs off them, in one transaction.
async fn insert_chunk(db: &SqlDatabase, refs: &Refs, first: i64, last: i64) -> anyhow::Result<()> {
    let now = now_micros();
    let locales = [(refs.de_de, "de", "Produkt"), (refs.en_us, "en", "Product")];
    let (mut abstracts, mut abstract_texts, mut links, mut urls) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut concretes, mut concrete_texts, mut prices, mut stocks) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for id in first..=last {
        let sku = format!("bench-{id:07}");
        abstracts.push(product_abstract::ActiveModel {
            id: Set(id),
            sku: Set(sku.clone()),
            attributes: Set("{}".to_owned()),
            tax_set_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        for (locale_id, language, noun) in locales {
            let name = format!("Bench {noun} {sku}");
            abstract_texts.push(product_abstract_localized::ActiveModel {
                id: NotSet,
                product_abstract_id: Set(id),
                locale_id: Set(locale_id),
                name: Set(name.clone()),
                description: Set(format!("{name}: a product for the publish benchmark.")),
                meta_title: Set(String::new()),
                meta_keywords: Set(String::new()),
                meta_description: Set(String::new()),
                attributes: Set("{}".to_owned()),
            });
            urls.push(url::ActiveModel {
                id: NotSet,
                url: Set(format!("/{language}/bench-{}-{sku}-{id}", noun.to_lowercase())),
                locale_id: Set(locale_id),
                product_abstract_id: Set(Some(id)),
                category_node_id: Set(None),
                url_redirect_id: Set(None),
                updated_at: Set(now),
            });
        }
        links.push(product_abstract_store::ActiveModel {
            product_abstract_id: Set(id),
            store_id: Set(refs.store),
        });
        for variant in 0..2 {
            let concrete_id = 2 * id - 1 + variant;
            concretes.push(product_concrete::ActiveModel {
                id: Set(concrete_id),
                sku: Set(format!("{sku}_{variant}")),
                product_abstract_id: Set(id),
                attributes: Set("{}".to_owned()),
                is_active: Set(true),
                created_at: Set(now),
                updated_at: Set(now),
            });
            for (locale_id, _, noun) in locales {
                concrete_texts.push(product_concrete_localized::ActiveModel {
                    id: NotSet,
                    product_concrete_id: Set(concrete_id),
                    locale_id: Set(locale_id),
                    name: Set(format!("Bench {noun} {sku} variant {variant}")),
                    description: Set(String::new()),
                    is_searchable: Set(true),
                    attributes: Set("{}".to_owned()),
                });
            }
            stocks.push(stock_product::ActiveModel {
                id: NotSet,
                product_concrete_id: Set(concrete_id),
                warehouse_id: Set(refs.warehouse),
                quantity: Set(10 + id % 90),
                is_never_out_of_stock: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        prices.push(price_product::ActiveModel {
            id: NotSet,
            price_key: Set(format!("a{id}:{}:{}:{}", refs.price_type, refs.store, refs.currency)),
            product_abstract_id: Set(Some(id)),
            product_concrete_id: Set(None),
            price_type_id: Set(refs.price_type),
            store_id: Set(refs.store),
            currency_id: Set(refs.currency),
            net_amount: Set(Some(1000 + id % 9000)),
            gross_amount: Set(Some(1190 + id % 9000)),
            volume_prices: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
    }
    let transaction = db.connection().begin().await?;
    product_abstract::Entity::insert_many(abstracts)
        .exec_without_returning(&transaction)
        .await?;
    product_abstract_localized::Entity::insert_many(abstract_texts)
        .exec_without_returning(&transaction)
        .await?;
    product_abstract_store::Entity::insert_many(links)
        .exec_without_returning(&transaction)
        .await?;
    url::Entity::insert_many(urls)
        .exec_without_returning(&transaction)
        .await?;
    product_concrete::Entity::insert_many(concretes)
        .exec_without_returning(&transaction)
        .await?;
    product_concrete_localized::Entity::insert_many(concrete_texts)
        .exec_without_returning(&transaction)
        .await?;
    price_product::Entity::insert_many(prices)
        .exec_without_returning(&transaction)
        .await?;
    stock_product::Entity::insert_many(stocks)
        .exec_without_returning(&transaction)
        .await?;
    transaction.commit().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.products < 1 || !(1..=2000).contains(&args.chunk) {
        bail!("--products must be positive and --chunk between 1 and 2000");
    }
    let db = SqlDatabase::connect(&args.database_url, 4)
        .await
        .context("connect to the database")?;
    if product_abstract::Entity::find().count(db.connection()).await? > 0 {
        bail!("the database already has products; seed a fresh, migrated database");
    }
    let started = Instant::now();
    let refs = reference_data(&db).await?;
    let mut first = 1;
    while first <= args.products {
        let last = (first + args.chunk - 1).min(args.products);
        insert_chunk(&db, &refs, first, last)
            .await
            .with_context(|| format!("insert products {first}..={last}"))?;
        first = last + 1;
    }
    // The reference rows' outbox rows would make a worker re-publish every availability and product
    // page document (a warehouse change routes to "all"): mark them relayed, as `kontor publish` covers
    // them, so that draining the queues afterwards measures only the sync writers.
    db.connection()
        .execute_unprepared(&format!(
            "UPDATE outbox SET relayed_at = {} WHERE relayed_at IS NULL",
            now_micros()
        ))
        .await?;
    if db.backend() == DbBackend::Postgres {
        // Explicit ids do not move PostgreSQL's sequences; later creates must not collide with them.
        for table in ["product_abstract", "product_concrete"] {
            let sql = format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))");
            db.connection().execute_unprepared(&sql).await?;
        }
        db.connection().execute_unprepared("ANALYZE").await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "seeded {} abstract products ({} concretes, {} prices, {} stock rows) in {seconds:.1} s ({:.0} products/s); ids 1..={}",
        args.products,
        2 * args.products,
        args.products,
        2 * args.products,
        args.products as f64 / seconds.max(0.001),
        args.products
    );
    Ok(())
}
