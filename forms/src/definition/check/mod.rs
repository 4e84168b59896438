//! The checks every form passes, whichever format it was read from, and the indexes a
//! checked form keeps (document order, linkIds, calculation order, enable rules).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;

mod items;
mod order;

pub(crate) use order::compare;

use super::enable;
use super::locations::Locations;
use super::model::{Constraint, Item};
use super::{FlatItem, Form, RESERVED_LINK_IDS};
use crate::issue::FormIssue;
use crate::locale::LocalText;
use crate::logic::Rule;
use items::{check_constraint, check_item};
use order::order_calculations;

static LINK_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$").expect("valid regex"));
static FORM_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$").expect("valid regex"));

/// A form as read, before the checks that need the whole form.
pub(crate) struct Draft {
    pub file: String,
    pub id: String,
    pub version: Option<semver::Version>,
    pub url: Option<String>,
    pub status: String,
    pub language: String,
    pub title: LocalText,
    pub description: LocalText,
    pub code_systems: Vec<super::CodeSystemDef>,
    pub items: Vec<Item>,
    pub constraints: Vec<Constraint>,
    pub locations: Locations,
    /// Problems the reader already found.
    pub issues: Vec<FormIssue>,
}

struct Checker<'a> {
    draft: &'a Draft,
    issues: Vec<FormIssue>,
}

impl Checker<'_> {
    fn report(&mut self, link_id: &str, key: &str, message: impl Into<String>) {
        let (path, line) = self.draft.locations.find(link_id, key);
        self.issues.push(FormIssue {
            file: self.draft.file.clone(),
            line,
            path,
            message: message.into(),
        });
    }
}

/// Runs every whole-form check and builds the indexes. Returns all problems, the reader's
/// and the checks', sorted by line.
pub(crate) fn finish(mut draft: Draft) -> Result<Form, Vec<FormIssue>> {
    // A calculated item is never typed into.
    mark_calculated_read_only(&mut draft.items);
    let reader_issues = std::mem::take(&mut draft.issues);
    let mut checker = Checker {
        draft: &draft,
        issues: Vec::new(),
    };
    if !FORM_ID.is_match(&draft.id) {
        checker.report("", "id", format!("form id '{}' must be 1-64 letters, digits, '-' or '.', starting with a letter or digit", draft.id));
    }
    if !["draft", "active", "retired"].contains(&draft.status.as_str()) {
        checker.report(
            "",
            "status",
            format!("status '{}' must be draft, active or retired", draft.status),
        );
    }
    if draft.title.is_empty() {
        checker.report("", "title", "a form needs a title");
    }
    if draft.items.is_empty() {
        checker.report("", "items", "a form needs at least one item");
    }

    // Index every item in document order.
    let mut flat = Vec::new();
    let mut by_link_id = HashMap::new();
    index_items(
        &draft.items,
        &mut Vec::new(),
        None,
        &mut flat,
        &mut by_link_id,
        &mut checker,
    );
    let item_at = |i: usize| -> &Item {
        let path: &Vec<usize> = &flat[i].0;
        let mut item = &draft.items[path[0]];
        for &p in &path[1..] {
            item = &item.items[p];
        }
        item
    };
    let types: HashMap<&str, &Item> = by_link_id
        .iter()
        .map(|(id, &i)| (id.as_str(), item_at(i)))
        .collect();

    let mut constraint_keys = HashSet::new();
    for c in &draft.constraints {
        check_constraint(&mut checker, "", c, &types, &mut constraint_keys);
    }
    for cs in &draft.code_systems {
        let mut seen = HashSet::new();
        for concept in &cs.concepts {
            if !seen.insert(&concept.code) {
                checker.report(
                    "",
                    "codeSystems",
                    format!("code system '{}' has code '{}' twice", cs.id, concept.code),
                );
            }
        }
    }
    for (i, (_, parent)) in flat.iter().enumerate() {
        let item = item_at(i);
        let parent = parent.map(&item_at);
        check_item(&mut checker, item, parent, &types, &mut constraint_keys);
    }
    let calculation_order = order_calculations(&mut checker, &flat, &by_link_id, &item_at);

    let mut issues = reader_issues;
    issues.extend(checker.issues);
    if !issues.is_empty() {
        issues.sort_by_key(|i| i.line.unwrap_or(usize::MAX));
        issues.dedup();
        return Err(issues);
    }
    let Some(version) = draft.version.clone() else {
        unreachable!("a missing version is reported by the reader")
    };

    // Compile each item's enable condition once.
    let repeats = |q: &str| types.get(q).is_some_and(|i| i.repeats);
    let flat: Vec<FlatItem> = flat
        .iter()
        .enumerate()
        .map(|(i, (path, parent))| {
            let item = item_at(i);
            let enable_rule = if let Some(rule) = &item.enable_when_expression {
                Some(rule.clone())
            } else if item.enable_when.is_empty() {
                None
            } else {
                let logic = enable::to_logic(&item.enable_when, item.enable_behavior, repeats);
                Some(Rule::compile(&logic).expect("generated enableWhen logic compiles"))
            };
            FlatItem {
                path: path.clone(),
                parent: *parent,
                enable_rule,
            }
        })
        .collect();
    let url = draft
        .url
        .clone()
        .unwrap_or_else(|| format!("urn:tessera:form:{}", draft.id));
    Ok(Form {
        id: draft.id,
        version,
        url,
        status: draft.status,
        language: draft.language,
        title: draft.title,
        description: draft.description,
        code_systems: draft.code_systems,
        items: draft.items,
        constraints: draft.constraints,
        flat,
        by_link_id,
        calculation_order,
        script_items: std::sync::OnceLock::new(),
    })
}

fn mark_calculated_read_only(items: &mut [Item]) {
    for item in items {
        if item.calculated.is_some() {
            item.read_only = true;
        }
        mark_calculated_read_only(&mut item.items);
    }
}

fn index_items(
    items: &[Item],
    path: &mut Vec<usize>,
    parent: Option<usize>,
    flat: &mut Vec<(Vec<usize>, Option<usize>)>,
    by_link_id: &mut HashMap<String, usize>,
    checker: &mut Checker<'_>,
) {
    for (i, item) in items.iter().enumerate() {
        path.push(i);
        let index = flat.len();
        flat.push((path.clone(), parent));
        if item.link_id.is_empty() {
            // Reported by the reader ("the item has no 'linkId'").
        } else if !LINK_ID.is_match(&item.link_id) {
            checker.report(&item.link_id, "linkId", format!("linkId '{}' must start with a letter and use only letters, digits, '_' and '-' (at most 64), so rules can refer to it", item.link_id));
        } else if RESERVED_LINK_IDS.contains(&item.link_id.as_str()) {
            checker.report(
                &item.link_id,
                "linkId",
                format!(
                    "linkId '{}' is reserved for context data in rules; choose another",
                    item.link_id
                ),
            );
        }
        if by_link_id.insert(item.link_id.clone(), index).is_some() {
            checker.report(
                &item.link_id,
                "linkId",
                format!(
                    "duplicate linkId '{}': every item needs its own",
                    item.link_id
                ),
            );
        }
        index_items(&item.items, path, Some(index), flat, by_link_id, checker);
        path.pop();
    }
}
