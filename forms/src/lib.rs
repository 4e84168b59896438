//! Tessera's forms engine.
//!
//! Pack authors write forms in YAML ([`Form::from_yaml`]); the engine maps them both ways to
//! FHIR R4 Questionnaire with SDC extensions ([`Form::to_questionnaire`],
//! [`Form::from_questionnaire`]), runs their logic in JSON Logic ([`logic`]), renders
//! accessible HTML that works without JavaScript ([`Form::render`], with [`FORM_SCRIPT`] for
//! live behaviour), validates QuestionnaireResponses item by item ([`Form::validate`]) and
//! extracts Observations from them ([`ValidatedResponse::extract`]).
//!
//! The crate has no HTTP and no database: the server looks up what [`Form::prefill_needs`]
//! asks for, passes it in a [`LogicContext`], and stores what [`ValidatedResponse`] gives back
//! in one transaction. `docs/forms.md` describes the format for pack authors.

#![deny(missing_docs)]

mod answers;
mod definition;
mod extract;
mod fields;
mod issue;
mod locale;
pub mod logic;
mod questionnaire;
mod render;
mod rules_file;
mod state;
pub mod status;
mod validate;
mod values;
mod yaml;

pub use answers::Answers;
pub use definition::{
    AnswerOption, AnswerValue, CodeSystemDef, Coding, Constraint, EnableBehavior, EnableOperator,
    EnableWhen, Form, Item, ItemType, ObservationTarget, PrefillNeeds, RESERVED_LINK_IDS,
};
pub use fields::ResponseMeta;
pub use issue::{FormIssue, ItemError};
pub use locale::{FormOverlay, ItemOverlay, LocalText, Locale, Translations};
pub use questionnaire::JSON_LOGIC;

/// The browser script (`assets/form.js`) for live enableWhen and calculations. Serve it as a
/// static asset (`application/javascript`) and pass its URL as
/// [`RenderInput::script_url`]; it needs no inline code, so a strict CSP works.
pub const FORM_SCRIPT: &str = include_str!("../assets/form.js");
pub use logic::{LogicContext, ObservationFact, PatientFacts};
pub use render::{RenderInput, UiText};
pub use rules_file::RuleFile;
pub use validate::ValidatedResponse;

#[cfg(test)]
mod tests {
    /// The server shares forms between request handlers and threads.
    #[test]
    fn public_types_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<super::Form>();
        shared::<super::ValidatedResponse>();
        shared::<super::RenderInput>();
        shared::<super::Translations>();
        shared::<super::logic::Rule>();
    }
}
