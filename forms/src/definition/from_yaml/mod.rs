//! Reads the YAML form format (see docs/forms.md) into a [`Draft`], reporting every problem
//! with its line.

use std::collections::HashMap;

use super::check::{finish, Draft};
use super::locations::Locations;
use super::model::{AnswerOption, CodeSystemDef, ItemType};
use super::Form;
use crate::issue::FormIssue;
use crate::locale::{read_overlay, LocalText, Translations};
use crate::logic::Rule;
use crate::yaml::{self, Key, Node, NodeKind};

mod items;

/// The UCUM code system, the default for units.
pub(crate) const UCUM: &str = "http://unitsofmeasure.org";

const FORM_KEYS: &[&str] = &[
    "id",
    "version",
    "url",
    "title",
    "description",
    "status",
    "language",
    "codeSystems",
    "items",
    "constraints",
    "translations",
];

pub(super) fn read(file: &str, text: &str) -> Result<Form, Vec<FormIssue>> {
    let root = yaml::parse_document(text).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| FormIssue {
                file: file.to_string(),
                line: Some(p.line),
                path: String::new(),
                message: p.message,
            })
            .collect::<Vec<_>>()
    })?;
    let mut reader = Reader {
        file: file.to_string(),
        issues: Vec::new(),
        locations: Locations::default(),
        language: "en".into(),
        types: HashMap::new(),
    };
    let Some(entries) = root.as_map() else {
        return Err(vec![reader.issue_at(
            root.line,
            "",
            "a form must be a mapping with id, version, title and items".into(),
        )]);
    };
    if let Some(lang) = root.get("language") {
        if let Some(l) = reader.string(lang, "language") {
            reader.language = l;
        }
    }
    if let Some(items) = root.get("items") {
        reader.collect_types(items);
    }
    let mut draft = Draft {
        file: file.to_string(),
        id: String::new(),
        version: None,
        url: None,
        status: "active".into(),
        language: reader.language.clone(),
        title: LocalText::default(),
        description: LocalText::default(),
        code_systems: Vec::new(),
        items: Vec::new(),
        constraints: Vec::new(),
        locations: Locations::default(),
        issues: Vec::new(),
    };
    let mut translations = None;
    for (key, value) in entries {
        let k = key.name.as_str();
        reader.locations.record("", k, k, Some(key.line));
        match k {
            "id" => draft.id = reader.string(value, k).unwrap_or_default(),
            "version" => draft.version = reader.version(value),
            "url" => draft.url = reader.string(value, k),
            "title" => draft.title = reader.text(value, k),
            "description" => draft.description = reader.text(value, k),
            "status" => draft.status = reader.string(value, k).unwrap_or_default(),
            "language" => {}
            "codeSystems" => draft.code_systems = reader.code_systems(value),
            "items" => draft.items = reader.items(value, ""),
            "constraints" => draft.constraints = reader.constraints(value, k),
            "translations" => translations = Some(value),
            other => {
                let message = unknown_key(other, FORM_KEYS, "a form");
                reader.issue(key, other, message);
            }
        }
    }
    for required in ["id", "version", "title", "items"] {
        if root.get(required).is_none() {
            reader.issues.push(reader.issue_at(
                root.line,
                "",
                format!("the form has no '{required}'"),
            ));
        }
    }
    let overlays = translations.map(|t| reader.translations(t, &draft.id));
    draft.issues = std::mem::take(&mut reader.issues);
    draft.locations = reader.locations;
    let mut form = finish(draft)?;
    if let Some(overlays) = overlays {
        let unmatched = form.apply_translations(&overlays);
        if !unmatched.is_empty() {
            return Err(unmatched);
        }
    }
    Ok(form)
}

struct Reader {
    file: String,
    issues: Vec<FormIssue>,
    locations: Locations,
    language: String,
    /// Every item's type by linkId, read before the items so enableWhen answers can be
    /// typed by the question they compare with.
    types: HashMap<String, ItemType>,
}

fn unknown_key(key: &str, known: &[&str], what: &str) -> String {
    format!(
        "unknown key '{key}' in {what}; known keys: {}",
        known.join(", ")
    )
}

impl Reader {
    fn issue_at(&self, line: usize, path: &str, message: String) -> FormIssue {
        FormIssue {
            file: self.file.clone(),
            line: Some(line),
            path: path.to_string(),
            message,
        }
    }

    fn issue(&mut self, key: &Key, path: &str, message: String) {
        let issue = self.issue_at(key.line, path, message);
        self.issues.push(issue);
    }

    fn wrong(&mut self, node: &Node, path: &str, expected: &str) {
        let issue = self.issue_at(
            node.line,
            path,
            format!("expected {expected}, found {}", node.type_name()),
        );
        self.issues.push(issue);
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            _ => {
                self.wrong(node, path, "text");
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, path: &str) -> bool {
        match node.kind {
            NodeKind::Bool(b) => b,
            _ => {
                self.wrong(node, path, "true or false");
                false
            }
        }
    }

    fn version(&mut self, node: &Node) -> Option<semver::Version> {
        let text = match &node.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            _ => String::new(),
        };
        match semver::Version::parse(&text) {
            Ok(v) => Some(v),
            Err(_) => {
                let issue = self.issue_at(node.line, "version", format!("version '{text}' is not a semantic version: write MAJOR.MINOR.PATCH, e.g. 1.2.0"));
                self.issues.push(issue);
                None
            }
        }
    }

