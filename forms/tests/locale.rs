//! Localization: texts from the form, overlays from a country pack, fallback.

mod common;

use tessera_forms::{Form, Locale, Translations};

fn with_hindi_overlay() -> Form {
    let mut form = common::anc();
    let overlay = Translations::from_locale_file(
        "locales/hi.yaml",
        None,
        include_str!("forms/locales/hi.yaml"),
    )
    .unwrap();
    let unmatched = form.apply_translations(&overlay);
    assert!(unmatched.is_empty(), "{unmatched:#?}");
    form
}

#[test]
fn texts_fall_back_from_locale_to_language_to_default() {
    let form = with_hindi_overlay();
    let hi = Locale::new("hi-IN");
    let item = |id: &str| form.item(id).unwrap().clone();
    assert_eq!(form.title(&hi), "प्रसवपूर्व देखभाल जाँच", "from the form");
    assert_eq!(
        form.description(&hi),
        "गर्भवती महिला की एक जाँच।",
        "from the form's translations section"
    );
    assert_eq!(
        item("visit_date").text.get(&hi, "en"),
        "इस जाँच की तारीख",
        "from the country pack overlay"
    );
    assert_eq!(item("weight").help.get(&hi, "en"), "किलोग्राम में");
    assert_eq!(item("weight").text.get(&hi, "en"), "वजन");
    assert_eq!(
        item("age").text.get(&hi, "en"),
        "Age (years)",
        "untranslated: the default language"
    );
    assert_eq!(form.title(&Locale::new("fr")), "Antenatal care visit");
    let symptoms = item("symptoms");
    assert_eq!(symptoms.options[2].display.get(&hi, "en"), "बुखार");
    assert_eq!(
        form.item("diastolic").unwrap().constraints[0]
            .message
            .get(&hi, "en"),
        "डायस्टोलिक सिस्टोलिक से कम होना चाहिए"
    );
}

#[test]
fn overlay_entries_that_match_nothing_are_reported() {
    let mut form = common::anc();
    let overlay = Translations::from_locale_file(
        "locales/hi.yaml",
        None,
        "forms:\n  anc-visit:\n    items:\n      wieght: वजन\n      risk: {options: {medium: मध्यम}}\n",
    )
    .unwrap();
    let unmatched = form.apply_translations(&overlay);
    let shown: Vec<String> = unmatched.iter().map(|i| i.to_string()).collect();
    assert_eq!(shown, [
        "locales/hi.yaml line 5 (items.risk.options.medium): item 'risk' has no option 'medium'",
        "locales/hi.yaml line 4 (items.wieght): form 'anc-visit' has no item 'wieght'",
    ]);
}

#[test]
fn translations_survive_the_questionnaire_round_trip() {
    let form = with_hindi_overlay();
    let again = Form::from_questionnaire(&form.to_questionnaire()).unwrap();
    assert_eq!(
        again
            .item("visit_date")
            .unwrap()
            .text
            .get(&Locale::new("hi"), "en"),
        "इस जाँच की तारीख"
    );
    assert_eq!(
        again.code_systems()[0].concepts[1]
            .display
            .get(&Locale::new("hi"), "en"),
        "उच्च जोखिम"
    );
}
