//! Finding and reading process files: a main file, the subprocess files it declares (recursively, relative
//! to the declaring file, with prefixes and cycle detection), and the set of active processes in the
//! configured directories.
//!
//! The only I/O of the crate is here, and it only reads the XML files it is asked for.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostics::{Diagnostic, LoadError, Severity, finish};
use crate::model::{Location, Process};
use crate::parse::{self, RawProcess};
use crate::plugins::{Checks, PluginKeys};
use crate::validate;
use crate::xml;

/// Loads one main process file (following its subprocess file declarations, relative to the declaring file).
/// On success returns the process and the warnings; on failure every error (and warning) found.
pub fn load_process_file(
    path: &Path,
    keys: &dyn PluginKeys,
    checks: Checks,
) -> Result<(Process, Vec<Diagnostic>), LoadError> {
    let text = fs::read_to_string(path).map_err(|error| LoadError {
        diagnostics: vec![Diagnostic::error(
            Location::new(path, 0),
            format!("cannot read process file: {error}"),
        )],
    })?;
    load_process_str(path, &text, keys, checks)
}

/// Parses a process from an in-memory string (tests; subprocess declarations resolved relative to `path`).
pub fn load_process_str(
    path: &Path,
    xml: &str,
    keys: &dyn PluginKeys,
    checks: Checks,
) -> Result<(Process, Vec<Diagnostic>), LoadError> {
    let mut diagnostics = Vec::new();
    let mut stack = vec![IncludeFrame {
        key: canonical(path),
        shown: path.to_path_buf(),
    }];
    let collected = collect(path, xml, &mut stack, &mut diagnostics);
    let file = validate::MainFile {
        root: collected.root,
        declared: collected.declared,
        order_process: collected.namespace.as_deref() != Some(parse::NAMESPACES[1]),
    };
    let process = validate::build(collected.processes, &file, keys, checks, &mut diagnostics);
    finish(process, diagnostics)
}

/// A file on the current include chain: `key` identifies it (canonical path), `shown` is how it was named.
struct IncludeFrame {
    key: PathBuf,
    shown: PathBuf,
}

#[derive(Default)]
struct Collected {
    /// The file's own processes first, then those of its subprocess files in declaration order.
    processes: Vec<RawProcess>,
    /// How many of `processes` the file itself defines.
    own: usize,
    /// The root element, if the file could be parsed.
    root: Option<Location>,
    namespace: Option<String>,
    /// Names of all declared subprocesses, also those whose file failed to load (so a listing of them is not
    /// reported a second time as "not declared").
    declared: Vec<String>,
}

fn collect(path: &Path, text: &str, stack: &mut Vec<IncludeFrame>, diagnostics: &mut Vec<Diagnostic>) -> Collected {
    let root = match xml::parse_document(path, text) {
        Ok(root) => root,
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            return Collected::default();
        }
    };
    let raw = parse::read_file(path, &root, diagnostics);
    let mut processes = raw.processes;
    let own = processes.len();
    let mut declared = Vec::new();
    let base = path.parent().unwrap_or_else(|| Path::new(""));
    for include in raw.includes {
        if let Some(name) = &include.name {
            declared.push(match &include.prefix {
                Some(prefix) => format!("{prefix} - {name}"),
                None => name.clone(),
            });
        }
        let resolved = resolve(base, &include.file);
        let key = canonical(&resolved);
        if let Some(start) = stack.iter().position(|frame| frame.key == key) {
            let mut chain: Vec<String> = stack[start..].iter().map(|frame| file_name(&frame.shown)).collect();
            chain.push(file_name(&resolved));
            let message = format!("include cycle: {}", chain.join(" → "));
            diagnostics.push(Diagnostic::error(include.location, message));
            continue;
        }
        let sub_text = match fs::read_to_string(&resolved) {
            Ok(sub_text) => sub_text,
            Err(error) => {
                let message = if error.kind() == io::ErrorKind::NotFound {
                    format!("subprocess file '{}' not found", include.file)
                } else {
                    format!("cannot read subprocess file '{}': {error}", include.file)
                };
                diagnostics.push(Diagnostic::error(include.location, message));
                continue;
            }
        };
        stack.push(IncludeFrame {
            key,
            shown: resolved.clone(),
        });
        let mut sub = collect(&resolved, &sub_text, stack, diagnostics);
        stack.pop();
        if sub.root.is_some() && sub.own == 0 {
            let message = format!("subprocess file '{}' defines no process", include.file);
            diagnostics.push(Diagnostic::error(include.location.clone(), message));
        }
        // As in Spryker, the declared name replaces the name of the file's first process, so one file can be
        // included under different names; the prefix then applies to everything the file brought in.
        if let (Some(name), Some(first)) = (&include.name, sub.processes.first_mut())
            && sub.own > 0
        {
            first.name.clone_from(name);
        }
        if let Some(prefix) = &include.prefix {
            sub.processes
                .iter_mut()
                .for_each(|process| process.apply_prefix(prefix));
            sub.declared
                .iter_mut()
                .for_each(|name| *name = format!("{prefix} - {name}"));
        }
        processes.extend(sub.processes);
        declared.extend(sub.declared);
    }
    Collected {
        processes,
        own,
        root: Some(raw.root),
        namespace: raw.namespace,
        declared,
    }
}

