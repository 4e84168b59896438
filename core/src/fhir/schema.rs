//! Structural validation against HL7's official R4 JSON Schema (vendored in `core/fhir-r4`).
//!
//! The schema uses a small set of keywords — `$ref`, `type`, `properties`,
//! `additionalProperties: false`, `required`, `items`, `pattern`, `enum`, `const`, and one
//! `oneOf` (ResourceList, which selects a resource's definition by `resourceType`). We compile
//! the definitions into a small tree once and interpret it directly. A generic JSON Schema
//! engine was tried first: it compiled FHIR's recursive types (Extension inside Extension...)
//! again at every reference site, taking seconds per new path and memory without bound.
//! Interpreting also lets us apply the `integer`/`decimal` patterns to JSON numbers (so 1.5 is
//! not accepted as an integer), which a generic engine skips.

use std::collections::{BTreeSet, HashMap};

use regex::Regex;
use serde_json::{Map, Value};

use super::outcome::Issue;

const SCHEMA: &str = include_str!("../../fhir-r4/fhir.schema.json");
/// More issues than this for one resource add noise, not help.
const MAX_ISSUES: usize = 20;
/// Deeper nesting than this is refused rather than recursed into (a stack-exhaustion guard;
/// real resources stay far below it).
const MAX_DEPTH: usize = 64;

type DefId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    String,
    Number,
    Boolean,
}

/// One compiled schema object.
#[derive(Debug, Default)]
struct Node {
    reference: Option<DefId>,
    json_type: Option<JsonType>,
    pattern: Option<usize>,
    allowed: Option<Vec<Value>>,
    items: Option<Box<Node>>,
    /// Element name to schema; objects with properties reject any other element.
    properties: Option<HashMap<String, Node>>,
    required: Vec<String>,
    /// ResourceList: dispatch on `resourceType`.
    any_resource: bool,
}

struct Definition {
    name: String,
    node: Node,
}

pub struct SchemaValidator {
    resource_types: BTreeSet<String>,
    definitions: Vec<Definition>,
    by_name: HashMap<String, DefId>,
    patterns: Vec<(String, Regex)>,
}

impl SchemaValidator {
    pub fn load() -> SchemaValidator {
        let schema: Value = serde_json::from_str(SCHEMA).expect("vendored schema is JSON");
        let resource_types: BTreeSet<String> = schema["discriminator"]["mapping"]
            .as_object()
            .expect("schema has a discriminator mapping")
            .keys()
            .cloned()
            .collect();
        let raw = schema["definitions"]
            .as_object()
            .expect("schema has definitions");
        let by_name: HashMap<String, DefId> = raw
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        let mut compiler = Compiler {
            by_name: &by_name,
            patterns: Vec::new(),
            pattern_ids: HashMap::new(),
        };
        let definitions = raw
            .iter()
            .map(|(name, body)| Definition {
                name: name.clone(),
                node: compiler.node(name, body),
            })
            .collect();
        let patterns = compiler.patterns;
        SchemaValidator {
            resource_types,
            definitions,
            by_name,
            patterns,
        }
    }

    pub fn is_resource_type(&self, name: &str) -> bool {
        self.resource_types.contains(name)
    }

    pub fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.resource_types.iter().map(String::as_str)
    }

    /// Checks a resource against its R4 definition. Issues name the offending element as a
    /// FHIRPath, e.g. `Patient.name[0].given`.
    pub fn validate(&self, resource: &Value) -> Result<(), Vec<Issue>> {
        let root = resource["resourceType"]
            .as_str()
            .unwrap_or("Resource")
            .to_string();
        let mut run = Run {
            schema: self,
            issues: Vec::new(),
        };
        run.resource(resource, &mut root.clone(), 0);
        if run.issues.is_empty() {
            Ok(())
        } else {
            Err(run.issues)
        }
    }
}

struct Compiler<'a> {
    by_name: &'a HashMap<String, DefId>,
    patterns: Vec<(String, Regex)>,
    pattern_ids: HashMap<String, usize>,
}

