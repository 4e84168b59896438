//! `tessera-pack check`: the manifest, forms, rules and test files, with every problem's
//! file and line and what to fix. Nothing is built.

use anyhow::Result;

use crate::check::{forms, locales, manifest, rules};
use crate::cli::PackArgs;
use crate::problem::{self, Problem};
use crate::project::Project;
use crate::testing::format;
use crate::ui::Style;

pub fn run(args: &PackArgs) -> Result<()> {
    let project = Project::find(&args.path)?;
    let style = Style::detect();
    let facts = manifest::HostFacts::of_this_tessera();
    let mut problems: Vec<Problem> = Vec::new();

    let (parsed, found) = manifest::check(&project, &facts);
    if let (Some(m), true) = (&parsed, found.is_empty()) {
        println!(
            "{} pack.yaml: {} {} ({}, abi {})",
            style.pass("✓"),
            m.id,
            m.version,
            serde_json::to_value(m.kind)
                .ok()
                .and_then(|k| k.as_str().map(str::to_string))
                .unwrap_or_default(),
            m.abi
        );
    }
    problems.extend(found);

    let (parsed_forms, count, found) = forms::check(&project);
    report(&style, count, "form", found.is_empty());
    problems.extend(found);

    let (count, found) = locales::check(&project, &parsed_forms);
    if count > 0 {
        report(&style, count, "locale", found.is_empty());
    }
    problems.extend(found);

    let (count, found) = rules::check(&project);
    report(&style, count, "rule", found.is_empty());
    problems.extend(found);

    let (files, cases, found) = test_files(&project);
    if found.is_empty() {
        println!(
            "{} {files} test file{} with {cases} case{}",
            style.pass("✓"),
            plural(files),
            plural(cases)
        );
    }
    problems.extend(found);

    if problems.is_empty() {
        return Ok(());
    }
    let name = parsed
        .map(|m| m.id)
        .unwrap_or_else(|| project.root.display().to_string());
    Err(problem::into_error(&problems, &name))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn report(style: &Style, count: usize, noun: &str, ok: bool) {
    if ok {
        println!("{} {count} {noun}{}", style.pass("✓"), plural(count));
    }
}

/// Parses every `tests/*.yaml`; (files, cases, problems).
pub fn test_files(project: &Project) -> (usize, usize, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut cases = 0;
    let files = list_tests(project);
    for file in &files {
        let text = match project.read_text(file) {
            Ok(text) => text,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        match format::parse(file, &text) {
            Ok(tests) => {
                cases += tests.cases.len();
                for fixture in &tests.fixtures {
                    if let format::Fixture::File(path) = fixture {
                        if !project.root.join(path).is_file() {
                            problems.push(Problem::new(
                                file.as_str(),
                                None,
                                format!("fixture {path} does not exist (paths are relative to the pack's folder)"),
                            ));
                        }
                    }
                }
            }
            Err(found) => problems.extend(found),
        }
    }
    (files.len(), cases, problems)
}

/// `tests/*.yaml` and `tests/*.yml`, by name.
pub fn list_tests(project: &Project) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(project.root.join("tests"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") || name.ends_with(".yml"))
        .map(|name| format!("tests/{name}"))
        .collect();
    files.sort();
    files
}
