//! Server-side validation of a QuestionnaireResponse against its form.
//!
//! Nothing the client sends is trusted: types, ranges, lengths, patterns, options, units,
//! required answers and constraints are checked; calculated items are recomputed; answers to
//! hidden (disabled) items and unknown items are refused. Every problem is reported at once,
//! each with its item's linkId.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;
use serde_json::{json, Map, Value};

use crate::answers::Answers;
use crate::definition::{AnswerValue, Form, Item, ItemType};
use crate::issue::ItemError;
use crate::locale::Locale;
use crate::logic::{truthy, LogicContext};
use crate::questionnaire::any_value;
use crate::values;

/// A response that passed validation, normalized: it names `url|version` of the form, holds
/// the recomputed calculated answers, and keeps only enabled items, in form order.
#[derive(Debug, Clone)]
pub struct ValidatedResponse {
    pub(crate) response: Value,
    pub(crate) full_url: String,
    pub(crate) authored: String,
    pub(crate) extractable: Vec<crate::extract::Extractable>,
}

impl ValidatedResponse {
    /// The QuestionnaireResponse to store.
    pub fn questionnaire_response(&self) -> &Value {
        &self.response
    }

    /// The `urn:uuid:` the response has in a transaction Bundle when it is new (no `id`);
    /// extracted Observations refer to it in `derivedFrom`.
    pub fn full_url(&self) -> &str {
        &self.full_url
    }

    /// When the response was authored (`QuestionnaireResponse.authored`); extracted
    /// Observations take it as `effectiveDateTime`.
    pub fn authored(&self) -> &str {
        &self.authored
    }
}

/// The statuses a submitted response may have. `in-progress` saves a draft: required
/// answers are not enforced yet, everything else is.
const STATUSES: &[&str] = &["in-progress", "completed", "amended"];

impl Form {
    /// Validates a QuestionnaireResponse against this form; messages from the form (constraint
    /// messages) are in its default language. See [`Form::validate_localized`].
    pub fn validate(
        &self,
        response: &Value,
        ctx: &LogicContext,
    ) -> Result<ValidatedResponse, Vec<ItemError>> {
        self.validate_localized(response, ctx, &Locale::new(&self.language))
    }

