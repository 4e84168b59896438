//! Reading items: their keys, typed values, options, units, enableWhen, constraints and
//! Observation codes.

use super::{unknown_key, Reader, UCUM};
use crate::definition::model::{
    AnswerValue, Coding, Constraint, EnableBehavior, EnableOperator, EnableWhen, Item, ItemType,
    ObservationTarget,
};
use crate::locale::LocalText;
use crate::logic;
use crate::values;
use crate::yaml::{Node, NodeKind};

const ITEM_KEYS: &[&str] = &[
    "linkId",
    "type",
    "text",
    "help",
    "required",
    "repeats",
    "readOnly",
    "page",
    "min",
    "max",
    "maxLength",
    "regex",
    "entryFormat",
    "options",
    "valueSet",
    "units",
    "initial",
    "enableWhen",
    "enableBehavior",
    "enableWhenExpression",
    "calculated",
    "prefill",
    "constraints",
    "observation",
    "items",
];

impl Reader {
    pub(super) fn items(&mut self, node: &Node, parent_path: &str) -> Vec<Item> {
        let key = if parent_path.is_empty() {
            "items".to_string()
        } else {
            format!("{parent_path}.items")
        };
        let mut items = Vec::new();
        for (i, item) in self.list(node, &key).to_vec().iter().enumerate() {
            let base = format!("{key}[{i}]");
            if let Some(item) = self.item(item, &base) {
                items.push(item);
            }
        }
        items
    }

    fn item(&mut self, node: &Node, base: &str) -> Option<Item> {
        let Some(entries) = node.as_map() else {
            self.wrong(node, base, "an item (a mapping with linkId and type)");
            return None;
        };
        // A number written as linkId (`1.2`) is read as its text, so the checks can say why
        // it is not a good linkId.
        let link_id = match node.get("linkId").map(|n| (n.to_json(), n)) {
            Some((serde_json::Value::String(s), _)) => s,
            Some((serde_json::Value::Number(_), n)) => n.to_json().to_string(),
            _ => String::new(),
        };
        let path = format!("{base} '{link_id}'");
        self.locations.record(&link_id, "", &path, Some(node.line));
        let item_type = match node.get("type") {
            None => {
                let issue = self.issue_at(node.line, &path, "the item has no 'type'".into());
                self.issues.push(issue);
                return None;
            }
            Some(t) => match t.as_str().and_then(ItemType::from_code) {
                Some(t) => t,
                None => {
                    let known: Vec<_> = ItemType::ALL.iter().map(|t| t.code()).collect();
                    let issue = self.issue_at(
                        t.line,
                        &path,
                        format!(
                            "unknown item type '{}'; use one of: {}",
                            t.to_json().as_str().unwrap_or(&t.to_json().to_string()),
                            known.join(", ")
                        ),
                    );
                    self.issues.push(issue);
                    return None;
                }
            },
        };
        if link_id.is_empty() {
            let issue = self.issue_at(node.line, &path, "the item has no 'linkId'".into());
            self.issues.push(issue);
        }
        let mut item = Item::new(&link_id, item_type);
        // Options come before initial values, which may name them.
        if let Some(options) = node.get("options") {
            item.options = self.options(options, &path);
        }
        if let Some(units) = node.get("units") {
            item.units = self.units(units, &path);
        }
        for (key, value) in entries {
            let k = key.name.as_str();
            self.locations.record(&link_id, k, &path, Some(key.line));
            match k {
                "linkId" | "type" | "options" | "units" => {}
                "text" => item.text = self.text(value, &path),
                "help" => item.help = self.text(value, &path),
                "entryFormat" => item.entry_format = self.text(value, &path),
                "required" => item.required = self.boolean(value, &path),
                "repeats" => item.repeats = self.boolean(value, &path),
                "readOnly" => item.read_only = self.boolean(value, &path),
                "page" => item.page = self.boolean(value, &path),
                "min" => item.min = self.bound(value, &item, &path),
                "max" => item.max = self.bound(value, &item, &path),
                "maxLength" => match value.kind {
                    NodeKind::Int(n) if n >= 0 => item.max_length = Some(n as usize),
                    _ => self.wrong(value, &path, "a whole number of characters"),
                },
                "regex" => item.regex = self.string(value, &path),
                "valueSet" => item.value_set = self.string(value, &path),
                "initial" => {
                    let values: Vec<&Node> = match &value.kind {
                        NodeKind::Seq(list) => list.iter().collect(),
                        _ => vec![value],
                    };
                    for v in values {
                        if let Some(a) = self.answer(v, item_type, &item, &path) {
                            item.initial.push(a);
                        }
                    }
                }
                "enableWhen" => item.enable_when = self.enable_when(value, &path),
                "enableBehavior" => match value.as_str() {
                    Some("all") => item.enable_behavior = EnableBehavior::All,
                    Some("any") => item.enable_behavior = EnableBehavior::Any,
                    _ => self.wrong(value, &path, "'all' or 'any'"),
                },
                "enableWhenExpression" => item.enable_when_expression = self.rule(value, &path),
                "calculated" => item.calculated = self.rule(value, &path),
                "prefill" => item.prefill = self.rule(value, &path),
                "constraints" => item.constraints = self.constraints(value, &path),
                "observation" => item.observation = self.observation(value, &path),
                "items" => item.items = self.items(value, base),
                other => {
                    let m = unknown_key(other, ITEM_KEYS, "an item");
                    self.issue(key, &path, m);
                }
            }
        }
        Some(item)
    }

