//! Kontor's default process `config/oms/KontorDefault01.xml` validates cleanly and behaves as specified.

use chrono::{TimeZone, Utc};
use kontor_oms::{Checks, Process, load_process_file};

use crate::support::{config_dir, kontor_keys};

fn default_process() -> Process {
    let path = config_dir().join("KontorDefault01.xml");
    let (process, warnings) = load_process_file(&path, &kontor_keys(), Checks::Full).expect("KontorDefault01 is valid");
    assert!(warnings.is_empty(), "{warnings:?}");
    process
}

/// (source, target, event, condition, happy) of a transition.
type EdgeSummary<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, bool);
/// (name, reserved, flags, display, declaring process) of a state.
type StateSummary<'a> = (&'a str, bool, Vec<&'a str>, Option<&'a str>, Option<&'a str>);
/// (name, onEnter, manual, timeout, command) of an event.
type EventSummary<'a> = (&'a str, bool, bool, Option<&'a str>, Option<&'a str>);

/// Every transition, in document order.
fn edges(process: &Process) -> Vec<EdgeSummary<'_>> {
    process
        .transitions()
        .iter()
        .map(|transition| {
            (
                transition.source.as_str(),
                transition.target.as_str(),
                transition.event.as_deref(),
                transition.condition.as_deref(),
                transition.happy,
            )
        })
        .collect()
}

#[test]
fn validates_without_errors_or_warnings_under_full_checks() {
    let process = default_process();
    assert_eq!(process.name(), "KontorDefault01");
}

#[test]
fn has_the_specified_states() {
    let process = default_process();
    let states: Vec<StateSummary> = process
        .states()
        .map(|state| {
            (
                state.name.as_str(),
                state.reserved,
                state.flags.iter().map(String::as_str).collect(),
                state.display.as_deref(),
                process.subprocess_of(&state.name),
            )
        })
        .collect();
    let main = Some("KontorDefault01");
    let sub = Some("KontorReturn");
    assert_eq!(
        states,
        vec![
            ("new", true, vec!["cancellable"], Some("oms.state.new"), main),
            (
                "payment pending",
                true,
                vec!["cancellable"],
                Some("oms.state.payment-pending"),
                main
            ),
            ("paid", true, vec!["cancellable"], Some("oms.state.paid"), main),
            ("picked", true, vec![], Some("oms.state.picked"), main),
            ("shipped", false, vec![], Some("oms.state.shipped"), main),
            ("delivered", false, vec![], Some("oms.state.delivered"), main),
            ("closed", false, vec![], Some("oms.state.closed"), main),
            (
                "payment cancelled",
                false,
                vec![],
                Some("oms.state.payment-cancelled"),
                main
            ),
            ("cancelled", false, vec![], Some("oms.state.cancelled"), main),
            (
                "return requested",
                false,
                vec![],
                Some("oms.state.return-requested"),
                sub
            ),
            ("returned", false, vec![], Some("oms.state.returned"), sub),
            ("refunded", false, vec![], Some("oms.state.refunded"), sub),
        ]
    );
    assert_eq!(process.reserved_states(), ["new", "payment pending", "paid", "picked"]);
}

#[test]
fn has_the_specified_transitions() {
    let process = default_process();
    let mut found = edges(&process);
    found.sort();
    let mut expected = vec![
        ("new", "payment pending", Some("confirm"), None, true),
        ("payment pending", "paid", Some("pay"), Some("Payment/IsCaptured"), true),
        (
            "payment pending",
            "payment cancelled",
            Some("cancel unpaid"),
            None,
            false,
        ),
        ("new", "payment cancelled", Some("cancel"), None, false),
        ("payment pending", "payment cancelled", Some("cancel"), None, false),
        ("paid", "payment cancelled", Some("cancel"), None, false),
        (
            "payment cancelled",
            "cancelled",
            Some("notify cancellation"),
            None,
            false,
        ),
        ("paid", "picked", Some("pick"), None, true),
        ("picked", "shipped", Some("ship"), None, true),
        ("shipped", "delivered", Some("confirm delivery"), None, true),
        ("delivered", "closed", Some("close"), None, true),
        ("delivered", "return requested", Some("start return"), None, false),
        ("return requested", "returned", Some("receive return"), None, false),
        ("returned", "refunded", Some("refund"), None, false),
        ("refunded", "closed", Some("close"), None, false),
    ];
    expected.sort();
    assert_eq!(found, expected);
    // Not paid yet: the single conditioned transition has no else branch, the item stays.
    assert_eq!(process.candidates("payment pending", Some("pay")).len(), 1);
    assert!(
        process
            .transitions()
            .iter()
            .all(|transition| transition.source != transition.target)
    );
}

