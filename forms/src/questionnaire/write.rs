//! Form → Questionnaire.

use serde_json::{json, Map, Value};

use super::{url, JSON_LOGIC};
use crate::definition::{
    json_number, AnswerValue, CodeSystemDef, Coding, Constraint, EnableBehavior, Form, Item,
    ItemType,
};
use crate::locale::LocalText;
use crate::logic::Rule;

impl Form {
    /// The form as a FHIR R4 Questionnaire with SDC extensions (see docs/forms.md for the
    /// mapping). [`Form::from_questionnaire`] reads it back to an equal form.
    pub fn to_questionnaire(&self) -> Value {
        let lang = self.language.as_str();
        let mut q = Map::new();
        q.insert("resourceType".into(), json!("Questionnaire"));
        q.insert("id".into(), json!(self.id));
        q.insert("url".into(), json!(self.url));
        q.insert("version".into(), json!(self.version.to_string()));
        put_text(&mut q, "title", &self.title, lang);
        q.insert("status".into(), json!(self.status));
        q.insert("language".into(), json!(lang));
        if !self.description.is_empty() {
            put_text(&mut q, "description", &self.description, lang);
        }
        if !self.code_systems.is_empty() {
            let contained: Vec<Value> = self
                .code_systems
                .iter()
                .flat_map(|cs| code_system_resources(cs, lang))
                .collect();
            q.insert("contained".into(), Value::Array(contained));
        }
        if !self.constraints.is_empty() {
            let ext: Vec<Value> = self
                .constraints
                .iter()
                .map(|c| constraint(c, lang))
                .collect();
            q.insert("extension".into(), Value::Array(ext));
        }
        let items: Vec<Value> = self.items.iter().map(|i| self.item_json(i)).collect();
        q.insert("item".into(), Value::Array(items));
        Value::Object(q)
    }

