//! `pack.yaml` beyond what the host's own parser checks: the ABI must be one this Tessera
//! serves, FHIR types must exist in R4, feature roles must be Tessera roles, and declared
//! locales must have files. Every problem carries its line.

use semver::Version;
use tessera_plugins::Manifest;

use super::yaml_lines::YamlLines;
use crate::problem::Problem;
use crate::project::Project;

const FILE: &str = "pack.yaml";

/// What the host knows, passed in so the checks read as rules rather than look-ups.
pub struct HostFacts {
    pub abi_versions: Vec<Version>,
    pub is_resource_type: Box<dyn Fn(&str) -> bool>,
    pub resource_types: Vec<String>,
    pub roles: Vec<String>,
}

impl HostFacts {
    /// The facts of the Tessera this CLI was built with.
    pub fn of_this_tessera() -> HostFacts {
        let schema = tessera_core::server::shared_schema();
        let resource_types = schema.resource_types().map(str::to_string).collect();
        let mut roles: Vec<String> = tessera_core::auth::rbac::RoleCatalog::system()
            .names()
            .map(str::to_string)
            .collect();
        roles.sort();
        HostFacts {
            abi_versions: tessera_plugins::abi::supported(),
            is_resource_type: Box::new(move |ty| schema.is_resource_type(ty)),
            resource_types,
            roles,
        }
    }
}

/// Checks `pack.yaml`; the manifest when it is usable, and every problem found.
pub fn check(project: &Project, facts: &HostFacts) -> (Option<Manifest>, Vec<Problem>) {
    let text = &project.manifest_text;
    let lines = YamlLines::of(text);
    let manifest = match project.manifest() {
        Ok(manifest) => manifest,
        Err(mut problem) => {
            if problem.line.is_none() {
                problem.line = lines.line(&path_in_message(&problem.message));
            }
            return (None, vec![problem]);
        }
    };
    let mut problems = Vec::new();
    let at = |path: &str| lines.line(path);

    if !facts.abi_versions.contains(&manifest.abi) {
        problems.push(Problem::new(
            FILE,
            at("abi"),
            format!(
                "abi {} is not served by this Tessera, which serves {}; build the pack with an SDK for one of those and set abi to match",
                manifest.abi,
                list(facts.abi_versions.iter())
            ),
        ));
    }
    for ty in manifest.permissions.fhir.keys() {
        if !(facts.is_resource_type)(ty) {
            let hint = closest(ty, facts.resource_types.iter().map(String::as_str))
                .map(|c| format!("; did you mean {c}?"))
                .unwrap_or_else(|| "; use a type such as Patient or Observation".into());
            problems.push(Problem::new(
                FILE,
                at(&format!("permissions.fhir.{ty}")),
                format!("permissions.fhir: {ty} is not a FHIR R4 resource type{hint}"),
            ));
        }
    }
    for (name, feature) in &manifest.permissions.features {
        for (i, role) in feature.roles.iter().enumerate() {
            if !facts.roles.contains(role) {
                problems.push(Problem::new(
                    FILE,
                    at(&format!("permissions.features.{name}.roles[{i}]")),
                    format!(
                        "permissions.features.{name}.roles: {role} is not a Tessera role; use one of {}",
                        list(facts.roles.iter())
                    ),
                ));
            }
        }
    }
    problems.extend(check_locales(project, &manifest, &lines));
    (Some(manifest), problems)
}

/// Each declared locale has a file in `locales/`, and each file there is declared.
fn check_locales(project: &Project, manifest: &Manifest, lines: &YamlLines) -> Vec<Problem> {
    let files = project.files_in("locales").unwrap_or_default();
    let stem = |path: &str| {
        let name = path.trim_start_matches("locales/");
        name.rsplit_once('.').map_or(name, |(s, _)| s).to_string()
    };
    let mut problems = Vec::new();
    for (i, locale) in manifest.locales.iter().enumerate() {
        if !files.iter().any(|f| stem(f) == *locale) {
            problems.push(Problem::new(
                FILE,
                lines.line(&format!("locales[{i}]")),
                format!("locales: {locale} is declared but locales/{locale}.yaml does not exist; add it or remove {locale}"),
            ));
        }
    }
    for file in &files {
        if !manifest.locales.contains(&stem(file)) {
            problems.push(Problem::new(
                file.as_str(),
                None,
                format!(
                    "this locale is not declared in pack.yaml; add {} to locales",
                    stem(file)
                ),
            ));
        }
    }
    problems
}

/// The YAML path a manifest message is about: `permissions.fhir: "patient" is ...` is about
/// `permissions.fhir.patient`, `id "X" must ...` about `id`.
fn path_in_message(message: &str) -> String {
    let head: String = message
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect();
    let rest = &message[head.len()..];
    let head = match head.as_str() {
        "dependency" => "dependencies".to_string(),
        _ => head,
    };
    let quoted = rest
        .trim_start_matches(':')
        .trim_start()
        .strip_prefix('"')
        .and_then(|r| r.split_once('"'))
        .map(|(name, _)| name);
    match quoted {
        Some(name) if head != "id" && head != "publisher" => format!("{head}.{name}"),
        _ => head,
    }
}

fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_point_at_their_paths() {
        assert_eq!(
            path_in_message("permissions.fhir: \"patient\" is not a FHIR resource type"),
            "permissions.fhir.patient"
        );
        assert_eq!(path_in_message("id \"Demo Pack\" must be 2 to 40"), "id");
        assert_eq!(
            path_in_message("dependency \"x\" is not another pack's id"),
            "dependencies.x"
        );
        assert_eq!(
            path_in_message("config_schema must be a JSON Schema"),
            "config_schema"
        );
    }

    #[test]
    fn typos_find_their_type() {
        let types = ["Patient", "Observation", "Practitioner"];
        assert_eq!(closest("Patiant", types.into_iter()), Some("Patient"));
        assert_eq!(
            closest("Observaton", types.into_iter()),
            Some("Observation")
        );
        assert_eq!(closest("Spaceship", types.into_iter()), None);
    }
}
