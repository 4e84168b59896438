//! A form definition: its model, how it is read from YAML, and the checks every form passes.

mod check;
mod enable;
mod from_yaml;
mod locations;
mod model;

use std::collections::HashMap;

pub(crate) use check::{compare as compare_values, finish, Draft};
pub(crate) use locations::Locations;
pub(crate) use model::json_number;
pub use model::{
    AnswerOption, AnswerValue, CodeSystemDef, Coding, Constraint, EnableBehavior, EnableOperator,
    EnableWhen, Item, ItemType, ObservationTarget,
};

use crate::issue::FormIssue;
use crate::locale::{LocalText, Locale, Translations};
use crate::logic::{self, Rule};

/// The names rules use for context data; no item may take them as its linkId.
pub const RESERVED_LINK_IDS: &[&str] = &["today", "patient", "observations"];

/// A parsed and checked form definition. Build one with [`Form::from_yaml`] or
/// [`Form::from_questionnaire`]; it is immutable afterwards except for translations.
#[derive(Debug, Clone)]
pub struct Form {
    pub(crate) id: String,
    pub(crate) version: semver::Version,
    pub(crate) url: String,
    pub(crate) status: String,
    pub(crate) language: String,
    pub(crate) title: LocalText,
    pub(crate) description: LocalText,
    pub(crate) code_systems: Vec<CodeSystemDef>,
    pub(crate) items: Vec<Item>,
    pub(crate) constraints: Vec<Constraint>,
    /// Every item in document order, with where to find it.
    pub(crate) flat: Vec<FlatItem>,
    /// linkId → index in `flat`.
    pub(crate) by_link_id: HashMap<String, usize>,
    /// Calculated items (indexes in `flat`) in an order where each comes after the items it
    /// reads.
    pub(crate) calculation_order: Vec<usize>,
    /// The browser script's view of the items, rendered once (see `render::view`).
    pub(crate) script_items: std::sync::OnceLock<String>,
}

/// Where an item sits in the tree.
#[derive(Debug, Clone)]
pub(crate) struct FlatItem {
    /// Child indexes from the top-level list down to the item.
    pub path: Vec<usize>,
    /// Index in `flat` of the enclosing group.
    pub parent: Option<usize>,
    /// JSON Logic deciding whether the item is enabled: its enableWhen compiled to JSON
    /// Logic, or its enableWhenExpression. `None` when always enabled (given its parent).
    pub enable_rule: Option<Rule>,
}

/// What patient data the server must look up before rendering (for prefill and logic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefillNeeds {
    /// The form reads the Patient (age, sex or birth date).
    pub patient: bool,
    /// The Observation codes whose latest value the form reads.
    pub observations: Vec<Coding>,
}

impl Form {
    /// Reads and checks a form written in YAML. `file` is only used in messages.
    ///
    /// On failure every problem found is returned, each naming the file, line, item and
    /// what to fix.
    pub fn from_yaml(file: &str, text: &str) -> Result<Form, Vec<FormIssue>> {
        from_yaml::read(file, text)
    }

    /// The form's id (unique within a pack).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The form's version; responses record which one they answered.
    pub fn version(&self) -> &semver::Version {
        &self.version
    }

    /// The canonical URL (`url:` in YAML, or `urn:tessera:form:<id>`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// `url|version`, the value of `QuestionnaireResponse.questionnaire` for this form.
    pub fn canonical(&self) -> String {
        format!("{}|{}", self.url, self.version)
    }

    /// Publication status: `draft`, `active` or `retired`.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The language the form is written in; the last fallback before the first available.
    pub fn default_language(&self) -> &str {
        &self.language
    }

    /// The title in `locale` (with fallback).
    pub fn title(&self, locale: &Locale) -> String {
        self.title.get(locale, &self.language).to_string()
    }

    /// The description in `locale` (with fallback); empty when there is none.
    pub fn description(&self, locale: &Locale) -> String {
        self.description.get(locale, &self.language).to_string()
    }

    /// The top-level items.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The item with this linkId, at any depth.
    pub fn item(&self, link_id: &str) -> Option<&Item> {
        self.by_link_id
            .get(link_id)
            .map(|&i| self.item_at(&self.flat[i].path))
    }

    /// The code systems written in the form.
    pub fn code_systems(&self) -> &[CodeSystemDef] {
        &self.code_systems
    }

    /// The form-level constraints.
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// What the server must look up for [`Form::prefill`] and logic: whether the form reads
    /// the Patient, and which Observation codes.
    pub fn prefill_needs(&self) -> PrefillNeeds {
        let mut needs = PrefillNeeds::default();
        let mut rules: Vec<&Rule> = self.constraints.iter().map(|c| &c.rule).collect();
        for flat in &self.flat {
            let item = self.item_at(&flat.path);
            rules.extend(item.prefill.iter());
            rules.extend(item.calculated.iter());
            rules.extend(flat.enable_rule.iter());
            rules.extend(item.constraints.iter().map(|c| &c.rule));
        }
        for rule in rules {
            if logic::variables(rule.source())
                .iter()
                .any(|v| v == "patient")
            {
                needs.patient = true;
            }
            collect_observation_codes(rule.source(), &mut needs.observations);
        }
        needs
    }

