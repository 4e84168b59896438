//! JSON Logic: one engine for every rule of a form, on the server and (through the same
//! cases) in the browser.
//!
//! Rules run on [datalogic-rs](https://docs.rs/datalogic-rs), which passes the official
//! JsonLogic suite, plus the custom operators of `ops.rs` (date arithmetic, rounding,
//! observation look-up). Forms may only use the operators that `assets/form.js` also
//! implements ([`PORTABLE_OPERATORS`]), so a rule can never work on the server and fail in the
//! browser; [`Rule::compile`] refuses anything else with a message naming the operator.

mod context;
pub mod dates;
mod ops;
mod refs;

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, LazyLock};

use datalogic_rs::{Engine, Logic, Session};
use serde_json::Value;

pub use context::{LogicContext, ObservationFact, PatientFacts};
pub use refs::variables;

/// The operators a form rule may use: standard JsonLogic plus Tessera's custom ones.
/// Each has the same meaning in this crate and in `assets/form.js`.
pub const PORTABLE_OPERATORS: &[&str] = &[
    // data access
    "var",
    "missing",
    "missing_some",
    // logic and comparison
    "if",
    "?:",
    "==",
    "===",
    "!=",
    "!==",
    "!",
    "!!",
    "or",
    "and",
    ">",
    ">=",
    "<",
    "<=",
    // arithmetic
    "max",
    "min",
    "+",
    "-",
    "*",
    "/",
    "%",
    // arrays
    "map",
    "filter",
    "reduce",
    "all",
    "none",
    "some",
    "merge",
    "in",
    // strings
    "cat",
    "substr",
    // debugging (returns its argument)
    "log",
    // Tessera custom operators (see `ops` and docs/forms.md)
    "date_add",
    "days_between",
    "months_between",
    "years_between",
    "round",
    "floor",
    "observation",
];

/// Why a rule could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicError {
    /// What went wrong, in words a form author can act on.
    pub message: String,
}

impl fmt::Display for LogicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LogicError {}

impl LogicError {
    fn new(message: impl Into<String>) -> Self {
        LogicError {
            message: message.into(),
        }
    }
}

/// The shared engine with Tessera's custom operators registered.
static ENGINE: LazyLock<Engine> = LazyLock::new(ops::engine_with_custom_operators);

thread_local! {
    // One evaluation arena per thread, reset after each call: evaluation then allocates
    // nothing on the heap once the arena has grown to the largest rule's needs.
    static SESSION: RefCell<Session<'static>> = RefCell::new(ENGINE.session());
}

/// A compiled JSON Logic rule, cheap to clone and safe to share between threads.
#[derive(Clone)]
pub struct Rule {
    source: Value,
    compiled: Arc<Logic>,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rule({})", self.source)
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Rule {
    /// Compiles a rule, refusing operators outside [`PORTABLE_OPERATORS`].
    ///
    /// The message says which operator is wrong, e.g. `unknown operator 'foo'`.
    pub fn compile(logic: &Value) -> Result<Rule, LogicError> {
        check_operators(logic)?;
        let compiled = ENGINE
            .compile(logic)
            .map_err(|e| LogicError::new(e.to_string()))?;
        Ok(Rule {
            source: logic.clone(),
            compiled: Arc::new(compiled),
        })
    }

    /// Compiles a rule with every operator the engine knows, portable or not. Only for
    /// checking the engine itself against the official JsonLogic suite.
    #[doc(hidden)]
    pub fn compile_any(logic: &Value) -> Result<Rule, LogicError> {
        let compiled = ENGINE
            .compile(logic)
            .map_err(|e| LogicError::new(e.to_string()))?;
        Ok(Rule {
            source: logic.clone(),
            compiled: Arc::new(compiled),
        })
    }

    /// Evaluates the rule against `data`.
    pub fn evaluate(&self, data: &Value) -> Result<Value, LogicError> {
        SESSION.with(|session| {
            let mut session = session.borrow_mut();
            let result = session
                .eval_into::<Value, _>(&self.compiled, data)
                .map_err(|e| LogicError::new(e.to_string()));
            session.reset();
            result
        })
    }

    /// Evaluates the rule and applies JsonLogic truthiness to the result; an evaluation
    /// error counts as false.
    pub fn is_true(&self, data: &Value) -> bool {
        self.evaluate(data).map(|v| truthy(&v)).unwrap_or(false)
    }

    /// The rule as written.
    pub fn source(&self) -> &Value {
        &self.source
    }
}

/// JsonLogic truthiness: `false`, `null`, `0`, `""` and `[]` are false, everything else true.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

/// Walks a rule and refuses any operator the browser evaluator does not have.
fn check_operators(logic: &Value) -> Result<(), LogicError> {
    match logic {
        Value::Array(items) => items.iter().try_for_each(check_operators),
        Value::Object(map) if map.len() == 1 => {
            let (op, args) = map.iter().next().expect("one entry");
            if !PORTABLE_OPERATORS.contains(&op.as_str()) {
                return Err(if ENGINE.builtin_operator_names().any(|b| b == op) {
                    LogicError::new(format!(
                        "operator '{op}' is not supported in forms (the browser evaluator does not have it)"
                    ))
                } else {
                    LogicError::new(format!("unknown operator '{op}'"))
                });
            }
            check_operators(args)
        }
        Value::Object(map) => Err(LogicError::new(format!(
            "an operation must have exactly one key (the operator), found {}: {}",
            map.len(),
            map.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compiles_and_evaluates() {
        let rule = Rule::compile(&json!({"+": [{"var": "a"}, 2]})).unwrap();
        assert_eq!(rule.evaluate(&json!({"a": 40})).unwrap(), json!(42));
    }

    #[test]
    fn refuses_unknown_and_unportable_operators() {
        let err = Rule::compile(&json!({"foo": [1]})).unwrap_err();
        assert_eq!(err.message, "unknown operator 'foo'");
        let err = Rule::compile(&json!({"if": [true, {"val": "a"}, 1]})).unwrap_err();
        assert!(err.message.contains("'val' is not supported"), "{err}");
        let err = Rule::compile(&json!({"var": "a", "b": 1})).unwrap_err();
        assert!(err.message.contains("exactly one key"), "{err}");
    }

    #[test]
    fn truthiness_follows_jsonlogic() {
        for falsy in [json!(null), json!(false), json!(0), json!(""), json!([])] {
            assert!(!truthy(&falsy), "{falsy} is falsy");
        }
        for true_ in [json!(1), json!("0"), json!([0]), json!({})] {
            assert!(truthy(&true_), "{true_} is truthy");
        }
    }
}