    /// Validates a QuestionnaireResponse, with constraint messages in `locale`.
    ///
    /// Errors carry the linkId of the item (or `""` for the response as a whole: wrong form,
    /// wrong version, missing status or authored, form-level constraints).
    pub fn validate_localized(
        &self,
        response: &Value,
        ctx: &LogicContext,
        locale: &Locale,
    ) -> Result<ValidatedResponse, Vec<ItemError>> {
        let mut errors = Vec::new();
        self.check_header(response, &mut errors);
        if !errors.is_empty() && response["resourceType"] != "QuestionnaireResponse" {
            return Err(errors);
        }
        let draft = response["status"] == "in-progress";
        let mut answers = Answers::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        self.read_items(
            &response["item"],
            None,
            &mut answers,
            &mut seen,
            &mut errors,
        );

        let sent = answers.clone();
        let state = self.evaluate_state(&mut answers, Some(ctx));
        for (i, flat) in self.flat.iter().enumerate() {
            let item = self.item_at(&flat.path);
            let id = item.link_id.as_str();
            if !state.enabled[i] {
                if sent.has(id) && item.calculated.is_none() {
                    errors.push(ItemError::new(id, "This question does not apply to the answers given (it is hidden), so it must not be answered."));
                }
                answers.set(id, Vec::new());
                continue;
            }
            if !item.item_type.is_question() {
                continue;
            }
            let values = answers.get(id);
            if values.is_empty() {
                // An answer refused for its type already has its message.
                let refused = errors.iter().any(|e| e.link_id == id);
                if item.required && !draft && !refused {
                    errors.push(ItemError::new(id, "An answer is required."));
                }
                continue;
            }
            if item.calculated.is_none() {
                for value in values {
                    if let Err(message) = self.check_value(item, value) {
                        errors.push(ItemError::new(id, message));
                    }
                }
            }
        }
        // Constraints run on what was answered; one reading an unanswered item waits until
        // it is answered (the required check covers that item).
        let data = Value::Object(state.data);
        let mut check_constraints =
            |link_id: &str, constraints: &[crate::definition::Constraint]| {
                for c in constraints {
                    let ready = c.reads.iter().all(|r| {
                        self.item(r).is_none() || data.get(r).is_some_and(|v| !v.is_null())
                    });
                    if ready && !c.rule.evaluate(&data).map(|v| truthy(&v)).unwrap_or(false) {
                        errors.push(ItemError::new(
                            link_id,
                            c.message.get(locale, &self.language),
                        ));
                    }
                }
            };
        check_constraints("", &self.constraints);
        for (i, flat) in self.flat.iter().enumerate() {
            let item = self.item_at(&flat.path);
            if state.enabled[i] && !item.constraints.is_empty() {
                check_constraints(&item.link_id, &item.constraints);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut normalized = response.as_object().cloned().unwrap_or_default();
        normalized.insert("questionnaire".into(), json!(self.canonical()));
        normalized.insert(
            "item".into(),
            Value::Array(self.response_items(&self.items, &answers)),
        );
        let extractable = self.extractable(&answers);
        Ok(ValidatedResponse {
            full_url: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            authored: response["authored"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            response: Value::Object(normalized),
            extractable,
        })
    }

    fn check_header(&self, response: &Value, errors: &mut Vec<ItemError>) {
        let mut form_error = |message: String| errors.push(ItemError::new("", message));
        if response["resourceType"] != "QuestionnaireResponse" {
            form_error(format!(
                "Expected a QuestionnaireResponse, got {}.",
                response["resourceType"]
            ));
            return;
        }
        match response["questionnaire"].as_str() {
            None => form_error(format!(
                "The response must name the form it answers: questionnaire = \"{}\".",
                self.canonical()
            )),
            Some(canonical) => {
                let (url, version) = match canonical.rsplit_once('|') {
                    Some((u, v)) => (u, Some(v)),
                    None => (canonical, None),
                };
                if url != self.url {
                    form_error(format!(
                        "This response is for questionnaire '{url}', not for form '{}' ({}).",
                        self.id, self.url
                    ));
                } else if version != Some(&self.version.to_string()) {
                    match version {
                        None => form_error(format!("The response must name the form version it answered: questionnaire = \"{}\".", self.canonical())),
                        Some(v) => form_error(format!("This response answers version {v} of form '{}', but the current version is {}; reload the form and answer again.", self.id, self.version)),
                    }
                }
            }
        }
        match response["status"].as_str() {
            Some(s) if STATUSES.contains(&s) => {}
            other => form_error(format!(
                "status must be one of {}, not {}.",
                STATUSES.join(", "),
                other.map(|s| format!("'{s}'")).unwrap_or("missing".into())
            )),
        }
        if response["authored"]
            .as_str()
            .and_then(values::date_time)
            .is_none()
        {
            form_error("authored must be the date-time of the answers, with a time zone (e.g. 2024-05-01T10:30:00+05:30).".into());
        }
    }

    /// Reads the response's items into `answers`, refusing unknown items, items in the wrong
    /// place, repeats of the same item and values of the wrong type.
    fn read_items(
        &self,
        items: &Value,
        parent: Option<usize>,
        answers: &mut Answers,
        seen: &mut HashMap<String, usize>,
        errors: &mut Vec<ItemError>,
    ) {
        if items.is_null() {
            return;
        }
        let Some(list) = items.as_array() else {
            errors.push(ItemError::new("", "item must be a list."));
            return;
        };
        for entry in list {
            let Some(link_id) = entry["linkId"].as_str() else {
                errors.push(ItemError::new(
                    "",
                    "Every item of the response needs a linkId.",
                ));
                continue;
            };
            let Some(&index) = self.by_link_id.get(link_id) else {
                errors.push(ItemError::new(
                    link_id,
                    format!("This form has no item '{link_id}'."),
                ));
                continue;
            };
            let item = self.flat_item(index);
            let expected_parent = self.flat[index].parent;
            if expected_parent != parent {
                let place = match expected_parent {
                    Some(p) => format!("inside group '{}'", self.flat_item(p).link_id),
                    None => "at the top level".to_string(),
                };
                errors.push(ItemError::new(
                    link_id,
                    format!("This item belongs {place}."),
                ));
            }
            let count = seen.entry(link_id.to_string()).or_insert(0);
            *count += 1;
            if *count == 2 {
                errors.push(ItemError::new(
                    link_id,
                    "This item appears more than once; put all its answers in one item.",
                ));
            }
            if *count > 1 {
                continue;
            }
            let raw_answers = entry["answer"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if !item.item_type.is_question() {
                if !raw_answers.is_empty() {
                    errors.push(ItemError::new(
                        link_id,
                        format!("A {} item takes no answer.", item.item_type.code()),
                    ));
                }
                self.read_items(&entry["item"], Some(index), answers, seen, errors);
                continue;
            }
            if !entry["item"].is_null() || raw_answers.iter().any(|a| !a["item"].is_null()) {
                errors.push(ItemError::new(
                    link_id,
                    "A question has no child items in this form.",
                ));
            }
            if raw_answers.len() > 1 && !item.repeats {
                errors.push(ItemError::new(
                    link_id,
                    format!(
                        "Only one answer is allowed; {} were given.",
                        raw_answers.len()
                    ),
                ));
                continue;
            }
            let mut values = Vec::new();
            for raw in raw_answers {
                match self.typed_answer(item, raw) {
                    Ok(v) => values.push(v),
                    Err(message) => errors.push(ItemError::new(link_id, message)),
                }
            }
            answers.set(link_id, values);
        }
    }

    /// One `answer` of the response, typed by the item.
    fn typed_answer(&self, item: &Item, raw: &Value) -> Result<AnswerValue, String> {
        let value = any_value(raw, "value");
        let given = || describe(raw);
        let t = item.item_type;
        match (t, value) {
            (ItemType::Boolean, Some(v @ AnswerValue::Boolean(_)))
            | (ItemType::Integer, Some(v @ AnswerValue::Integer(_)))
            | (ItemType::Date, Some(v @ AnswerValue::Date(_)))
            | (ItemType::DateTime, Some(v @ AnswerValue::DateTime(_)))
            | (ItemType::Time, Some(v @ AnswerValue::Time(_)))
            | (ItemType::String | ItemType::Text, Some(v @ AnswerValue::String(_)))
            | (ItemType::Choice, Some(v @ AnswerValue::Coding(_)))
            | (ItemType::OpenChoice, Some(v @ (AnswerValue::Coding(_) | AnswerValue::String(_))))
            | (ItemType::Quantity, Some(v @ AnswerValue::Quantity { .. })) => Ok(v),
            (ItemType::Decimal, Some(AnswerValue::Decimal(f))) => Ok(AnswerValue::Decimal(f)),
            (ItemType::Decimal, Some(AnswerValue::Integer(i))) => {
                Ok(AnswerValue::Decimal(i as f64))
            }
            _ => Err(match t {
                ItemType::Boolean => format!("Answer yes or no ({} is not).", given()),
                ItemType::Integer => {
                    format!("Enter a whole number, like 42 ({} is not one).", given())
                }
                ItemType::Decimal => format!("Enter a number, like 61.5 ({} is not one).", given()),
                ItemType::Quantity => {
                    format!("Enter a number with its unit ({} is not one).", given())
                }
                ItemType::Date => {
                    format!("Enter a real date as YYYY-MM-DD ({} is not one).", given())
                }
                ItemType::DateTime => format!(
                    "Enter a date and time with a time zone ({} is not one).",
                    given()
                ),
                ItemType::Time => format!("Enter a time as HH:MM ({} is not one).", given()),
                ItemType::Choice => format!("Choose one of the options ({} is not one).", given()),
                _ => format!("Enter text ({} is not text).", given()),
            }),
        }
    }

    /// Range, length, pattern, option and unit checks of one answer.
    fn check_value(&self, item: &Item, value: &AnswerValue) -> Result<(), String> {
        use std::cmp::Ordering;
        let compare = crate::definition::compare_values;
        if let Some(min) = &item.min {
            if compare(value, min) == Some(Ordering::Less) {
                return Err(format!("Must be at least {}.", min.to_input_text()));
            }
        }
        if let Some(max) = &item.max {
            if compare(value, max) == Some(Ordering::Greater) {
                return Err(format!("Must be at most {}.", max.to_input_text()));
            }
        }
        if let AnswerValue::String(text) = value {
            if text.trim().is_empty() {
                return Err("The answer is empty.".into());
            }
            if let Some(max) = item.max_length {
                let length = text.chars().count();
                if length > max {
                    return Err(format!(
                        "Must be {max} characters or fewer (this is {length})."
                    ));
                }
            }
            if let Some(pattern) = &item.regex {
                if !anchored(pattern).is_match(text) {
                    let hint = item.entry_format.default_text(&self.language);
                    return Err(if hint.is_empty() {
                        format!("Does not have the expected format ({pattern}).")
                    } else {
                        format!("Does not have the expected format: {hint}.")
                    });
                }
            }
        }
        if let AnswerValue::Coding(c) = value {
            let options = self.options_of(item);
            let found = options.iter().find(|o| o.code == c.code);
            let system_ok = found.is_some_and(|o| {
                c.system.is_none() || c.system.as_deref() == self.option_system(item, o)
            });
            if !system_ok {
                let codes: Vec<&str> = options.iter().map(|o| o.code.as_str()).collect();
                return Err(format!(
                    "'{}' is not one of the options ({}).",
                    c.code,
                    codes.join(", ")
                ));
            }
        }
        if let AnswerValue::Quantity { unit, .. } = value {
            let allowed = |u: &crate::definition::Coding| {
                item.units
                    .iter()
                    .any(|a| a.code == u.code && (u.system.is_none() || u.system == a.system))
            };
            let codes: Vec<&str> = item.units.iter().map(|u| u.code.as_str()).collect();
            match unit {
                Some(u) if allowed(u) => {}
                Some(u) => {
                    return Err(format!(
                        "The unit '{}' is not allowed here; use {}.",
                        u.code,
                        codes.join(" or ")
                    ))
                }
                None => return Err(format!("Give the unit ({}).", codes.join(" or "))),
            }
        }
        Ok(())
    }

    /// Response items for `items`, with the final answers; groups only when something in them
    /// is answered.
    pub(crate) fn response_items(&self, items: &[Item], answers: &Answers) -> Vec<Value> {
        let mut out = Vec::new();
        for item in items {
            let mut o = Map::new();
            o.insert("linkId".into(), json!(item.link_id));
            if !item.text.is_empty() {
                o.insert("text".into(), json!(item.text.default_text(&self.language)));
            }
            if item.item_type == ItemType::Group {
                let children = self.response_items(&item.items, answers);
                if children.is_empty() {
                    continue;
                }
                o.insert("item".into(), Value::Array(children));
            } else {
                let values = answers.get(&item.link_id);
                if values.is_empty() {
                    continue;
                }
                let list: Vec<Value> = values
                    .iter()
                    .map(|v| {
                        let (suffix, json) = self.value_json(v, Some(item));
                        json!({ format!("value{suffix}"): json })
                    })
                    .collect();
                o.insert("answer".into(), Value::Array(list));
            }
            out.push(Value::Object(o));
        }
        out
    }
}

/// The pattern matched against the whole answer (FHIR regexes are whole-value matches).
/// Patterns were checked when the form was read; they are compiled once per process.
fn anchored(pattern: &str) -> Arc<Regex> {
    use std::sync::{LazyLock, Mutex};
    static CACHE: LazyLock<Mutex<HashMap<String, Arc<Regex>>>> = LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(pattern.to_string())
        .or_insert_with(|| {
            Arc::new(
                Regex::new(&format!("^(?:{pattern})$")).expect("checked when the form was read"),
            )
        })
        .clone()
}

/// `valueString "abc"` — how an answer looked, for messages.
fn describe(raw: &Value) -> String {
    raw.as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.starts_with("value")))
        .map(|(k, v)| match v {
            Value::String(s) => format!("'{s}'"),
            other => format!("{k} {other}"),
        })
        .unwrap_or_else(|| "an answer without a value".into())
}
