//! Accessible HTML for a form, through handlebars templates (`templates/*.hbs`).
//!
//! The page works without JavaScript: every item is a labelled control posted as
//! `application/x-www-form-urlencoded` ([`crate::Form::response_from_form_fields`] reads it
//! back), items hidden by enableWhen are rendered `hidden` with disabled controls so they are
//! not posted, and calculated items show the server's value. [`crate::FORM_SCRIPT`] adds live
//! behaviour from the JSON Logic embedded in a `<script type="application/json">` block.

mod view;

use std::sync::LazyLock;

use handlebars::Handlebars;
use serde::Serialize;

use crate::answers::Answers;
use crate::definition::Form;
use crate::issue::ItemError;
use crate::locale::Locale;
use crate::logic::LogicContext;

/// The templates, with `item.hbs` placed inside `form.hbs` when they are registered: a
/// handlebars partial copies its context on every call, which made a 100-item form several
/// times slower to render.
static TEMPLATES: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(false);
    let form = include_str!("templates/form.hbs")
        .replace("{{> item}}", include_str!("templates/item.hbs"));
    hb.register_template_string("form", form)
        .expect("the form templates are valid");
    hb
});

/// The fixed words of a rendered form, so a country pack can translate them too.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UiText {
    /// Marks a required question: "required".
    pub required: String,
    /// Title of the error summary: "There is a problem".
    pub error_summary_title: String,
    /// Read by screen readers before each error: "Error:".
    pub error_prefix: String,
    /// The submit button: "Submit".
    pub submit: String,
    /// Without JavaScript, re-renders the form to show follow-up questions.
    pub refresh: String,
    /// Yes of a boolean question.
    pub yes: String,
    /// No of a boolean question.
    pub no: String,
    /// Label of a quantity's unit list: "Unit".
    pub unit: String,
}

impl Default for UiText {
    fn default() -> Self {
        UiText {
            required: "required".into(),
            error_summary_title: "There is a problem".into(),
            error_prefix: "Error:".into(),
            submit: "Submit".into(),
            refresh: "Show follow-up questions".into(),
            yes: "Yes".into(),
            no: "No".into(),
            unit: "Unit".into(),
        }
    }
}

/// Everything a render needs besides the form.
#[derive(Debug, Clone, Default)]
pub struct RenderInput {
    /// The language to show.
    pub locale: Locale,
    /// Where the form posts to.
    pub action: String,
    /// Hidden fields posted with the answers (CSRF token, patient, encounter, ...). Name them
    /// with a leading `_` so they can never clash with a linkId.
    pub hidden_fields: Vec<(String, String)>,
    /// The answers to show after a failed submission (what the user sent, e.g. from
    /// [`Answers::from_response`]). `None` for a new form: prefill and initial values are
    /// shown instead.
    pub answers: Option<Answers>,
    /// Errors from [`Form::validate`], shown in a summary at the top and next to each item.
    pub errors: Vec<ItemError>,
    /// Prefilled answers for a new form (from [`Form::prefill`]).
    pub prefill: Answers,
    /// Patient data and today's date for the logic (enableWhen, calculations).
    pub context: Option<LogicContext>,
    /// URL of [`crate::FORM_SCRIPT`] as the server serves it; no script tag when `None`.
    pub script_url: Option<String>,
    /// The clinic's UTC offset, for date-times typed in the browser (`Z` when empty).
    pub time_zone: String,
    /// Fixed words of the page (English by default).
    pub ui: UiText,
}

impl Form {
    /// Renders the form as an accessible HTML `<form>` (a fragment for the server's page
    /// layout). All text from the form and the user is HTML-escaped.
    pub fn render(&self, input: &RenderInput) -> String {
        let view = view::form_view(self, input);
        TEMPLATES
            .render("form", &view)
            .unwrap_or_else(|e| panic!("form templates render any view: {e}"))
    }
}
