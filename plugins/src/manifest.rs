//! `pack.yaml`: who a pack is, what it needs, and how it is configured.
//!
//! ```yaml
//! id: obstetrics
//! version: 1.2.0
//! kind: specialty            # or country
//! publisher: Example Health
//! description: Antenatal care forms and risk rules
//! abi: 0.1.0                 # the tessera:pack ABI it was built against
//! dependencies:
//!   core-terminology: ^1.0
//! permissions:
//!   fhir:
//!     Patient: [read, search]
//!     Observation: [read, search, create]
//!   http:
//!     - https://api.example.org
//!   features:
//!     chart:
//!       description: Open the antenatal chart
//!       roles: [clinician, nurse]     # system roles that get it when the pack is enabled
//! config_schema:                      # JSON Schema; writeOnly marks a secret
//!   type: object
//!   properties:
//!     api-key: { type: string, writeOnly: true }
//! locales: [en, hi]
//! ```

use std::collections::BTreeMap;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a pack is for: a specialty (obstetrics) or a country (India's ABDM).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PackKind {
    Specialty,
    Country,
}

/// A FHIR interaction a pack may be granted on a resource type.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum FhirInteraction {
    Read,
    Search,
    Create,
    Update,
    Delete,
}

impl FhirInteraction {
    pub fn as_str(self) -> &'static str {
        match self {
            FhirInteraction::Read => "read",
            FhirInteraction::Search => "search",
            FhirInteraction::Create => "create",
            FhirInteraction::Update => "update",
            FhirInteraction::Delete => "delete",
        }
    }
}

/// A permission the pack defines for its own routes: `feature:<pack-id>.<name>`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeatureDefinition {
    #[serde(default)]
    pub description: String,
    /// Roles that hold this feature (every action) wherever the pack is enabled.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Everything a pack asks the admin to grant.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RequestedPermissions {
    /// FHIR resource type to the interactions the pack needs on it.
    #[serde(default)]
    pub fhir: BTreeMap<String, Vec<FhirInteraction>>,
    /// Outbound HTTP origins: `https://host`, `https://host:8443`, `http://host:*`.
    #[serde(default)]
    pub http: Vec<String>,
    /// Permissions the pack defines for its routes.
    #[serde(default)]
    pub features: BTreeMap<String, FeatureDefinition>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub version: Version,
    pub kind: PackKind,
    pub publisher: String,
    #[serde(default)]
    pub description: String,
    pub abi: Version,
    #[serde(default)]
    pub dependencies: BTreeMap<String, VersionReq>,
    #[serde(default)]
    pub permissions: RequestedPermissions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<Value>,
    #[serde(default)]
    pub locales: Vec<String>,
}

/// A manifest problem, with where it is when the YAML parser knows.
#[derive(Debug, thiserror::Error)]
#[error("pack.yaml{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct ManifestError {
    pub line: Option<usize>,
    pub message: String,
}

impl ManifestError {
    fn new(message: impl Into<String>) -> ManifestError {
        ManifestError {
            line: None,
            message: message.into(),
        }
    }
}

pub fn is_pack_id(id: &str) -> bool {
    (2..=40).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.ends_with('-')
}

fn is_feature_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

pub fn is_resource_type(ty: &str) -> bool {
    (1..=64).contains(&ty.len())
        && ty.starts_with(|c: char| c.is_ascii_uppercase())
        && ty.chars().all(|c| c.is_ascii_alphanumeric())
}

