//! The form ↔ FHIR R4 Questionnaire (with Structured Data Capture extensions) mapping.
//!
//! Logic travels as SDC `Expression`s whose language is [`JSON_LOGIC`] and whose expression
//! is the rule as JSON text. Texts in other languages travel as FHIR `translation`
//! extensions on the primitive (`_text`, `_title`, `_display`, `_valueString`).

mod read;
mod write;

pub(crate) use read::any_value;

/// The `Expression.language` Tessera uses for JSON Logic (FHIR's list of languages is
/// extensible and has no code for it).
pub const JSON_LOGIC: &str = "application/json-logic";

pub(crate) mod url {
    pub const MIN_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/minValue";
    pub const MAX_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/maxValue";
    pub const MIN_QUANTITY: &str =
        "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-minQuantity";
    pub const MAX_QUANTITY: &str =
        "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-maxQuantity";
    pub const REGEX: &str = "http://hl7.org/fhir/StructureDefinition/regex";
    pub const ENTRY_FORMAT: &str = "http://hl7.org/fhir/StructureDefinition/entryFormat";
    pub const UNIT_OPTION: &str =
        "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption";
    pub const ITEM_CONTROL: &str =
        "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl";
    pub const ITEM_CONTROL_SYSTEM: &str = "http://hl7.org/fhir/questionnaire-item-control";
    pub const CALCULATED: &str =
        "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression";
    pub const ENABLE_WHEN_EXPRESSION: &str =
        "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression";
    pub const INITIAL_EXPRESSION: &str =
        "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression";
    pub const OBSERVATION_EXTRACT: &str =
        "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract";
    pub const OBSERVATION_CATEGORY: &str =
        "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observation-extract-category";
    pub const OBSERVATION_CATEGORY_SYSTEM: &str =
        "http://terminology.hl7.org/CodeSystem/observation-category";
    pub const TARGET_CONSTRAINT: &str = "http://hl7.org/fhir/StructureDefinition/targetConstraint";
    pub const TRANSLATION: &str = "http://hl7.org/fhir/StructureDefinition/translation";
}
