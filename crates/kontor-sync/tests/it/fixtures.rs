//! A small catalog written through the repositories, exactly as the admin API writes it.

use kontor_db::SqlDatabase;
use kontor_domain::{Record, Resource, ResourceRepository, Valid};
use serde_json::{Value, json};

/// Creates a resource from its JSON attributes.
pub async fn create<R: Resource>(db: &SqlDatabase, attributes: Value) -> Record<R>
where
    SqlDatabase: ResourceRepository<R>,
{
    let parsed: R = serde_json::from_value(attributes).expect("fixture attributes parse");
    ResourceRepository::<R>::create(db, &Valid::new(parsed).expect("fixture is valid"))
        .await
        .expect("fixture is stored")
}

pub struct Catalog {
    pub abstract_id: i64,
    pub concrete_ids: Vec<i64>,
    pub abstract_price_id: i64,
}

/// Store DE (de_DE, en_US; EUR), a category, a camera with two colour variants, prices and stock.
pub async fn camera_shop(db: &SqlDatabase) -> Catalog {
    use kontor_domain::catalog::*;
    use kontor_domain::pricing::PriceAttributes;
    use kontor_domain::stock::{StockAttributes, WarehouseAttributes};
    use kontor_domain::store::*;
    create::<LocaleAttributes>(db, json!({"name": "de_DE"})).await;
    create::<LocaleAttributes>(db, json!({"name": "en_US"})).await;
    create::<CurrencyAttributes>(db, json!({"code": "EUR", "name": "Euro"})).await;
    create::<StoreAttributes>(
        db,
        json!({"name": "DE", "defaultLocale": "de_DE", "defaultCurrency": "EUR", "locales": ["de_DE", "en_US"]}),
    )
    .await;
    create::<AttributeKeyAttributes>(db, json!({"key": "color", "isSuper": true})).await;
    create::<AttributeKeyAttributes>(db, json!({"key": "brand"})).await;
    create::<CategoryAttributes>(
        db,
        json!({"categoryKey": "cameras", "stores": ["DE"], "localizedAttributes": {"de_DE": {"name": "Kameras"}, "en_US": {"name": "Cameras"}}}),
    )
    .await;
    let product = create::<ProductAbstractAttributes>(
        db,
        json!({"sku": "100", "stores": ["DE"], "attributes": {"brand": "Fjell"},
               "localizedAttributes": {"de_DE": {"name": "Kamera Fjell", "description": "Robuste Kamera"},
                                       "en_US": {"name": "Fjell Camera", "description": "A rugged camera"}}}),
    )
    .await;
    let mut concrete_ids = Vec::new();
    for (sku, color) in [("100_black", "black"), ("100_red", "red")] {
        let concrete = create::<ProductConcreteAttributes>(
            db,
            json!({"sku": sku, "abstractSku": "100", "attributes": {"color": color},
                   "localizedAttributes": {"en_US": {"name": format!("Fjell Camera {color}")}}}),
        )
        .await;
        concrete_ids.push(concrete.id.0);
    }
    create::<ProductCategoryAttributes>(db, json!({"abstractSku": "100", "categoryKey": "cameras"})).await;
    let price = create::<PriceAttributes>(
        db,
        json!({"abstractSku": "100", "store": "DE", "currency": "EUR", "grossAmount": 12900, "netAmount": 10840}),
    )
    .await;
    create::<WarehouseAttributes>(db, json!({"name": "Main", "stores": ["DE"]})).await;
    create::<StockAttributes>(db, json!({"sku": "100_black", "warehouse": "Main", "quantity": 4})).await;
    Catalog {
        abstract_id: product.id.0,
        concrete_ids,
        abstract_price_id: price.id.0,
    }
}