    /// Units: `[kg, g]` (UCUM codes) or `[{code, display, system}]`.
    fn units(&mut self, node: &Node, path: &str) -> Vec<Coding> {
        let mut units = Vec::new();
        for unit in self.list(node, path) {
            match &unit.kind {
                NodeKind::Str(code) => units.push(Coding {
                    system: Some(UCUM.into()),
                    code: code.clone(),
                    display: None,
                }),
                NodeKind::Map(_) => {
                    let code = unit.get("code").and_then(Node::as_str);
                    match code {
                        Some(code) => units.push(Coding {
                            system: Some(
                                unit.get("system")
                                    .and_then(Node::as_str)
                                    .unwrap_or(UCUM)
                                    .to_string(),
                            ),
                            code: code.to_string(),
                            display: unit
                                .get("display")
                                .and_then(Node::as_str)
                                .map(str::to_string),
                        }),
                        None => self.wrong(unit, path, "a unit with a code"),
                    }
                }
                _ => self.wrong(unit, path, "a UCUM unit code such as kg"),
            }
        }
        units
    }

    fn bound(&mut self, node: &Node, item: &Item, path: &str) -> Option<AnswerValue> {
        let t = match item.item_type {
            ItemType::Quantity => ItemType::Decimal,
            other if other.is_ordered() => other,
            // Reported by the checks as "only applies to ..."; keep a number so they can.
            _ => ItemType::Decimal,
        };
        self.answer(node, t, item, path)
    }

