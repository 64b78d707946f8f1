//! Shared test data: a small shop with stores DE and AT, made through the repositories themselves.

use kontor_core::{CurrencyCode, LocaleName, StoreName};
use kontor_db::{OutboxReader, SqlDatabase};
use kontor_domain::outbox::OutboxEntry;
use kontor_domain::store::{CurrencyAttributes, LocaleAttributes, StoreAttributes};
use kontor_domain::{Record, ResourceRepository, Valid};

pub fn locale(name: &str) -> LocaleName {
    LocaleName::parse(name).expect("valid locale")
}

pub fn currency(code: &str) -> CurrencyCode {
    CurrencyCode::parse(code).expect("valid currency")
}

pub fn store_name(name: &str) -> StoreName {
    StoreName::parse(name).expect("valid store")
}

pub fn valid<R: kontor_domain::Resource>(attributes: R) -> Valid<R> {
    Valid::new(attributes).expect("fixture is valid")
}

pub async fn create<R: kontor_domain::Resource>(db: &SqlDatabase, attributes: R) -> Record<R>
where
    SqlDatabase: ResourceRepository<R>,
{
    ResourceRepository::<R>::create(db, &valid(attributes))
        .await
        .expect("fixture is stored")
}

/// Locales de_DE and en_US, currencies EUR and CHF, store DE selling in both.
pub async fn base_shop(db: &SqlDatabase) -> Record<StoreAttributes> {
    for name in ["de_DE", "en_US"] {
        create(
            db,
            LocaleAttributes {
                name: locale(name),
                is_active: true,
            },
        )
        .await;
    }
    for (code, name) in [("EUR", "Euro"), ("CHF", "Swiss Franc")] {
        create(
            db,
            CurrencyAttributes {
                code: currency(code),
                name: name.to_owned(),
                fraction_digits: 2,
            },
        )
        .await;
    }
    create(
        db,
        StoreAttributes {
            name: store_name("DE"),
            default_locale: locale("de_DE"),
            default_currency: currency("EUR"),
            locales: vec![locale("de_DE"), locale("en_US")],
            currencies: vec![currency("EUR"), currency("CHF")],
            timezone: "Europe/Berlin".to_owned(),
        },
    )
    .await
}

/// The id of the newest outbox row, to look only at what a step adds.
pub async fn outbox_mark(db: &SqlDatabase) -> i64 {
    db.outbox_after(0, 1_000_000)
        .await
        .expect("outbox")
        .last()
        .map_or(0, |entry| entry.id)
}

/// Outbox rows after `mark` as `(resource, id, event)`.
pub async fn outbox_since(db: &SqlDatabase, mark: i64) -> Vec<(String, i64, String)> {
    let entries: Vec<OutboxEntry> = db.outbox_after(mark, 10_000).await.expect("outbox");
    entries
        .into_iter()
        .map(|entry| {
            let op = entry.change_kind().map_or("named", |kind| kind.as_str()).to_owned();
            (entry.resource, entry.entity_id, op)
        })
        .collect()
}
