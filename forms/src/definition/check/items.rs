//! The checks of one item: properties that fit its type, options, ranges, patterns,
//! enableWhen targets, and what its rules read.

use std::collections::{HashMap, HashSet};

use regex::Regex;

use super::order::{compare, suggestion};
use super::Checker;
use crate::definition::model::{AnswerValue, Constraint, EnableOperator, Item, ItemType};
use crate::definition::RESERVED_LINK_IDS;
use crate::logic::{self, Rule};

pub(super) fn check_item(
    c: &mut Checker<'_>,
    item: &Item,
    parent: Option<&Item>,
    types: &HashMap<&str, &Item>,
    constraint_keys: &mut HashSet<String>,
) {
    let id = item.link_id.as_str();
    let t = item.item_type;
    let question = t.is_question();
    let help_id = format!("{id}-help");
    if !item.help.is_empty() && types.contains_key(help_id.as_str()) {
        c.report(id, "help", format!("the help of '{id}' becomes an item '{help_id}' in the Questionnaire, which clashes with the item of that name; rename it"));
    }
    // Properties that only make sense for some types.
    let misplaced: [(bool, &str, &str); 11] = [
        (
            item.min.is_some() && !t.is_ordered(),
            "min",
            "integer, decimal, quantity, date, dateTime and time items",
        ),
        (
            item.max.is_some() && !t.is_ordered(),
            "max",
            "integer, decimal, quantity, date, dateTime and time items",
        ),
        (
            item.max_length.is_some() && !t.is_textual(),
            "maxLength",
            "string, text and open-choice items",
        ),
        (
            item.regex.is_some() && !t.is_textual(),
            "regex",
            "string, text and open-choice items",
        ),
        (
            (!item.options.is_empty() || item.value_set.is_some()) && !t.has_options(),
            "options",
            "choice and open-choice items",
        ),
        (
            !item.units.is_empty() && t != ItemType::Quantity,
            "units",
            "quantity items",
        ),
        (
            !item.items.is_empty() && t != ItemType::Group,
            "items",
            "group items",
        ),
        (item.page && t != ItemType::Group, "page", "group items"),
        (
            (item.required || item.repeats || item.read_only) && t == ItemType::Display,
            "required",
            "questions and groups, not display items",
        ),
        (
            (item.calculated.is_some() || item.prefill.is_some() || !item.initial.is_empty())
                && !question,
            "calculated",
            "questions (not groups or display items)",
        ),
        (
            item.observation.is_some() && !question,
            "observation",
            "questions (not groups or display items)",
        ),
    ];
    for (wrong, key, applies_to) in misplaced {
        if wrong {
            c.report(
                id,
                key,
                format!(
                    "'{key}' only applies to {applies_to}, and '{id}' is {}",
                    t.code()
                ),
            );
        }
    }
    if t == ItemType::Group {
        if item.items.is_empty() {
            c.report(id, "items", format!("group '{id}' needs at least one item"));
        }
        if item.repeats {
            c.report(
                id,
                "repeats",
                "repeating groups are not supported; repeat the questions inside instead",
            );
        }
        if item.page && parent.is_some() {
            c.report(id, "page", "only top-level groups can be pages");
        }
    }
    if t.has_options() {
        match (&item.value_set, item.options.is_empty()) {
            (Some(_), false) => c.report(id, "options", "give either options or valueSet, not both"),
            (None, true) => c.report(id, "options", format!("{} item '{id}' has no options: add options (code and display) or a valueSet naming one of the form's codeSystems", t.code())),
            (Some(vs), true) if !c.draft.code_systems.iter().any(|cs| &cs.id == vs) => {
                let known: Vec<_> = c.draft.code_systems.iter().map(|cs| cs.id.as_str()).collect();
                c.report(id, "valueSet", format!("valueSet '{vs}' is not one of the form's codeSystems ({})", if known.is_empty() { "there are none".into() } else { known.join(", ") }));
            }
            _ => {}
        }
        let mut seen = HashSet::new();
        for o in &item.options {
            if !seen.insert(&o.code) {
                c.report(
                    id,
                    "options",
                    format!("option code '{}' appears twice", o.code),
                );
            }
        }
    }
    if t == ItemType::Quantity && item.units.is_empty() {
        c.report(
            id,
            "units",
            "a quantity item needs units (UCUM codes such as kg, cm, mm[Hg])",
        );
    }
    if let (Some(min), Some(max)) = (&item.min, &item.max) {
        if compare(min, max) == Some(std::cmp::Ordering::Greater) {
            c.report(
                id,
                "min",
                format!(
                    "min ({}) is greater than max ({})",
                    min.to_input_text(),
                    max.to_input_text()
                ),
            );
        }
    }
    if let Some(pattern) = &item.regex {
        if let Err(e) = Regex::new(pattern) {
            let detail = e.to_string();
            let last = detail.lines().last().unwrap_or_default().trim();
            c.report(
                id,
                "regex",
                format!("regex '{pattern}' is not valid: {last}"),
            );
        }
    }
    if item.max_length == Some(0) {
        c.report(id, "maxLength", "maxLength must be at least 1");
    }
    if item.initial.len() > 1 && !item.repeats {
        c.report(
            id,
            "initial",
            "only a repeating item can have several initial values",
        );
    }
    let options: Vec<&str> = option_codes(c, item);
    for value in &item.initial {
        if let AnswerValue::Coding(coding) = value {
            if t == ItemType::Choice && !options.contains(&coding.code.as_str()) {
                c.report(
                    id,
                    "initial",
                    format!("initial value '{}' is not one of the options", coding.code),
                );
            }
        }
    }
    if item.calculated.is_some() && (item.prefill.is_some() || !item.initial.is_empty()) {
        c.report(id, "calculated", "a calculated item cannot also have initial or prefill: its value always comes from the calculation");
    }
    if !item.enable_when.is_empty() && item.enable_when_expression.is_some() {
        c.report(
            id,
            "enableWhenExpression",
            "give either enableWhen or enableWhenExpression, not both",
        );
    }
    for cond in &item.enable_when {
        let Some(target) = types.get(cond.question.as_str()) else {
            c.report(
                id,
                "enableWhen",
                format!(
                    "enableWhen refers to unknown item '{}'{}",
                    cond.question,
                    suggestion(&cond.question, types)
                ),
            );
            continue;
        };
        if cond.question == item.link_id {
            c.report(
                id,
                "enableWhen",
                "an item cannot be enabled by its own answer",
            );
            continue;
        }
        if !target.item_type.is_question() {
            c.report(
                id,
                "enableWhen",
                format!(
                    "enableWhen refers to '{}', a {} item, which has no answer",
                    cond.question,
                    target.item_type.code()
                ),
            );
            continue;
        }
        let ordered = matches!(
            cond.operator,
            EnableOperator::Greater
                | EnableOperator::Less
                | EnableOperator::GreaterOrEqual
                | EnableOperator::LessOrEqual
        );
        if ordered && !target.item_type.is_ordered() {
            c.report(id, "enableWhen", format!("operator '{}' needs an item with an order (number, date, time), and '{}' is {}", cond.operator.code(), cond.question, target.item_type.code()));
        }
        if cond.operator == EnableOperator::Exists {
            if !matches!(cond.answer, AnswerValue::Boolean(_)) {
                c.report(
                    id,
                    "enableWhen",
                    "operator 'exists' takes answer true or false",
                );
            }
        } else if !answer_fits(&cond.answer, target.item_type) {
            c.report(
                id,
                "enableWhen",
                format!(
                    "the answer compared with '{}' must be a {} value, not {}",
                    cond.question,
                    target.item_type.code(),
                    cond.answer.fhir_suffix()
                ),
            );
        } else if let AnswerValue::Coding(coding) = &cond.answer {
            let target_options = option_codes(c, target);
            if target.item_type == ItemType::Choice
                && !target_options.contains(&coding.code.as_str())
            {
                c.report(
                    id,
                    "enableWhen",
                    format!(
                        "'{}' is not one of the options of '{}' ({})",
                        coding.code,
                        cond.question,
                        target_options.join(", ")
                    ),
                );
            }
        }
    }
    let rules = [
        ("enableWhenExpression", &item.enable_when_expression),
        ("calculated", &item.calculated),
    ];
    for (key, rule) in rules {
        if let Some(rule) = rule {
            check_references(c, id, key, rule, types, true);
        }
    }
    if let Some(rule) = &item.prefill {
        check_references(c, id, "prefill", rule, types, false);
    }
    for constraint in &item.constraints {
        check_constraint(c, id, constraint, types, constraint_keys);
    }
}

