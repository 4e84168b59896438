//! The pack test format: `tests/*.yaml`, each file a list of cases run in order against the
//! pack in a real Tessera host, in an organization of its own (see
//! `docs/pack-author-guide.md`, "Testing a pack").
//!
//! ```yaml
//! config: { greeting: Hello }          # the organization's configuration of the pack
//! secrets: { api-key: test-key }       # its secrets
//! fixtures:                            # FHIR resources stored before the first case
//!   - fixtures/patient.json            # a file: a resource, or a transaction/batch Bundle
//!   - { resourceType: Patient, id: p1, name: [{ family: Lee }] }
//! cases:
//!   - name: greets a clinician
//!     request: { method: GET, path: /hello/World, roles: [clinician] }
//!     expect:
//!       status: 200
//!       body: { message: Hello, World! }    # every field given must match; others may exist
//!   - name: an even number is a valid id
//!     identifier: { system: "https://example.org/id", value: "42" }
//!     expect: { valid: true }
//!   - name: hears about a new patient
//!     event: { resourceType: Patient, id: p1, interaction: create }
//!     expect: { ok: true }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::check::yaml_lines::YamlLines;
use crate::problem::{strip_yaml_location, Problem};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    #[serde(default)]
    pub fixtures: Vec<Fixture>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Fixture {
    /// A JSON file, relative to the pack's folder.
    File(String),
    /// A resource written in the test file.
    Resource(Value),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub request: Option<CaseRequest>,
    #[serde(default)]
    pub identifier: Option<IdentifierCall>,
    #[serde(default)]
    pub event: Option<EventCall>,
    pub expect: Expect,
}

/// A request to one of the pack's routes (or, with a path under `/_hooks/`, a webhook).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    #[serde(default = "default_method")]
    pub method: String,
    /// Below `/t/{tenant}/packs/{pack}`, with any query string: `/hello/World?lang=en`.
    pub path: String,
    /// The caller's Tessera roles; a webhook (`/_hooks/...`) is called without a user.
    #[serde(default = "default_roles")]
    pub roles: Vec<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Sent as JSON.
    #[serde(default)]
    pub body: Option<Value>,
    /// Sent as it is, for bodies that are not JSON.
    #[serde(default)]
    pub body_text: Option<String>,
}

fn default_method() -> String {
    "GET".into()
}

fn default_roles() -> Vec<String> {
    vec!["clinician".into()]
}

/// Asks the pack to validate an identifier of a system it registered.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierCall {
    pub system: String,
    pub value: String,
}

/// Delivers a resource change to the pack's subscriptions directly, as the server's event
/// dispatcher does (the pack alone), so a test need not wait for the dispatcher. The
/// resource is read from the store unless given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCall {
    #[serde(rename = "resourceType")]
    pub resource_type: String,
    pub id: String,
    pub interaction: String,
    #[serde(default)]
    pub resource: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Requests: the HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Requests: a JSON subset of the body.
    #[serde(default)]
    pub body: Option<Value>,
    /// Requests: text the body contains.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// Requests: headers (names in any case) and their values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Identifiers: whether the value is valid.
    #[serde(default)]
    pub valid: Option<bool>,
    /// Events: whether the pack handled it without an error.
    #[serde(default)]
    pub ok: Option<bool>,
    /// Identifiers and events: text the pack's error message contains.
    #[serde(default)]
    pub message_contains: Option<String>,
}

