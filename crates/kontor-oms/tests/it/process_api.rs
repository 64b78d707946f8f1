//! The loader's leniency for real files and the lookups of `Process`, on processes written inline.

use std::path::Path;

use kontor_oms::{Checks, Diagnostic, Location, NoPlugins, Process, Severity, load_process_str};

use crate::support::fixture;

fn load(xml: &str) -> Result<(Process, Vec<Diagnostic>), kontor_oms::LoadError> {
    load_process_str(Path::new("inline/Test01.xml"), xml, &NoPlugins, Checks::StructureOnly)
}

fn messages(xml: &str) -> Vec<(Severity, u32, String)> {
    match load(xml) {
        Ok((_, warnings)) => warnings
            .into_iter()
            .map(|d| (d.severity, d.location.line, d.message))
            .collect(),
        Err(error) => error
            .diagnostics
            .into_iter()
            .map(|d| (d.severity, d.location.line, d.message))
            .collect(),
    }
}

#[test]
fn accepts_what_real_spryker_files_contain() {
    let xml = r#"<?xml version="1.0"?>
<!-- leading comment -->
<statemachine
    xmlns="spryker:oms-01"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="spryker:oms-01 http://static.spryker.com/oms-01.xsd"
>
    <process name="Test01" main="true">
        <states>
            <state name="new" display="oms.state.new" reserved="false"><flag>anything &amp; more</flag></state>
            <state name="waiting &quot;long&quot;"/>
            <state name="done"><![CDATA[]]></state>
        </states>
        <transitions>
            <!-- background transition: no event -->
            <transition happy="true"><source>new</source><target>waiting "long"</target></transition>
            <transition happy="false">
                <source> waiting "long" </source>
                <target>done</target>
                <event>finish</event>
            </transition>
        </transitions>
        <events>
            <event name="finish" timeout="1 minute" onEnter="false" manual="true"/>
        </events>
    </process>
</statemachine>
"#;
    let (process, warnings) = load(xml).expect("valid");
    assert_eq!(
        warnings
            .iter()
            .map(|warning| warning.message.as_str())
            .collect::<Vec<_>>(),
        [
            "initial state 'new' is not reserved=\"true\" (concurrent checkouts could oversell until a reserved state is reached)"
        ]
    );
    assert_eq!(
        process.state("new").map(|state| state.flags.clone()),
        Some(vec!["anything & more".to_owned()])
    );
    assert!(process.state("waiting \"long\"").is_some());
    assert_eq!(process.candidates("new", None).len(), 1);
    assert!(process.has_background_transitions("new"));
    assert_eq!(process.candidates("waiting \"long\"", Some("finish"))[0].target, "done");
    assert_eq!(process.candidates("waiting \"long\"", None).len(), 0);
    assert_eq!(
        process.transitions()[1].location,
        Location::new("inline/Test01.xml", 17)
    );
}

#[test]
fn timeouts_accept_singular_plural_and_compact_units() {
    for (text, ok) in [
        ("1 second", true),
        ("30 minute", true),
        ("2 hours", true),
        ("14days", true),
        ("1 day 12 hours", true),
        ("soon", false),
    ] {
        let xml = format!(
            r#"<statemachine xmlns="spryker:oms-01"><process name="T" main="true">
<states><state name="new" reserved="true"/><state name="done"/></states>
<transitions><transition><source>new</source><target>done</target><event>go</event></transition></transitions>
<events><event name="go" timeout="{text}"/></events></process></statemachine>"#
        );
        assert_eq!(load(&xml).is_ok(), ok, "{text}");
    }
}

#[test]
fn generic_state_machine_namespace_is_accepted_and_others_are_not() {
    let body = r#"<process name="T" main="true"><states><state name="created"/><state name="open"/></states>
<transitions><transition><source>created</source><target>open</target><event>go</event></transition></transitions>
<events><event name="go"/></events></process></statemachine>"#;
    let generic = format!("<statemachine xmlns=\"spryker:state-machine-01\">{body}");
    assert!(load(&generic).is_ok());
    let missing = format!("<statemachine>{body}");
    assert!(load(&missing).is_ok());
    let other = format!("<statemachine xmlns=\"urn:other\">{body}");
    assert_eq!(
        messages(&other),
        [(
            Severity::Error,
            1,
            "unknown namespace 'urn:other' (expected spryker:oms-01 or spryker:state-machine-01)".to_owned()
        )]
    );
}

