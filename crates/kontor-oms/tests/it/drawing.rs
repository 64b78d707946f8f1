//! DOT and SVG drawings: Spryker's conventions in DOT, a well-formed standalone SVG with every state.

use std::path::Path;

use kontor_oms::{
    Checks, DrawOptions, KeyList, NoPlugins, Process, draw_dot, draw_svg, load_process_file, load_process_str,
};
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::support::{config_dir, fixture, kontor_keys};

fn shop() -> Process {
    let (process, _) =
        load_process_file(&fixture("shop/ShopPayment01.xml"), &NoPlugins, Checks::StructureOnly).expect("valid");
    process
}

fn default_process() -> Process {
    let (process, _) =
        load_process_file(&config_dir().join("KontorDefault01.xml"), &kontor_keys(), Checks::Full).expect("valid");
    process
}

fn assert_has_line(dot: &str, line: &str) {
    assert!(dot.lines().any(|own| own.trim() == line), "missing line {line}\n{dot}");
}

#[test]
fn dot_follows_the_spryker_conventions() {
    let process = shop();
    let dot = draw_dot(
        &process,
        &DrawOptions {
            highlight: Some("paid"),
            keys: &NoPlugins,
        },
    );
    assert!(dot.starts_with("digraph \"ShopPayment01\" {\n"));
    assert!(dot.ends_with("}\n"));
    // One cluster per (sub)process.
    for (index, name) in [
        "ShopPayment01",
        "ShopInvoice",
        "ShopReturn",
        "Gift - ShopReturn",
        "ShopRefund",
    ]
    .iter()
    .enumerate()
    {
        assert_has_line(&dot, &format!("subgraph \"cluster_{index}\" {{"));
        assert_has_line(
            &dot,
            &format!(
                "graph [label=\"{name}\", style=filled, fillcolor=\"#cfcfcf\", color=\"#ffffff\", fontcolor=black];"
            ),
        );
    }
    // Reserved in blue, flags in violet, the highlighted state filled, final states with a double border.
    assert_has_line(
        &dot,
        "\"payment pending\" [label=<payment pending<br/><font color=\"blue\" point-size=\"10\">reserved</font><br/>\
         <font color=\"violet\" point-size=\"10\">cancellable, shop specific flag</font>>];",
    );
    assert_has_line(
        &dot,
        "\"paid\" [label=<paid<br/><font color=\"blue\" point-size=\"10\">reserved</font>>, fillcolor=\"#FFFFCC\"];",
    );
    assert_has_line(&dot, "\"closed\" [label=<closed>, peripheries=2];");
    // One event fanning out to two targets goes through a "?" diamond; the unconditioned branch is "else".
    assert_has_line(
        &dot,
        "\"?1\" [label=\"?\", shape=diamond, style=filled, fillcolor=\"#f9f9f9\", fontcolor=white, fontsize=1];",
    );
    assert_has_line(
        &dot,
        "\"new\" -> \"?1\" [label=<  <b>authorize</b><br align=\"left\"/>  timeout: 1 second<br align=\"left\"/>>, \
         color=\"#70ab28\", weight=100];",
    );
    assert_has_line(
        &dot,
        "\"?1\" -> \"payment pending\" [label=<  DummyPayment/IsAuthorized <font color=\"red\">(not implemented)</font>\
         <br align=\"left\"/>>, color=\"#70ab28\", weight=100];",
    );
    assert_has_line(&dot, "\"?1\" -> \"invalid\" [label=<  else<br align=\"left\"/>>];");
    // Background transitions dashed with ∞; onEnter edges with a crow's foot; unregistered keys red.
    assert_has_line(
        &dot,
        "\"invoice generated\" -> \"exported\" [label=<  ∞<br align=\"left\"/>>, style=dashed];",
    );
    assert_has_line(
        &dot,
        "\"paid\" -> \"confirmed\" [label=<  <b>confirm</b> (on enter)<br align=\"left\"/>  c:Oms/SendOrderConfirmation \
         <font color=\"red\">(not implemented)</font><br align=\"left\"/>>, arrowtail=crow, dir=both, color=\"#70ab28\", \
         weight=100];",
    );
    assert!(dot.contains("timeout processor: OmsTimeout/Initiation <font color=\"red\">(not implemented)</font>"));
}

