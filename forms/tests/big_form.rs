//! A 100-item form renders and validates correctly.

mod common;

#[path = "common/big_form.rs"]
mod big_form;

use common::{context, meta};
use serde_json::json;
use tessera_forms::{Answers, Form, RenderInput};

fn form() -> Form {
    Form::from_yaml("big.yaml", &big_form::yaml()).unwrap_or_else(|issues| panic!("{issues:#?}"))
}

#[test]
fn the_generated_form_has_100_items() {
    let q = form().to_questionnaire();
    let count = q["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            1 + g["item"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| !i["linkId"].as_str().unwrap().ends_with("-help"))
                .count()
        })
        .sum::<usize>();
    assert_eq!(count, 100);
}

#[test]
fn a_100_item_form_validates_and_recomputes() {
    let form = form();
    let response = form.response_from_form_fields(&big_form::fields(), &meta());
    let valid = form
        .validate(&response, &context())
        .unwrap_or_else(|e| panic!("{e:#?}"));
    let qr = valid.questionnaire_response();
    for g in 0..big_form::PAGES {
        assert_eq!(
            common::answers_of(qr, &format!("p{g}_calc")),
            [json!({"valueDecimal": 45.5})]
        );
        assert_eq!(
            common::answers_of(qr, &format!("p{g}_follow")),
            [json!({"valueInteger": 7})]
        );
    }
    assert_eq!(valid.extract("Patient/p1", None).len(), big_form::PAGES);
}

#[test]
fn a_100_item_form_reports_errors_on_the_right_items() {
    let form = form();
    let mut fields = big_form::fields();
    for (name, value) in fields.iter_mut() {
        match name.as_str() {
            "p3_int" => *value = "101".into(),
            "p7_str" => *value = "R2-D2".into(),
            "p9_dec" => *value = "-1".into(),
            "p5_bool" => *value = "false".into(),
            _ => {}
        }
    }
    let errors = form
        .validate(
            &form.response_from_form_fields(&fields, &meta()),
            &context(),
        )
        .unwrap_err();
    let pairs: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.link_id.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(pairs, [
        ("p3_int", "Must be at most 100."),
        ("p5_follow", "This question does not apply to the answers given (it is hidden), so it must not be answered."),
        ("p7_str", "Does not have the expected format ([A-Za-z ]+)."),
        ("p9_dec", "Must not be negative"),
    ]);
}

#[test]
fn a_100_item_form_renders_every_item() {
    let form = form();
    let html = form.render(&RenderInput {
        answers: Some(Answers::from_response(
            &form.response_from_form_fields(&big_form::fields(), &meta()),
        )),
        context: Some(context()),
        ..RenderInput::default()
    });
    for g in 0..big_form::PAGES {
        assert!(html.contains(&format!(r#"<section class="form-page" id="item-page{g}""#)));
        for name in ["int", "dec", "str", "date", "qty", "follow", "calc"] {
            assert!(
                html.contains(&format!(r#"id="q-p{g}_{name}""#)),
                "p{g}_{name}"
            );
        }
        assert!(html.contains(&format!(
            r#"id="q-p{g}_choice-1" name="p{g}_choice" value="b" checked"#
        )));
        assert!(html.contains(&format!(
            r#"id="q-p{g}_calc" name="p{g}_calc" value="45.5""#
        )));
    }
    assert_eq!(
        html.matches("<label for=").count(),
        10 * (7 + 3 + 2),
        "every control has a label"
    );
}