impl Manifest {
    /// Parses and checks `pack.yaml`.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = serde_yaml::from_str(text).map_err(|e| ManifestError {
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
        manifest.check()?;
        Ok(manifest)
    }

    /// `feature:<id>.<name>`: how a route and a role name one of this pack's features.
    pub fn feature_target(&self, name: &str) -> String {
        format!("feature:{}.{name}", self.id)
    }

    fn check(&self) -> Result<(), ManifestError> {
        if !is_pack_id(&self.id) {
            return Err(ManifestError::new(format!(
                "id {:?} must be 2 to 40 lower-case letters, digits and dashes, starting with a letter",
                self.id
            )));
        }
        if self.publisher.trim().is_empty() {
            return Err(ManifestError::new(
                "publisher must name who publishes the pack",
            ));
        }
        for dependency in self.dependencies.keys() {
            if !is_pack_id(dependency) || dependency == &self.id {
                return Err(ManifestError::new(format!(
                    "dependency {dependency:?} is not another pack's id"
                )));
            }
        }
        for (ty, interactions) in &self.permissions.fhir {
            if !is_resource_type(ty) {
                return Err(ManifestError::new(format!(
                    "permissions.fhir: {ty:?} is not a FHIR resource type (for example Patient)"
                )));
            }
            if ty == "AuditEvent" {
                return Err(ManifestError::new(
                    "permissions.fhir: packs cannot be granted the audit trail (AuditEvent)",
                ));
            }
            if interactions.is_empty() {
                return Err(ManifestError::new(format!(
                    "permissions.fhir.{ty}: list the interactions needed (read, search, create, update, delete)"
                )));
            }
        }
        for origin in &self.permissions.http {
            crate::capabilities::http::OriginPattern::parse(origin)
                .map_err(|e| ManifestError::new(format!("permissions.http: {e}")))?;
        }
        for (name, feature) in &self.permissions.features {
            if !is_feature_name(name) {
                return Err(ManifestError::new(format!(
                    "permissions.features: {name:?} must be lower-case letters, digits, dashes and dots"
                )));
            }
            for role in &feature.roles {
                if role.is_empty() || role.contains(char::is_whitespace) {
                    return Err(ManifestError::new(format!(
                        "permissions.features.{name}.roles: {role:?} is not a role name"
                    )));
                }
            }
        }
        if let Some(schema) = &self.config_schema {
            check_config_schema(schema)?;
        }
        for locale in &self.locales {
            let ok = (2..=12).contains(&locale.len())
                && locale
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(ManifestError::new(format!(
                    "locales: {locale:?} is not a language tag (en, hi, en-GB)"
                )));
            }
        }
        Ok(())
    }

    /// Names of the configuration's secret fields (`writeOnly: true` at the top level).
    pub fn secret_fields(&self) -> Vec<String> {
        let Some(properties) = self
            .config_schema
            .as_ref()
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
        else {
            return Vec::new();
        };
        properties
            .iter()
            .filter(|(_, p)| p.get("writeOnly").and_then(Value::as_bool) == Some(true))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Checks a configuration (secrets included) against the pack's schema; every problem
    /// names where it is.
    pub fn validate_config(&self, config: &Value) -> Result<(), Vec<String>> {
        let problems = self.config_problems(config);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.iter().map(ToString::to_string).collect())
        }
    }

    /// Every way a configuration (secrets included) misses the pack's schema, each with the
    /// top-level field at fault where there is one, so a form can show it beside that field.
    pub fn config_problems(&self, config: &Value) -> Vec<ConfigProblem> {
        let Some(schema) = &self.config_schema else {
            return match config {
                Value::Object(map) if map.is_empty() => vec![],
                Value::Null => vec![],
                _ => vec![ConfigProblem {
                    field: None,
                    pointer: String::new(),
                    message: "this pack takes no configuration".into(),
                }],
            };
        };
        let validator = match jsonschema::validator_for(schema) {
            Ok(v) => v,
            Err(e) => {
                return vec![ConfigProblem {
                    field: None,
                    pointer: String::new(),
                    message: e.to_string(),
                }]
            }
        };
        validator
            .iter_errors(config)
            .map(|e| {
                let pointer = e.instance_path.to_string();
                let field = match &e.kind {
                    // A missing field is reported at the object that lacks it.
                    jsonschema::error::ValidationErrorKind::Required { property }
                        if pointer.is_empty() =>
                    {
                        property.as_str().map(str::to_string)
                    }
                    jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected }
                        if pointer.is_empty() && unexpected.len() == 1 =>
                    {
                        Some(unexpected[0].clone())
                    }
                    _ => top_level_field(&pointer),
                };
                ConfigProblem {
                    field,
                    pointer,
                    message: e.to_string(),
                }
            })
            .collect()
    }
}

/// One way a configuration misses its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The top-level property at fault (`greeting`), when there is one.
    pub field: Option<String>,
    /// Where, as a JSON pointer (`/greeting`); empty for the configuration as a whole.
    pub pointer: String,
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

