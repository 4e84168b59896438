//! The logic pass shared by validation and rendering: recompute calculated items, then decide
//! which items are enabled. `assets/form.js` runs the same pass in the browser.

use serde_json::{Map, Value};

use crate::answers::Answers;
use crate::definition::Form;
use crate::logic::LogicContext;

/// Which items are enabled, by index in document order, and the data rules saw last.
pub(crate) struct FormState {
    pub enabled: Vec<bool>,
    pub data: Map<String, Value>,
}

/// Showing or hiding items changes which answers count, which can change calculations and
/// other items' conditions; a few rounds settle any real form (the browser does the same).
const MAX_ROUNDS: usize = 5;

impl Form {
    /// Recomputes every calculated item into `answers` (replacing whatever was there), then
    /// decides which items are enabled. An item is disabled when its group is, or when its
    /// enable rule is false; a disabled item's answer is hidden from the rules, as FHIR
    /// requires, so the pass repeats until the enabled items no longer change.
    pub(crate) fn evaluate_state(
        &self,
        answers: &mut Answers,
        context: Option<&LogicContext>,
    ) -> FormState {
        let base = context.map(LogicContext::to_data).unwrap_or_default();
        let mut enabled = vec![true; self.flat.len()];
        for _ in 0..MAX_ROUNDS {
            let (next, data) = self.one_round(answers, &base, &enabled);
            // Another round is needed only if an answer that this round's rules read belongs
            // to an item that turned out disabled (or the other way round).
            let settled = (0..self.flat.len())
                .all(|i| next[i] == enabled[i] || !answers.has(&self.flat_item(i).link_id));
            if settled {
                return FormState {
                    enabled: next,
                    data,
                };
            }
            enabled = next;
        }
        let (enabled, data) = self.one_round(answers, &base, &enabled);
        FormState { enabled, data }
    }

    /// Calculations, then enabled items, reading only the answers of items enabled in the
    /// previous round.
    fn one_round(
        &self,
        answers: &mut Answers,
        base: &Map<String, Value>,
        previously_enabled: &[bool],
    ) -> (Vec<bool>, Map<String, Value>) {
        let mut data = base.clone();
        for (link_id, values) in answers.iter() {
            if let Some(&i) = self.by_link_id.get(link_id) {
                if previously_enabled[i] {
                    let item = self.flat_item(i);
                    data.insert(link_id.to_string(), logic_value(item.repeats, values));
                }
            }
        }
        let mut data_value = Value::Object(data);
        for &i in &self.calculation_order {
            let item = self.flat_item(i);
            let rule = item
                .calculated
                .as_ref()
                .expect("calculation order lists calculated items");
            let values = match rule.evaluate(&data_value) {
                Ok(result) => self.answers_from_logic(item, &result),
                // A calculation over missing or odd input leaves the item empty.
                Err(_) => Vec::new(),
            };
            let object = data_value.as_object_mut().expect("data is an object");
            if values.is_empty() || !previously_enabled[i] {
                object.remove(&item.link_id);
            } else {
                object.insert(item.link_id.clone(), logic_value(item.repeats, &values));
            }
            answers.set(&item.link_id, values);
        }
        let mut enabled = vec![true; self.flat.len()];
        for (i, flat) in self.flat.iter().enumerate() {
            let parent_enabled = flat.parent.is_none_or(|p| enabled[p]);
            enabled[i] = parent_enabled
                && flat
                    .enable_rule
                    .as_ref()
                    .is_none_or(|rule| rule.is_true(&data_value));
            if !enabled[i] {
                let link_id = &self.flat_item(i).link_id;
                data_value
                    .as_object_mut()
                    .expect("data is an object")
                    .remove(link_id);
            }
        }
        let Value::Object(data) = data_value else {
            unreachable!("data is an object")
        };
        (enabled, data)
    }
}

/// An item's answers as rules see them: one value, or a list for a repeating item.
pub(crate) fn logic_value(repeats: bool, values: &[crate::definition::AnswerValue]) -> Value {
    if repeats {
        Value::Array(values.iter().map(|v| v.to_logic()).collect())
    } else {
        values.first().map(|v| v.to_logic()).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use crate::answers::Answers;
    use crate::definition::{AnswerValue, Form};

    #[test]
    fn a_hidden_answer_no_longer_feeds_calculations() {
        let yaml = r#"
id: s
version: 1.0.0
title: S
items:
  - {linkId: c, type: boolean}
  - {linkId: a, type: integer, enableWhen: [{question: c, operator: "=", answer: true}]}
  - {linkId: b, type: integer, calculated: {if: [{missing: [a]}, null, {"+": [{var: a}, 1]}]}}
"#;
        let form = Form::from_yaml("s.yaml", yaml).unwrap();
        let mut answers = Answers::new();
        answers.set("c", vec![AnswerValue::Boolean(true)]);
        answers.set("a", vec![AnswerValue::Integer(5)]);
        let state = form.evaluate_state(&mut answers, None);
        assert_eq!(state.enabled, [true, true, true]);
        assert_eq!(answers.get("b"), [AnswerValue::Integer(6)]);

        answers.set("c", vec![AnswerValue::Boolean(false)]);
        let state = form.evaluate_state(&mut answers, None);
        assert_eq!(state.enabled, [true, false, true]);
        assert!(
            answers.get("b").is_empty(),
            "a is hidden, so b has nothing to add to"
        );
        assert!(!state.data.contains_key("a"));
    }
}
