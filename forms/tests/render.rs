//! Rendering: accessible markup, no-JavaScript posting, re-rendering with errors, escaping.

mod common;

use common::{anc, context, response};
use serde_json::Value;
use tessera_forms::{Answers, Form, ItemError, Locale, RenderInput, Translations};

fn new_form_input() -> RenderInput {
    let form = anc();
    RenderInput {
        action: "/t/demo/forms/anc-visit".into(),
        hidden_fields: vec![
            ("_csrf".into(), "tok\"en<".into()),
            ("_patient".into(), "Patient/p1".into()),
        ],
        prefill: form.prefill(&context()),
        context: Some(context()),
        script_url: Some("/static/forms/form.js".into()),
        time_zone: "+05:30".into(),
        ..RenderInput::default()
    }
}

/// The element (start tag) with `id="<id>"`.
fn tag<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element with id {id}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    &html[start..=end]
}

#[test]
fn labels_fieldsets_pages_and_required_marks() {
    let html = anc().render(&new_form_input());
    assert!(
        html.contains(
            r#"<label for="q-age">Age (years) <span class="required">(required)</span></label>"#
        ),
        "{html}"
    );
    assert!(tag(&html, "q-age").contains(r#"name="age""#));
    assert!(tag(&html, "q-age").contains(r#"aria-required="true""#));
    assert!(tag(&html, "q-age").contains(r#"inputmode="numeric""#));
    assert!(tag(&html, "item-history").starts_with(r#"<section class="form-page""#));
    assert!(html.contains(r#"<h2 id="item-history-heading">History</h2>"#));
    assert!(tag(&html, "item-assessment").starts_with(r#"<fieldset class="form-group""#));
    assert!(tag(&html, "item-risk").starts_with("<fieldset"));
    assert!(html.contains("<legend>Risk level</legend>"));
    assert!(
        tag(&html, "q-symptoms-0").contains(r#"type="checkbox""#),
        "a repeating choice is a set of checkboxes"
    );
    assert!(
        tag(&html, "q-risk-1").contains(r#"type="radio""#)
            && tag(&html, "q-risk-1").contains(r#"value="high""#)
    );
    assert!(html.contains(r#"<label for="q-risk-1">High risk</label>"#));
    assert!(
        tag(&html, "q-lmp").contains(r#"type="date""#)
            && tag(&html, "q-lmp").contains(r#"aria-describedby="q-lmp-help""#)
    );
    assert!(html.contains(r#"<p class="help" id="q-lmp-help">First day of the last period.</p>"#));
    assert!(tag(&html, "q-measured_at").contains(r#"type="datetime-local""#));
    assert!(tag(&html, "q-measured_time").contains(r#"type="time""#));
    assert!(html.contains("<textarea id=\"q-notes\" name=\"notes\""));
    assert!(tag(&html, "q-facility").contains(r#"list="q-facility-options""#));
    assert!(html.contains(
        r#"<datalist id="q-facility-options"><option value="District hospital"></option>"#
    ));
    assert!(
        tag(&html, "q-phone").contains(r#"placeholder="10 digits""#)
            && tag(&html, "q-phone").contains(r#"maxlength="10""#)
    );
    assert!(html.contains(r#"<span class="unit">kg</span>"#));
    assert!(html.contains(r#"<p class="form-display" id="item-intro" data-link-id="intro">Fill in what you measured today.</p>"#));
    // Keyboard order follows the form.
    let order: Vec<usize> = [
        "q-age",
        "q-lmp",
        "q-weight",
        "q-diastolic",
        "q-symptoms-0",
        "q-notes",
    ]
    .iter()
    .map(|id| html.find(&format!("id=\"{id}\"")).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(!html.contains("tabindex=\"1"), "no positive tabindex");
}

#[test]
fn a_new_form_shows_prefill_initial_values_and_hides_disabled_items() {
    let html = anc().render(&new_form_input());
    assert!(
        tag(&html, "q-age").contains(r#"value="31""#),
        "prefilled from the patient's birth date"
    );
    assert!(
        tag(&html, "q-weight").contains(r#"value="61""#),
        "prefilled from the latest weight"
    );
    assert!(
        tag(&html, "q-first_pregnancy-1").contains("checked"),
        "initial: false"
    );
    // referral_reason shows only for high risk: hidden, and its control disabled so it is not posted.
    assert!(tag(&html, "item-referral_reason").contains(" hidden"));
    assert!(tag(&html, "q-referral_reason").contains(" disabled"));
    assert!(
        !tag(&html, "item-previous_births").contains(" hidden"),
        "enabled because first_pregnancy is false"
    );
    assert!(
        tag(&html, "q-bmi").contains("readonly") && tag(&html, "q-bmi").contains("data-calculated")
    );
    // Hidden fields are posted along, escaped.
    assert!(
        html.contains(r#"<input type="hidden" name="_csrf" value="tok&quot;en&lt;">"#),
        "{html}"
    );
    assert!(html.contains(r#"<form class="tessera-form" method="post" action="/t/demo/forms/anc-visit" novalidate data-tessera-form"#));
    assert!(html.contains(r#"<script src="/static/forms/form.js" defer></script>"#));
    assert!(
        !html.contains("onclick") && !html.contains("onchange"),
        "no inline handlers"
    );
}

#[test]
fn the_logic_block_carries_the_same_rules_and_cannot_break_out() {
    let mut input = new_form_input();
    let mut ctx = context();
    ctx.patient.as_mut().unwrap().sex = Some("</script><b>".into());
    input.context = Some(ctx);
    let html = anc().render(&input);
    let start = html
        .find(r#"<script type="application/json" id="tessera-form-logic">"#)
        .unwrap();
    let body_start = start + html[start..].find('>').unwrap() + 1;
    let body_end = body_start + html[body_start..].find("</script>").unwrap();
    let spec: Value = serde_json::from_str(&html[body_start..body_end]).unwrap();
    assert_eq!(spec["context"]["patient"]["sex"], "</script><b>");
    assert_eq!(spec["timeZone"], "+05:30");
    let bmi = spec["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["linkId"] == "bmi")
        .unwrap();
    assert_eq!(
        bmi["calculated"],
        anc()
            .item("bmi")
            .unwrap()
            .calculated
            .as_ref()
            .unwrap()
            .source()
            .clone()
    );
    let order: Vec<&str> = spec["calculationOrder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(order.contains(&"due_date") && order.contains(&"apgar_previous"));
    let fever_days = spec["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["linkId"] == "fever_days")
        .unwrap();
    assert_eq!(fever_days["parent"], "assessment");
    assert!(
        fever_days["enable"]["and"].is_array(),
        "enableWhen compiled to JSON Logic"
    );
}

#[test]
fn a_failed_submission_re_renders_answers_and_errors() {
    let form = anc();
    let sent = response(&[
        ("age", "5"),
        ("phone", "12"),
        ("notes", "<img src=x onerror=alert(1)> & \"quotes\""),
    ]);
    let errors = form.validate(&sent, &context()).unwrap_err();
    let mut all_errors = errors.clone();
    all_errors.push(ItemError::new(
        "",
        "The visit must be after the last menstrual period.",
    ));
    let input = RenderInput {
        answers: Some(Answers::from_response(&sent)),
        errors: all_errors,
        ..new_form_input()
    };
    let html = form.render(&input);
    assert!(html.contains(r#"<div class="error-summary" id="error-summary" role="alert" tabindex="-1" aria-labelledby="error-summary-title">"#));
    assert!(
        html.contains(r##"<li><a href="#q-age">Age (years): Must be at least 10.</a></li>"##),
        "{html}"
    );
    assert!(html.contains(r##"<li><a href="#q-phone">Phone number: Does not have the expected format: 10 digits.</a></li>"##));
    assert!(
        html.contains("<li>The visit must be after the last menstrual period.</li>"),
        "form-level error, no link"
    );
    assert!(html.contains(r#"<p class="field-error" id="q-age-error"><span class="visually-hidden">Error:</span> Must be at least 10.</p>"#));
    let age = tag(&html, "q-age");
    assert!(
        age.contains(r#"aria-describedby="q-age-error""#)
            && age.contains(r#"aria-invalid="true""#)
            && age.contains(r#"value="5""#)
    );
    assert!(tag(&html, "item-age").contains("field--error"));
    // The user's text is shown, escaped.
    assert!(
        html.contains(
            "&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt; &amp; &quot;quotes&quot;</textarea>"
        ),
        "{html}"
    );
    assert!(!html.contains("<img src=x"));
    // ... in attributes too.
    let sent = response(&[("phone", "\"><b onclick=x>")]);
    let html = form.render(&RenderInput {
        answers: Some(Answers::from_response(&sent)),
        ..new_form_input()
    });
    assert!(
        tag(&html, "q-phone").contains(r#"value="&quot;&gt;&lt;b onclick&#x3D;x&gt;""#),
        "{}",
        tag(&html, "q-phone")
    );
    assert!(!html.contains("<b onclick"));
    // Calculated values come from the server.
    assert!(tag(&html, "q-bmi").contains(r#"value="24.2""#));
    assert!(tag(&html, "q-due_date").contains(r#"value="2024-10-07""#));
}

#[test]
fn a_plain_post_of_the_rendered_fields_reads_back() {
    let form = anc();
    let sent = response(&[
        ("first_pregnancy", "false"),
        ("previous_births", "1"),
        ("symptoms", "fever"),
    ]);
    let valid = form
        .validate(&sent, &context())
        .expect("the posted fields validate");
    let html = form.render(&RenderInput {
        answers: Some(Answers::from_response(valid.questionnaire_response())),
        ..new_form_input()
    });
    assert!(tag(&html, "q-symptoms-2").contains("checked"));
    assert!(
        !tag(&html, "item-fever_days").contains(" hidden"),
        "enabled by the fever answer"
    );
    assert!(tag(&html, "q-first_pregnancy-1").contains("checked"));
    assert!(tag(&html, "q-previous_births").contains(r#"value="1""#));
    assert!(tag(&html, "q-measured_at").contains(r#"value="2024-06-01T10:30""#));
}

#[test]
fn renders_in_the_requested_language() {
    let mut form = anc();
    form.apply_translations(
        &Translations::from_locale_file(
            "locales/hi.yaml",
            None,
            include_str!("forms/locales/hi.yaml"),
        )
        .unwrap(),
    );
    let html = form.render(&RenderInput {
        locale: Locale::new("hi-IN"),
        ..new_form_input()
    });
    assert!(html.contains(r#"<h1 class="form-title">प्रसवपूर्व देखभाल जाँच</h1>"#));
    assert!(html.contains(r#"<label for="q-visit_date">इस जाँच की तारीख <span class="required">(required)</span></label>"#));
    assert!(html.contains(r#"<label for="q-symptoms-2">बुखार</label>"#));
    assert!(html.contains(r#"lang="hi-IN""#));
}

#[test]
fn multiple_units_get_a_labelled_select_and_repeating_text_gets_another_input() {
    let yaml = "id: u\nversion: 1.0.0\ntitle: U\nitems:\n  - {linkId: site, type: choice, text: Site, readOnly: true, options: [a, b], initial: b}\n  - {linkId: w, type: quantity, text: Weight, units: [kg, {code: \"[lb_av]\", display: lb}]}\n  - {linkId: names, type: string, text: Names, repeats: true}\n";
    let form = Form::from_yaml("u.yaml", yaml).unwrap();
    let mut answers = Answers::new();
    answers.set(
        "names",
        vec![tessera_forms::AnswerValue::String("Asha".into())],
    );
    let html = form.render(&RenderInput {
        answers: Some(answers),
        ..RenderInput::default()
    });
    assert!(
        html.contains(r#"<select id="q-w-unit" name="w.unit" aria-label="Unit: Weight">"#),
        "{html}"
    );
    assert!(html.contains(r#"<option value="[lb_av]">lb</option>"#));
    assert!(tag(&html, "q-names").contains(r#"value="Asha""#));
    assert!(tag(&html, "q-names-1").contains(r#"aria-label="Names (2)""#));
    assert!(
        !html.contains("<script src"),
        "no script tag without a script URL"
    );
    // A read-only choice cannot be changed, and its value (here its initial value) is still
    // posted.
    let html = form.render(&RenderInput::default());
    let site = tag(&html, "q-site-1");
    assert!(
        site.contains("checked") && site.contains(" disabled"),
        "{site}"
    );
    assert!(
        html.contains(r#"<input type="hidden" name="site" value="b">"#),
        "{html}"
    );
}
