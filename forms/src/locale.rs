//! Text in several languages, locale fallback, and translation overlays from country packs.

use std::collections::BTreeMap;

use crate::issue::FormIssue;
use crate::yaml::{self, Node, NodeKind};

/// A requested locale such as `hi`, `hi-IN` or `en`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Locale(String);

impl Locale {
    /// A locale from a BCP 47 tag (`hi-IN`); `_` is read as `-`.
    pub fn new(tag: &str) -> Locale {
        Locale(tag.trim().replace('_', "-"))
    }

    /// The full tag.
    pub fn tag(&self) -> &str {
        &self.0
    }

    /// The language part (`hi` for `hi-IN`).
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or_default()
    }
}

impl Default for Locale {
    fn default() -> Self {
        Locale::new("en")
    }
}

/// One text in several languages, in the order the author wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalText {
    entries: Vec<(String, String)>,
}

impl LocalText {
    /// A text in one language.
    pub fn single(lang: &str, text: &str) -> LocalText {
        LocalText {
            entries: vec![(lang.to_string(), text.to_string())],
        }
    }

    /// Sets (or replaces) the text for `lang`.
    pub fn set(&mut self, lang: &str, text: &str) {
        match self.entries.iter_mut().find(|(l, _)| l == lang) {
            Some(entry) => entry.1 = text.to_string(),
            None => self.entries.push((lang.to_string(), text.to_string())),
        }
    }

    /// The text for exactly `lang`.
    pub fn exact(&self, lang: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(lang))
            .map(|(_, t)| t.as_str())
    }

    /// The best text for `locale`: the exact tag, then its language, then the form's default
    /// language, then the first one written.
    pub fn get(&self, locale: &Locale, default_lang: &str) -> &str {
        self.exact(locale.tag())
            .or_else(|| self.exact(locale.language()))
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|(l, _)| Locale::new(l).language() == locale.language())
                    .map(|(_, t)| t.as_str())
            })
            .or_else(|| self.exact(default_lang))
            .or_else(|| self.entries.first().map(|(_, t)| t.as_str()))
            .unwrap_or_default()
    }

    /// The text in the default language (or the first one).
    pub fn default_text(&self, default_lang: &str) -> &str {
        self.exact(default_lang)
            .or_else(|| self.entries.first().map(|(_, t)| t.as_str()))
            .unwrap_or_default()
    }

    /// All `(language, text)` pairs.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// True when there is no text in any language.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Text overlays for one language of one form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormOverlay {
    /// Title of the form.
    pub title: Option<String>,
    /// Description of the form.
    pub description: Option<String>,
    /// Messages of form-level constraints, by constraint key.
    pub constraints: BTreeMap<String, String>,
    /// Texts per item, by linkId.
    pub items: BTreeMap<String, ItemOverlay>,
    /// Concept displays of the form's code systems, by code system id then code.
    pub code_systems: BTreeMap<String, BTreeMap<String, String>>,
    /// Line of the form's entry in its file.
    pub line: Option<usize>,
}

/// Text overlays for one item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemOverlay {
    /// The question or heading.
    pub text: Option<String>,
    /// Help text.
    pub help: Option<String>,
    /// Placeholder / entry format hint.
    pub entry_format: Option<String>,
    /// Option displays by code.
    pub options: BTreeMap<String, String>,
    /// Constraint messages by key.
    pub constraints: BTreeMap<String, String>,
    /// Line in its file.
    pub line: Option<usize>,
}

/// Translations of forms into other languages, from a form's own `translations:` section or
/// from a country pack's `locales/<lang>.yaml`. Apply them with
/// [`crate::Form::apply_translations`].
///
/// A locale file looks like:
///
/// ```yaml
/// forms:
///   anc-visit:
///     title: प्रसवपूर्व जाँच
///     items:
///       weight: {text: वजन, help: किलोग्राम में}
///       risk: {options: {high: उच्च}}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translations {
    /// `(language, form id) → overlay`, with the file each came from.
    overlays: BTreeMap<(String, String), (String, FormOverlay)>,
}

impl Translations {
    /// An empty set.
    pub fn new() -> Translations {
        Translations::default()
    }