#[test]
fn dot_marks_registered_commands_by_order_or_by_item() {
    let process = default_process();
    let keys = kontor_keys().by_order_command("Oms/SendOrderConfirmation");
    let dot = draw_dot(
        &process,
        &DrawOptions {
            highlight: None,
            keys: &keys,
        },
    );
    assert!(!dot.contains("not implemented"), "{dot}");
    assert_has_line(
        &dot,
        "\"new\" -> \"payment pending\" [label=<  <b>confirm</b> (on enter)<br align=\"left\"/>  \
         c:Oms/SendOrderConfirmation (by order)<br align=\"left\"/>>, arrowtail=crow, dir=both, color=\"#70ab28\", weight=100];",
    );
    assert_has_line(
        &dot,
        "\"shipped\" -> \"delivered\" [label=<  <b>confirm delivery</b><br align=\"left\"/>  timeout: 14 days\
         <br align=\"left\"/>  manually executable<br align=\"left\"/>>, color=\"#70ab28\", weight=100];",
    );
    assert!(dot.contains("c:Shipment/Ship (by item)"));
    // A single conditioned transition is drawn directly, event and condition on one edge.
    assert!(dot.contains(
        "\"payment pending\" -> \"paid\" [label=<  <b>pay</b><br align=\"left\"/>  c:Payment/Capture (by item)"
    ));
    assert!(dot.contains("manually executable<br align=\"left\"/>  Payment/IsCaptured<br align=\"left\"/>>"));
}