fn option_codes<'a>(c: &Checker<'a>, item: &'a Item) -> Vec<&'a str> {
    match &item.value_set {
        Some(vs) => c
            .draft
            .code_systems
            .iter()
            .find(|cs| &cs.id == vs)
            .map(|cs| cs.concepts.iter().map(|o| o.code.as_str()).collect())
            .unwrap_or_default(),
        None => item.options.iter().map(|o| o.code.as_str()).collect(),
    }
}

pub(super) fn check_constraint(
    c: &mut Checker<'_>,
    link_id: &str,
    constraint: &Constraint,
    types: &HashMap<&str, &Item>,
    keys: &mut HashSet<String>,
) {
    if !keys.insert(constraint.key.clone()) {
        c.report(
            link_id,
            "constraints",
            format!(
                "constraint key '{}' is used twice in the form",
                constraint.key
            ),
        );
    }
    if constraint.message.is_empty() {
        c.report(
            link_id,
            "constraints",
            format!(
                "constraint '{}' needs a message telling the user what to fix",
                constraint.key
            ),
        );
    }
    check_references(c, link_id, "constraints", &constraint.rule, types, true);
}

/// Every `var` a rule reads must be an item (when answers may be read) or context data.
fn check_references(
    c: &mut Checker<'_>,
    link_id: &str,
    key: &str,
    rule: &Rule,
    types: &HashMap<&str, &Item>,
    answers_allowed: bool,
) {
    let what = match key {
        "calculated" => "calculation",
        "constraints" => "constraint",
        other => other,
    };
    for var in logic::variables(rule.source()) {
        if RESERVED_LINK_IDS.contains(&var.as_str()) {
            continue;
        }
        if !answers_allowed {
            c.report(link_id, key, format!("{what} can only read patient, today and observations (it runs before any answer), not '{var}'"));
        } else if let Some(target) = types.get(var.as_str()) {
            if !target.item_type.is_question() {
                c.report(
                    link_id,
                    key,
                    format!(
                        "{what} reads '{var}', a {} item, which has no answer",
                        target.item_type.code()
                    ),
                );
            }
        } else {
            c.report(
                link_id,
                key,
                format!(
                    "{what} refers to unknown item '{var}'{}",
                    suggestion(&var, types)
                ),
            );
        }
    }
}

fn answer_fits(answer: &AnswerValue, t: ItemType) -> bool {
    matches!(
        (answer, t),
        (AnswerValue::Boolean(_), ItemType::Boolean)
            | (AnswerValue::Integer(_), ItemType::Integer)
            | (
                AnswerValue::Decimal(_) | AnswerValue::Integer(_),
                ItemType::Decimal
            )
            | (
                AnswerValue::Quantity { .. } | AnswerValue::Decimal(_) | AnswerValue::Integer(_),
                ItemType::Quantity
            )
            | (AnswerValue::Date(_), ItemType::Date)
            | (AnswerValue::DateTime(_), ItemType::DateTime)
            | (AnswerValue::Time(_), ItemType::Time)
            | (
                AnswerValue::String(_),
                ItemType::String | ItemType::Text | ItemType::OpenChoice
            )
            | (
                AnswerValue::Coding(_),
                ItemType::Choice | ItemType::OpenChoice
            )
    )
}