/// A declared file path relative to the declaring file. Spryker replaces spaces by underscores before looking
/// a file up, and its generic state machine files declare subprocess files without `.xml`; a path that does
/// not exist is retried those ways.
fn resolve(base: &Path, file: &str) -> PathBuf {
    let direct = base.join(file);
    if direct.is_file() {
        return direct;
    }
    let underscored = file.replace(' ', "_");
    let mut alternatives = vec![base.join(&underscored)];
    if Path::new(file).extension().is_none() {
        alternatives.push(base.join(format!("{file}.xml")));
        alternatives.push(base.join(format!("{underscored}.xml")));
    }
    alternatives
        .into_iter()
        .find(|alternative| alternative.is_file())
        .unwrap_or(direct)
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// The active processes, by main process name.
#[derive(Debug, Clone, Default)]
pub struct ProcessSet {
    processes: BTreeMap<String, Arc<Process>>,
}

impl ProcessSet {
    /// Loads all active processes. Every `*.xml` directly in each dir is a candidate main file (files in
    /// subdirectories are subprocess files, only loaded when declared); the main process name inside the file
    /// decides, not the file name. Only names in `active` are loaded, and each must be found exactly once.
    pub fn load(
        dirs: &[PathBuf],
        active: &[String],
        keys: &dyn PluginKeys,
        checks: Checks,
    ) -> Result<(ProcessSet, Vec<Diagnostic>), LoadError> {
        let mut diagnostics = Vec::new();
        let mut candidates: HashMap<String, Vec<Candidate>> = HashMap::new();
        // Candidate files that could not be read or parsed: harmless while every active process is found,
        // but one of them may be the missing process, so then they are errors.
        let mut unreadable: Vec<Diagnostic> = Vec::new();
        // The same directory listed twice (e.g. `config/oms` and `./config/oms`) must not look like every
        // process being defined twice.
        let mut seen_dirs = Vec::new();
        for dir in dirs {
            let key = canonical(dir);
            if seen_dirs.contains(&key) {
                continue;
            }
            seen_dirs.push(key);
            for path in xml_files(dir, &mut diagnostics) {
                match main_names(&path) {
                    Ok((text, names)) => {
                        for (name, location) in names {
                            candidates.entry(name).or_default().push(Candidate {
                                path: path.clone(),
                                text: text.clone(),
                                location,
                            });
                        }
                    }
                    Err(diagnostic) => unreadable.push(diagnostic),
                }
            }
        }

        let mut set = ProcessSet::default();
        let mut missing = false;
        for name in active {
            if set.processes.contains_key(name) {
                continue;
            }
            let Some(found) = candidates.get(name).filter(|found| !found.is_empty()) else {
                missing = true;
                let shown: Vec<String> = dirs.iter().map(|dir| dir.display().to_string()).collect();
                let location = Location::new(dirs.first().cloned().unwrap_or_default(), 0);
                let message = format!("active process '{name}' not found in {}", shown.join(", "));
                diagnostics.push(Diagnostic::error(location, message));
                continue;
            };
            for duplicate in &found[1..] {
                let message = format!(
                    "process '{name}' is also defined in {} (used: {})",
                    duplicate.path.display(),
                    found[0].location
                );
                diagnostics.push(Diagnostic::error(duplicate.location.clone(), message));
            }
            match load_process_str(&found[0].path, &found[0].text, keys, checks) {
                Ok((process, warnings)) => {
                    diagnostics.extend(warnings);
                    set.processes.insert(name.clone(), Arc::new(process));
                }
                Err(error) => diagnostics.extend(error.diagnostics),
            }
        }
        for mut diagnostic in unreadable {
            if !missing {
                diagnostic.severity = Severity::Warning;
                diagnostic.message = format!("skipped: {}", diagnostic.message);
            }
            diagnostics.push(diagnostic);
        }
        finish(set, diagnostics)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Process>> {
        self.processes.get(name)
    }

    /// Process names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.processes.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.processes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    /// A set from already loaded processes (tests).
    pub fn from_processes(processes: Vec<Process>) -> ProcessSet {
        let processes = processes
            .into_iter()
            .map(|process| (process.name().to_owned(), Arc::new(process)))
            .collect();
        ProcessSet { processes }
    }
}

struct Candidate {
    path: PathBuf,
    text: Arc<str>,
    location: Location,
}

/// The `*.xml` files directly in `dir`, sorted so that results do not depend on directory order.
fn xml_files(dir: &Path, diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            let message = format!("cannot read process directory: {error}");
            diagnostics.push(Diagnostic::error(Location::new(dir, 0), message));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("xml"))
        })
        .collect();
    files.sort();
    files
}

type NamedAt = (String, Location);

/// Reads a candidate file and the names of the main processes it defines itself.
fn main_names(path: &Path) -> Result<(Arc<str>, Vec<NamedAt>), Diagnostic> {
    let text = fs::read_to_string(path)
        .map_err(|error| Diagnostic::error(Location::new(path, 0), format!("cannot read process file: {error}")))?;
    let root = xml::parse_document(path, &text)?;
    // Problems inside the file are reported when (and only if) it is loaded as an active process.
    let mut ignored = Vec::new();
    let raw = parse::read_file(path, &root, &mut ignored);
    let names = raw
        .processes
        .into_iter()
        .filter(|process| process.main)
        .map(|process| (process.name, process.location))
        .collect();
    Ok((Arc::from(text), names))
}
