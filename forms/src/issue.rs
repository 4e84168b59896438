//! The two kinds of problem this crate reports: a problem in a form definition
//! ([`FormIssue`], for pack authors) and a problem in a response ([`ItemError`], for users).

use std::fmt;

/// A problem in a form definition (or a rules or locale file), pointing at the place to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormIssue {
    /// The file, as the caller named it (e.g. `forms/anc.yaml`).
    pub file: String,
    /// The line in that file, counted from 1, when known (a Questionnaire in JSON has none).
    pub line: Option<usize>,
    /// Where in the form: `items[3] 'bmi'`, `items[0].items[2] 'weight'`, or a top-level key.
    pub path: String,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for FormIssue {
    /// `forms/anc.yaml line 12 (items[3] 'bmi'): enableWhen refers to unknown item 'wieght'`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if !self.path.is_empty() {
            write!(f, " ({})", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FormIssue {}

/// A problem with one answer of a response, shown next to the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// The item's linkId; `""` for a problem with the response as a whole (wrong form or
    /// version, a form-level constraint).
    pub link_id: String,
    /// What is wrong, in words for the person filling the form.
    pub message: String,
}

impl ItemError {
    /// An error for one item.
    pub fn new(link_id: impl Into<String>, message: impl Into<String>) -> Self {
        ItemError {
            link_id: link_id.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.link_id.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.link_id, self.message)
        }
    }
}

impl std::error::Error for ItemError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_issue_names_file_line_and_path() {
        let issue = FormIssue {
            file: "forms/anc.yaml".into(),
            line: Some(12),
            path: "items[3] 'bmi'".into(),
            message: "enableWhen refers to unknown item 'wieght'".into(),
        };
        assert_eq!(
            issue.to_string(),
            "forms/anc.yaml line 12 (items[3] 'bmi'): enableWhen refers to unknown item 'wieght'"
        );
    }
}
