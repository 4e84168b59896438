//! Questionnaire → Form: reads what [`Form::to_questionnaire`] writes, plus the same SDC
//! features written by other tools, and names anything it cannot represent.

use serde_json::{Map, Value};

use super::{url, JSON_LOGIC};
use crate::definition::{
    finish, AnswerOption, AnswerValue, CodeSystemDef, Coding, Constraint, Draft, EnableBehavior,
    EnableOperator, EnableWhen, Form, Item, ItemType, Locations, ObservationTarget,
};
use crate::issue::FormIssue;
use crate::locale::LocalText;
use crate::logic::{self, Rule};
use crate::values;

const FILE: &str = "Questionnaire";

impl Form {
    /// Reads a FHIR R4 Questionnaire (SDC) into a form, with the same checks as YAML. Issues
    /// name the item path (`item[2].item[0] 'weight'`); they have no line.
    pub fn from_questionnaire(q: &Value) -> Result<Form, Vec<FormIssue>> {
        let mut r = QReader {
            issues: Vec::new(),
            locations: Locations::default(),
            lang: String::new(),
        };
        if q["resourceType"] != "Questionnaire" {
            return Err(vec![r.issue(
                "resourceType",
                format!("expected a Questionnaire, got {}", q["resourceType"]),
            )]);
        }
        r.lang = q["language"].as_str().unwrap_or("en").to_string();
        let id = q["id"]
            .as_str()
            .or_else(|| q["name"].as_str())
            .unwrap_or_default()
            .to_string();
        let version = match q["version"].as_str().map(semver::Version::parse) {
            Some(Ok(v)) => Some(v),
            other => {
                let shown = q["version"].to_string();
                let message = if other.is_none() {
                    "the Questionnaire has no version".to_string()
                } else {
                    format!("version {shown} is not a semantic version (MAJOR.MINOR.PATCH)")
                };
                r.issues.push(r.issue("version", message));
                None
            }
        };
        let code_systems = r.code_systems(q);
        let constraints = r.constraints(q, "");
        let items = r.items(&q["item"], "item");
        let draft = Draft {
            file: FILE.into(),
            id,
            version,
            url: q["url"].as_str().map(str::to_string),
            status: q["status"].as_str().unwrap_or("active").to_string(),
            language: r.lang.clone(),
            title: r.text(q, "title"),
            description: r.text(q, "description"),
            code_systems,
            items,
            constraints,
            locations: r.locations,
            issues: r.issues,
        };
        finish(draft)
    }
}

struct QReader {
    issues: Vec<FormIssue>,
    locations: Locations,
    lang: String,
}

fn extensions<'a>(o: &'a Value, ext_url: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    o["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |e| e["url"] == ext_url)
}

fn extension<'a>(o: &'a Value, ext_url: &str) -> Option<&'a Value> {
    o["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == ext_url)
}

fn coding(v: &Value) -> Option<Coding> {
    Some(Coding {
        system: v["system"].as_str().map(str::to_string),
        code: v["code"].as_str()?.to_string(),
        display: v["display"].as_str().map(str::to_string),
    })
}

impl QReader {
    fn issue(&self, path: &str, message: String) -> FormIssue {
        FormIssue {
            file: FILE.into(),
            line: None,
            path: path.to_string(),
            message,
        }
    }

    fn report(&mut self, path: &str, message: String) {
        let issue = self.issue(path, message);
        self.issues.push(issue);
    }

    /// `key` in the default language plus `_key` translations.
    fn text(&self, o: &Value, key: &str) -> LocalText {
        let mut text = LocalText::default();
        if let Some(s) = o[key].as_str() {
            text.set(&self.lang, s);
        }
        for t in extensions(&o[format!("_{key}")], url::TRANSLATION) {
            let lang = extension(t, "lang").and_then(|e| e["valueCode"].as_str());
            let content = extension(t, "content").and_then(|e| e["valueString"].as_str());
            if let (Some(lang), Some(content)) = (lang, content) {
                text.set(lang, content);
            }
        }
        text
    }