    fn item_json(&self, item: &Item) -> Value {
        let lang = self.language.as_str();
        let mut o = Map::new();
        let mut ext: Vec<Value> = Vec::new();
        o.insert("linkId".into(), json!(item.link_id));
        if !item.text.is_empty() {
            put_text(&mut o, "text", &item.text, lang);
        }
        o.insert("type".into(), json!(item.item_type.code()));
        if !item.enable_when.is_empty() {
            let conditions: Vec<Value> = item
                .enable_when
                .iter()
                .map(|c| {
                    let question = self.item(&c.question);
                    let mut cond = Map::new();
                    cond.insert("question".into(), json!(c.question));
                    cond.insert("operator".into(), json!(c.operator.code()));
                    let (suffix, value) = self.value_json(&c.answer, question);
                    cond.insert(format!("answer{suffix}"), value);
                    Value::Object(cond)
                })
                .collect();
            o.insert("enableWhen".into(), Value::Array(conditions));
            if item.enable_when.len() > 1 {
                let behavior = match item.enable_behavior {
                    EnableBehavior::All => "all",
                    EnableBehavior::Any => "any",
                };
                o.insert("enableBehavior".into(), json!(behavior));
            }
        }
        for (flag, key) in [
            (item.required, "required"),
            (item.repeats, "repeats"),
            (item.read_only && item.calculated.is_none(), "readOnly"),
        ] {
            if flag {
                o.insert(key.into(), json!(true));
            }
        }
        if let Some(n) = item.max_length {
            o.insert("maxLength".into(), json!(n));
        }
        if let Some(vs) = &item.value_set {
            o.insert("answerValueSet".into(), json!(format!("#{vs}")));
        }
        if !item.options.is_empty() {
            let options: Vec<Value> = item
                .options
                .iter()
                .map(|opt| {
                    let mut coding = Map::new();
                    if let Some(s) = &opt.system {
                        coding.insert("system".into(), json!(s));
                    }
                    coding.insert("code".into(), json!(opt.code));
                    put_text(&mut coding, "display", &opt.display, lang);
                    let mut option = Map::new();
                    option.insert("valueCoding".into(), Value::Object(coding));
                    if opt.initial_selected {
                        option.insert("initialSelected".into(), json!(true));
                    }
                    Value::Object(option)
                })
                .collect();
            o.insert("answerOption".into(), Value::Array(options));
        }
        if !item.initial.is_empty() {
            let initial: Vec<Value> = item
                .initial
                .iter()
                .map(|v| {
                    let (suffix, value) = self.value_json(v, Some(item));
                    json!({ format!("value{suffix}"): value })
                })
                .collect();
            o.insert("initial".into(), Value::Array(initial));
        }
        if let Some(target) = &item.observation {
            o.insert("code".into(), json!([coding_json(&target.code)]));
            ext.push(json!({"url": url::OBSERVATION_EXTRACT, "valueBoolean": true}));
            if let Some(category) = &target.category {
                ext.push(json!({"url": url::OBSERVATION_CATEGORY, "valueCodeableConcept": {"coding": [{"system": url::OBSERVATION_CATEGORY_SYSTEM, "code": category}]}}));
            }
        }
        if item.page {
            ext.push(item_control("page"));
        }
        let bounds = [
            (&item.min, url::MIN_VALUE, url::MIN_QUANTITY),
            (&item.max, url::MAX_VALUE, url::MAX_QUANTITY),
        ];
        for (bound, value_url, quantity_url) in bounds {
            if let Some(b) = bound {
                if item.item_type == ItemType::Quantity {
                    let mut quantity = Map::new();
                    quantity.insert(
                        "value".into(),
                        json_number(b.as_number().unwrap_or_default()),
                    );
                    if let Some(unit) = item.units.first() {
                        quantity.insert("system".into(), json!(unit.system));
                        quantity.insert("code".into(), json!(unit.code));
                    }
                    ext.push(json!({"url": quantity_url, "valueQuantity": quantity}));
                } else {
                    let (suffix, value) = self.value_json(b, Some(item));
                    ext.push(json!({"url": value_url, format!("value{suffix}"): value}));
                }
            }
        }
        if let Some(regex) = &item.regex {
            ext.push(json!({"url": url::REGEX, "valueString": regex}));
        }
        if !item.entry_format.is_empty() {
            let mut e = Map::new();
            e.insert("url".into(), json!(url::ENTRY_FORMAT));
            put_text(&mut e, "valueString", &item.entry_format, lang);
            ext.push(Value::Object(e));
        }
        for unit in &item.units {
            ext.push(json!({"url": url::UNIT_OPTION, "valueCoding": coding_json(unit)}));
        }
        let expressions = [
            (url::ENABLE_WHEN_EXPRESSION, &item.enable_when_expression),
            (url::CALCULATED, &item.calculated),
            (url::INITIAL_EXPRESSION, &item.prefill),
        ];
        for (ext_url, rule) in expressions {
            if let Some(rule) = rule {
                ext.push(json!({"url": ext_url, "valueExpression": expression(rule)}));
            }
        }
        ext.extend(item.constraints.iter().map(|c| constraint(c, lang)));
        if !ext.is_empty() {
            o.insert("extension".into(), Value::Array(ext));
        }
        let mut children: Vec<Value> = Vec::new();
        if !item.help.is_empty() {
            let mut help = Map::new();
            help.insert("linkId".into(), json!(format!("{}-help", item.link_id)));
            put_text(&mut help, "text", &item.help, lang);
            help.insert("type".into(), json!("display"));
            help.insert("extension".into(), json!([item_control("help")]));
            children.push(Value::Object(help));
        }
        children.extend(item.items.iter().map(|i| self.item_json(i)));
        if !children.is_empty() {
            o.insert("item".into(), Value::Array(children));
        }
        Value::Object(o)
    }

