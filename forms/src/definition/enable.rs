//! FHIR enableWhen, compiled to JSON Logic so the server and the browser evaluate one thing.
//!
//! Each condition is false when its question is unanswered (except `exists false`), so
//! comparisons never meet `null`. For a repeating question, `=` holds when any answer is
//! equal, `!=` when none is, and `<`/`>`… when any answer compares.

use serde_json::{json, Value};

use super::model::{EnableBehavior, EnableOperator, EnableWhen};

/// The JSON Logic equivalent of an item's enableWhen list.
pub(crate) fn to_logic(
    conditions: &[EnableWhen],
    behavior: EnableBehavior,
    repeats: impl Fn(&str) -> bool,
) -> Value {
    let parts: Vec<Value> = conditions
        .iter()
        .map(|c| condition(c, repeats(&c.question)))
        .collect();
    match (parts.len(), behavior) {
        (1, _) => parts.into_iter().next().expect("one part"),
        (_, EnableBehavior::All) => json!({"and": parts}),
        (_, EnableBehavior::Any) => json!({"or": parts}),
    }
}

fn condition(c: &EnableWhen, repeats: bool) -> Value {
    let answered = json!({"!": {"missing": [c.question]}});
    let expected = c.answer.to_logic();
    let op = match c.operator {
        EnableOperator::Exists => {
            return if expected == Value::Bool(false) {
                json!({"!!": {"missing": [c.question]}})
            } else {
                answered
            };
        }
        EnableOperator::Equal | EnableOperator::NotEqual => "==",
        EnableOperator::Greater => ">",
        EnableOperator::Less => "<",
        EnableOperator::GreaterOrEqual => ">=",
        EnableOperator::LessOrEqual => "<=",
    };
    let compare = if repeats {
        let each = json!({op: [{"var": ""}, expected]});
        if c.operator == EnableOperator::NotEqual {
            json!({"none": [{"var": c.question}, each]})
        } else {
            json!({"some": [{"var": c.question}, each]})
        }
    } else {
        let test = json!({op: [{"var": c.question}, expected]});
        if c.operator == EnableOperator::NotEqual {
            json!({"!": test})
        } else {
            test
        }
    };
    json!({"and": [answered, compare]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::model::{AnswerValue, Coding};
    use crate::logic::Rule;

    fn cond(question: &str, operator: EnableOperator, answer: AnswerValue) -> EnableWhen {
        EnableWhen {
            question: question.into(),
            operator,
            answer,
        }
    }

    fn enabled(conditions: &[EnableWhen], behavior: EnableBehavior, data: Value) -> bool {
        let logic = to_logic(conditions, behavior, |q| q == "symptoms");
        Rule::compile(&logic).unwrap().is_true(&data)
    }

    #[test]
    fn equality_and_order_are_false_when_unanswered() {
        let pregnant = [cond(
            "pregnant",
            EnableOperator::Equal,
            AnswerValue::Boolean(true),
        )];
        assert!(enabled(
            &pregnant,
            EnableBehavior::All,
            json!({"pregnant": true})
        ));
        assert!(!enabled(
            &pregnant,
            EnableBehavior::All,
            json!({"pregnant": false})
        ));
        assert!(!enabled(&pregnant, EnableBehavior::All, json!({})));
        let not_yes = [cond(
            "pregnant",
            EnableOperator::NotEqual,
            AnswerValue::Boolean(true),
        )];
        assert!(!enabled(&not_yes, EnableBehavior::All, json!({})));
        assert!(enabled(
            &not_yes,
            EnableBehavior::All,
            json!({"pregnant": false})
        ));
        let older = [cond(
            "age",
            EnableOperator::GreaterOrEqual,
            AnswerValue::Integer(35),
        )];
        assert!(enabled(&older, EnableBehavior::All, json!({"age": 35})));
        assert!(!enabled(&older, EnableBehavior::All, json!({"age": 0})));
        assert!(!enabled(&older, EnableBehavior::All, json!({})));
        let after = [cond(
            "lmp",
            EnableOperator::Greater,
            AnswerValue::Date("2024-01-05".into()),
        )];
        assert!(enabled(
            &after,
            EnableBehavior::All,
            json!({"lmp": "2024-01-10"})
        ));
        assert!(!enabled(
            &after,
            EnableBehavior::All,
            json!({"lmp": "2023-12-31"})
        ));
    }

    #[test]
    fn exists_any_all_and_repeating_questions() {
        let answered = [cond(
            "weight",
            EnableOperator::Exists,
            AnswerValue::Boolean(true),
        )];
        assert!(enabled(
            &answered,
            EnableBehavior::All,
            json!({"weight": 0})
        ));
        assert!(!enabled(&answered, EnableBehavior::All, json!({})));
        let unanswered = [cond(
            "weight",
            EnableOperator::Exists,
            AnswerValue::Boolean(false),
        )];
        assert!(enabled(&unanswered, EnableBehavior::All, json!({})));
        let fever = AnswerValue::Coding(Coding {
            system: None,
            code: "fever".into(),
            display: None,
        });
        let two = [
            cond("symptoms", EnableOperator::Equal, fever.clone()),
            cond("age", EnableOperator::Less, AnswerValue::Integer(5)),
        ];
        let data = json!({"symptoms": ["cough", "fever"], "age": 7});
        assert!(enabled(&two, EnableBehavior::Any, data.clone()));
        assert!(!enabled(&two, EnableBehavior::All, data));
        let no_fever = [cond("symptoms", EnableOperator::NotEqual, fever)];
        assert!(enabled(
            &no_fever,
            EnableBehavior::All,
            json!({"symptoms": ["cough"]})
        ));
        assert!(!enabled(
            &no_fever,
            EnableBehavior::All,
            json!({"symptoms": ["fever"]})
        ));
    }
}
