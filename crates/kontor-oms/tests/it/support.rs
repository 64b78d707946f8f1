//! Shared helpers: fixture paths and the plugin keys Kontor registers out of the box.

use std::path::{Path, PathBuf};

use kontor_oms::{Checks, Diagnostic, KeyList, LoadError, Process, load_process_file};

pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// The repository's `config/oms`.
pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/oms")
}

/// Exactly the keys the brief of the default process lists: the built-in commands, conditions and timeout
/// processor.
pub fn kontor_keys() -> KeyList {
    let commands = [
        "Oms/SendOrderConfirmation",
        "Oms/SendOrderShipped",
        "Oms/SendOrderCancelled",
        "Payment/Capture",
        "Payment/Cancel",
        "Payment/Refund",
        "WarehouseAllocation/WarehouseAllocate",
        "Shipment/Ship",
        "Return/StartReturn",
        "Return/Receive",
        "Invoice/Generate",
        "DummyPayment/Pay",
        "DummyPayment/Refund",
    ];
    let conditions = [
        "Payment/IsCaptured",
        "DummyPayment/IsAuthorized",
        "DummyPayment/IsPayed",
    ];
    let mut keys = KeyList::new().timeout_processor("OmsTimeout/Initiation");
    for command in commands {
        keys = keys.command(command);
    }
    for condition in conditions {
        keys = keys.condition(condition);
    }
    keys
}

pub fn load(relative: &str) -> Result<(Process, Vec<Diagnostic>), LoadError> {
    load_process_file(&fixture(relative), &kontor_keys(), Checks::Full)
}

/// The load must fail; returns its errors as (file, line, message).
pub fn errors(relative: &str) -> Vec<(PathBuf, u32, String)> {
    let error = load(relative)
        .err()
        .unwrap_or_else(|| panic!("{relative} should not load"));
    error
        .errors()
        .map(|diagnostic| {
            (
                diagnostic.location.file.clone(),
                diagnostic.location.line,
                diagnostic.message.clone(),
            )
        })
        .collect()
}

/// Asserts that loading `relative` fails with exactly one error.
pub fn assert_single_error(relative: &str, file: &str, line: u32, message: &str) {
    assert_eq!(
        errors(relative),
        vec![(fixture(file), line, message.to_owned())],
        "{relative}"
    );
}