impl Compiler<'_> {
    fn node(&mut self, name: &str, body: &Value) -> Node {
        let mut node = Node::default();
        if name == "ResourceList" {
            node.any_resource = true;
            return node;
        }
        let Some(obj) = body.as_object() else {
            return node;
        };
        if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
            let def = target.trim_start_matches("#/definitions/");
            node.reference = Some(
                *self
                    .by_name
                    .get(def)
                    .unwrap_or_else(|| panic!("dangling $ref {target}")),
            );
        }
        node.json_type = match obj.get("type").and_then(Value::as_str) {
            Some("string") => Some(JsonType::String),
            Some("number") => Some(JsonType::Number),
            Some("boolean") => Some(JsonType::Boolean),
            _ => None,
        };
        if let Some(pattern) = obj.get("pattern").and_then(Value::as_str) {
            node.pattern = Some(self.pattern(pattern));
        }
        if let Some(list) = obj.get("enum").and_then(Value::as_array) {
            node.allowed = Some(list.clone());
        }
        if let Some(value) = obj.get("const") {
            node.allowed = Some(vec![value.clone()]);
        }
        if let Some(items) = obj.get("items") {
            node.items = Some(Box::new(self.node("", items)));
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            node.properties = Some(
                props
                    .iter()
                    .map(|(k, v)| (k.clone(), self.node("", v)))
                    .collect(),
            );
        }
        if let Some(required) = obj.get("required").and_then(Value::as_array) {
            node.required = required
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        node
    }

    fn pattern(&mut self, pattern: &str) -> usize {
        // The schema's `string`/`markdown` pattern rejects every whitespace character but
        // space, tab, CR and LF — including no-break spaces that real text (and HL7's own
        // examples) contain. The specification's text only excludes control characters below
        // 32 other than tab, CR and LF; we follow the text (PostgreSQL cannot store NUL anyway).
        let pattern = if pattern == r"^[ \r\n\t\S]+$" {
            r"^[^\x00-\x08\x0B\x0C\x0E-\x1F]+$"
        } else {
            pattern
        };
        if let Some(id) = self.pattern_ids.get(pattern) {
            return *id;
        }
        let regex = Regex::new(pattern)
            .unwrap_or_else(|e| panic!("schema pattern {pattern} does not compile: {e}"));
        self.patterns.push((pattern.to_string(), regex));
        self.pattern_ids
            .insert(pattern.to_string(), self.patterns.len() - 1);
        self.patterns.len() - 1
    }
}

struct Run<'a> {
    schema: &'a SchemaValidator,
    issues: Vec<Issue>,
}

