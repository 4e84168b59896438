//! `tessera-pack check`: a pack's manifest, forms, rules, locales and tests, each problem
//! reported with its file and line and what to fix.

pub mod forms;
pub mod locales;
pub mod manifest;
pub mod rules;
pub mod yaml_lines;

/// Forms, rules and locales are YAML or JSON files.
fn is_data_file(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml") || path.ends_with(".json")
}