    fn rule(&mut self, expression: &Value, path: &str) -> Option<Rule> {
        if expression["language"] != JSON_LOGIC {
            self.report(
                path,
                format!(
                    "expression language {} is not supported; Tessera runs {JSON_LOGIC}",
                    expression["language"]
                ),
            );
            return None;
        }
        let parsed = expression["expression"]
            .as_str()
            .map(serde_json::from_str::<Value>);
        match parsed {
            Some(Ok(logic)) => match Rule::compile(&logic) {
                Ok(rule) => Some(rule),
                Err(e) => {
                    self.report(path, format!("invalid JSON Logic: {e}"));
                    None
                }
            },
            _ => {
                self.report(path, "the expression is not JSON text".into());
                None
            }
        }
    }

    fn code_systems(&mut self, q: &Value) -> Vec<CodeSystemDef> {
        let contained = q["contained"].as_array().cloned().unwrap_or_default();
        let mut systems = Vec::new();
        for vs in contained.iter().filter(|r| r["resourceType"] == "ValueSet") {
            let id = vs["id"].as_str().unwrap_or_default().to_string();
            let system = vs["compose"]["include"][0]["system"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let Some(cs) = contained
                .iter()
                .find(|r| r["resourceType"] == "CodeSystem" && r["url"] == system.as_str())
            else {
                self.report(
                    &format!("contained ValueSet '{id}'"),
                    format!("its code system '{system}' is not contained in the Questionnaire"),
                );
                continue;
            };
            let concepts = cs["concept"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let mut display = LocalText::default();
                    display.set(
                        &self.lang,
                        c["display"]
                            .as_str()
                            .or(c["code"].as_str())
                            .unwrap_or_default(),
                    );
                    for d in c["designation"].as_array().into_iter().flatten() {
                        if let (Some(l), Some(v)) = (d["language"].as_str(), d["value"].as_str()) {
                            display.set(l, v);
                        }
                    }
                    AnswerOption {
                        system: None,
                        code: c["code"].as_str().unwrap_or_default().to_string(),
                        display,
                        initial_selected: false,
                    }
                })
                .collect();
            systems.push(CodeSystemDef {
                id,
                url: system,
                concepts,
            });
        }
        systems
    }

    fn constraints(&mut self, o: &Value, path: &str) -> Vec<Constraint> {
        let mut constraints = Vec::new();
        for c in extensions(o, url::TARGET_CONSTRAINT) {
            let key = extension(c, "key")
                .and_then(|k| k["valueId"].as_str())
                .unwrap_or_default()
                .to_string();
            let here = if path.is_empty() {
                format!("constraint '{key}'")
            } else {
                path.to_string()
            };
            let message = extension(c, "human")
                .map(|h| self.text(h, "valueString"))
                .unwrap_or_default();
            let Some(expr) = extension(c, "expression") else {
                self.report(&here, "a targetConstraint needs an expression".into());
                continue;
            };
            if let Some(rule) = self.rule(&expr["valueExpression"], &here) {
                let reads = logic::variables(rule.source());
                constraints.push(Constraint {
                    key,
                    rule,
                    message,
                    reads,
                });
            }
        }
        constraints
    }

    fn items(&mut self, list: &Value, base: &str) -> Vec<Item> {
        let mut items = Vec::new();
        for (i, node) in list.as_array().into_iter().flatten().enumerate() {
            let link_id = node["linkId"].as_str().unwrap_or_default();
            let path = format!("{base}[{i}] '{link_id}'");
            if is_help(node) {
                continue;
            }
            if let Some(item) = self.item(node, &path, &format!("{base}[{i}].item")) {
                items.push(item);
            }
        }
        items
    }