    /// A value of type `t` (an initial value, bound or enableWhen answer).
    fn answer(&mut self, node: &Node, t: ItemType, item: &Item, path: &str) -> Option<AnswerValue> {
        let text = match &node.kind {
            NodeKind::Str(s) => Some(s.as_str()),
            _ => None,
        };
        let value = match (t, &node.kind) {
            (ItemType::Boolean, NodeKind::Bool(b)) => Some(AnswerValue::Boolean(*b)),
            (ItemType::Integer, NodeKind::Int(i)) => Some(AnswerValue::Integer(*i)),
            (ItemType::Decimal, NodeKind::Int(i)) => Some(AnswerValue::Decimal(*i as f64)),
            (ItemType::Decimal, NodeKind::Float(f)) => Some(AnswerValue::Decimal(*f)),
            (ItemType::Quantity, NodeKind::Int(_) | NodeKind::Float(_)) => {
                Some(AnswerValue::Quantity {
                    value: node.to_json().as_f64().unwrap_or_default(),
                    unit: item.units.first().cloned(),
                })
            }
            (ItemType::Quantity, NodeKind::Map(_)) => {
                let value = node.get("value").and_then(|v| v.to_json().as_f64());
                let unit = node.get("unit").and_then(Node::as_str);
                match (value, unit) {
                    (Some(value), Some(unit)) => Some(AnswerValue::Quantity {
                        value,
                        unit: Some(
                            item.units
                                .iter()
                                .find(|u| u.code == unit)
                                .cloned()
                                .unwrap_or(Coding {
                                    system: Some(UCUM.into()),
                                    code: unit.into(),
                                    display: None,
                                }),
                        ),
                    }),
                    _ => None,
                }
            }
            (ItemType::Date, _) => text.and_then(values::date).map(AnswerValue::Date),
            (ItemType::DateTime, _) => text.and_then(values::date_time).map(AnswerValue::DateTime),
            (ItemType::Time, _) => text.and_then(values::time).map(AnswerValue::Time),
            (ItemType::String | ItemType::Text, NodeKind::Str(s)) => {
                Some(AnswerValue::String(s.clone()))
            }
            (ItemType::Choice | ItemType::OpenChoice, NodeKind::Str(_) | NodeKind::Int(_)) => {
                let code = node
                    .to_json()
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| node.to_json().to_string());
                let system = item
                    .options
                    .iter()
                    .find(|o| o.code == code)
                    .and_then(|o| o.system.clone());
                Some(AnswerValue::Coding(Coding {
                    system,
                    code,
                    display: None,
                }))
            }
            _ => None,
        };
        if value.is_none() {
            let expected = match t {
                ItemType::Date => "a date like 2024-05-31",
                ItemType::DateTime => "a date-time with zone like 2024-05-31T14:30:00+05:30",
                ItemType::Time => "a time like 14:30",
                ItemType::Integer => "a whole number",
                ItemType::Decimal => "a number",
                ItemType::Quantity => "a number, or {value, unit}",
                ItemType::Boolean => "true or false",
                ItemType::Choice | ItemType::OpenChoice => "an option code",
                _ => "text",
            };
            let found = match &node.kind {
                NodeKind::Str(s) => format!("'{s}'"),
                _ => node.type_name().to_string(),
            };
            let issue = self.issue_at(
                node.line,
                path,
                format!("expected {expected} for a {} item, found {found}", t.code()),
            );
            self.issues.push(issue);
        }
        value
    }

    fn enable_when(&mut self, node: &Node, path: &str) -> Vec<EnableWhen> {
        let mut conditions = Vec::new();
        for cond in self.list(node, path).to_vec() {
            let Some(entries) = cond.as_map() else {
                self.wrong(&cond, path, "a condition {question, operator, answer}");
                continue;
            };
            for (key, _) in entries {
                if !["question", "operator", "answer"].contains(&key.name.as_str()) {
                    let m = unknown_key(
                        &key.name,
                        &["question", "operator", "answer"],
                        "an enableWhen condition",
                    );
                    self.issue(key, path, m);
                }
            }
            let question = cond
                .get("question")
                .and_then(Node::as_str)
                .unwrap_or_default()
                .to_string();
            let operator = match cond
                .get("operator")
                .map(|o| (o, o.as_str().and_then(EnableOperator::from_code)))
            {
                Some((_, Some(op))) => op,
                Some((o, None)) => {
                    let issue = self.issue_at(
                        o.line,
                        path,
                        format!(
                            "unknown enableWhen operator {}; use exists, =, !=, >, <, >= or <=",
                            o.to_json()
                        ),
                    );
                    self.issues.push(issue);
                    continue;
                }
                None => {
                    let issue = self.issue_at(
                        cond.line,
                        path,
                        "an enableWhen condition needs question, operator and answer".into(),
                    );
                    self.issues.push(issue);
                    continue;
                }
            };
            let Some(answer_node) = cond.get("answer") else {
                let issue = self.issue_at(
                    cond.line,
                    path,
                    "an enableWhen condition needs an answer".into(),
                );
                self.issues.push(issue);
                continue;
            };
            let target_type = if operator == EnableOperator::Exists {
                Some(ItemType::Boolean)
            } else {
                self.types.get(&question).copied()
            };
            let answer = match target_type {
                // Unknown questions are reported by the checks, with a suggestion.
                None => Some(AnswerValue::String(String::new())),
                Some(t) => {
                    let placeholder = Item::new(&question, t);
                    self.answer(answer_node, t, &placeholder, path)
                }
            };
            if let Some(answer) = answer {
                conditions.push(EnableWhen {
                    question,
                    operator,
                    answer,
                });
            }
        }
        conditions
    }

    pub(super) fn constraints(&mut self, node: &Node, path: &str) -> Vec<Constraint> {
        let mut constraints = Vec::new();
        for (i, c) in self.list(node, path).to_vec().iter().enumerate() {
            let here = if path == "constraints" {
                format!("constraints[{i}]")
            } else {
                path.to_string()
            };
            let Some(entries) = c.as_map() else {
                self.wrong(c, &here, "a constraint {key, logic, message}");
                continue;
            };
            let mut key_name = None;
            let mut rule = None;
            let mut message = LocalText::default();
            for (key, value) in entries {
                match key.name.as_str() {
                    "key" => key_name = self.string(value, &here),
                    "logic" => rule = self.rule(value, &here),
                    "message" => message = self.text(value, &here),
                    other => {
                        let m = unknown_key(other, &["key", "logic", "message"], "a constraint");
                        self.issue(key, &here, m);
                    }
                }
            }
            if c.get("logic").is_none() {
                let issue = self.issue_at(
                    c.line,
                    &here,
                    "a constraint needs 'logic' (JSON Logic that must be true)".into(),
                );
                self.issues.push(issue);
            }
            if let Some(rule) = rule {
                let key = key_name.unwrap_or_else(|| {
                    format!(
                        "{}-{}",
                        path.split(' ')
                            .next_back()
                            .unwrap_or("form")
                            .trim_matches('\''),
                        i + 1
                    )
                });
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

    fn observation(&mut self, node: &Node, path: &str) -> Option<ObservationTarget> {
        let entries = node.as_map().or_else(|| {
            self.wrong(node, path, "a mapping {system, code, display, category}");
            None
        })?;
        let mut code = Coding {
            system: None,
            code: String::new(),
            display: None,
        };
        let mut category = None;
        for (key, value) in entries {
            match key.name.as_str() {
                "system" => code.system = self.string(value, path),
                "code" => code.code = self.string(value, path).unwrap_or_default(),
                "display" => code.display = self.string(value, path),
                "category" => category = self.string(value, path),
                other => {
                    let m = unknown_key(
                        other,
                        &["system", "code", "display", "category"],
                        "an observation",
                    );
                    self.issue(key, path, m);
                }
            }
        }
        if code.system.is_none() || code.code.is_empty() {
            let issue = self.issue_at(node.line, path, "an observation needs a system and a code (e.g. system: http://loinc.org, code: 29463-7)".into());
            self.issues.push(issue);
            return None;
        }
        Some(ObservationTarget { code, category })
    }
}