impl Run<'_> {
    fn report(&mut self, code: &'static str, path: &str, text: String) {
        if self.issues.len() < MAX_ISSUES {
            self.issues
                .push(Issue::error(code, text).at(path.to_string()));
        }
    }

    /// A resource anywhere (top level, contained, Bundle entry): pick its definition.
    fn resource(&mut self, value: &Value, path: &mut String, depth: usize) {
        let Some(ty) = value.get("resourceType").and_then(Value::as_str) else {
            let text = format!("{path}: a resource needs a resourceType");
            return self.report("required", path, text);
        };
        if !self.schema.is_resource_type(ty) {
            let text = format!("{path}: {ty:?} is not an R4 resource type");
            return self.report("value", &format!("{path}.resourceType"), text);
        }
        let def = self.schema.by_name[ty];
        self.definition(def, value, path, depth);
    }

    fn definition(&mut self, def: DefId, value: &Value, path: &mut String, depth: usize) {
        let node = &self.schema.definitions[def].node;
        self.node(node, Some(def), value, path, depth);
    }

    fn node(
        &mut self,
        node: &Node,
        def: Option<DefId>,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return self.report(
                "too-long",
                path,
                format!("{path}: nesting deeper than {MAX_DEPTH} levels"),
            );
        }
        if self.issues.len() >= MAX_ISSUES {
            return;
        }
        if node.any_resource {
            return self.resource(value, path, depth + 1);
        }
        if let Some(target) = node.reference {
            self.definition(target, value, path, depth + 1);
        }
        if let Some(kind) = node.json_type {
            let ok = match kind {
                JsonType::String => value.is_string(),
                JsonType::Number => value.is_number(),
                JsonType::Boolean => value.is_boolean(),
            };
            if !ok {
                let type_name = def
                    .map(|d| self.schema.definitions[d].name.as_str())
                    .unwrap_or(match kind {
                        JsonType::String => "string",
                        JsonType::Number => "number",
                        JsonType::Boolean => "boolean",
                    });
                return self.report(
                    "structure",
                    path,
                    format!("{path}: expected a {type_name}, found {}", kind_of(value)),
                );
            }
        }
        if let Some(p) = node.pattern {
            let text = match value {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            if let Some(text) = text {
                if !self.schema.patterns[p].1.is_match(&text) {
                    let type_name = def
                        .map(|d| self.schema.definitions[d].name.clone())
                        .unwrap_or_else(|| "value".into());
                    self.report(
                        "value",
                        path,
                        format!("{path}: {value} is not a valid {type_name}"),
                    );
                }
            }
        }
        if let Some(allowed) = &node.allowed {
            if !allowed.contains(value) {
                let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
                self.report(
                    "value",
                    path,
                    format!("{path}: {value} is not one of {}", list.join(", ")),
                );
            }
        }
        if let Some(items) = &node.items {
            match value {
                Value::Array(list) => {
                    if list.is_empty() {
                        self.report(
                            "structure",
                            path,
                            format!("{path}: arrays may not be empty in FHIR JSON"),
                        );
                    }
                    // `_given: [null, {...}]` aligns extensions with primitive values.
                    let aligned = path
                        .rsplit('.')
                        .next()
                        .is_some_and(|last| last.starts_with('_'));
                    for (i, item) in list.iter().enumerate() {
                        if aligned && item.is_null() {
                            continue;
                        }
                        let len = path.len();
                        path.push_str(&format!("[{i}]"));
                        self.node(items, None, item, path, depth + 1);
                        path.truncate(len);
                    }
                }
                other => self.report(
                    "structure",
                    path,
                    format!("{path}: expected an array, found {}", kind_of(other)),
                ),
            }
        }
        if let Some(properties) = &node.properties {
            match value {
                Value::Object(map) => self.object(properties, &node.required, map, path, depth),
                other => self.report(
                    "structure",
                    path,
                    format!("{path}: expected an object, found {}", kind_of(other)),
                ),
            }
        }
    }

    fn object(
        &mut self,
        properties: &HashMap<String, Node>,
        required: &[String],
        map: &Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) {
        for name in required {
            if !map.contains_key(name) {
                let at = format!("{path}.{name}");
                self.report("required", &at, format!("{at}: missing required element"));
            }
        }
        for (key, child) in map {
            let len = path.len();
            path.push('.');
            path.push_str(key);
            // `_name` carries the id/extensions of primitive `name`; the published schema omits
            // some of these (e.g. `_baseDefinition`), so any primitive's sibling is accepted.
            let sibling_of_primitive = key
                .strip_prefix('_')
                .and_then(|base| properties.get(base))
                .is_some_and(|node| self.is_primitive(node));
            if !properties.contains_key(key) && sibling_of_primitive {
                self.primitive_extension(child, path, depth + 1);
                path.truncate(len);
                continue;
            }
            match properties.get(key) {
                Some(schema) => {
                    if child.is_null() {
                        let text = format!(
                            "{path}: null is not allowed in FHIR JSON; leave the element out"
                        );
                        self.report("structure", &path.clone(), text);
                    } else {
                        self.node(schema, None, child, path, depth + 1);
                    }
                }
                None => {
                    let text = format!("{path}: unknown element '{key}'");
                    self.report("structure", &path.clone(), text);
                }
            }
            path.truncate(len);
        }
    }
}