    /// `(value[x] suffix, JSON)` of a typed value; codings take their system and display
    /// from the options of `item`, so the output is the same however the value was read.
    pub(crate) fn value_json(
        &self,
        value: &AnswerValue,
        item: Option<&Item>,
    ) -> (&'static str, Value) {
        let json = match value {
            AnswerValue::Boolean(b) => json!(b),
            AnswerValue::Decimal(f) => json_number(*f),
            AnswerValue::Integer(i) => json!(i),
            AnswerValue::Date(s)
            | AnswerValue::DateTime(s)
            | AnswerValue::Time(s)
            | AnswerValue::String(s) => json!(s),
            AnswerValue::Coding(c) => {
                let option = item.and_then(|i| {
                    self.options_of(i)
                        .iter()
                        .find(|o| o.code == c.code)
                        .map(|o| (i, o))
                });
                let mut coding = Map::new();
                let system = match option {
                    Some((i, o)) => self.option_system(i, o).map(str::to_string),
                    None => c.system.clone(),
                };
                if let Some(system) = system {
                    coding.insert("system".into(), json!(system));
                }
                coding.insert("code".into(), json!(c.code));
                if let Some((_, o)) = option {
                    coding.insert(
                        "display".into(),
                        json!(o.display.default_text(&self.language)),
                    );
                } else if let Some(d) = &c.display {
                    coding.insert("display".into(), json!(d));
                }
                Value::Object(coding)
            }
            AnswerValue::Quantity { value, unit } => {
                let mut q = Map::new();
                q.insert("value".into(), json_number(*value));
                if let Some(u) = unit {
                    q.insert(
                        "unit".into(),
                        json!(u.display.clone().unwrap_or_else(|| u.code.clone())),
                    );
                    if let Some(system) = &u.system {
                        q.insert("system".into(), json!(system));
                    }
                    q.insert("code".into(), json!(u.code));
                }
                Value::Object(q)
            }
        };
        (value.fhir_suffix(), json)
    }
}

fn coding_json(c: &Coding) -> Value {
    let mut o = Map::new();
    if let Some(s) = &c.system {
        o.insert("system".into(), json!(s));
    }
    o.insert("code".into(), json!(c.code));
    if let Some(d) = &c.display {
        o.insert("display".into(), json!(d));
    }
    Value::Object(o)
}

fn item_control(code: &str) -> Value {
    json!({"url": url::ITEM_CONTROL, "valueCodeableConcept": {"coding": [{"system": url::ITEM_CONTROL_SYSTEM, "code": code}]}})
}

fn expression(rule: &Rule) -> Value {
    json!({"language": JSON_LOGIC, "expression": rule.source().to_string()})
}

fn constraint(c: &Constraint, lang: &str) -> Value {
    let mut human = Map::new();
    human.insert("url".into(), json!("human"));
    put_text(&mut human, "valueString", &c.message, lang);
    json!({"url": url::TARGET_CONSTRAINT, "extension": [
        {"url": "key", "valueId": c.key},
        {"url": "severity", "valueCode": "error"},
        {"url": "expression", "valueExpression": expression(&c.rule)},
        Value::Object(human),
    ]})
}

/// Writes `key` with the default-language text and `_key` with translations of the others.
fn put_text(o: &mut Map<String, Value>, key: &str, text: &LocalText, lang: &str) {
    o.insert(key.into(), json!(text.default_text(lang)));
    let translations: Vec<Value> = text
        .entries()
        .iter()
        .filter(|(l, _)| l != lang)
        .map(|(l, t)| {
            json!({"url": url::TRANSLATION, "extension": [
                {"url": "lang", "valueCode": l},
                {"url": "content", "valueString": t},
            ]})
        })
        .collect();
    if !translations.is_empty() {
        o.insert(format!("_{key}"), json!({"extension": translations}));
    }
}

/// A code system as a contained CodeSystem plus the ValueSet (`#<id>`) that items name.
fn code_system_resources(cs: &CodeSystemDef, lang: &str) -> [Value; 2] {
    let concepts: Vec<Value> = cs
        .concepts
        .iter()
        .map(|c| {
            let mut concept = Map::new();
            concept.insert("code".into(), json!(c.code));
            concept.insert("display".into(), json!(c.display.default_text(lang)));
            let designations: Vec<Value> = c
                .display
                .entries()
                .iter()
                .filter(|(l, _)| l != lang)
                .map(|(l, t)| json!({"language": l, "value": t}))
                .collect();
            if !designations.is_empty() {
                concept.insert("designation".into(), Value::Array(designations));
            }
            Value::Object(concept)
        })
        .collect();
    [
        json!({"resourceType": "CodeSystem", "id": format!("{}-system", cs.id), "url": cs.url,
               "status": "active", "content": "complete", "concept": concepts}),
        json!({"resourceType": "ValueSet", "id": cs.id, "status": "active",
               "compose": {"include": [{"system": cs.url}]}}),
    ]
}
