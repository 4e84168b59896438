//! A pack version's configuration form, generated from its `config_schema` (JSON Schema):
//! one field per top-level property — text, whole number, number, yes/no, a choice (`enum`),
//! a secret (`writeOnly: true`) or, for anything else, JSON text. The form's values are
//! turned back into the `config` and `secrets` the lifecycle takes; what the schema itself
//! demands (lengths, ranges, required fields) is left to the lifecycle, which checks every
//! configuration the same way whichever way it arrives, and whose errors name the field.
//!
//! Secrets are never shown: their input is always empty, and the page says only whether one
//! is set. Leaving it empty keeps the stored secret; "clear" removes it.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use tessera_plugins::Manifest;

use super::form::FormData;
use super::page::{field_id, Problems};

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Text,
    Integer,
    Number,
    Boolean,
    /// `enum`: the allowed values.
    Choice(Vec<Value>),
    Secret,
    /// Objects, arrays and anything else: edited as JSON text.
    Json,
}

#[derive(Clone, Debug)]
pub struct Field {
    /// The property's name in the configuration.
    pub name: String,
    /// The HTML id of its input.
    pub id: String,
    pub label: String,
    pub hint: Option<String>,
    pub kind: Kind,
    pub required: bool,
}

/// Where a form sets configuration: the whole tenant (secrets included; empty means "not
/// set"), or one Location (no secrets; empty means "as for the tenant").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Tenant,
    Location,
}

/// The form's values as text, by property name: what was posted, or the stored settings.
pub type Raw = BTreeMap<String, String>;

/// The input id of property `name`.
pub fn id_of(name: &str) -> String {
    field_id("config", name)
}

/// The field a lifecycle error's expression (`config.x`, `secrets.x`) is about.
pub fn field_of_expression(expression: &str) -> Option<String> {
    expression
        .strip_prefix("config.")
        .or_else(|| expression.strip_prefix("secrets."))
        .map(id_of)
}

