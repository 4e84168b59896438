//! Answers by linkId: what a response holds, what the logic reads and what a form renders.

use std::collections::HashMap;

use serde_json::Value;

use crate::definition::{AnswerValue, Coding, Form, Item, ItemType};
use crate::questionnaire::any_value;

/// The answers of a response, by linkId (each item's answers in order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers {
    by_link_id: HashMap<String, Vec<AnswerValue>>,
}

impl Answers {
    /// No answers.
    pub fn new() -> Answers {
        Answers::default()
    }

    /// The answers of one item (empty when unanswered).
    pub fn get(&self, link_id: &str) -> &[AnswerValue] {
        self.by_link_id
            .get(link_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Replaces the answers of one item; an empty list removes them.
    pub fn set(&mut self, link_id: &str, values: Vec<AnswerValue>) {
        if values.is_empty() {
            self.by_link_id.remove(link_id);
        } else {
            self.by_link_id.insert(link_id.to_string(), values);
        }
    }

    /// True when the item has at least one answer.
    pub fn has(&self, link_id: &str) -> bool {
        self.by_link_id.contains_key(link_id)
    }

    /// True when nothing is answered.
    pub fn is_empty(&self) -> bool {
        self.by_link_id.is_empty()
    }

    /// Every answered linkId with its answers (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[AnswerValue])> {
        self.by_link_id
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Reads every `answer.value[x]` of a QuestionnaireResponse, at any depth, without
    /// checking anything (use [`Form::validate`] for that). Used to re-render a form with
    /// what the user sent.
    pub fn from_response(response: &Value) -> Answers {
        let mut answers = Answers::new();
        collect(&response["item"], &mut answers);
        answers
    }
}

fn collect(items: &Value, answers: &mut Answers) {
    for item in items.as_array().into_iter().flatten() {
        let Some(link_id) = item["linkId"].as_str() else {
            continue;
        };
        let values: Vec<AnswerValue> = item["answer"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| any_value(a, "value"))
            .collect();
        if !values.is_empty() {
            let mut all = answers.get(link_id).to_vec();
            all.extend(values);
            answers.set(link_id, all);
        }
        collect(&item["item"], answers);
        for a in item["answer"].as_array().into_iter().flatten() {
            collect(&a["item"], answers);
        }
    }
}

impl Form {
    /// Turns a rule's result into answers for `item` (empty when it does not fit the type):
    /// numbers for integer items are rounded half away from zero, a code for a choice must
    /// be one of its options. `assets/form.js` converts the same way for display.
    pub(crate) fn answers_from_logic(&self, item: &Item, value: &Value) -> Vec<AnswerValue> {
        match value {
            Value::Array(values) if item.repeats => values
                .iter()
                .filter_map(|v| self.answer_from_logic(item, v))
                .collect(),
            other => self.answer_from_logic(item, other).into_iter().collect(),
        }
    }

    fn answer_from_logic(&self, item: &Item, value: &Value) -> Option<AnswerValue> {
        use crate::values;
        let number = value.as_f64().filter(|f| f.is_finite());
        let text = value.as_str();
        match item.item_type {
            ItemType::Boolean => value.as_bool().map(AnswerValue::Boolean),
            ItemType::Integer => number.map(|n| AnswerValue::Integer(n.round() as i64)),
            ItemType::Decimal => number.map(AnswerValue::Decimal),
            ItemType::Quantity => number.map(|value| AnswerValue::Quantity {
                value,
                unit: item.units.first().cloned(),
            }),
            ItemType::Date => text.and_then(values::date).map(AnswerValue::Date),
            ItemType::DateTime => text.and_then(values::date_time).map(AnswerValue::DateTime),
            ItemType::Time => text.and_then(values::time).map(AnswerValue::Time),
            ItemType::String | ItemType::Text => match value {
                Value::String(s) if !s.is_empty() => Some(AnswerValue::String(s.clone())),
                Value::Number(n) => Some(AnswerValue::String(n.to_string())),
                _ => None,
            },
            ItemType::Choice | ItemType::OpenChoice => {
                let code = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                match self.options_of(item).iter().find(|o| o.code == code) {
                    Some(o) => Some(AnswerValue::Coding(Coding {
                        system: self.option_system(item, o).map(str::to_string),
                        code,
                        display: Some(o.display.default_text(&self.language).to_string()),
                    })),
                    None if item.item_type == ItemType::OpenChoice && !code.is_empty() => {
                        Some(AnswerValue::String(code))
                    }
                    None => None,
                }
            }
            ItemType::Group | ItemType::Display => None,
        }
    }
}
