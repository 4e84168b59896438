//! Comparing a response with what a test expects: the expected JSON is a subset of the
//! actual one. An object matches when every key it gives matches (others may be there); an
//! array when it has as many items, each matching in order; a scalar when it is equal
//! (numbers by value, so `2` matches `2.0`).

use serde_json::Value;

/// One difference: where, and what was expected and found.
#[derive(Debug, PartialEq, Eq)]
pub struct Difference {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every place `actual` differs from `expected`, under `path` (`body`).
pub fn differences(path: &str, expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut found = Vec::new();
    compare(path, expected, actual, &mut found);
    found
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn compare(path: &str, expected: &Value, actual: &Value, found: &mut Vec<Difference>) {
    let mut differ = |message: String| {
        found.push(Difference {
            path: path.to_string(),
            message,
        })
    };
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let child = format!("{path}.{key}");
                match got.get(key) {
                    Some(actual) => compare(&child, value, actual, found),
                    None => found.push(Difference {
                        path: child,
                        message: format!("missing (expected {})", short(value)),
                    }),
                }
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                differ(format!(
                    "expected {} items, got {}: {}",
                    want.len(),
                    got.len(),
                    short(actual)
                ));
                return;
            }
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                compare(&format!("{path}[{i}]"), w, g, found);
            }
        }
        (Value::Number(want), Value::Number(got)) => {
            if want.as_f64() != got.as_f64() {
                differ(format!("expected {want}, got {got}"));
            }
        }
        (want, got) if std::mem::discriminant(want) != std::mem::discriminant(got) => {
            differ(format!(
                "expected {} {}, got {} {}",
                kind(want),
                short(want),
                kind(got),
                short(got)
            ));
        }
        (want, got) => {
            if want != got {
                differ(format!("expected {}, got {}", short(want), short(got)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_subset_matches() {
        let actual =
            json!({"message": "Hello", "count": 2.0, "items": [{"a": 1, "b": 2}], "extra": true});
        assert!(differences(
            "body",
            &json!({"message": "Hello", "count": 2, "items": [{"a": 1}]}),
            &actual
        )
        .is_empty());
    }

    #[test]
    fn differences_name_their_paths() {
        let actual = json!({"message": "Hi", "items": [1, 2, 3], "nested": {"n": "1"}});
        let found = differences(
            "body",
            &json!({"message": "Hello", "items": [1, 2], "nested": {"n": 1}, "gone": null}),
            &actual,
        );
        let text: Vec<String> = found.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            text,
            [
                "body.message: expected \"Hello\", got \"Hi\"",
                "body.items: expected 2 items, got 3: [1,2,3]",
                "body.nested.n: expected a number 1, got a string \"1\"",
                "body.gone: missing (expected null)",
            ]
        );
    }
}