fn hint(property: &Value, kind: &Kind) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if let Some(text) = property.get("description").and_then(Value::as_str) {
        parts.push(text.trim_end_matches('.').to_string() + ".");
    }
    let number = |key: &str| property.get(key).and_then(Value::as_f64);
    match kind {
        Kind::Text | Kind::Secret => match (number("minLength"), number("maxLength")) {
            (Some(min), Some(max)) => parts.push(format!("{min} to {max} characters.")),
            (Some(min), None) => parts.push(format!("At least {min} characters.")),
            (None, Some(max)) => parts.push(format!("At most {max} characters.")),
            (None, None) => {}
        },
        Kind::Integer | Kind::Number => match (number("minimum"), number("maximum")) {
            (Some(min), Some(max)) => parts.push(format!("From {min} to {max}.")),
            (Some(min), None) => parts.push(format!("At least {min}.")),
            (None, Some(max)) => parts.push(format!("At most {max}.")),
            (None, None) => {}
        },
        Kind::Json => parts.push("As JSON.".into()),
        Kind::Boolean | Kind::Choice(_) => {}
    }
    if let Some(default) = property.get("default") {
        if *kind != Kind::Secret {
            parts.push(format!("Default: {}.", show(default)));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// A value as the form shows it: strings as they are, anything else as JSON.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn kind_of(property: &Value) -> Kind {
    if property.get("writeOnly").and_then(Value::as_bool) == Some(true) {
        return Kind::Secret;
    }
    if let Some(options) = property.get("enum").and_then(Value::as_array) {
        return Kind::Choice(options.clone());
    }
    match property.get("type").and_then(Value::as_str) {
        Some("string") => Kind::Text,
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        _ => Kind::Json,
    }
}

/// The form's fields, in the schema's order.
pub fn fields(manifest: &Manifest, scope: Scope) -> Vec<Field> {
    let Some(schema) = &manifest.config_schema else {
        return vec![];
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return vec![];
    };
    properties
        .iter()
        .map(|(name, property)| {
            let kind = kind_of(property);
            Field {
                name: name.clone(),
                id: id_of(name),
                label: property
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or(name)
                    .to_string(),
                hint: hint(property, &kind),
                required: scope == Scope::Tenant && required.contains(&name.as_str()),
                kind,
            }
        })
        .filter(|f| scope == Scope::Tenant || f.kind != Kind::Secret)
        .collect()
}

/// The stored configuration as the form's text.
pub fn raw_from_config(fields: &[Field], config: &Value) -> Raw {
    fields
        .iter()
        .filter(|f| f.kind != Kind::Secret)
        .filter_map(|f| {
            let value = config.get(&f.name)?;
            let text = match &f.kind {
                Kind::Json => serde_json::to_string_pretty(value).unwrap_or_default(),
                _ => show(value),
            };
            Some((f.name.clone(), text))
        })
        .collect()
}

/// What a posted form sets: the configuration, and secrets to set (a string) or clear (null).
#[derive(Debug, Default)]
pub struct Parsed {
    pub config: Map<String, Value>,
    pub secrets: Map<String, Value>,
    /// The posted text, to show again with the errors.
    pub raw: Raw,
}

/// Reads the fields from a posted form. Text that cannot be the field's type (letters in a
/// number) is a problem of the form; everything else goes to the lifecycle to judge.
pub fn parse(fields: &[Field], form: &FormData, problems: &mut Problems) -> Parsed {
    let mut parsed = Parsed::default();
    for field in fields {
        if field.kind == Kind::Secret {
            let new = form.text(&format!("secret.{}", field.name));
            let clear = form.get(&format!("clear.{}", field.name)) == Some("yes");
            match (new.is_empty(), clear) {
                (false, true) => problems.add(
                    Some(&field.id),
                    format!(
                        "{}: enter a new value or tick \"clear\", not both",
                        field.label
                    ),
                ),
                (false, false) => {
                    parsed
                        .secrets
                        .insert(field.name.clone(), Value::String(new.to_string()));
                }
                (true, true) => {
                    parsed.secrets.insert(field.name.clone(), Value::Null);
                }
                (true, false) => {}
            }
            continue;
        }
        let text = form.text(&format!("config.{}", field.name)).to_string();
        parsed.raw.insert(field.name.clone(), text.clone());
        if text.trim().is_empty() {
            // Not set (or, at a Location, as for the tenant); a required field's absence is
            // reported by the schema check.
            continue;
        }
        let value = match &field.kind {
            Kind::Text => Ok(Value::String(text)),
            Kind::Integer => text
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("{}: enter a whole number, such as 12", field.label)),
            Kind::Number => {
                let t = text.trim();
                t.parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| {
                        t.parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map(Value::Number)
                            .ok_or(())
                    })
                    .map_err(|_| format!("{}: enter a number, such as 2.5", field.label))
            }
            Kind::Boolean => match text.as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("{}: choose yes or no", field.label)),
            },
            Kind::Choice(options) => options
                .iter()
                .find(|o| show(o) == text)
                .cloned()
                .ok_or_else(|| format!("{}: choose one of the options", field.label)),
            Kind::Json => serde_json::from_str(&text)
                .map_err(|e| format!("{}: enter valid JSON ({e})", field.label)),
            Kind::Secret => unreachable!("secrets are read above"),
        };
        match value {
            Ok(value) => {
                parsed.config.insert(field.name.clone(), value);
            }
            Err(message) => problems.add(Some(&field.id), message),
        }
    }
    parsed
}