    /// Reads a country pack's `locales/<lang>.yaml`. `lang` defaults to the file's name
    /// (`locales/hi.yaml` → `hi`).
    pub fn from_locale_file(
        file: &str,
        lang: Option<&str>,
        text: &str,
    ) -> Result<Translations, Vec<FormIssue>> {
        let lang = match lang {
            Some(l) => l.to_string(),
            None => std::path::Path::new(file)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string(),
        };
        let issue = |line: Option<usize>, path: &str, message: String| FormIssue {
            file: file.to_string(),
            line,
            path: path.to_string(),
            message,
        };
        if lang.is_empty() {
            return Err(vec![issue(
                None,
                "",
                "cannot tell the language of this file; name it locales/<lang>.yaml".into(),
            )]);
        }
        let root = yaml::parse_document(text).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| issue(Some(p.line), "", p.message))
                .collect::<Vec<_>>()
        })?;
        let mut issues = Vec::new();
        let mut translations = Translations::new();
        let Some(map) = root.as_map() else {
            return Err(vec![issue(
                Some(root.line),
                "",
                "a locale file must be a mapping with a 'forms' key".into(),
            )]);
        };
        for (key, value) in map {
            if key.name != "forms" {
                issues.push(issue(
                    Some(key.line),
                    &key.name,
                    format!("unknown key '{}'; a locale file has only 'forms'", key.name),
                ));
                continue;
            }
            let Some(forms) = value.as_map() else {
                issues.push(issue(
                    Some(value.line),
                    "forms",
                    "'forms' must map form ids to their texts".into(),
                ));
                continue;
            };
            for (form_id, body) in forms {
                let path = format!("forms.{}", form_id.name);
                let overlay = read_overlay(body, &path, &mut |line, path, message| {
                    issues.push(issue(Some(line), path, message))
                });
                translations.insert(&lang, &form_id.name, file, overlay);
            }
        }
        if issues.is_empty() {
            Ok(translations)
        } else {
            Err(issues)
        }
    }

    /// Adds one overlay (later ones override earlier ones text by text).
    pub fn insert(&mut self, lang: &str, form_id: &str, file: &str, overlay: FormOverlay) {
        match self
            .overlays
            .get_mut(&(lang.to_string(), form_id.to_string()))
        {
            Some((_, existing)) => merge(existing, overlay),
            None => {
                self.overlays.insert(
                    (lang.to_string(), form_id.to_string()),
                    (file.to_string(), overlay),
                );
            }
        }
    }

    /// Adds every overlay of `other`.
    pub fn extend(&mut self, other: Translations) {
        for ((lang, form), (file, overlay)) in other.overlays {
            self.insert(&lang, &form, &file, overlay);
        }
    }

    /// The overlays for one form: `(language, file, overlay)`.
    pub fn for_form<'a>(
        &'a self,
        form_id: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a FormOverlay)> + 'a {
        self.overlays
            .iter()
            .filter(move |((_, f), _)| f == form_id)
            .map(|((lang, _), (file, overlay))| (lang.as_str(), file.as_str(), overlay))
    }
}

fn merge(into: &mut FormOverlay, from: FormOverlay) {
    into.title = from.title.or(into.title.take());
    into.description = from.description.or(into.description.take());
    into.constraints.extend(from.constraints);
    for (code_system, concepts) in from.code_systems {
        into.code_systems
            .entry(code_system)
            .or_default()
            .extend(concepts);
    }
    for (link_id, item) in from.items {
        let target = into.items.entry(link_id).or_default();
        target.text = item.text.or(target.text.take());
        target.help = item.help.or(target.help.take());
        target.entry_format = item.entry_format.or(target.entry_format.take());
        target.options.extend(item.options);
        target.constraints.extend(item.constraints);
    }
}

