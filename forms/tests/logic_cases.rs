//! One set of JSON Logic cases for the server engine and the browser evaluator, plus the
//! official JsonLogic suite for both.

use std::process::Command;

use serde_json::Value;
use tessera_forms::logic::Rule;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    all.into_iter().filter(|c| !c.is_string()).collect()
}

/// Equal JSON, with numbers compared by value (`3` equals `3.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-12
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn shared_cases_pass_in_the_server_engine() {
    let cases = load("logic-cases.json");
    assert!(cases.len() > 60);
    let mut failures = Vec::new();
    for c in &cases {
        let outcome = Rule::compile(&c["rule"]).and_then(|rule| rule.evaluate(&c["data"]));
        let ok = match (&outcome, c.get("error")) {
            (Err(_), Some(_)) => true,
            (Ok(result), None) => same(result, &c["result"]),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}: expected {}, got {outcome:?}",
                c["description"],
                c.get("result").unwrap_or(&Value::from("an error"))
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn official_jsonlogic_suite_passes_in_the_server_engine() {
    let cases = load("jsonlogic-tests.json");
    assert!(cases.len() > 250);
    let mut failures = Vec::new();
    for c in &cases {
        let (rule, data, expected) = (&c[0], &c[1], &c[2]);
        // Every operator of the official suite is portable, so the forms' own check applies.
        let outcome = Rule::compile(rule).and_then(|r| r.evaluate(data));
        if !matches!(&outcome, Ok(result) if same(result, expected)) {
            failures.push(format!(
                "{rule} with {data}: expected {expected}, got {outcome:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed: {failures:#?}",
        failures.len(),
        cases.len()
    );
}

#[test]
fn browser_evaluator_passes_the_same_cases() {
    let script = format!("{}/tests/run-logic-cases.js", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("node")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| {
            panic!("running `node {script}` failed ({e}); node 20 must be installed")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "form.js failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn the_served_script_is_the_tested_one() {
    let on_disk =
        std::fs::read_to_string(format!("{}/assets/form.js", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert_eq!(tessera_forms::FORM_SCRIPT, on_disk);
    assert!(
        !tessera_forms::FORM_SCRIPT.contains("eval("),
        "no eval, so a strict CSP works"
    );
}
