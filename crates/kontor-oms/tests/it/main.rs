//! Integration tests of kontor-oms: broken fixture files (each checked for the exact file, line and message),
//! a realistic multi-file process in Spryker's style, Kontor's default process, process sets and drawings.
//! All XML files used here live in `tests/fixtures` (written for these tests) or `config/oms`.

mod broken;
mod default_process;
mod drawing;
mod process_api;
mod process_set;
mod robustness;
mod shop;
mod support;