    /// Text in the form's language, or a mapping of language to text.
    fn text(&mut self, node: &Node, path: &str) -> LocalText {
        match &node.kind {
            NodeKind::Str(s) => LocalText::single(&self.language, s),
            NodeKind::Int(_) | NodeKind::Float(_) => {
                let s = node.to_json().to_string();
                LocalText::single(&self.language, &s)
            }
            NodeKind::Map(entries) => {
                let mut text = LocalText::default();
                for (lang, value) in entries {
                    if let Some(s) = self.string(value, &format!("{path}.{}", lang.name)) {
                        text.set(&lang.name, &s);
                    }
                }
                text
            }
            _ => {
                self.wrong(
                    node,
                    path,
                    "text, or a mapping of language to text (en: ..., hi: ...)",
                );
                LocalText::default()
            }
        }
    }

    fn rule(&mut self, node: &Node, path: &str) -> Option<Rule> {
        match Rule::compile(&node.to_json()) {
            Ok(rule) => Some(rule),
            Err(e) => {
                let issue = self.issue_at(node.line, path, format!("invalid JSON Logic: {e}"));
                self.issues.push(issue);
                None
            }
        }
    }

    fn list<'n>(&mut self, node: &'n Node, path: &str) -> &'n [Node] {
        match &node.kind {
            NodeKind::Seq(items) => items,
            _ => {
                self.wrong(node, path, "a list");
                &[]
            }
        }
    }

    fn collect_types(&mut self, items: &Node) {
        let NodeKind::Seq(list) = &items.kind else {
            return;
        };
        for item in list {
            if let (Some(id), Some(t)) = (
                item.get("linkId").and_then(Node::as_str),
                item.get("type").and_then(Node::as_str),
            ) {
                if let Some(t) = ItemType::from_code(t) {
                    self.types.insert(id.to_string(), t);
                }
            }
            if let Some(children) = item.get("items") {
                self.collect_types(children);
            }
        }
    }

    fn code_systems(&mut self, node: &Node) -> Vec<CodeSystemDef> {
        let mut systems = Vec::new();
        for (i, cs) in self.list(node, "codeSystems").iter().enumerate() {
            let path = format!("codeSystems[{i}]");
            let Some(entries) = cs.as_map() else {
                self.wrong(cs, &path, "a mapping with id, url and concepts");
                continue;
            };
            let mut def = CodeSystemDef {
                id: String::new(),
                url: String::new(),
                concepts: Vec::new(),
            };
            for (key, value) in entries {
                match key.name.as_str() {
                    "id" => def.id = self.string(value, &path).unwrap_or_default(),
                    "url" => def.url = self.string(value, &path).unwrap_or_default(),
                    "concepts" => def.concepts = self.options(value, &format!("{path}.concepts")),
                    other => {
                        let m = unknown_key(other, &["id", "url", "concepts"], "a code system");
                        self.issue(key, &path, m);
                    }
                }
            }
            for (required, missing) in [
                ("id", def.id.is_empty()),
                ("url", def.url.is_empty()),
                ("concepts", def.concepts.is_empty()),
            ] {
                if missing {
                    let issue =
                        self.issue_at(cs.line, &path, format!("a code system needs '{required}'"));
                    self.issues.push(issue);
                }
            }
            systems.push(def);
        }
        systems
    }

    /// Options: `- low` (code and display alike) or `- {code, display, system, initialSelected}`.
    fn options(&mut self, node: &Node, path: &str) -> Vec<AnswerOption> {
        let mut options = Vec::new();
        for (i, option) in self.list(node, path).iter().enumerate() {
            let here = format!("{path}[{i}]");
            match &option.kind {
                NodeKind::Str(_) | NodeKind::Int(_) => {
                    let code = self.string(option, &here).unwrap_or_default();
                    options.push(AnswerOption {
                        system: None,
                        display: LocalText::single(&self.language, &code),
                        code,
                        initial_selected: false,
                    });
                }
                NodeKind::Map(entries) => {
                    let mut o = AnswerOption {
                        system: None,
                        code: String::new(),
                        display: LocalText::default(),
                        initial_selected: false,
                    };
                    for (key, value) in entries {
                        match key.name.as_str() {
                            "code" => o.code = self.string(value, &here).unwrap_or_default(),
                            "display" => o.display = self.text(value, &here),
                            "system" => o.system = self.string(value, &here),
                            "initialSelected" => o.initial_selected = self.boolean(value, &here),
                            other => {
                                let m = unknown_key(
                                    other,
                                    &["code", "display", "system", "initialSelected"],
                                    "an option",
                                );
                                self.issue(key, &here, m);
                            }
                        }
                    }
                    if o.code.is_empty() {
                        let issue =
                            self.issue_at(option.line, &here, "an option needs a code".into());
                        self.issues.push(issue);
                    }
                    if o.display.is_empty() {
                        o.display = LocalText::single(&self.language, &o.code);
                    }
                    options.push(o);
                }
                _ => self.wrong(option, &here, "a code, or a mapping with code and display"),
            }
        }
        options
    }

    fn translations(&mut self, node: &Node, form_id: &str) -> Translations {
        let mut translations = Translations::new();
        let Some(entries) = node.as_map() else {
            self.wrong(node, "translations", "a mapping of language to texts");
            return translations;
        };
        for (lang, body) in entries {
            let path = format!("translations.{}", lang.name);
            let file = self.file.clone();
            let mut found = Vec::new();
            let overlay = read_overlay(body, &path, &mut |line, p, message| {
                found.push(FormIssue {
                    file: file.clone(),
                    line: Some(line),
                    path: p.to_string(),
                    message,
                })
            });
            self.issues.extend(found);
            translations.insert(&lang.name, form_id, &self.file, overlay);
        }
        translations
    }
}
