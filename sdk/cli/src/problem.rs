//! A problem in one of a pack's files: where it is and what to do about it. Every check of
//! `tessera-pack` reports these, so an author always sees `file line N: what to fix`.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the pack's folder (`pack.yaml`, `rules/adult.yaml`).
    pub file: String,
    pub line: Option<usize>,
    /// Where in the file, when a checker says (`logic`, `items[2] 'bmi'`).
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(
        file: impl Into<String>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            file: file.into(),
            line,
            path: String::new(),
            message: message.into(),
        }
    }
}

/// The forms engine's problems read the same: `forms/x.yaml line 3 (items[0] 'a'): ...`.
impl From<tessera_forms::FormIssue> for Problem {
    fn from(issue: tessera_forms::FormIssue) -> Problem {
        Problem {
            file: issue.file,
            line: issue.line,
            path: issue.path,
            message: issue.message,
        }
    }
}

impl fmt::Display for Problem {
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

/// Problems as one error: each on its own line, then how many.
pub fn into_error(problems: &[Problem], what: &str) -> anyhow::Error {
    let mut text = String::new();
    for problem in problems {
        text.push_str(&format!("  {problem}\n"));
    }
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    anyhow::anyhow!("{text}{count} {noun} in {what}")
}

/// serde_yaml ends its messages with " at line N column M"; the line is reported on its own.
pub fn strip_yaml_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}
