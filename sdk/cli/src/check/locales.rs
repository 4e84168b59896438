//! `locales/<lang>.yaml`: translations of the pack's forms, read by the forms engine; an
//! entry that matches nothing in its form (a renamed linkId, an unknown option) is a problem.

use tessera_forms::{Form, Translations};

use crate::problem::Problem;
use crate::project::Project;

pub fn check(project: &Project, forms: &[(String, Form)]) -> (usize, Vec<Problem>) {
    let mut problems = Vec::new();
    let files = project.files_in("locales").unwrap_or_default();
    for file in &files {
        let text = match project.read_text(file) {
            Ok(text) => text,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        match Translations::from_locale_file(file, None, &text) {
            Ok(translations) => {
                for (_, form) in forms {
                    let mut form = form.clone();
                    problems.extend(
                        form.apply_translations(&translations)
                            .into_iter()
                            .map(Problem::from),
                    );
                }
            }
            Err(issues) => problems.extend(issues.into_iter().map(Problem::from)),
        }
    }
    (files.len(), problems)
}