    /// Adds translations (from a country pack's locale files, or any other source) to the
    /// form's texts. Returns the entries that matched nothing in this form (unknown linkIds,
    /// option codes or constraint keys), so a pack check can report them; everything that
    /// matched is applied either way.
    pub fn apply_translations(&mut self, translations: &Translations) -> Vec<FormIssue> {
        let mut unmatched = Vec::new();
        let overlays: Vec<_> = translations
            .for_form(&self.id.clone())
            .map(|(l, f, o)| (l.to_string(), f.to_string(), o.clone()))
            .collect();
        for (lang, file, overlay) in overlays {
            self.apply_overlay(&lang, &file, &overlay, &mut unmatched);
        }
        unmatched
    }

    fn apply_overlay(
        &mut self,
        lang: &str,
        file: &str,
        overlay: &crate::locale::FormOverlay,
        unmatched: &mut Vec<FormIssue>,
    ) {
        let mut miss = |line: Option<usize>, path: String, message: String| {
            unmatched.push(FormIssue {
                file: file.to_string(),
                line,
                path,
                message,
            })
        };
        if let Some(title) = &overlay.title {
            self.title.set(lang, title);
        }
        if let Some(description) = &overlay.description {
            self.description.set(lang, description);
        }
        for (key, message) in &overlay.constraints {
            match self.constraints.iter_mut().find(|c| &c.key == key) {
                Some(c) => c.message.set(lang, message),
                None => miss(
                    overlay.line,
                    format!("constraints.{key}"),
                    format!("form '{}' has no constraint '{key}'", self.id),
                ),
            }
        }
        for (cs_id, concepts) in &overlay.code_systems {
            let Some(cs) = self.code_systems.iter_mut().find(|cs| &cs.id == cs_id) else {
                miss(
                    overlay.line,
                    format!("codeSystems.{cs_id}"),
                    format!("form '{}' has no code system '{cs_id}'", self.id),
                );
                continue;
            };
            for (code, display) in concepts {
                match cs.concepts.iter_mut().find(|c| &c.code == code) {
                    Some(c) => c.display.set(lang, display),
                    None => miss(
                        overlay.line,
                        format!("codeSystems.{cs_id}.{code}"),
                        format!("code system '{cs_id}' has no code '{code}'"),
                    ),
                }
            }
        }
        for (link_id, texts) in &overlay.items {
            let Some(&index) = self.by_link_id.get(link_id) else {
                miss(
                    texts.line,
                    format!("items.{link_id}"),
                    format!("form '{}' has no item '{link_id}'", self.id),
                );
                continue;
            };
            let path = self.flat[index].path.clone();
            let item = item_at_mut(&mut self.items, &path);
            if let Some(t) = &texts.text {
                item.text.set(lang, t);
            }
            if let Some(t) = &texts.help {
                item.help.set(lang, t);
            }
            if let Some(t) = &texts.entry_format {
                item.entry_format.set(lang, t);
            }
            for (code, display) in &texts.options {
                match item.options.iter_mut().find(|o| &o.code == code) {
                    Some(o) => o.display.set(lang, display),
                    None => miss(
                        texts.line,
                        format!("items.{link_id}.options.{code}"),
                        format!("item '{link_id}' has no option '{code}'"),
                    ),
                }
            }
            for (key, message) in &texts.constraints {
                match item.constraints.iter_mut().find(|c| &c.key == key) {
                    Some(c) => c.message.set(lang, message),
                    None => miss(
                        texts.line,
                        format!("items.{link_id}.constraints.{key}"),
                        format!("item '{link_id}' has no constraint '{key}'"),
                    ),
                }
            }
        }
    }

    /// The options of a choice item: its inline options, or the codes of its value set.
    pub fn options_of<'a>(&'a self, item: &'a Item) -> &'a [AnswerOption] {
        match &item.value_set {
            Some(id) => self
                .code_systems
                .iter()
                .find(|cs| &cs.id == id)
                .map(|cs| cs.concepts.as_slice())
                .unwrap_or_default(),
            None => &item.options,
        }
    }

    /// The code system URL of a value set's codes.
    pub(crate) fn option_system<'a>(
        &'a self,
        item: &'a Item,
        option: &'a AnswerOption,
    ) -> Option<&'a str> {
        match &item.value_set {
            Some(id) => self
                .code_systems
                .iter()
                .find(|cs| &cs.id == id)
                .map(|cs| cs.url.as_str()),
            None => option.system.as_deref(),
        }
    }

    pub(crate) fn item_at(&self, path: &[usize]) -> &Item {
        let mut item = &self.items[path[0]];
        for &i in &path[1..] {
            item = &item.items[i];
        }
        item
    }

    /// The item at index `i` of the document-order list.
    pub(crate) fn flat_item(&self, i: usize) -> &Item {
        self.item_at(&self.flat[i].path)
    }
}

fn item_at_mut<'a>(items: &'a mut [Item], path: &[usize]) -> &'a mut Item {
    let mut item = &mut items[path[0]];
    for &i in &path[1..] {
        item = &mut item.items[i];
    }
    item
}

/// Finds `{"observation": [system, code]}` with literal arguments.
fn collect_observation_codes(logic: &serde_json::Value, found: &mut Vec<Coding>) {
    use serde_json::Value;
    match logic {
        Value::Array(items) => items
            .iter()
            .for_each(|i| collect_observation_codes(i, found)),
        Value::Object(map) => {
            for (op, args) in map {
                if op == "observation" {
                    if let (Some(system), Some(code)) = (args[0].as_str(), args[1].as_str()) {
                        let coding = Coding {
                            system: Some(system.to_string()),
                            code: code.to_string(),
                            display: None,
                        };
                        if !found.contains(&coding) {
                            found.push(coding);
                        }
                    }
                }
                collect_observation_codes(args, found);
            }
        }
        _ => {}
    }
}
