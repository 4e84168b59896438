//! `tessera-pack check`: a pack's manifest, forms, rules, locales and tests, each problem
//! reported with its file and line and what to fix.

pub mod forms;
pub mod locales;
pub mod manifest;
pub mod rules;
pub mod yaml_lines;

use crate::problem::Problem;

/// Forms, rules and locales are YAML or JSON files.
fn is_data_file(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml") || path.ends_with(".json")
}

/// The YAML or JSON files of `folder` with their text, and a problem for each file that is
/// not one or cannot be read; `holds` says what belongs there ("form definitions"). The
/// count is of every file in the folder.
fn read_data_files(
    project: &crate::project::Project,
    folder: &str,
    holds: &str,
) -> (usize, Vec<(String, String)>, Vec<Problem>) {
    let files = match project.files_in(folder) {
        Ok(files) => files,
        Err(e) => {
            let problem = Problem::new(format!("{folder}/"), None, format!("{e:#}"));
            return (0, Vec::new(), vec![problem]);
        }
    };
    let count = files.len();
    let (mut read, mut problems) = (Vec::new(), Vec::new());
    for file in files {
        if !is_data_file(&file) {
            problems.push(Problem::new(
                file.as_str(),
                None,
                format!("{folder}/ holds .yaml, .yml or .json {holds}; rename or move it"),
            ));
            continue;
        }
        match project.read_text(&file) {
            Ok(text) => read.push((file, text)),
            Err(problem) => problems.push(problem),
        }
    }
    (count, read, problems)
}
