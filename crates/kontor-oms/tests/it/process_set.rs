//! Loading the active processes of configured directories.

use std::path::PathBuf;
use std::sync::Arc;

use kontor_oms::{Checks, NoPlugins, ProcessSet, Severity, load_process_file};

use crate::support::{config_dir, fixture, kontor_keys};

fn names(active: &[&str]) -> Vec<String> {
    active.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn loads_the_default_process_from_config() {
    let (set, warnings) = ProcessSet::load(
        &[config_dir()],
        &names(&["KontorDefault01"]),
        &kontor_keys(),
        Checks::Full,
    )
    .expect("valid");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(set.names().collect::<Vec<_>>(), ["KontorDefault01"]);
    let process = set.get("KontorDefault01").expect("loaded");
    assert_eq!(process.states().count(), 12);
    assert!(set.get("Nopayment01").is_none());
}

#[test]
fn finds_processes_by_main_name_and_only_the_active_ones() {
    // Listing a directory twice is harmless.
    let dirs = [fixture("set"), fixture("set/../set")];
    let (set, warnings) = ProcessSet::load(
        &dirs,
        &names(&["Beta01", "Alpha01", "Alpha01"]),
        &NoPlugins,
        Checks::Full,
    )
    .expect("valid");
    assert_eq!(set.names().collect::<Vec<_>>(), ["Alpha01", "Beta01"]);
    assert_eq!(set.len(), 2);
    // Subprocess files under subdirectories are merged when declared.
    assert_eq!(
        set.get("Alpha01").and_then(|process| process.subprocess_of("archived")),
        Some("AlphaSub")
    );
    // The generic state machine namespace has no fixed initial state: "created" is its entry.
    assert!(
        set.get("Beta01")
            .is_some_and(|process| process.state("created").is_some())
    );

    // The malformed candidate is harmless while every active process is found.
    let skipped: Vec<(Severity, PathBuf, u32)> = warnings
        .iter()
        .map(|warning| (warning.severity, warning.location.file.clone(), warning.location.line))
        .collect();
    assert_eq!(skipped, vec![(Severity::Warning, fixture("set/Broken.xml"), 4)]);
    assert!(
        warnings[0].message.starts_with("skipped: malformed XML: "),
        "{}",
        warnings[0].message
    );
}

#[test]
fn every_active_name_must_be_found() {
    let dirs = [fixture("set")];
    let error =
        ProcessSet::load(&dirs, &names(&["Alpha01", "Hidden01"]), &NoPlugins, Checks::Full).expect_err("missing");
    let errors: Vec<(PathBuf, u32, String)> = error
        .errors()
        .map(|diagnostic| {
            (
                diagnostic.location.file.clone(),
                diagnostic.location.line,
                diagnostic.message.clone(),
            )
        })
        .collect();
    let missing = format!("active process 'Hidden01' not found in {}", fixture("set").display());
    assert_eq!(errors[0], (fixture("set"), 0, missing));
    // One of the unreadable candidates could be the missing process, so it is an error now.
    assert_eq!(errors[1].0, fixture("set/Broken.xml"));
    assert!(errors[1].2.starts_with("malformed XML: "));
    assert_eq!(errors.len(), 2);
}

#[test]
fn from_processes_indexes_by_name() {
    let (process, _) =
        load_process_file(&fixture("shop/ShopPayment01.xml"), &NoPlugins, Checks::StructureOnly).expect("valid");
    let set = ProcessSet::from_processes(vec![process]);
    let shared: &Arc<_> = set.get("ShopPayment01").expect("present");
    assert_eq!(shared.name(), "ShopPayment01");
    assert!(!set.is_empty());
}
