//! Recipe parsing: aliases, source resolution, dependency order, unknown entities.

use crate::fixtures::write;
use kontor_import::{DataEntity, ImportError, Recipe};

#[test]
fn aliases_and_spryker_paths_resolve() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("data/import/common")).expect("dirs");
    let recipe = write(
        dir.path(),
        "config/import/full.yml",
        "version: 0\nactions:\n  - data_entity: stock\n    source: data/import/common/common/warehouse.csv\n  - data_entity: store\n    source: common/EU/store.csv\n  - data_entity: stock-store\n    source: x.csv\n  - data_entity: product-price-schedule\n    source: p.csv\n",
    );
    let loaded = Recipe::load(&recipe, false).expect("recipe");
    assert_eq!(loaded.actions[0].entity, Some(DataEntity::Warehouse));
    assert_eq!(
        loaded.actions[0].path,
        dir.path().join("data/import/common/common/warehouse.csv")
    );
    assert_eq!(
        loaded.actions[1].path,
        dir.path().join("config/import/common/EU/store.csv")
    );
    assert_eq!(loaded.actions[2].entity, Some(DataEntity::WarehouseStore));
    assert_eq!(loaded.actions[3].entity, None, "not imported yet: skipped");

    let error = Recipe::load(&recipe, true).expect_err("strict");
    assert_eq!(
        error.to_string(),
        format!("{}: unknown data entity \"product-price-schedule\"", recipe.display())
    );
}

#[test]
fn order_is_checked_before_any_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = write(
        dir.path(),
        "full.yml",
        "version: 0\nactions:\n  - data_entity: store\n    source: a.csv\n  - data_entity: product-abstract-store\n    source: missing.csv\n",
    );
    let error = Recipe::load(&recipe, false).expect_err("order");
    assert!(matches!(error, ImportError::MissingPrerequisite { .. }));
    assert_eq!(
        error.to_string(),
        format!(
            "{}: data set \"product-abstract-store\" needs \"product-abstract\" earlier in the recipe",
            recipe.display()
        )
    );
}

#[test]
fn product_images_come_after_the_concretes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let steps = ["tax", "category", "product-attribute-key", "product-abstract"];
    let mut text = String::from("version: 0\nactions:\n");
    for entity in steps {
        text.push_str(&format!("  - data_entity: {entity}\n    source: {entity}.csv\n"));
    }
    let images = "  - data_entity: product-image\n    source: common/common/product_image.csv\n";
    let early = write(dir.path(), "early.yml", format!("{text}{images}"));
    let error = Recipe::load(&early, true).expect_err("order");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: data set \"product-image\" needs \"product-concrete\" earlier in the recipe",
            early.display()
        )
    );
    let concretes = "  - data_entity: product-concrete\n    source: product-concrete.csv\n";
    let ordered = write(dir.path(), "ordered.yml", format!("{text}{concretes}{images}"));
    let loaded = Recipe::load(&ordered, true).expect("a step Kontor imports");
    assert_eq!(loaded.actions[5].entity, Some(DataEntity::ProductImage));
    assert_eq!(
        loaded.actions[5].path,
        dir.path().join("common/common/product_image.csv")
    );
}

#[test]
fn shipment_and_payment_steps_follow_the_dependency_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Spryker's own order: shipment prices before the store links, payment methods after shipments.
    let steps = [
        ("store", "common/EU/store.csv"),
        ("currency", "common/common/currency.csv"),
        ("tax", "common/common/tax.csv"),
        ("shipment", "common/common/shipment.csv"),
        ("shipment-price", "common/DE/shipment_price.csv"),
        ("payment-method", "common/common/payment_method.csv"),
        ("shipment-method-store", "common/DE/shipment_method_store.csv"),
        ("payment-method-store", "common/DE/payment_method_store.csv"),
    ];
    let mut text = String::from("version: 0\nactions:\n");
    for (entity, source) in steps {
        text.push_str(&format!("  - data_entity: {entity}\n    source: {source}\n"));
    }
    let recipe = write(dir.path(), "full.yml", &text);
    let loaded = Recipe::load(&recipe, true).expect("every step is imported");
    let entities: Vec<Option<DataEntity>> = loaded.actions.iter().map(|action| action.entity).collect();
    assert_eq!(
        entities[3..],
        [
            Some(DataEntity::Shipment),
            Some(DataEntity::ShipmentPrice),
            Some(DataEntity::PaymentMethod),
            Some(DataEntity::ShipmentMethodStore),
            Some(DataEntity::PaymentMethodStore),
        ]
    );

    for (entity, missing, prefix) in [
        ("shipment", "tax", "  - data_entity: store\n    source: a.csv\n"),
        (
            "shipment-price",
            "shipment",
            "  - data_entity: currency\n    source: a.csv\n",
        ),
        (
            "shipment-method-store",
            "store",
            "  - data_entity: tax\n    source: a.csv\n  - data_entity: shipment\n    source: b.csv\n",
        ),
        (
            "payment-method-store",
            "payment-method",
            "  - data_entity: store\n    source: a.csv\n",
        ),
    ] {
        let text = format!("version: 0\nactions:\n{prefix}  - data_entity: {entity}\n    source: x.csv\n");
        let recipe = write(dir.path(), "order.yml", &text);
        let error = Recipe::load(&recipe, false).expect_err("order");
        assert_eq!(
            error.to_string(),
            format!(
                "{}: data set \"{entity}\" needs \"{missing}\" earlier in the recipe",
                recipe.display()
            )
        );
    }
}

#[test]
fn malformed_yaml_is_a_recipe_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = write(dir.path(), "full.yml", "version: 0\nactions: {oops\n");
    let error = Recipe::load(&recipe, false).expect_err("yaml");
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: invalid recipe: ", recipe.display())),
        "{error}"
    );
}