#[test]
fn has_the_specified_events() {
    let process = default_process();
    let events: Vec<EventSummary> = process
        .events()
        .map(|event| {
            (
                event.name.as_str(),
                event.on_enter,
                event.manual,
                event.timeout.as_ref().map(|timeout| timeout.text()),
                event.command.as_deref(),
            )
        })
        .collect();
    let mut sorted = events.clone();
    sorted.sort();
    let mut expected = vec![
        ("confirm", true, false, None, Some("Oms/SendOrderConfirmation")),
        ("pay", false, true, None, Some("Payment/Capture")),
        ("cancel unpaid", false, false, Some("7 days"), Some("Payment/Cancel")),
        ("cancel", false, true, None, Some("Payment/Cancel")),
        ("notify cancellation", true, false, None, Some("Oms/SendOrderCancelled")),
        ("pick", false, true, None, Some("WarehouseAllocation/WarehouseAllocate")),
        ("ship", false, true, None, Some("Shipment/Ship")),
        ("confirm delivery", false, true, Some("14 days"), None),
        ("close", false, false, Some("30 days"), None),
        ("start return", false, true, None, Some("Return/StartReturn")),
        ("receive return", false, true, None, Some("Return/Receive")),
        ("refund", true, false, None, Some("Payment/Refund")),
    ];
    expected.sort();
    assert_eq!(sorted, expected);
    assert!(process.events().all(|event| event.timeout_processor.is_none()));
}

#[test]
fn answers_the_engine_lookups() {
    let process = default_process();
    let on_enter = |state: &str| process.on_enter_event(state).map(|event| event.name.as_str());
    assert_eq!(on_enter("new"), Some("confirm"));
    assert_eq!(on_enter("returned"), Some("refund"));
    // Every way of cancelling ends with the cancellation mail.
    assert_eq!(on_enter("payment cancelled"), Some("notify cancellation"));
    assert_eq!(on_enter("paid"), None);
    assert_eq!(on_enter("cancelled"), None);
    assert!(process.manual_events("payment cancelled").is_empty());

    assert_eq!(process.manual_events("new"), ["cancel"]);
    assert_eq!(process.manual_events("payment pending"), ["cancel", "pay"]);
    assert_eq!(process.manual_events("paid"), ["cancel", "pick"]);
    assert_eq!(process.manual_events("delivered"), ["start return"]);
    assert!(process.manual_events("closed").is_empty());

    let timed = |state: &str| -> Vec<&str> {
        process
            .timed_events(state)
            .iter()
            .map(|event| event.name.as_str())
            .collect()
    };
    assert_eq!(timed("payment pending"), ["cancel unpaid"]);
    assert_eq!(timed("shipped"), ["confirm delivery"]);
    assert_eq!(timed("delivered"), ["close"]);
    assert_eq!(timed("refunded"), ["close"]);
    assert!(timed("paid").is_empty());

    let entered = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().expect("date");
    let close = process
        .event("close")
        .and_then(|event| event.timeout.as_ref())
        .expect("timeout");
    assert_eq!(
        close.due_after(entered),
        Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).single().expect("date")
    );

    assert!(process.is_final("closed") && process.is_final("cancelled"));
    assert!(!process.is_final("refunded"));
    assert!(
        process
            .states()
            .all(|state| !process.has_background_transitions(&state.name))
    );
}