/// Reads one form's overlay (`title`, `description`, `constraints`, `codeSystems`, `items`).
pub(crate) fn read_overlay(
    node: &Node,
    path: &str,
    report: &mut dyn FnMut(usize, &str, String),
) -> FormOverlay {
    let mut overlay = FormOverlay {
        line: Some(node.line),
        ..FormOverlay::default()
    };
    let Some(map) = node.as_map() else {
        report(
            node.line,
            path,
            "expected a mapping with title, items, ...".into(),
        );
        return overlay;
    };
    for (key, value) in map {
        let here = format!("{path}.{}", key.name);
        match key.name.as_str() {
            "title" => overlay.title = text_of(value, &here, report),
            "description" => overlay.description = text_of(value, &here, report),
            "constraints" => overlay.constraints = text_map(value, &here, report),
            "codeSystems" => {
                for (cs, concepts) in value.as_map().unwrap_or_default() {
                    let concepts = text_map(concepts, &format!("{here}.{}", cs.name), report);
                    overlay.code_systems.insert(cs.name.clone(), concepts);
                }
            }
            "items" => {
                let Some(items) = value.as_map() else {
                    report(value.line, &here, "'items' must map linkIds to their texts".into());
                    continue;
                };
                for (link_id, body) in items {
                    let item_path = format!("{here}.{}", link_id.name);
                    let mut item = ItemOverlay {
                        line: Some(link_id.line),
                        ..ItemOverlay::default()
                    };
                    match &body.kind {
                        // `weight: वजन` is short for `weight: {text: वजन}`.
                        NodeKind::Str(text) => item.text = Some(text.clone()),
                        NodeKind::Map(fields) => {
                            for (field, v) in fields {
                                let field_path = format!("{item_path}.{}", field.name);
                                match field.name.as_str() {
                                    "text" => item.text = text_of(v, &field_path, report),
                                    "help" => item.help = text_of(v, &field_path, report),
                                    "entryFormat" => {
                                        item.entry_format = text_of(v, &field_path, report)
                                    }
                                    "options" => item.options = text_map(v, &field_path, report),
                                    "constraints" => {
                                        item.constraints = text_map(v, &field_path, report)
                                    }
                                    other => report(
                                        field.line,
                                        &field_path,
                                        format!("unknown key '{other}'; an item's translation has text, help, entryFormat, options and constraints"),
                                    ),
                                }
                            }
                        }
                        _ => report(body.line, &item_path, "expected text or a mapping with text, help, options".into()),
                    }
                    overlay.items.insert(link_id.name.clone(), item);
                }
            }
            other => report(
                key.line,
                &here,
                format!("unknown key '{other}'; a form's translation has title, description, constraints, codeSystems and items"),
            ),
        }
    }
    overlay
}

fn text_of(node: &Node, path: &str, report: &mut dyn FnMut(usize, &str, String)) -> Option<String> {
    match &node.kind {
        NodeKind::Str(s) => Some(s.clone()),
        NodeKind::Int(i) => Some(i.to_string()),
        NodeKind::Float(f) => Some(f.to_string()),
        _ => {
            report(
                node.line,
                path,
                format!("expected text, found {}", node.type_name()),
            );
            None
        }
    }
}

fn text_map(
    node: &Node,
    path: &str,
    report: &mut dyn FnMut(usize, &str, String),
) -> BTreeMap<String, String> {
    let Some(map) = node.as_map() else {
        report(
            node.line,
            path,
            format!(
                "expected a mapping of code to text, found {}",
                node.type_name()
            ),
        );
        return BTreeMap::new();
    };
    map.iter()
        .filter_map(|(k, v)| {
            Some((
                k.name.clone(),
                text_of(v, &format!("{path}.{}", k.name), report)?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_from_tag_to_language_to_default_to_first() {
        let mut text = LocalText::single("en", "Weight");
        text.set("hi", "वजन");
        assert_eq!(text.get(&Locale::new("hi-IN"), "en"), "वजन");
        assert_eq!(text.get(&Locale::new("hi"), "en"), "वजन");
        assert_eq!(text.get(&Locale::new("fr"), "en"), "Weight");
        let only_hindi = LocalText::single("hi", "वजन");
        assert_eq!(only_hindi.get(&Locale::new("fr"), "en"), "वजन");
        let regional = LocalText::single("pt-BR", "Peso");
        assert_eq!(regional.get(&Locale::new("pt"), "en"), "Peso");
    }

    #[test]
    fn reads_a_locale_file_and_names_bad_keys() {
        let t = Translations::from_locale_file(
            "locales/hi.yaml",
            None,
            "forms:\n  anc:\n    title: जाँच\n    items:\n      weight: वजन\n      risk: {options: {high: उच्च}}\n",
        )
        .unwrap();
        let (lang, _, overlay) = t.for_form("anc").next().unwrap();
        assert_eq!(lang, "hi");
        assert_eq!(overlay.items["weight"].text.as_deref(), Some("वजन"));
        assert_eq!(overlay.items["risk"].options["high"], "उच्च");

        let issues = Translations::from_locale_file(
            "locales/hi.yaml",
            None,
            "forms:\n  anc:\n    items:\n      weight: {txt: वजन}\n",
        )
        .unwrap_err();
        assert_eq!(issues[0].line, Some(4));
        assert_eq!(issues[0].path, "forms.anc.items.weight.txt");
        assert!(issues[0].message.contains("unknown key 'txt'"));
    }
}
