//! What every page shares: the frame (title, who is signed in, the sign-out form's CSRF
//! token, a notice after a change) and the error summary with links to the fields at fault.

use serde::Serialize;

use crate::fhir::outcome::FhirError;

/// The id of the first consent checkbox, where the error summary sends the admin.
pub const CONSENT_FIELD: &str = "consent-0";
const CONSENT_NEEDED: &str = "Tick every permission to consent to it: a pack is granted exactly what its version asks for, or nothing.";

/// The frame around a page's content (`_head.hbs`, `_foot.hbs`).
#[derive(Serialize, Clone, Debug, Default)]
pub struct Chrome {
    pub title: String,
    pub tenant: Option<String>,
    /// Who is signed in, as shown in the header.
    pub user: Option<String>,
    /// The session's CSRF token, for the sign-out form.
    pub csrf: Option<String>,
    /// A notice after a change ("greeter is now disabled").
    pub notice: Option<String>,
    pub errors: Vec<ErrorLink>,
}

/// One line of the error summary: the message, and the id of the field it is about.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ErrorLink {
    /// `#config-greeting`, or None for an error about the whole form.
    pub href: Option<String>,
    pub text: String,
}

impl Chrome {
    pub fn titled(mut self, title: impl Into<String>) -> Chrome {
        self.title = title.into();
        self
    }
}

/// Errors found in a submitted form, by field id; kept in order of discovery.
#[derive(Clone, Debug, Default)]
pub struct Problems(Vec<(Option<String>, String)>);

impl Problems {
    pub fn add(&mut self, field: Option<&str>, message: impl Into<String>) {
        self.0.push((field.map(str::to_string), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first message about `field`, to show beside it.
    pub fn about(&self, field: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(f, _)| f.as_deref() == Some(field))
            .map(|(_, m)| m.clone())
    }

    /// Adds the issues of a lifecycle error; `field_of` turns an issue's expression
    /// (`config.greeting`) into the id of the field it is about, when the page has one. The
    /// message is the lifecycle's own, so the page says what the API says — except for
    /// missing consent, whose API message names a JSON field the page does not have.
    pub fn add_error(&mut self, error: &FhirError, field_of: impl Fn(&str) -> Option<String>) {
        for issue in &error.issues {
            if issue.expression.as_deref() == Some("consent") {
                self.0
                    .push((Some(CONSENT_FIELD.to_string()), CONSENT_NEEDED.to_string()));
                continue;
            }
            let field = issue.expression.as_deref().and_then(&field_of);
            // "…schema: /greeting: …" reads "greeting: …" on the page.
            let text = issue
                .diagnostics
                .strip_prefix(crate::packs::lifecycle::SCHEMA_ERROR)
                .map(|t| t.strip_prefix('/').unwrap_or(t))
                .unwrap_or(&issue.diagnostics);
            self.0.push((field, text.to_string()));
        }
    }

    /// The error summary's lines.
    pub fn links(&self) -> Vec<ErrorLink> {
        self.0
            .iter()
            .map(|(field, text)| ErrorLink {
                href: field.as_ref().map(|f| format!("#{f}")),
                text: text.clone(),
            })
            .collect()
    }
}

/// An HTML id for a form field named by the pack (any text): letters, digits and dashes
/// kept, everything else as `_xx` hex, so two names never share an id.
pub fn field_id(prefix: &str, name: &str) -> String {
    let mut id = String::from(prefix);
    id.push('-');
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            id.push(byte as char);
        } else {
            id.push_str(&format!("_{byte:02x}"));
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::outcome::Issue;

    #[test]
    fn ids_are_safe_and_distinct() {
        assert_eq!(field_id("config", "api-key"), "config-api-key");
        assert_eq!(field_id("config", "a b"), "config-a_20b");
        assert_ne!(field_id("config", "a_b"), field_id("config", "a.b"));
        assert_eq!(field_id("config", "\"><x"), "config-_22_3e_3cx");
    }

    #[test]
    fn lifecycle_errors_point_at_fields() {
        let error = FhirError {
            status: axum::http::StatusCode::BAD_REQUEST,
            issues: vec![
                Issue::error(
                    "invalid",
                    format!(
                        "{}/greeting: 7 is not of type \"string\"",
                        crate::packs::lifecycle::SCHEMA_ERROR
                    ),
                )
                .at("config.greeting"),
                Issue::error("conflict", "something else"),
            ],
        };
        let mut problems = Problems::default();
        problems.add_error(&error, |e| {
            e.strip_prefix("config.").map(|f| field_id("config", f))
        });
        assert_eq!(
            problems.about("config-greeting").as_deref(),
            Some("greeting: 7 is not of type \"string\"")
        );
        let links = problems.links();
        assert_eq!(links[0].href.as_deref(), Some("#config-greeting"));
        assert_eq!(links[1].href, None);
    }
}
