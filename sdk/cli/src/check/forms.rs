//! `forms/*`: each file one form definition, parsed and checked by the forms engine the
//! server runs (`tessera-forms`), so a form that passes here loads there.

use tessera_forms::Form;

use crate::problem::Problem;
use crate::project::Project;

/// Checks every form; the forms that parsed (with their files), and the problems.
pub fn check(project: &Project) -> (Vec<(String, Form)>, usize, Vec<Problem>) {
    let (count, files, mut problems) = super::read_data_files(project, "forms", "form definitions");
    let mut forms: Vec<(String, Form)> = Vec::new();
    for (file, text) in &files {
        match Form::from_yaml(file, text) {
            Ok(form) => {
                if let Some((other, _)) = forms.iter().find(|(_, f)| f.id() == form.id()) {
                    problems.push(Problem::new(
                        file.as_str(),
                        None,
                        format!(
                            "form id {} is already used by {other}; form ids must be unique",
                            form.id()
                        ),
                    ));
                }
                forms.push((file.clone(), form));
            }
            Err(issues) => problems.extend(issues.into_iter().map(Problem::from)),
        }
    }
    (forms, count, problems)
}
