//! A cheap stand-in for fuzzing the XML loader: truncated and corrupted versions of every fixture must load or
//! fail with diagnostics, never panic, and whatever loads must draw.

use std::fs;
use std::path::Path;

use kontor_oms::{Checks, DrawOptions, NoPlugins, draw_dot, draw_svg, load_process_str};

use crate::support::{config_dir, fixture};

fn sources() -> Vec<(std::path::PathBuf, String)> {
    let mut files = vec![
        config_dir().join("KontorDefault01.xml"),
        fixture("shop/ShopPayment01.xml"),
    ];
    for entry in fs::read_dir(fixture("broken")).expect("fixtures").flatten() {
        if entry.path().extension().is_some_and(|extension| extension == "xml") {
            files.push(entry.path());
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| (path.clone(), fs::read_to_string(&path).expect("readable")))
        .collect()
}

fn exercise(path: &Path, xml: &str) {
    if let Ok((process, _)) = load_process_str(path, xml, &NoPlugins, Checks::StructureOnly) {
        let options = DrawOptions {
            highlight: Some("new"),
            keys: &NoPlugins,
        };
        assert!(draw_dot(&process, &options).starts_with("digraph"));
        assert!(draw_svg(&process, &options).starts_with("<svg"));
    }
}

#[test]
fn truncated_files_never_panic() {
    for (path, text) in sources() {
        let boundaries: Vec<usize> = text.char_indices().map(|(index, _)| index).step_by(7).collect();
        for end in boundaries {
            exercise(&path, &text[..end]);
        }
    }
}

#[test]
fn corrupted_files_never_panic() {
    // A fixed linear congruential generator: reproducible without a dependency.
    let mut seed: u64 = 0x5eed;
    let mut next = move |bound: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).unwrap_or(0) % bound.max(1)
    };
    let replacements = [
        "<",
        ">",
        "\"",
        "&",
        "/",
        " ",
        "",
        "<event name=\"x\"/>",
        "</states>",
        "&amp;",
        "é",
        "\n",
    ];
    for (path, text) in sources() {
        let characters: Vec<char> = text.chars().collect();
        for _ in 0..150 {
            let mut corrupted: Vec<String> = characters.iter().map(char::to_string).collect();
            for _ in 0..3 {
                let position = next(corrupted.len());
                corrupted[position] = replacements[next(replacements.len())].to_owned();
            }
            exercise(&path, &corrupted.concat());
        }
    }
}

#[test]
fn deeply_nested_garbage_is_one_error() {
    let xml = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let error = load_process_str(Path::new("deep.xml"), &xml, &NoPlugins, Checks::Full).expect_err("garbage");
    assert_eq!(error.diagnostics.len(), 1);
    assert_eq!(
        error.diagnostics[0].message,
        "malformed XML: elements nested deeper than 64"
    );
}