/// Parses an SVG with quick-xml (failing on any well-formedness error) and returns the text of every `<text>`.
fn svg_texts(svg: &str) -> Vec<String> {
    let mut reader = Reader::from_str(svg);
    reader.config_mut().enable_all_checks(true);
    let mut texts = Vec::new();
    let mut current: Option<String> = None;
    let mut depth = 0_i32;
    let mut roots = 0;
    loop {
        match reader.read_event().expect("well-formed SVG") {
            Event::Start(tag) => {
                if depth == 0 {
                    roots += 1;
                    assert_eq!(tag.name().into_inner(), "svg");
                    let xmlns = tag.try_get_attribute("xmlns").expect("attribute").expect("xmlns");
                    assert_eq!(xmlns.value, "http://www.w3.org/2000/svg");
                }
                depth += 1;
                if tag.name().into_inner() == "text" {
                    current = Some(String::new());
                }
            }
            Event::End(tag) => {
                depth -= 1;
                if tag.name().into_inner() == "text" {
                    texts.push(current.take().expect("inside <text>"));
                }
            }
            Event::Text(text) => {
                if let Some(buffer) = current.as_mut() {
                    buffer.push_str(&text.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = quick_xml::escape::resolve_predefined_entity(&reference).expect("predefined entity");
                if let Some(buffer) = current.as_mut() {
                    buffer.push_str(resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!((roots, depth), (1, 0));
    texts
}

#[test]
fn svg_is_well_formed_and_shows_every_state() {
    for process in [shop(), default_process()] {
        let svg = draw_svg(
            &process,
            &DrawOptions {
                highlight: Some("paid"),
                keys: &NoPlugins,
            },
        );
        let texts = svg_texts(&svg);
        for state in process.states() {
            assert!(
                texts.iter().any(|text| text == &state.name),
                "{} missing in {}",
                state.name,
                process.name()
            );
        }
        assert!(svg.contains("fill=\"#FFFFCC\""), "highlight");
        assert!(svg.contains("stroke=\"#70ab28\""), "happy path");
        assert!(texts.iter().any(|text| text == "reserved"));
        assert!(texts.iter().any(|text| text.contains("(not implemented)")));
    }
    let svg = draw_svg(
        &shop(),
        &DrawOptions {
            highlight: None,
            keys: &NoPlugins,
        },
    );
    assert!(svg.contains("stroke-dasharray"), "background transition dashed");
    assert!(svg_texts(&svg).iter().any(|text| text == "∞"));
    assert!(
        svg.contains("<polygon class=\"decision\""),
        "diamond for fanned-out events"
    );
    assert!(!svg.contains("#FFFFCC"));
}

#[test]
fn svg_escapes_all_text() {
    let xml = r#"<statemachine xmlns="spryker:oms-01"><process name="Esc &amp; &lt;01&gt;" main="true">
<states><state name="new" reserved="true"/><state name="a &amp; &lt;b&gt; &quot;c&quot; 'd'"><flag>x&lt;y</flag></state></states>
<transitions>
<transition condition="C&amp;D"><source>new</source><target>a &amp; &lt;b&gt; &quot;c&quot; 'd'</target><event>e&lt;1&gt;</event></transition>
<transition><source>a &amp; &lt;b&gt; &quot;c&quot; 'd'</source><target>a &amp; &lt;b&gt; &quot;c&quot; 'd'</target><event>again</event></transition>
</transitions>
<events><event name="e&lt;1&gt;" command="X&amp;Y"/><event name="again" manual="true"/></events>
</process></statemachine>"#;
    let (process, _) =
        load_process_str(Path::new("inline.xml"), xml, &NoPlugins, Checks::StructureOnly).expect("valid");
    let options = DrawOptions {
        highlight: Some("a & <b> \"c\" 'd'"),
        keys: &KeyList::new(),
    };
    let texts = svg_texts(&draw_svg(&process, &options));
    for expected in [
        "a & <b> \"c\" 'd'",
        "x<y",
        "Esc & <01>",
        "C&D (not implemented)",
        "c:X&Y (not implemented)",
    ] {
        assert!(
            texts.iter().any(|text| text == expected),
            "{expected:?} not in {texts:?}"
        );
    }
    let dot = draw_dot(&process, &options);
    assert!(
        dot.contains("\"a & <b> \\\"c\\\" 'd'\" [label=<a &amp; &lt;b&gt; &quot;c&quot; 'd'<br/>"),
        "{dot}"
    );
    assert!(dot.contains("<b>e&lt;1&gt;</b>"), "{dot}");
}

#[test]
fn draws_degenerate_processes() {
    let empty = r#"<statemachine xmlns="spryker:oms-01"><process name="Empty01" main="true"/></statemachine>"#;
    let (process, _) = load_process_str(Path::new("empty.xml"), empty, &NoPlugins, Checks::Full).expect("valid");
    let options = DrawOptions {
        highlight: None,
        keys: &NoPlugins,
    };
    assert_eq!(svg_texts(&draw_svg(&process, &options)), ["Empty01"]);
    assert!(draw_dot(&process, &options).contains("subgraph \"cluster_0\""));

    // A state whose only transition leads back to itself counts as final, as in Spryker's drawings.
    let looped = r#"<statemachine xmlns="spryker:oms-01"><process name="Loop01" main="true">
<states><state name="new" reserved="true"/></states>
<transitions><transition><source>new</source><target>new</target><event>again</event></transition></transitions>
<events><event name="again" manual="true"/></events></process></statemachine>"#;
    let (process, _) = load_process_str(Path::new("loop.xml"), looped, &NoPlugins, Checks::Full).expect("valid");
    assert!(
        draw_dot(&process, &options).contains(
            "\"new\" [label=<new<br/><font color=\"blue\" point-size=\"10\">reserved</font>>, peripheries=2];"
        )
    );
    let svg = draw_svg(&process, &options);
    assert!(svg_texts(&svg).iter().any(|text| text == "again"));
    assert_eq!(svg.matches("class=\"edge\"").count(), 1);
}
