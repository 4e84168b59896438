//! Index entries: what each search parameter finds in a resource, as typed values the query
//! engine compares. Pure functions; the index tables and queries build on them (issue #3).
//!
//! Element types are recognised by the item's FHIR type where the path gave one (choice
//! elements, casts) and otherwise by shape: `coding` makes a CodeableConcept, `reference` a
//! Reference, `family`/`given` a HumanName, and so on.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};
use unicode_normalization::UnicodeNormalization;

use super::fhirpath::{reference_type, Item};
use super::registry::{ParamType, SearchParam, SearchRegistry};

#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    /// `normalized` is lowercased with accents removed, for the default and `:contains`
    /// matches; `exact` keeps the text as written, for `:exact`.
    String {
        normalized: String,
        exact: String,
    },
    /// `text` is the display/text, for `:text`.
    Token {
        system: Option<String>,
        code: Option<String>,
        text: Option<String>,
    },
    /// A literal reference: `Type/id` parts when it has them, and the reference as written.
    Reference {
        target_type: Option<String>,
        target_id: Option<String>,
        url: String,
    },
    /// The instants the value covers, inclusive, in microseconds since the Unix epoch
    /// (`2020` covers the whole year; an open Period end is unbounded).
    Date {
        low: i64,
        high: i64,
    },
    /// The value and the range its written precision implies (`100` is 99.5..100.5).
    Number {
        value: f64,
        low: f64,
        high: f64,
    },
    Quantity {
        value: f64,
        low: f64,
        high: f64,
        system: Option<String>,
        code: Option<String>,
    },
    Uri(String),
    /// `Reference.identifier`, for the `:identifier` modifier.
    ReferenceIdentifier {
        system: Option<String>,
        value: String,
    },
    /// A composite of a token and a second value taken from the same element (an
    /// Observation's code and its value, or one component's code and value).
    Composite {
        system: Option<String>,
        code: Option<String>,
        second: Box<IndexValue>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub param: String,
    pub value: IndexValue,
}

/// All index entries of `resource` under the parameters of its type.
pub fn extract(registry: &SearchRegistry, resource: &Value) -> Vec<IndexEntry> {
    let Some(ty) = resource["resourceType"].as_str() else {
        return Vec::new();
    };
    let mut entries = Vec::new();
    for param in registry.for_type(ty) {
        let values = if param.kind() == ParamType::Composite {
            composite_values(registry, param, resource)
        } else {
            param_values(param, resource)
        };
        for value in values {
            entries.push(IndexEntry {
                param: param.code().to_string(),
                value,
            });
        }
    }
    entries
}

/// The values of a token-plus-value composite: for each element the base expression finds,
/// every pair of its first component's tokens and its second component's values.
pub fn composite_values(
    registry: &SearchRegistry,
    param: &SearchParam,
    resource: &Value,
) -> Vec<IndexValue> {
    let (Some(expression), Some((_, second_kind))) =
        (&param.expression, registry.composite_kinds(param))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for base in expression.evaluate(resource) {
        let at = |i: usize| {
            param.components[i]
                .expression
                .evaluate_at(base.value, resource)
        };
        let seconds: Vec<IndexValue> = at(1)
            .iter()
            .flat_map(|item| values_of(second_kind, item))
            .collect();
        for first in at(0)
            .iter()
            .flat_map(|item| values_of(ParamType::Token, item))
        {
            let IndexValue::Token { system, code, .. } = first else {
                continue;
            };
            for second in &seconds {
                out.push(IndexValue::Composite {
                    system: system.clone(),
                    code: code.clone(),
                    second: Box::new(second.clone()),
                });
            }
        }
    }
    out.dedup();
    out
}

/// The index values of one (non-composite) parameter.
pub fn param_values(param: &SearchParam, resource: &Value) -> Vec<IndexValue> {
    let Some(expression) = &param.expression else {
        return Vec::new();
    };
    let items = expression.evaluate(resource);
    let mut values: Vec<IndexValue> = items
        .iter()
        .flat_map(|item| values_of(param.kind(), item))
        .collect();
    values.dedup();
    values
}