    fn item(&mut self, o: &Value, path: &str, child_base: &str) -> Option<Item> {
        let link_id = o["linkId"].as_str().unwrap_or_default();
        self.locations.record(link_id, "", path, None);
        let Some(item_type) = o["type"].as_str().and_then(ItemType::from_code) else {
            let known: Vec<_> = ItemType::ALL.iter().map(|t| t.code()).collect();
            self.report(
                path,
                format!(
                    "item type {} is not supported; supported: {}",
                    o["type"],
                    known.join(", ")
                ),
            );
            return None;
        };
        let mut item = Item::new(link_id, item_type);
        item.text = self.text(o, "text");
        item.required = o["required"] == true;
        item.repeats = o["repeats"] == true;
        item.read_only = o["readOnly"] == true;
        item.max_length = o["maxLength"].as_u64().map(|n| n as usize);
        item.units = extensions(o, url::UNIT_OPTION)
            .filter_map(|e| coding(&e["valueCoding"]))
            .collect();
        if let Some(vs) = o["answerValueSet"].as_str() {
            match vs.strip_prefix('#') {
                Some(id) => item.value_set = Some(id.to_string()),
                None => self.report(path, format!("answerValueSet '{vs}' must name a contained ValueSet ('#id'); external value sets are not supported")),
            }
        }
        for opt in o["answerOption"].as_array().into_iter().flatten() {
            let Some(c) = opt.get("valueCoding") else {
                self.report(path, "only valueCoding answer options are supported".into());
                continue;
            };
            item.options.push(AnswerOption {
                system: c["system"].as_str().map(str::to_string),
                code: c["code"].as_str().unwrap_or_default().to_string(),
                display: self.text(c, "display"),
                initial_selected: opt["initialSelected"] == true,
            });
        }
        for initial in o["initial"].as_array().into_iter().flatten() {
            if let Some(v) = self.value(initial, "value", item_type, path) {
                item.initial.push(v);
            }
        }
        for c in o["enableWhen"].as_array().into_iter().flatten() {
            let Some(operator) = c["operator"].as_str().and_then(EnableOperator::from_code) else {
                self.report(
                    path,
                    format!("unknown enableWhen operator {}", c["operator"]),
                );
                continue;
            };
            let Some(answer) = any_answer(c) else {
                self.report(path, "an enableWhen condition needs an answer[x]".into());
                continue;
            };
            item.enable_when.push(EnableWhen {
                question: c["question"].as_str().unwrap_or_default().to_string(),
                operator,
                answer,
            });
        }
        if o["enableBehavior"] == "any" {
            item.enable_behavior = EnableBehavior::Any;
        }
        if let Some(code) = o["code"]
            .as_array()
            .and_then(|c| c.first())
            .and_then(coding)
        {
            if extension(o, url::OBSERVATION_EXTRACT).is_some_and(|e| e["valueBoolean"] == true) {
                let category = extension(o, url::OBSERVATION_CATEGORY)
                    .and_then(|e| e["valueCodeableConcept"]["coding"][0]["code"].as_str())
                    .map(str::to_string);
                item.observation = Some(ObservationTarget { code, category });
            }
        }
        for e in o["extension"].as_array().into_iter().flatten() {
            let ext_url = e["url"].as_str().unwrap_or_default();
            match ext_url {
                url::ITEM_CONTROL if e["valueCodeableConcept"]["coding"][0]["code"] == "page" => {
                    item.page = true;
                }
                url::MIN_VALUE | url::MAX_VALUE => {
                    let bound = self.value(e, "value", item_type, path);
                    if ext_url == url::MIN_VALUE {
                        item.min = bound
                    } else {
                        item.max = bound
                    }
                }
                url::MIN_QUANTITY | url::MAX_QUANTITY => {
                    let bound = e["valueQuantity"]["value"]
                        .as_f64()
                        .map(AnswerValue::Decimal);
                    if ext_url == url::MIN_QUANTITY {
                        item.min = bound
                    } else {
                        item.max = bound
                    }
                }
                url::REGEX => item.regex = e["valueString"].as_str().map(str::to_string),
                url::ENTRY_FORMAT => item.entry_format = self.text(e, "valueString"),
                url::ENABLE_WHEN_EXPRESSION => {
                    item.enable_when_expression = self.rule(&e["valueExpression"], path)
                }
                url::CALCULATED => item.calculated = self.rule(&e["valueExpression"], path),
                url::INITIAL_EXPRESSION => item.prefill = self.rule(&e["valueExpression"], path),
                _ => {}
            }
        }
        item.constraints = self.constraints(o, path);
        for child in o["item"].as_array().into_iter().flatten() {
            if is_help(child) {
                item.help = self.text(child, "text");
            }
        }
        item.items = self.items(&o["item"], child_base);
        Some(item)
    }