/// The fields as the templates render them (`_field.hbs`). `secrets_set` names the secrets
/// that hold a value; their values are never here.
pub fn view(
    fields: &[Field],
    raw: &Raw,
    problems: &Problems,
    secrets_set: &[String],
    scope: Scope,
) -> Vec<Value> {
    let empty_label = match scope {
        Scope::Tenant => "Not set",
        Scope::Location => "As for the whole organization",
    };
    fields
        .iter()
        .map(|f| {
            let value = raw.get(&f.name).cloned().unwrap_or_default();
            let error = problems.about(&f.id);
            let hint_id = f.hint.as_ref().map(|_| format!("{}-hint", f.id));
            let error_id = error.as_ref().map(|_| format!("{}-error", f.id));
            let described_by: Vec<&String> = hint_id.iter().chain(error_id.iter()).collect();
            let optional = !f.required;
            let options: Vec<Value> = match &f.kind {
                Kind::Choice(choices) => optional
                    .then(|| ("".to_string(), format!("— {empty_label} —")))
                    .into_iter()
                    .chain(choices.iter().map(|c| (show(c), show(c))))
                    .map(|(v, label)| json!({"selected": v == value, "value": v, "label": label}))
                    .collect(),
                _ => vec![],
            };
            let radios: Vec<Value> = match &f.kind {
                Kind::Boolean => optional
                    .then_some(("", empty_label))
                    .into_iter()
                    .chain([("true", "Yes"), ("false", "No")])
                    .map(|(v, label)| {
                        json!({
                            "id": if v.is_empty() { format!("{}-unset", f.id) } else { format!("{}-{v}", f.id) },
                            "value": v,
                            "label": label,
                            "checked": v == value,
                        })
                    })
                    .collect(),
                _ => vec![],
            };
            // The first radio carries the field's id, so the error summary's link lands on it.
            let radios: Vec<Value> = radios
                .into_iter()
                .enumerate()
                .map(|(i, mut r)| {
                    if i == 0 {
                        r["id"] = json!(f.id);
                    }
                    r
                })
                .collect();
            json!({
                "id": f.id,
                "name": format!("config.{}", f.name),
                "label": f.label,
                "property": f.name,
                "required": f.required,
                "hint": f.hint,
                "hint_id": hint_id,
                "error": error,
                "error_id": error_id,
                "described_by": if described_by.is_empty() { Value::Null } else { json!(described_by.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")) },
                "value": if f.kind == Kind::Secret { String::new() } else { value },
                "is_text": f.kind == Kind::Text,
                "is_integer": f.kind == Kind::Integer,
                "is_number": f.kind == Kind::Number,
                "is_boolean": f.kind == Kind::Boolean,
                "is_choice": matches!(f.kind, Kind::Choice(_)),
                "is_secret": f.kind == Kind::Secret,
                "is_json": f.kind == Kind::Json,
                "options": options,
                "radios": radios,
                "secret_set": secrets_set.contains(&f.name),
                "secret_name": format!("secret.{}", f.name),
                "clear_name": format!("clear.{}", f.name),
                "clear_id": format!("{}-clear", f.id),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            "id: demo\nversion: 1.0.0\nkind: specialty\npublisher: Us\nabi: 0.1.0\n\
             config_schema:\n  type: object\n  required: [greeting]\n  properties:\n\
             \x20   greeting: {type: string, maxLength: 40, title: Greeting, description: How to greet}\n\
             \x20   visits: {type: integer, minimum: 1, maximum: 100}\n\
             \x20   ratio: {type: number}\n\
             \x20   loud: {type: boolean}\n\
             \x20   style: {type: string, enum: [formal, casual]}\n\
             \x20   api-key: {type: string, writeOnly: true, minLength: 8}\n\
             \x20   extra: {type: object}\n",
        )
        .unwrap()
    }

    fn form(pairs: &[(&str, &str)]) -> FormData {
        FormData(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn fields_follow_the_schema() {
        let fields = fields(&manifest(), Scope::Tenant);
        let kinds: Vec<(&str, &Kind, bool)> = fields
            .iter()
            .map(|f| (f.name.as_str(), &f.kind, f.required))
            .collect();
        assert_eq!(kinds[0], ("greeting", &Kind::Text, true));
        assert_eq!(kinds[1], ("visits", &Kind::Integer, false));
        assert_eq!(kinds[3], ("loud", &Kind::Boolean, false));
        assert!(matches!(kinds[4].1, Kind::Choice(c) if c.len() == 2));
        assert_eq!(kinds[5].1, &Kind::Secret);
        assert_eq!(kinds[6].1, &Kind::Json);
        assert_eq!(fields[0].label, "Greeting");
        assert_eq!(
            fields[0].hint.as_deref(),
            Some("How to greet. At most 40 characters.")
        );
        assert_eq!(fields[1].hint.as_deref(), Some("From 1 to 100."));
        // A Location never sets secrets, and nothing is required there.
        let at_location = super::fields(&manifest(), Scope::Location);
        assert!(at_location
            .iter()
            .all(|f| f.kind != Kind::Secret && !f.required));
    }

    #[test]
    fn a_posted_form_becomes_config_and_secrets() {
        let fields = fields(&manifest(), Scope::Tenant);
        let mut problems = Problems::default();
        let parsed = parse(
            &fields,
            &form(&[
                ("config.greeting", "Howdy"),
                ("config.visits", " 12 "),
                ("config.ratio", "2.5"),
                ("config.loud", "false"),
                ("config.style", "casual"),
                ("config.extra", "{\"a\": 1}"),
                ("secret.api-key", "s3cret-value"),
            ]),
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            Value::Object(parsed.config),
            json!({"greeting": "Howdy", "visits": 12, "ratio": 2.5, "loud": false, "style": "casual", "extra": {"a": 1}})
        );
        assert_eq!(
            Value::Object(parsed.secrets),
            json!({"api-key": "s3cret-value"})
        );
        // Empty fields are not set; "clear" removes a secret.
        let mut problems = Problems::default();
        let parsed = parse(
            &fields,
            &form(&[("config.visits", ""), ("clear.api-key", "yes")]),
            &mut problems,
        );
        assert!(parsed.config.is_empty());
        assert_eq!(Value::Object(parsed.secrets), json!({"api-key": null}));
    }

    #[test]
    fn text_that_is_not_the_type_is_a_problem_beside_its_field() {
        let fields = fields(&manifest(), Scope::Tenant);
        let mut problems = Problems::default();
        let parsed = parse(
            &fields,
            &form(&[
                ("config.visits", "twelve"),
                ("config.ratio", "NaN"),
                ("config.style", "<script>"),
                ("config.extra", "{"),
                ("secret.api-key", "x"),
                ("clear.api-key", "yes"),
            ]),
            &mut problems,
        );
        for id in [
            "config-visits",
            "config-ratio",
            "config-style",
            "config-extra",
            "config-api-key",
        ] {
            assert!(problems.about(id).is_some(), "{id}: {problems:?}");
        }
        // The text stays, to be corrected.
        assert_eq!(parsed.raw["visits"], "twelve");
        assert!(
            !parsed.raw.contains_key("api-key"),
            "secrets are never kept"
        );
    }

    #[test]
    fn secrets_are_never_in_the_view() {
        let fields = fields(&manifest(), Scope::Tenant);
        let mut raw = Raw::new();
        raw.insert("api-key".into(), "leaked?".into());
        let view = view(
            &fields,
            &raw,
            &Problems::default(),
            &["api-key".to_string()],
            Scope::Tenant,
        );
        let secret = view.iter().find(|f| f["property"] == "api-key").unwrap();
        assert_eq!(secret["value"], "");
        assert_eq!(secret["secret_set"], true);
        assert!(!Value::Array(view.clone()).to_string().contains("leaked?"));
    }

    #[test]
    fn stored_config_shows_as_text() {
        let fields = fields(&manifest(), Scope::Tenant);
        let raw = raw_from_config(
            &fields,
            &json!({"greeting": "Hi", "visits": 3, "loud": true, "api-key": "never"}),
        );
        assert_eq!(raw["greeting"], "Hi");
        assert_eq!(raw["visits"], "3");
        assert_eq!(raw["loud"], "true");
        assert!(!raw.contains_key("api-key"));
    }
}
