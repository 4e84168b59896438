//! Finds which data a rule reads, so forms can check references and order calculations.

use serde_json::Value;

/// The first path segment of every `var` (and every key of `missing`/`missing_some`) a rule
/// reads, in order of appearance, without duplicates. `{"var": "patient.age"}` gives
/// `patient`; `{"var": ""}` (the current element inside `map`/`filter`) gives nothing.
pub fn variables(logic: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(logic, &mut found);
    found
}

fn collect(logic: &Value, found: &mut Vec<String>) {
    match logic {
        Value::Array(items) => items.iter().for_each(|i| collect(i, found)),
        Value::Object(map) if map.len() == 1 => {
            let (op, args) = map.iter().next().expect("one entry");
            match op.as_str() {
                "var" => {
                    let path = match args {
                        Value::Array(a) => a.first(),
                        other => Some(other),
                    };
                    match path {
                        Some(Value::String(p)) => add(p, found),
                        Some(other @ (Value::Object(_) | Value::Array(_))) => collect(other, found),
                        _ => {}
                    }
                }
                "missing" | "missing_some" => {
                    let keys = if op == "missing_some" {
                        args.get(1)
                    } else {
                        Some(args)
                    };
                    match keys {
                        Some(Value::Array(ks)) => ks.iter().for_each(|k| match k {
                            Value::String(p) => add(p, found),
                            other => collect(other, found),
                        }),
                        Some(Value::String(p)) => add(p, found),
                        Some(other) => collect(other, found),
                        None => {}
                    }
                }
                // Inside map/filter/reduce/all/none/some the second argument reads the
                // current element, not the form's data: only the first one names data.
                "map" | "filter" | "all" | "none" | "some" | "reduce" => {
                    if let Value::Array(a) = args {
                        if let Some(first) = a.first() {
                            collect(first, found);
                        }
                        if op == "reduce" {
                            if let Some(init) = a.get(2) {
                                collect(init, found);
                            }
                        }
                    }
                }
                _ => collect(args, found),
            }
        }
        _ => {}
    }
}

fn add(path: &str, found: &mut Vec<String>) {
    let head = path.split('.').next().unwrap_or_default();
    if !head.is_empty() && !found.iter().any(|f| f == head) {
        found.push(head.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_variables_once_in_order() {
        let rule = json!({"/": [{"var": "weight"}, {"*": [{"var": ["height", 0]}, {"var": "height"}]}],
                          "x": 1});
        assert_eq!(
            variables(&rule),
            Vec::<String>::new(),
            "two keys: not an operation"
        );
        let rule = json!({"/": [{"var": "weight"}, {"*": [{"var": ["height", 0]}, {"var": "patient.age"}]}]});
        assert_eq!(variables(&rule), ["weight", "height", "patient"]);
    }

    #[test]
    fn ignores_current_element_inside_iterators() {
        let rule = json!({"some": [{"var": "symptoms"}, {"==": [{"var": ""}, "fever"]}]});
        assert_eq!(variables(&rule), ["symptoms"]);
        let rule = json!({"missing_some": [1, ["a", "b"]]});
        assert_eq!(variables(&rule), ["a", "b"]);
    }
}
