//! Posted HTML form fields → QuestionnaireResponse, and prefill.
//!
//! The rendered form posts `application/x-www-form-urlencoded` fields named by linkId (a
//! quantity's unit as `<linkId>.unit`; a repeating item posts its name once per answer).
//! Fields starting with `_` (CSRF token, patient, encounter, ...) and names that are not
//! items are ignored. A value that does not read as the item's type is kept as text
//! (`valueString`) so [`Form::validate`] reports it next to the item and a re-render shows
//! what the user typed.

use serde_json::{json, Value};

use crate::answers::Answers;
use crate::definition::{AnswerValue, Coding, Form, Item, ItemType};
use crate::logic::LogicContext;
use crate::values;

/// The parts of a response that do not come from the posted fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMeta {
    /// `QuestionnaireResponse.status`: `completed` for a submission, `in-progress` for a draft.
    pub status: String,
    /// When the answers were given: a FHIR dateTime with zone.
    pub authored: String,
    /// The patient, e.g. `Patient/123`.
    pub subject: Option<String>,
    /// The encounter, e.g. `Encounter/456`.
    pub encounter: Option<String>,
    /// The clinic's UTC offset (`+05:30`, `Z`), added to date-times typed in the browser,
    /// which have none.
    pub time_zone: String,
}

impl Form {
    /// Builds a QuestionnaireResponse for this form from posted form fields.
    pub fn response_from_form_fields(
        &self,
        fields: &[(String, String)],
        meta: &ResponseMeta,
    ) -> Value {
        let mut answers = Answers::new();
        for flat in &self.flat {
            let item = self.item_at(&flat.path);
            if !item.item_type.is_question() {
                continue;
            }
            let unit = fields
                .iter()
                .find(|(name, _)| name.strip_suffix(".unit") == Some(item.link_id.as_str()))
                .map(|(_, v)| v.trim());
            let values: Vec<AnswerValue> = fields
                .iter()
                .filter(|(name, value)| name == &item.link_id && !value.trim().is_empty())
                .map(|(_, value)| self.field_value(item, value.trim(), unit, &meta.time_zone))
                .collect();
            answers.set(&item.link_id, values);
        }
        let mut response = json!({
            "resourceType": "QuestionnaireResponse",
            "questionnaire": self.canonical(),
            "status": meta.status,
            "authored": meta.authored,
        });
        if let Some(subject) = &meta.subject {
            response["subject"] = json!({"reference": subject});
        }
        if let Some(encounter) = &meta.encounter {
            response["encounter"] = json!({"reference": encounter});
        }
        response["item"] = Value::Array(self.response_items(&self.items, &answers));
        response
    }

    fn field_value(&self, item: &Item, text: &str, unit: Option<&str>, zone: &str) -> AnswerValue {
        let as_text = || AnswerValue::String(text.to_string());
        match item.item_type {
            ItemType::Boolean => match text {
                "true" | "yes" => AnswerValue::Boolean(true),
                "false" | "no" => AnswerValue::Boolean(false),
                _ => as_text(),
            },
            ItemType::Integer => values::integer(text)
                .map(AnswerValue::Integer)
                .unwrap_or_else(as_text),
            ItemType::Decimal => values::decimal(text)
                .map(AnswerValue::Decimal)
                .unwrap_or_else(as_text),
            ItemType::Quantity => match values::decimal(text) {
                Some(value) => {
                    let chosen = match unit.filter(|u| !u.is_empty()) {
                        Some(code) => Some(
                            item.units
                                .iter()
                                .find(|u| u.code == code)
                                .cloned()
                                .unwrap_or(Coding {
                                    system: None,
                                    code: code.to_string(),
                                    display: None,
                                }),
                        ),
                        None => item.units.first().cloned(),
                    };
                    AnswerValue::Quantity {
                        value,
                        unit: chosen,
                    }
                }
                None => as_text(),
            },
            ItemType::Date => values::date(text)
                .map(AnswerValue::Date)
                .unwrap_or_else(as_text),
            ItemType::DateTime => values::local_date_time(text, zone)
                .map(AnswerValue::DateTime)
                .unwrap_or_else(as_text),
            ItemType::Time => values::time(text)
                .map(AnswerValue::Time)
                .unwrap_or_else(as_text),
            ItemType::String | ItemType::Text => as_text(),
            ItemType::Choice | ItemType::OpenChoice => {
                let options = self.options_of(item);
                // An open-choice's text field may hold an option's display as well as its code.
                let option = options.iter().find(|o| o.code == text).or_else(|| {
                    (item.item_type == ItemType::OpenChoice)
                        .then(|| {
                            options
                                .iter()
                                .find(|o| o.display.entries().iter().any(|(_, d)| d == text))
                        })
                        .flatten()
                });
                match option {
                    Some(o) => AnswerValue::Coding(Coding {
                        system: self.option_system(item, o).map(str::to_string),
                        code: o.code.clone(),
                        display: Some(o.display.default_text(&self.language).to_string()),
                    }),
                    None if item.item_type == ItemType::OpenChoice => as_text(),
                    // Unknown code: validation refuses it with the list of options.
                    None => AnswerValue::Coding(Coding {
                        system: None,
                        code: text.to_string(),
                        display: None,
                    }),
                }
            }
            ItemType::Group | ItemType::Display => as_text(),
        }
    }

    /// The answers a new form starts with from patient data: each item's `prefill` rule
    /// evaluated over the context (use [`Form::prefill_needs`] to know what to load).
    /// Initial values are not included; [`Form::render`] adds them for items left empty.
    pub fn prefill(&self, ctx: &LogicContext) -> Answers {
        let data = Value::Object(ctx.to_data());
        let mut answers = Answers::new();
        for flat in &self.flat {
            let item = self.item_at(&flat.path);
            if let Some(rule) = &item.prefill {
                if let Ok(result) = rule.evaluate(&data) {
                    answers.set(&item.link_id, self.answers_from_logic(item, &result));
                }
            }
        }
        answers
    }
}