#[test]
fn prefixed_includes_rename_everything_and_compose() {
    // Outer file includes the shop's return subprocess twice, once with a prefix.
    let xml = r#"<statemachine xmlns="spryker:oms-01">
<process name="Outer01" main="true">
  <subprocesses><process>Gift - Ret</process><process>Ret</process></subprocesses>
  <states><state name="new" reserved="true"/></states>
  <transitions>
    <transition><source>new</source><target>waiting for return</target><event>start</event></transition>
    <transition><source>new</source><target>Gift - waiting for return</target><event>start gift</event></transition>
  </transitions>
  <events><event name="start" manual="true"/><event name="start gift" manual="true"/></events>
</process>
<process name="Ret" file="ShopSubprocess/ShopReturn01.xml"/>
<process name="Ret" file="ShopSubprocess/ShopReturn01.xml" prefix="Gift"/>
</statemachine>"#;
    let (process, warnings) =
        load_process_str(&fixture("shop/Outer01.xml"), xml, &NoPlugins, Checks::StructureOnly).expect("valid");
    assert!(warnings.is_empty(), "{warnings:?}");
    let parts: Vec<&str> = process.parts().iter().map(|part| part.name.as_str()).collect();
    assert_eq!(parts, ["Outer01", "Ret", "Gift - Ret"]);
    assert_eq!(process.subprocess_of("Gift - returned"), Some("Gift - Ret"));
    assert!(process.event("Gift - execute return").is_some());
    let gift = process.state("Gift - waiting for return").expect("prefixed state");
    assert_eq!(gift.location.file, fixture("shop/ShopSubprocess/ShopReturn01.xml"));
    assert_eq!(gift.location.line, 6);
}

#[test]
fn a_subprocess_file_may_be_declared_without_extension() {
    let xml = r#"<statemachine xmlns="spryker:state-machine-01">
<process name="Outer01" main="true">
  <subprocesses><process>Refund</process></subprocesses>
  <states><state name="delivered"/></states>
</process>
<process name="Refund" file="ShopSubprocess/ShopRefund01"/>
</statemachine>"#;
    let loaded = load_process_str(&fixture("shop/Outer01.xml"), xml, &NoPlugins, Checks::StructureOnly);
    // The file was found: its transition from "refunded" on to "closed" (with the event "close", declared in
    // the shop's main file) is what this process lacks.
    let error = loaded.expect_err("closed is unknown");
    let found: Vec<&str> = error.errors().map(|diagnostic| diagnostic.message.as_str()).collect();
    assert_eq!(found, ["unknown state 'closed'", "unknown event 'close'"]);
}

#[test]
fn an_event_declared_twice_warns_and_the_later_one_wins() {
    let xml = r#"<statemachine xmlns="spryker:oms-01"><process name="T" main="true">
<states><state name="new" reserved="true"/><state name="done"/></states>
<transitions><transition><source>new</source><target>done</target><event>go</event></transition></transitions>
<events>
<event name="go" manual="true"/>
<event name="go" timeout="1 hour"/>
</events></process></statemachine>"#;
    let (process, warnings) = load(xml).expect("valid");
    let event = process.event("go").expect("event");
    assert!(!event.manual);
    assert_eq!(event.location.line, 6);
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings[0].to_string(),
        "inline/Test01.xml:6: warning: event 'go' is declared again; this declaration replaces the one at inline/Test01.xml:5"
    );
}

#[test]
fn without_initial_state_reachability_starts_at_states_nothing_leads_to() {
    let xml = r#"<statemachine xmlns="spryker:oms-01"><process name="T" main="true">
<states><state name="start"/><state name="a"/><state name="b"/></states>
<transitions>
<transition><source>a</source><target>b</target><event>go</event></transition>
<transition><source>b</source><target>a</target><event>go</event></transition>
</transitions>
<events><event name="go" manual="true"/></events></process></statemachine>"#;
    let found = messages(xml);
    assert_eq!(
        found,
        [
            (
                Severity::Error,
                2,
                "state 'a' is unreachable (only entered from a cycle no state leads into)".to_owned()
            ),
            (
                Severity::Error,
                2,
                "state 'b' is unreachable (only entered from a cycle no state leads into)".to_owned()
            ),
        ]
    );
}

#[test]
fn structural_mistakes_in_elements() {
    let xml = r#"<statemachine xmlns="spryker:oms-01"><process name="T" main="true" prefix="X">
<states><state name="new" reserved="true"/><state/></states>
<transitions>
<transition><source>new</source><source>new</source><target>new</target><event>go</event></transition>
<transition><source></source><target>new</target></transition>
</transitions>
<events><event name="go" manual="true">text</event></events>
<extra/>
</process></statemachine>"#;
    let found: Vec<(u32, String)> = messages(xml)
        .into_iter()
        .filter(|m| m.0 == Severity::Error)
        .map(|m| (m.1, m.2))
        .collect();
    assert_eq!(
        found,
        [
            (1, "attribute 'prefix' on <process> needs a 'file' attribute".to_owned()),
            (2, "<state> without a name".to_owned()),
            (4, "second <source> in <transition>".to_owned()),
            (5, "empty <source>".to_owned()),
            (7, "unexpected text 'text' in <event>".to_owned()),
            (8, "unknown element <extra> in <process>".to_owned()),
        ]
    );
}

#[test]
fn locations_and_diagnostics_display_as_file_and_line() {
    let location = Location::new("config/oms/X.xml", 12);
    assert_eq!(location.to_string(), "config/oms/X.xml:12");
    assert_eq!(Location::new("config/oms", 0).to_string(), "config/oms");
    let diagnostic = Diagnostic::error(location, "unknown state 'x'");
    assert_eq!(diagnostic.to_string(), "config/oms/X.xml:12: error: unknown state 'x'");
}
