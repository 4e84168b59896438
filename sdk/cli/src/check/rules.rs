//! `rules/*`: each file one rule — `id`, `description` and `logic` (JSON Logic) — read and
//! compiled by the rules engine the server runs (`tessera_forms::RuleFile`).

use tessera_forms::RuleFile;

use super::yaml_lines::YamlLines;
use crate::problem::Problem;
use crate::project::Project;

/// Checks every rule; how many there are, and the problems.
pub fn check(project: &Project) -> (usize, Vec<Problem>) {
    let (count, files, mut problems) =
        super::read_data_files(project, "rules", "files, one rule each");
    let mut ids: Vec<(String, String)> = Vec::new();
    for (file, text) in &files {
        let rule = match RuleFile::check(file, text) {
            Ok(rule) => rule,
            Err(issues) => {
                problems.extend(issues.into_iter().map(Problem::from));
                continue;
            }
        };
        let id_line = YamlLines::of(text).line("id");
        if !is_name(&rule.id) {
            problems.push(Problem::new(
                file.as_str(),
                id_line,
                format!(
                    "id {:?}: use letters, digits, - _ and . (at most 64), as the server requires",
                    rule.id
                ),
            ));
        }
        if let Some((_, other)) = ids.iter().find(|(id, _)| *id == rule.id) {
            problems.push(Problem::new(
                file.as_str(),
                id_line,
                format!(
                    "id {} is already used by {other}; rule ids must be unique",
                    rule.id
                ),
            ));
        }
        ids.push((rule.id, file.clone()));
    }
    (count, problems)
}

/// The server's rule for registered names (`tessera_plugins::registration`).
fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