/// The first segment of a JSON pointer, unescaped (`/a~1b/0` → `a/b`).
fn top_level_field(pointer: &str) -> Option<String> {
    let first = pointer.strip_prefix('/')?.split('/').next()?;
    Some(first.replace("~1", "/").replace("~0", "~"))
}

fn check_config_schema(schema: &Value) -> Result<(), ManifestError> {
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(ManifestError::new(
            "config_schema must be a JSON Schema with `type: object`",
        ));
    }
    jsonschema::meta::validate(schema).map_err(|e| {
        ManifestError::new(format!("config_schema is not a valid JSON Schema: {e}"))
    })?;
    jsonschema::validator_for(schema)
        .map_err(|e| ManifestError::new(format!("config_schema: {e}")))?;
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let secret = property.get("writeOnly").and_then(Value::as_bool) == Some(true);
            if secret && property.get("type").and_then(Value::as_str) != Some("string") {
                return Err(ManifestError::new(format!(
                    "config_schema.properties.{name}: a secret (writeOnly) must be a string"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "id: demo\nversion: 1.0.0\nkind: specialty\npublisher: Us\nabi: 0.1.0\n";

    #[test]
    fn parses_a_minimal_manifest() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.id, "demo");
        assert_eq!(m.version, Version::new(1, 0, 0));
        assert!(m.secret_fields().is_empty());
    }

    #[test]
    fn refuses_bad_fields_with_a_line() {
        let err = Manifest::parse(&format!("{GOOD}colour: blue\n")).unwrap_err();
        assert_eq!(err.line, Some(6), "{err}");
        let err = Manifest::parse(&GOOD.replace("demo", "Demo Pack")).unwrap_err();
        assert!(err.message.contains("lower-case"), "{err}");
        let err = Manifest::parse(&GOOD.replace("1.0.0\nkind", "one\nkind")).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = Manifest::parse(&format!(
            "{GOOD}permissions:\n  fhir:\n    patient: [read]\n"
        ))
        .unwrap_err();
        assert!(err.message.contains("not a FHIR resource type"), "{err}");
        let err = Manifest::parse(&format!(
            "{GOOD}permissions:\n  fhir:\n    Patient: [frobnicate]\n"
        ))
        .unwrap_err();
        assert!(err.message.contains("frobnicate"), "{err}");
        let err = Manifest::parse(&format!("{GOOD}permissions:\n  http: [ftp://x]\n")).unwrap_err();
        assert!(err.message.contains("http"), "{err}");
        let err = Manifest::parse(&format!(
            "{GOOD}permissions:\n  fhir:\n    AuditEvent: [read]\n"
        ))
        .unwrap_err();
        assert!(err.message.contains("audit"), "{err}");
    }

    #[test]
    fn config_schema_marks_secrets_and_validates() {
        let text = format!(
            "{GOOD}config_schema:\n  type: object\n  required: [greeting]\n  properties:\n    greeting: {{type: string, maxLength: 20}}\n    api-key: {{type: string, writeOnly: true}}\n"
        );
        let m = Manifest::parse(&text).unwrap();
        assert_eq!(m.secret_fields(), vec!["api-key".to_string()]);
        m.validate_config(&serde_json::json!({"greeting": "Hi"}))
            .unwrap();
        let errors = m
            .validate_config(&serde_json::json!({"greeting": 7}))
            .unwrap_err();
        assert!(errors[0].contains("/greeting"), "{errors:?}");
        assert!(m.validate_config(&serde_json::json!({})).is_err());
        let problems = m.config_problems(&serde_json::json!({"greeting": 7, "extra": 1}));
        let fields: Vec<Option<&str>> = problems.iter().map(|p| p.field.as_deref()).collect();
        assert!(fields.contains(&Some("greeting")), "{problems:?}");
        let missing = m.config_problems(&serde_json::json!({}));
        assert_eq!(missing[0].field.as_deref(), Some("greeting"), "{missing:?}");
        assert_eq!(missing[0].pointer, "");
        let bad = text.replace(
            "{type: string, writeOnly: true}",
            "{type: integer, writeOnly: true}",
        );
        assert!(Manifest::parse(&bad)
            .unwrap_err()
            .message
            .contains("secret"));
    }
}