pub enum CaseKind<'a> {
    Request(&'a CaseRequest),
    Identifier(&'a IdentifierCall),
    Event(&'a EventCall),
}

impl Case {
    pub fn kind(&self) -> CaseKind<'_> {
        match (&self.request, &self.identifier, &self.event) {
            (Some(request), _, _) => CaseKind::Request(request),
            (None, Some(identifier), _) => CaseKind::Identifier(identifier),
            (None, None, Some(event)) => CaseKind::Event(event),
            (None, None, None) => unreachable!("parse() refuses a case without an action"),
        }
    }
}

/// Parses and checks one test file; every problem with its line.
pub fn parse(file: &str, text: &str) -> Result<TestFile, Vec<Problem>> {
    let parsed: TestFile = serde_yaml::from_str(text).map_err(|e| {
        vec![Problem::new(
            file,
            e.location().map(|l| l.line()),
            format!(
                "{}; a test file has config, secrets, fixtures and cases (see the pack author guide)",
                strip_yaml_location(&e.to_string())
            ),
        )]
    })?;
    let lines = YamlLines::of(text);
    let mut problems = Vec::new();
    if parsed.cases.is_empty() {
        problems.push(Problem::new(
            file,
            lines.line("cases"),
            "cases is empty; add at least one",
        ));
    }
    for (i, case) in parsed.cases.iter().enumerate() {
        let at = |field: &str| lines.line(&format!("cases[{i}].{field}"));
        let mut problem = |field: &str, message: String| {
            problems.push(Problem::new(
                file,
                at(field),
                format!("case {:?}: {message}", case.name),
            ))
        };
        let actions = [
            case.request.is_some(),
            case.identifier.is_some(),
            case.event.is_some(),
        ]
        .iter()
        .filter(|a| **a)
        .count();
        if actions != 1 {
            problem(
                "name",
                "give exactly one of request, identifier or event".into(),
            );
            continue;
        }
        let expect = &case.expect;
        match case.kind() {
            CaseKind::Request(request) => {
                if !request.path.starts_with('/') {
                    problem("request.path", format!("path {:?} must start with / (it is below /t/{{tenant}}/packs/{{pack}})", request.path));
                }
                if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&request.method.as_str()) {
                    problem(
                        "request.method",
                        format!(
                            "method {:?} is not one of GET, POST, PUT, PATCH, DELETE",
                            request.method
                        ),
                    );
                }
                if request.body.is_some() && request.body_text.is_some() {
                    problem(
                        "request.body_text",
                        "give body (JSON) or body_text, not both".into(),
                    );
                }
                if expect.status.is_none() {
                    problem("expect", "a request case needs expect.status".into());
                }
                if expect.valid.is_some()
                    || expect.ok.is_some()
                    || expect.message_contains.is_some()
                {
                    problem(
                        "expect",
                        "a request case expects status, body, body_contains and headers only"
                            .into(),
                    );
                }
            }
            CaseKind::Identifier(_) => {
                if expect.valid.is_none() {
                    problem(
                        "expect",
                        "an identifier case needs expect.valid (true or false)".into(),
                    );
                }
                if expect.status.is_some() || expect.body.is_some() || expect.ok.is_some() {
                    problem(
                        "expect",
                        "an identifier case expects valid and message_contains only".into(),
                    );
                }
            }
            CaseKind::Event(event) => {
                if !["create", "update", "delete"].contains(&event.interaction.as_str()) {
                    problem(
                        "event.interaction",
                        format!(
                            "interaction {:?} is not create, update or delete",
                            event.interaction
                        ),
                    );
                }
                if expect.ok.is_none() {
                    problem(
                        "expect",
                        "an event case needs expect.ok (true or false)".into(),
                    );
                }
                if expect.status.is_some() || expect.body.is_some() || expect.valid.is_some() {
                    problem(
                        "expect",
                        "an event case expects ok and message_contains only".into(),
                    );
                }
            }
        }
    }
    for (i, fixture) in parsed.fixtures.iter().enumerate() {
        if let Fixture::Resource(resource) = fixture {
            if resource
                .get("resourceType")
                .and_then(Value::as_str)
                .is_none()
            {
                problems.push(Problem::new(
                    file,
                    lines.line(&format!("fixtures[{i}]")),
                    "a fixture is a file name or a FHIR resource with a resourceType",
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_parses_with_defaults() {
        let file = parse(
            "tests/a.yaml",
            "cases:\n  - name: hi\n    request: { path: /hello/x }\n    expect: { status: 200, body: { message: hi } }\n",
        )
        .unwrap();
        let CaseKind::Request(request) = file.cases[0].kind() else {
            panic!("a request case")
        };
        assert_eq!(request.method, "GET");
        assert_eq!(request.roles, ["clinician"]);
    }

    #[test]
    fn problems_name_the_line_and_the_fix() {
        let err = parse("tests/a.yaml", "cases:\n  - name: hi\n    reqest: {}\n").unwrap_err();
        assert_eq!(err[0].line, Some(3), "{err:?}");
        assert!(err[0].message.contains("unknown field `reqest`"), "{err:?}");
        let err = parse(
            "tests/a.yaml",
            "cases:\n  - name: hi\n    request: { path: hello }\n    expect: { valid: true }\n",
        )
        .unwrap_err();
        let text: Vec<String> = err.iter().map(|p| p.to_string()).collect();
        assert!(
            text[0].contains("line 3") && text[0].contains("must start with /"),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("needs expect.status")),
            "{text:?}"
        );
        let err = parse(
            "tests/a.yaml",
            "cases:\n  - name: nothing\n    expect: {}\n",
        )
        .unwrap_err();
        assert!(err[0].message.contains("exactly one of"), "{err:?}");
    }
}
