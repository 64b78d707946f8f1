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
        "version: 0\nactions:\n  - data_entity: stock\n    source: data/import/common/common/warehouse.csv\n  - data_entity: store\n    source: common/EU/store.csv\n  - data_entity: stock-store\n    source: x.csv\n  - data_entity: shipment\n    source: s.csv\n",
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
        format!("{}: unknown data entity \"shipment\"", recipe.display())
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
