//! Every broken fixture fails with the exact file, line and message of its mistake.

use kontor_oms::{Checks, NoPlugins, Severity, load_process_file};

use crate::support::{assert_single_error, errors, fixture, load};

#[test]
fn unknown_state() {
    assert_single_error(
        "broken/unknown_state.xml",
        "broken/unknown_state.xml",
        17,
        "unknown state 'paied'",
    );
}

#[test]
fn unreachable_state() {
    assert_single_error(
        "broken/unreachable_state.xml",
        "broken/unreachable_state.xml",
        8,
        "state 'lost' is unreachable from 'new'",
    );
}

#[test]
fn event_without_transition() {
    assert_single_error(
        "broken/event_without_transition.xml",
        "broken/event_without_transition.xml",
        18,
        "event 'export' is used by no transition",
    );
}

#[test]
fn unregistered_command_points_at_the_attribute_line() {
    assert_single_error(
        "broken/unregistered_command.xml",
        "broken/unregistered_command.xml",
        18,
        "command 'Invoice/Sned' is not registered",
    );
}

#[test]
fn unregistered_condition() {
    assert_single_error(
        "broken/unregistered_condition.xml",
        "broken/unregistered_condition.xml",
        11,
        "condition 'Payment/IsCaptued' is not registered",
    );
}

#[test]
fn unregistered_keys_are_fine_when_checking_structure_only() {
    for file in ["broken/unregistered_command.xml", "broken/unregistered_condition.xml"] {
        let loaded = load_process_file(&fixture(file), &NoPlugins, Checks::StructureOnly);
        let (_, warnings) = loaded.expect(file);
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}

#[test]
fn bad_timeout() {
    assert_single_error(
        "broken/bad_timeout.xml",
        "broken/bad_timeout.xml",
        17,
        "invalid timeout '2 fortnights': unknown unit 'fortnights' (expected second, minute, hour, day, week or month)",
    );
}

#[test]
fn duplicate_state_across_files() {
    let first = fixture("broken/duplicate_state.xml");
    assert_single_error(
        "broken/duplicate_state.xml",
        "broken/Sub/DuplicateStateSub.xml",
        5,
        &format!("duplicate state 'closed' (first declared at {}:10)", first.display()),
    );
}

#[test]
fn two_mains() {
    let main = fixture("broken/two_mains.xml");
    assert_single_error(
        "broken/two_mains.xml",
        "broken/two_mains.xml",
        20,
        &format!(
            "second main process 'SecondMain01' (the main process is 'FirstMain01' at {}:4)",
            main.display()
        ),
    );
}

#[test]
fn no_main() {
    assert_single_error(
        "broken/no_main.xml",
        "broken/no_main.xml",
        2,
        "no main process (one <process> needs main=\"true\")",
    );
}

#[test]
fn typo_attribute() {
    assert_single_error(
        "broken/typo_attribute.xml",
        "broken/typo_attribute.xml",
        17,
        "unknown attribute 'commnd' on <event>",
    );
}

#[test]
fn typo_element() {
    assert_single_error(
        "broken/typo_element.xml",
        "broken/typo_element.xml",
        13,
        "unknown element <evnt> in <transition>",
    );
}

#[test]
fn malformed_xml() {
    assert_single_error(
        "broken/malformed.xml",
        "broken/malformed.xml",
        8,
        "malformed XML: ill-formed document: expected `</transitions>`, but `</process>` was found",
    );
}

#[test]
fn missing_subprocess_file_is_reported_at_the_declaring_line() {
    assert_single_error(
        "broken/missing_subprocess.xml",
        "broken/missing_subprocess.xml",
        23,
        "subprocess file 'Sub/Missing01.xml' not found",
    );
}

#[test]
fn include_cycle() {
    assert_single_error(
        "broken/include_cycle.xml",
        "broken/Sub/CycleSub.xml",
        14,
        "include cycle: include_cycle.xml → CycleSub.xml → include_cycle.xml",
    );
}

#[test]
fn undeclared_subprocess() {
    assert_single_error(
        "broken/undeclared_subprocess.xml",
        "broken/undeclared_subprocess.xml",
        6,
        "subprocess 'Refund' is not declared",
    );
}

#[test]
fn engine_ambiguities() {
    let file = fixture("broken/engine_ambiguities.xml");
    let expected = vec![
        (
            file.clone(),
            17,
            "more than one onEnter event leaving state 'new': 'confirm' and 'export'".to_owned(),
        ),
        (
            file.clone(),
            27,
            format!(
                "second transition without condition for event 'ship' from state 'paid' (first at {}:22)",
                file.display()
            ),
        ),
        (file.clone(), 35, "unknown event 'capture'".to_owned()),
    ];
    assert_eq!(errors("broken/engine_ambiguities.xml"), expected);
}

#[test]
fn all_errors_are_collected_and_listed_one_per_line() {
    let file = fixture("broken/many_errors.xml");
    let error = load("broken/many_errors.xml").expect_err("broken");
    let found: Vec<(Severity, u32, &str)> = error
        .diagnostics
        .iter()
        .map(|diagnostic| {
            (
                diagnostic.severity,
                diagnostic.location.line,
                diagnostic.message.as_str(),
            )
        })
        .collect();
    let expected = vec![
        (
            Severity::Error,
            3,
            "no main process (one <process> needs main=\"true\")",
        ),
        (
            Severity::Error,
            5,
            "attribute 'main' on <process> must be \"true\" or \"false\", not 'yes'",
        ),
        (
            Severity::Error,
            7,
            "attribute 'reserved' on <state> must be \"true\" or \"false\", not 'ture'",
        ),
        (
            Severity::Warning,
            7,
            "initial state 'new' is not reserved=\"true\" (concurrent checkouts could oversell until a reserved state \
             is reached)",
        ),
        (Severity::Error, 9, "unknown element <stat> in <states>"),
        (Severity::Error, 17, "<transition> without <source>"),
        (
            Severity::Error,
            23,
            "invalid timeout '1 day,': expected a number at ','",
        ),
        (
            Severity::Warning,
            23,
            "event 'close' is both onEnter and manual (it fires by itself anyway)",
        ),
    ];
    assert_eq!(found, expected);
    assert!(
        error
            .diagnostics
            .iter()
            .all(|diagnostic| diagnostic.location.file == file)
    );

    let shown = error.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 8, "{shown}");
    assert_eq!(
        lines[0],
        format!(
            "{}:3: error: no main process (one <process> needs main=\"true\")",
            file.display()
        )
    );
    assert!(lines[6].contains(":7: warning: initial state 'new'"), "{shown}");
}
