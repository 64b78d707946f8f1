//! Developer tool: validate or draw a process file without the rest of Kontor (no plugin registry, so plugin
//! keys are not checked and are drawn as "not implemented").
//!
//! ```text
//! cargo run -p kontor-oms --example oms_check -- validate config/oms/KontorDefault01.xml
//! cargo run -p kontor-oms --example oms_check -- svg config/oms/KontorDefault01.xml [state] > out.svg
//! cargo run -p kontor-oms --example oms_check -- dot config/oms/KontorDefault01.xml [state] > out.dot
//! ```

use std::path::Path;
use std::process::ExitCode;

use kontor_oms::{Checks, DrawOptions, NoPlugins, draw_dot, draw_svg, load_process_file};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(command), Some(file)) = (args.first(), args.get(1)) else {
        eprintln!("usage: oms_check validate|svg|dot <process.xml> [highlighted state]");
        return ExitCode::FAILURE;
    };
    let (process, warnings) = match load_process_file(Path::new(file), &NoPlugins, Checks::StructureOnly) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    for warning in &warnings {
        eprintln!("{warning}");
    }
    let options = DrawOptions {
        highlight: args.get(2).map(String::as_str),
        keys: &NoPlugins,
    };
    match command.as_str() {
        "validate" => println!(
            "{}: {} states, {} transitions, ok",
            process.name(),
            process.states().count(),
            process.transitions().len()
        ),
        "svg" => print!("{}", draw_svg(&process, &options)),
        "dot" => print!("{}", draw_dot(&process, &options)),
        other => {
            eprintln!("unknown command '{other}'");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