impl Run<'_> {
    /// Whether a property holds a primitive (or a list of them): only those have `_name`.
    fn is_primitive(&self, node: &Node) -> bool {
        let node = node.items.as_deref().unwrap_or(node);
        node.json_type.is_some()
            || node
                .reference
                .is_some_and(|d| self.schema.definitions[d].node.json_type.is_some())
    }

    /// `_name`: an Element, or for repeating primitives an array of Element-or-null aligned
    /// with the values.
    fn primitive_extension(&mut self, value: &Value, path: &mut String, depth: usize) {
        let element = self.schema.by_name["Element"];
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_null() {
                        let len = path.len();
                        path.push_str(&format!("[{i}]"));
                        self.definition(element, item, path, depth);
                        path.truncate(len);
                    }
                }
            }
            other => self.definition(element, other, path, depth),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::OnceLock;

    fn validator() -> &'static SchemaValidator {
        static V: OnceLock<SchemaValidator> = OnceLock::new();
        V.get_or_init(SchemaValidator::load)
    }

    #[test]
    fn knows_the_r4_resource_types() {
        let v = validator();
        assert_eq!(v.resource_types().count(), 146);
        assert!(v.is_resource_type("Patient"));
        assert!(!v.is_resource_type("Project"));
    }

    #[test]
    fn valid_patient_passes() {
        let p = json!({"resourceType": "Patient", "name": [{"family": "Doe", "given": ["J"]}], "birthDate": "1970-01-01"});
        assert!(validator().validate(&p).is_ok());
    }

    #[test]
    fn errors_name_the_path() {
        let p = json!({"resourceType": "Patient", "name": [{"given": "J"}], "birthDate": "1970-13-01", "colour": "red"});
        let issues = validator().validate(&p).unwrap_err();
        let paths: Vec<_> = issues.iter().filter_map(|i| i.expression.clone()).collect();
        assert!(
            paths.contains(&"Patient.name[0].given".to_string()),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"Patient.birthDate".to_string()),
            "{paths:?}"
        );
        assert!(
            issues.iter().any(|i| i.diagnostics.contains("'colour'")),
            "{issues:?}"
        );
    }

    #[test]
    fn primitive_extensions_and_real_world_text() {
        let ok = json!({"resourceType": "Patient",
            "name": [{"given": ["A", "B"], "_given": [null, {"extension": [{"url": "http://x", "valueString": "v"}]}]}],
            "birthDate": "1970-01-01", "_birthDate": {"id": "b"},
            "address": [{"text": "1\u{a0}Main St"}]});
        assert!(
            validator().validate(&ok).is_ok(),
            "{:?}",
            validator().validate(&ok)
        );
        let sd = json!({"resourceType": "StructureDefinition", "url": "http://x", "name": "X", "status": "draft",
            "kind": "resource", "abstract": false, "type": "Patient",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
            "_baseDefinition": {"extension": [{"url": "http://x", "valueString": "v"}]}});
        assert!(
            validator().validate(&sd).is_ok(),
            "{:?}",
            validator().validate(&sd)
        );
        let complex =
            json!({"resourceType": "Patient", "name": [{"family": "A"}], "_name": [{"id": "x"}]});
        let issues = validator().validate(&complex).unwrap_err();
        assert_eq!(
            issues[0].expression.as_deref(),
            Some("Patient._name"),
            "{issues:?}"
        );
        let bad = json!({"resourceType": "Patient", "_birthDate": "x", "_nothing": {}, "gender": "female\u{0}", "address": [{"text": "a\u{1}b"}]});
        let paths: Vec<_> = validator()
            .validate(&bad)
            .unwrap_err()
            .iter()
            .filter_map(|i| i.expression.clone())
            .collect();
        assert_eq!(
            paths,
            vec![
                "Patient._birthDate",
                "Patient._nothing",
                "Patient.gender",
                "Patient.address[0].text"
            ],
            "{paths:?}"
        );
    }

    #[test]
    fn fhir_number_rules() {
        let ok = json!({"resourceType": "Patient", "multipleBirthInteger": 2});
        assert!(validator().validate(&ok).is_ok());
        let bad = json!({"resourceType": "Patient", "multipleBirthInteger": 1.5, "active": "true", "name": []});
        let issues = validator().validate(&bad).unwrap_err();
        let paths: Vec<_> = issues.iter().filter_map(|i| i.expression.clone()).collect();
        assert_eq!(
            paths,
            vec![
                "Patient.multipleBirthInteger",
                "Patient.active",
                "Patient.name"
            ],
            "{issues:?}"
        );
    }

    #[test]
    fn contained_resources_are_checked_by_their_own_type() {
        let p = json!({"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o", "active": "yes"}]});
        let issues = validator().validate(&p).unwrap_err();
        assert_eq!(
            issues[0].expression.as_deref(),
            Some("Patient.contained[0].active"),
            "{issues:?}"
        );
    }

    #[test]
    fn missing_required_element() {
        let o = json!({"resourceType": "Observation", "status": "final"});
        let issues = validator().validate(&o).unwrap_err();
        assert_eq!(
            issues[0].expression.as_deref(),
            Some("Observation.code"),
            "{issues:?}"
        );
    }
}