    /// A `<prefix>[x]` value typed by the item; a mismatch is reported.
    fn value(&mut self, o: &Value, prefix: &str, t: ItemType, path: &str) -> Option<AnswerValue> {
        let read = any_value(o, prefix);
        let fits = match (&read, t) {
            (Some(AnswerValue::Integer(i)), ItemType::Decimal) => {
                return Some(AnswerValue::Decimal(*i as f64))
            }
            (Some(AnswerValue::Decimal(_) | AnswerValue::Integer(_)), ItemType::Quantity) => {
                return read.map(|v| AnswerValue::Decimal(v.as_number().unwrap_or_default()))
            }
            (Some(v), _) => matches!(
                (v, t),
                (AnswerValue::Boolean(_), ItemType::Boolean)
                    | (AnswerValue::Integer(_), ItemType::Integer)
                    | (AnswerValue::Decimal(_), ItemType::Decimal)
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
                    | (AnswerValue::Quantity { .. }, ItemType::Quantity)
            ),
            (None, _) => false,
        };
        if !fits {
            self.report(
                path,
                format!("a {prefix}[x] does not fit a {} item", t.code()),
            );
            return None;
        }
        read
    }
}

fn is_help(item: &Value) -> bool {
    item["type"] == "display"
        && extension(item, url::ITEM_CONTROL)
            .is_some_and(|e| e["valueCodeableConcept"]["coding"][0]["code"] == "help")
}

fn any_answer(c: &Value) -> Option<AnswerValue> {
    any_value(c, "answer")
}

/// Reads whichever `<prefix>Boolean|Integer|...` is present.
pub(crate) fn any_value(o: &Value, prefix: &str) -> Option<AnswerValue> {
    let map: &Map<String, Value> = o.as_object()?;
    for (key, v) in map {
        let Some(suffix) = key.strip_prefix(prefix) else {
            continue;
        };
        let value = match suffix {
            "Boolean" => v.as_bool().map(AnswerValue::Boolean),
            "Integer" => v.as_i64().map(AnswerValue::Integer),
            "Decimal" => v.as_f64().map(AnswerValue::Decimal),
            "Date" => v.as_str().and_then(values::date).map(AnswerValue::Date),
            "DateTime" => v
                .as_str()
                .and_then(values::date_time)
                .map(AnswerValue::DateTime),
            "Time" => v.as_str().and_then(values::time).map(AnswerValue::Time),
            "String" => v.as_str().map(|s| AnswerValue::String(s.to_string())),
            "Coding" => coding(v).map(AnswerValue::Coding),
            "Quantity" => v["value"].as_f64().map(|value| AnswerValue::Quantity {
                value,
                unit: v["code"].as_str().map(|code| Coding {
                    system: v["system"].as_str().map(str::to_string),
                    code: code.to_string(),
                    display: v["unit"]
                        .as_str()
                        .filter(|u| *u != code)
                        .map(str::to_string),
                }),
            }),
            _ => continue,
        };
        return value;
    }
    None
}