fn values_of(kind: ParamType, item: &Item) -> Vec<IndexValue> {
    let v = item.value;
    let ty = item.fhir_type.as_deref();
    match kind {
        ParamType::String => strings(v).into_iter().map(string_value).collect(),
        ParamType::Token => tokens(v, ty),
        ParamType::Reference => reference(v)
            .into_iter()
            .chain(reference_identifier(v))
            .collect(),
        ParamType::Date => date(v).into_iter().collect(),
        ParamType::Number => v
            .as_number()
            .and_then(number_range)
            .map(|(value, low, high)| IndexValue::Number { value, low, high })
            .into_iter()
            .collect(),
        ParamType::Quantity => quantity(v).into_iter().collect(),
        ParamType::Uri => v
            .as_str()
            .map(|s| IndexValue::Uri(s.to_string()))
            .into_iter()
            .collect(),
        ParamType::Composite | ParamType::Special => Vec::new(),
    }
}

fn string_value(text: &str) -> IndexValue {
    IndexValue::String {
        normalized: normalize(text),
        exact: text.to_string(),
    }
}

/// Lowercase without accents, so `müller` matches `Muller`.
pub fn normalize(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The searchable texts of a string-typed element: the string itself, or the parts of a
/// HumanName or Address.
fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Object(o) => {
            const PARTS: &[&str] = &[
                "text",
                "family",
                "given",
                "prefix",
                "suffix",
                "line",
                "city",
                "district",
                "state",
                "postalCode",
                "country",
            ];
            PARTS
                .iter()
                .filter_map(|p| o.get(*p))
                .flat_map(|part| match part {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

fn tokens(v: &Value, ty: Option<&str>) -> Vec<IndexValue> {
    let s = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    match v {
        Value::String(code) => vec![IndexValue::Token {
            system: None,
            code: Some(code.clone()),
            text: None,
        }],
        Value::Bool(b) => vec![IndexValue::Token {
            system: None,
            code: Some(b.to_string()),
            text: None,
        }],
        Value::Object(_) if v.get("coding").is_some() || ty == Some("CodeableConcept") => {
            let text = s(v, "text");
            let mut out: Vec<IndexValue> = v["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| IndexValue::Token {
                    system: s(c, "system"),
                    code: s(c, "code"),
                    text: s(c, "display").or_else(|| text.clone()),
                })
                .collect();
            if out.is_empty() && text.is_some() {
                out.push(IndexValue::Token {
                    system: None,
                    code: None,
                    text,
                });
            }
            out
        }
        // Identifier and ContactPoint: the value, under its system.
        Value::Object(_) if v.get("value").is_some_and(Value::is_string) => {
            vec![IndexValue::Token {
                system: s(v, "system"),
                code: s(v, "value"),
                text: v["type"]["text"].as_str().map(str::to_string),
            }]
        }
        // Coding.
        Value::Object(_) if v.get("code").is_some() || v.get("system").is_some() => {
            vec![IndexValue::Token {
                system: s(v, "system"),
                code: s(v, "code"),
                text: s(v, "display"),
            }]
        }
        _ => Vec::new(),
    }
}

fn reference(v: &Value) -> Option<IndexValue> {
    let url = match v {
        Value::String(s) => s.as_str(), // canonical or uri
        Value::Object(_) => v.get("reference")?.as_str()?,
        _ => return None,
    };
    if url.starts_with('#') {
        return None;
    }
    let (target_type, target_id) = match reference_type(&serde_json::json!({ "reference": url })) {
        Some(ty) => {
            let path = url.split("/_history/").next().unwrap_or(url);
            (
                Some(ty.to_string()),
                path.rsplit('/').next().map(str::to_string),
            )
        }
        None => (None, None),
    };
    Some(IndexValue::Reference {
        target_type,
        target_id,
        url: url.to_string(),
    })
}

fn reference_identifier(v: &Value) -> Option<IndexValue> {
    let identifier = v.get("identifier")?;
    Some(IndexValue::ReferenceIdentifier {
        system: identifier
            .get("system")
            .and_then(Value::as_str)
            .map(str::to_string),
        value: identifier.get("value")?.as_str()?.to_string(),
    })
}

fn date(v: &Value) -> Option<IndexValue> {
    let (low, high) = match v {
        Value::String(s) => date_range(s)?,
        // Period; an open end is unbounded.
        Value::Object(o) if o.contains_key("start") || o.contains_key("end") => {
            let low = o
                .get("start")
                .and_then(Value::as_str)
                .and_then(date_range)
                .map_or(i64::MIN, |r| r.0);
            let high = o
                .get("end")
                .and_then(Value::as_str)
                .and_then(date_range)
                .map_or(i64::MAX, |r| r.1);
            (low, high)
        }
        // Timing: its events and repeat bounds.
        Value::Object(o) if o.contains_key("event") || o.contains_key("repeat") => {
            let mut ranges: Vec<(i64, i64)> = o
                .get("event")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().and_then(date_range))
                .collect();
            if let Some(IndexValue::Date { low, high }) = o
                .get("repeat")
                .and_then(|r| r.get("boundsPeriod"))
                .and_then(date)
            {
                ranges.push((low, high));
            }
            (
                ranges.iter().map(|r| r.0).min()?,
                ranges.iter().map(|r| r.1).max()?,
            )
        }
        _ => return None,
    };
    Some(IndexValue::Date { low, high })
}

/// The instants a FHIR date, dateTime or instant covers, by its precision. Values without a
/// time zone are taken as UTC.
pub fn date_range(text: &str) -> Option<(i64, i64)> {
    let micros = |t: OffsetDateTime| (t.unix_timestamp_nanos() / 1_000) as i64;
    let day_start = |d: Date| micros(PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc());
    match text.len() {
        4 => {
            let year: i32 = text.parse().ok()?;
            let start = Date::from_calendar_date(year, Month::January, 1).ok()?;
            let next = Date::from_calendar_date(year + 1, Month::January, 1).ok()?;
            Some((day_start(start), day_start(next) - 1))
        }
        7 => {
            let year: i32 = text.get(..4)?.parse().ok()?;
            let month = Month::try_from(text.get(5..7)?.parse::<u8>().ok()?).ok()?;
            let start = Date::from_calendar_date(year, month, 1).ok()?;
            let next = if month == Month::December {
                Date::from_calendar_date(year + 1, Month::January, 1).ok()?
            } else {
                Date::from_calendar_date(year, month.next(), 1).ok()?
            };
            Some((day_start(start), day_start(next) - 1))
        }
        10 => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let day = Date::parse(text, &format).ok()?;
            Some((day_start(day), day_start(day.next_day()?) - 1))
        }
        _ => {
            let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
            // The precision is that of the fraction written (whole seconds if none).
            let digits = text.split_once('.').map_or(0, |(_, rest)| {
                rest.bytes().take_while(u8::is_ascii_digit).count().min(6)
            });
            let width = 10i64.pow(6 - digits as u32);
            let low = micros(t);
            Some((low, low + width - 1))
        }
    }
}

/// A number and the range its written precision implies.
pub fn number_range(n: &serde_json::Number) -> Option<(f64, f64, f64)> {
    let value = n.as_f64()?;
    let text = n.to_string();
    let decimals = match text.split_once('.') {
        Some((_, frac)) if !frac.contains(['e', 'E']) => frac.len() as i32,
        _ => 0,
    };
    let half = 0.5 * 10f64.powi(-decimals);
    Some((value, value - half, value + half))
}

fn quantity(v: &Value) -> Option<IndexValue> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    // Range: the span from low to high.
    if v.get("low").is_some() || v.get("high").is_some() {
        let bound = |k: &str| {
            v.get(k)
                .and_then(|q| q.get("value"))
                .and_then(Value::as_f64)
        };
        let (low, high) = (
            bound("low").unwrap_or(f64::NEG_INFINITY),
            bound("high").unwrap_or(f64::INFINITY),
        );
        let unit = v.get("low").or_else(|| v.get("high"))?;
        let us = |k: &str| unit.get(k).and_then(Value::as_str).map(str::to_string);
        return Some(IndexValue::Quantity {
            value: if low.is_finite() { low } else { high },
            low,
            high,
            system: us("system"),
            code: us("code").or_else(|| us("unit")),
        });
    }
    let (value, low, high) = number_range(v.get("value")?.as_number()?)?;
    // Money has `currency` where Quantity has `code`.
    let code = s("code").or_else(|| s("currency")).or_else(|| s("unit"));
    let system = s("system").or_else(|| {
        v.get("currency")
            .map(|_| "urn:iso:std:iso:4217".to_string())
    });
    Some(IndexValue::Quantity {
        value,
        low,
        high,
        system,
        code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn date_precision_ranges() {
        let (low, high) = date_range("2020").unwrap();
        assert_eq!(low, 1_577_836_800_000_000);
        assert_eq!(high, 1_609_459_200_000_000 - 1);
        let (low, high) = date_range("2020-02").unwrap();
        assert_eq!(high - low + 1, 29 * 86_400_000_000, "leap February");
        let (low, high) = date_range("2020-12-31").unwrap();
        assert_eq!(high - low + 1, 86_400_000_000);
        let (low, high) = date_range("2020-01-01T10:00:00+02:00").unwrap();
        assert_eq!(low, 1_577_865_600_000_000);
        assert_eq!(high - low, 999_999);
        let (low, high) = date_range("2020-01-01T10:00:00.5Z").unwrap();
        assert_eq!(high - low, 99_999);
        let (low, high) = date_range("2020-01-01T10:00:00.25-05:00").unwrap();
        assert_eq!(low, 1_577_890_800_250_000);
        assert_eq!(high - low, 9_999);
        assert!(date_range("2020-13").is_none());
        assert!(date_range("yesterday").is_none());
    }

    #[test]
    fn strings_tokens_quantities() {
        assert_eq!(normalize("Müller ÅSA"), "muller asa");
        let name = json!({"family": "Müller", "given": ["Anna", "B"]});
        assert_eq!(strings(&name), vec!["Müller", "Anna", "B"]);
        let cc = json!({"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "HbA1c"}], "text": "A1c"});
        assert_eq!(
            tokens(&cc, None),
            vec![IndexValue::Token {
                system: Some("http://loinc.org".into()),
                code: Some("4548-4".into()),
                text: Some("HbA1c".into())
            }]
        );
        let id = json!({"system": "urn:mrn", "value": "42"});
        assert_eq!(
            tokens(&id, None),
            vec![IndexValue::Token {
                system: Some("urn:mrn".into()),
                code: Some("42".into()),
                text: None
            }]
        );
        let q =
            json!({"value": 7.25, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"});
        assert_eq!(
            quantity(&q),
            Some(IndexValue::Quantity {
                value: 7.25,
                low: 7.245,
                high: 7.255,
                system: Some("http://unitsofmeasure.org".into()),
                code: Some("%".into())
            })
        );
        let r = reference(&json!({"reference": "http://x/fhir/Patient/p1/_history/3"})).unwrap();
        assert_eq!(
            r,
            IndexValue::Reference {
                target_type: Some("Patient".into()),
                target_id: Some("p1".into()),
                url: "http://x/fhir/Patient/p1/_history/3".into()
            }
        );
        assert!(reference(&json!({"reference": "#contained"})).is_none());
    }

    #[test]
    fn periods_are_ranges() {
        let p = json!({"start": "2015-01-01T10:00:00Z"});
        assert_eq!(
            date(&p),
            Some(IndexValue::Date {
                low: date_range("2015-01-01T10:00:00Z").unwrap().0,
                high: i64::MAX
            })
        );
    }
}
