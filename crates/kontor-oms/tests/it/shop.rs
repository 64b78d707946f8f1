//! A realistic multi-file process in the style of Spryker's DummyPayment01: a main file, subprocess files in a
//! subdirectory, one of them included twice (once with `prefix="Gift"`), and an event declared twice.

use kontor_oms::{Checks, NoPlugins, Severity, load_process_file};

use crate::support::{fixture, load};

#[test]
fn loads_with_only_the_redeclared_event_warning() {
    let (_, warnings) = load("shop/ShopPayment01.xml").expect("valid");
    let expected = vec![(
        Severity::Warning,
        fixture("shop/ShopSubprocess/ShopRefund01.xml"),
        23,
        format!(
            "event 'refund' is declared again; this declaration replaces the one at {}:145",
            fixture("shop/ShopPayment01.xml").display()
        ),
    )];
    let found: Vec<_> = warnings
        .into_iter()
        .map(|warning| {
            (
                warning.severity,
                warning.location.file,
                warning.location.line,
                warning.message,
            )
        })
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn merges_subprocesses_into_one_namespace() {
    let (process, _) = load("shop/ShopPayment01.xml").expect("valid");
    assert_eq!(process.name(), "ShopPayment01");
    let parts: Vec<&str> = process.parts().iter().map(|part| part.name.as_str()).collect();
    assert_eq!(
        parts,
        [
            "ShopPayment01",
            "ShopInvoice",
            "ShopReturn",
            "Gift - ShopReturn",
            "ShopRefund"
        ]
    );

    let states: Vec<&str> = process.states().map(|state| state.name.as_str()).collect();
    assert_eq!(
        states,
        [
            "new",
            "payment pending",
            "invalid",
            "cancelled",
            "paid",
            "confirmed",
            "exported",
            "shipped",
            "delivered",
            "closed",
            "invoice generated",
            "waiting for return",
            "returned",
            "Gift - waiting for return",
            "Gift - returned",
            "refunded",
        ]
    );
    assert_eq!(process.subprocess_of("new"), Some("ShopPayment01"));
    assert_eq!(process.subprocess_of("invoice generated"), Some("ShopInvoice"));
    assert_eq!(process.subprocess_of("returned"), Some("ShopReturn"));
    assert_eq!(process.subprocess_of("Gift - returned"), Some("Gift - ShopReturn"));
    assert_eq!(process.subprocess_of("unknown"), None);

    // The prefixed copy has its own events; the timeout text is kept for drawing.
    let gift_event = process.event("Gift - execute return").expect("prefixed event");
    assert_eq!(
        gift_event.timeout.as_ref().map(|timeout| timeout.text()),
        Some("14 days")
    );
    assert_eq!(
        process.candidates("Gift - waiting for return", Some("Gift - execute return"))[0].target,
        "Gift - returned"
    );

    // The later declaration of "refund" (in the subprocess file) wins.
    let refund = process.event("refund").expect("refund");
    assert_eq!(refund.command.as_deref(), Some("DummyPayment/Refund"));
    assert_eq!(refund.location.file, fixture("shop/ShopSubprocess/ShopRefund01.xml"));
    assert_eq!(process.events().filter(|event| event.name == "refund").count(), 1);
}

#[test]
fn keeps_attributes_flags_and_locations() {
    let (process, _) = load("shop/ShopPayment01.xml").expect("valid");
    let pending = process.state("payment pending").expect("state");
    assert!(pending.reserved);
    assert_eq!(pending.display.as_deref(), Some("oms.state.payment-pending"));
    assert_eq!(pending.flags, ["cancellable", "shop specific flag"]);
    assert!(pending.has_flag("shop specific flag") && !pending.has_flag("amendable"));
    assert_eq!(pending.location.line, 25);
    assert!(!process.state("cancelled").expect("state").reserved);
    assert!(
        process
            .state("invalid")
            .expect("state")
            .has_flag("exclude from customer")
    );

    // An attribute spread over two lines still belongs to the element's line.
    let pay = process.event("pay").expect("event");
    assert_eq!(pay.location.line, 136);
    assert!(pay.manual && !pay.on_enter);
    assert_eq!(pay.timeout_processor.as_deref(), Some("OmsTimeout/Initiation"));
    assert_eq!(pay.command.as_deref(), Some("DummyPayment/Pay"));
    assert_eq!(pay.timeout.as_ref().map(|timeout| timeout.text()), Some("1 hour"));
}

#[test]
fn conditional_transitions_and_their_else_branch_keep_document_order() {
    let (process, _) = load("shop/ShopPayment01.xml").expect("valid");
    let authorize = process.candidates("new", Some("authorize"));
    let summary: Vec<(&str, Option<&str>, bool)> = authorize
        .iter()
        .map(|transition| {
            (
                transition.target.as_str(),
                transition.condition.as_deref(),
                transition.happy,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("payment pending", Some("DummyPayment/IsAuthorized"), true),
            ("invalid", None, false)
        ]
    );
    assert_eq!(authorize[0].location.line, 42);

    // The background transition of the invoice subprocess.
    assert!(process.has_background_transitions("invoice generated"));
    assert!(!process.has_background_transitions("new"));
    let background = process.candidates("invoice generated", None);
    assert_eq!(background.len(), 1);
    assert_eq!(background[0].target, "exported");

    assert_eq!(process.manual_events("new"), ["cancel"]);
    assert_eq!(process.manual_events("payment pending"), ["cancel", "pay"]);
    assert_eq!(process.manual_events("shipped"), ["start return", "stock-update"]);
    assert_eq!(
        process.on_enter_event("paid").map(|event| event.name.as_str()),
        Some("confirm")
    );
    assert!(process.on_enter_event("new").is_none());
    let timed: Vec<&str> = process
        .timed_events("new")
        .iter()
        .map(|event| event.name.as_str())
        .collect();
    assert_eq!(timed, ["authorize"]);
    assert!(process.is_final("closed") && process.is_final("cancelled") && process.is_final("invalid"));
    assert!(!process.is_final("refunded"));
    assert_eq!(
        process.reserved_states(),
        ["new", "payment pending", "paid", "confirmed", "exported"]
    );
}

#[test]
fn loads_without_registry_when_checking_structure_only() {
    let (process, warnings) =
        load_process_file(&fixture("shop/ShopPayment01.xml"), &NoPlugins, Checks::StructureOnly).expect("valid");
    assert_eq!(process.states().count(), 16);
    assert_eq!(warnings.len(), 1);
    // …but not with every plugin key checked against an empty registry.
    let error = load_process_file(&fixture("shop/ShopPayment01.xml"), &NoPlugins, Checks::Full).expect_err("keys");
    assert!(
        error
            .errors()
            .any(|diagnostic| diagnostic.message == "command 'DummyPayment/Pay' is not registered")
    );
    assert!(
        error
            .errors()
            .any(|diagnostic| diagnostic.message == "timeout processor 'OmsTimeout/Initiation' is not registered")
    );
    assert!(
        error
            .errors()
            .any(|diagnostic| diagnostic.message == "condition 'DummyPayment/IsPayed' is not registered")
    );
}
