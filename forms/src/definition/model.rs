//! The parts of a form definition.

use serde_json::Value;

use crate::locale::LocalText;
use crate::logic::Rule;

/// A FHIR Coding (system, code, display), as used for Observation codes, units and prefill.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coding {
    /// Code system URL; `None` for a code without one.
    pub system: Option<String>,
    /// The code.
    pub code: String,
    /// Human-readable text, if any.
    pub display: Option<String>,
}

/// The type of an item; the names are FHIR's `Questionnaire.item.type` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemType {
    /// Holds other items (a section, or a page).
    Group,
    /// Text shown to the user, with no answer.
    Display,
    /// Yes / no.
    Boolean,
    /// A number with a fraction.
    Decimal,
    /// A whole number.
    Integer,
    /// A calendar date `YYYY-MM-DD`.
    Date,
    /// A date and time.
    DateTime,
    /// A time of day.
    Time,
    /// One line of text.
    String,
    /// Several lines of text.
    Text,
    /// One (or, repeating, several) of a closed list of codes.
    Choice,
    /// A code from a list, or free text.
    OpenChoice,
    /// A number with a unit.
    Quantity,
}

impl ItemType {
    /// Every type, in the order docs list them.
    pub const ALL: [ItemType; 13] = [
        ItemType::Group,
        ItemType::Display,
        ItemType::Boolean,
        ItemType::Decimal,
        ItemType::Integer,
        ItemType::Date,
        ItemType::DateTime,
        ItemType::Time,
        ItemType::String,
        ItemType::Text,
        ItemType::Choice,
        ItemType::OpenChoice,
        ItemType::Quantity,
    ];

    /// The FHIR code (`open-choice`, `dateTime`, ...), also used in YAML.
    pub fn code(self) -> &'static str {
        match self {
            ItemType::Group => "group",
            ItemType::Display => "display",
            ItemType::Boolean => "boolean",
            ItemType::Decimal => "decimal",
            ItemType::Integer => "integer",
            ItemType::Date => "date",
            ItemType::DateTime => "dateTime",
            ItemType::Time => "time",
            ItemType::String => "string",
            ItemType::Text => "text",
            ItemType::Choice => "choice",
            ItemType::OpenChoice => "open-choice",
            ItemType::Quantity => "quantity",
        }
    }

    /// Reads a FHIR item type code.
    pub fn from_code(code: &str) -> Option<ItemType> {
        ItemType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// True for items that take answers (not group or display).
    pub fn is_question(self) -> bool {
        !matches!(self, ItemType::Group | ItemType::Display)
    }

    /// True for types with an order, where min and max apply.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            ItemType::Integer
                | ItemType::Decimal
                | ItemType::Quantity
                | ItemType::Date
                | ItemType::DateTime
                | ItemType::Time
        )
    }

    /// True for types whose answers are text (maxLength and regex apply).
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            ItemType::String | ItemType::Text | ItemType::OpenChoice
        )
    }

    /// True for types answered from a list of options.
    pub fn has_options(self) -> bool {
        matches!(self, ItemType::Choice | ItemType::OpenChoice)
    }
}

/// One typed answer (or a bound, initial value or enableWhen comparison value).
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerValue {
    /// `valueBoolean`.
    Boolean(bool),
    /// `valueDecimal`.
    Decimal(f64),
    /// `valueInteger`.
    Integer(i64),
    /// `valueDate` (`YYYY-MM-DD`).
    Date(String),
    /// `valueDateTime`.
    DateTime(String),
    /// `valueTime` (`HH:MM:SS`).
    Time(String),
    /// `valueString` (string, text, or the free text of an open-choice).
    String(String),
    /// `valueCoding` (a choice).
    Coding(Coding),
    /// `valueQuantity`: the number and its unit.
    Quantity {
        /// The number.
        value: f64,
        /// The UCUM unit, if given.
        unit: Option<Coding>,
    },
}

impl AnswerValue {
    /// The value as JSON Logic data sees it: numbers, text, true/false; a choice as its
    /// code and a quantity as its number.
    pub fn to_logic(&self) -> Value {
        match self {
            AnswerValue::Boolean(b) => Value::Bool(*b),
            AnswerValue::Decimal(f) => json_number(*f),
            AnswerValue::Integer(i) => Value::from(*i),
            AnswerValue::Date(s)
            | AnswerValue::DateTime(s)
            | AnswerValue::Time(s)
            | AnswerValue::String(s) => Value::String(s.clone()),
            AnswerValue::Coding(c) => Value::String(c.code.clone()),
            AnswerValue::Quantity { value, .. } => json_number(*value),
        }
    }

    /// The number, for integer, decimal and quantity values.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            AnswerValue::Integer(i) => Some(*i as f64),
            AnswerValue::Decimal(f) | AnswerValue::Quantity { value: f, .. } => Some(*f),
            _ => None,
        }
    }

    /// The FHIR `value[x]` suffix (`Integer`, `Coding`, ...).
    pub fn fhir_suffix(&self) -> &'static str {
        match self {
            AnswerValue::Boolean(_) => "Boolean",
            AnswerValue::Decimal(_) => "Decimal",
            AnswerValue::Integer(_) => "Integer",
            AnswerValue::Date(_) => "Date",
            AnswerValue::DateTime(_) => "DateTime",
            AnswerValue::Time(_) => "Time",
            AnswerValue::String(_) => "String",
            AnswerValue::Coding(_) => "Coding",
            AnswerValue::Quantity { .. } => "Quantity",
        }
    }

    /// The value as text for an input field (what a user would type).
    pub fn to_input_text(&self) -> String {
        match self {
            AnswerValue::Boolean(b) => b.to_string(),
            AnswerValue::Decimal(f) | AnswerValue::Quantity { value: f, .. } => format_number(*f),
            AnswerValue::Integer(i) => i.to_string(),
            AnswerValue::Date(s) | AnswerValue::String(s) => s.clone(),
            // HTML date-time and time inputs take minutes, without seconds or zone.
            AnswerValue::DateTime(s) => s.get(..16).unwrap_or(s).to_string(),
            AnswerValue::Time(s) => s.get(..5).unwrap_or(s).to_string(),
            AnswerValue::Coding(c) => c.code.clone(),
        }
    }
}

/// A JSON number from an f64 (whole numbers stay whole), or null for NaN/infinity.
pub(crate) fn json_number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// An f64 written the shortest way (`70`, `1.75`).
pub(crate) fn format_number(f: f64) -> String {
    match json_number(f) {
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// One answer option of a choice.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerOption {
    /// Code system of the code, if any.
    pub system: Option<String>,
    /// The code stored in answers.
    pub code: String,
    /// What the user sees, per language.
    pub display: LocalText,
    /// Pre-selected when the form opens.
    pub initial_selected: bool,
}

/// A code system written inside the form, whose codes items can use as options.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeSystemDef {
    /// Local id, used by `valueSet:` on items.
    pub id: String,
    /// Canonical URL of the code system (the `system` of its codings).
    pub url: String,
    /// The codes.
    pub concepts: Vec<AnswerOption>,
}

/// A FHIR enableWhen comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnableOperator {
    /// `exists`: the question has (answer true) or lacks (answer false) an answer.
    Exists,
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `>`
    Greater,
    /// `<`
    Less,
    /// `>=`
    GreaterOrEqual,
    /// `<=`
    LessOrEqual,
}

impl EnableOperator {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            EnableOperator::Exists => "exists",
            EnableOperator::Equal => "=",
            EnableOperator::NotEqual => "!=",
            EnableOperator::Greater => ">",
            EnableOperator::Less => "<",
            EnableOperator::GreaterOrEqual => ">=",
            EnableOperator::LessOrEqual => "<=",
        }
    }

    /// Reads a FHIR code.
    pub fn from_code(code: &str) -> Option<EnableOperator> {
        [
            EnableOperator::Exists,
            EnableOperator::Equal,
            EnableOperator::NotEqual,
            EnableOperator::Greater,
            EnableOperator::Less,
            EnableOperator::GreaterOrEqual,
            EnableOperator::LessOrEqual,
        ]
        .into_iter()
        .find(|o| o.code() == code)
    }
}

/// One FHIR enableWhen condition.
#[derive(Debug, Clone, PartialEq)]
pub struct EnableWhen {
    /// linkId of the question it looks at.
    pub question: String,
    /// How it compares.
    pub operator: EnableOperator,
    /// The value compared with (for `exists`, a Boolean).
    pub answer: AnswerValue,
}

/// How several enableWhen conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnableBehavior {
    /// Every condition must hold.
    #[default]
    All,
    /// One condition is enough.
    Any,
}

/// A cross-field rule that must hold, with the message shown when it does not.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// Identifies the constraint (for translations and the Questionnaire).
    pub key: String,
    /// JSON Logic that must be truthy.
    pub rule: Rule,
    /// What the user is told when it is not.
    pub message: LocalText,
    /// The items it reads: it is checked only when all of them are answered.
    pub reads: Vec<String>,
}

/// Where the answers of an item go when the response is extracted.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationTarget {
    /// Observation.code.
    pub code: Coding,
    /// Observation.category code (from the HL7 observation-category system), if any.
    pub category: Option<String>,
}

/// One item of a form.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Unique id within the form; answers, logic and translations refer to it.
    pub link_id: String,
    /// What kind of item.
    pub item_type: ItemType,
    /// Question text or heading.
    pub text: LocalText,
    /// Help shown under the question.
    pub help: LocalText,
    /// An answer is needed (when the item is enabled).
    pub required: bool,
    /// Several answers are allowed.
    pub repeats: bool,
    /// The user cannot change it (calculated items are always read-only).
    pub read_only: bool,
    /// A top-level group shown as its own page/step.
    pub page: bool,
    /// Smallest allowed answer (number, date, time).
    pub min: Option<AnswerValue>,
    /// Largest allowed answer.
    pub max: Option<AnswerValue>,
    /// Most characters in a text answer.
    pub max_length: Option<usize>,
    /// Pattern a text answer must match (whole answer).
    pub regex: Option<String>,
    /// Placeholder that shows the expected format.
    pub entry_format: LocalText,
    /// Inline answer options.
    pub options: Vec<AnswerOption>,
    /// id of a code system of the form whose codes are the options.
    pub value_set: Option<String>,
    /// Allowed units of a quantity.
    pub units: Vec<Coding>,
    /// Answers present when the form opens.
    pub initial: Vec<AnswerValue>,
    /// FHIR enableWhen conditions.
    pub enable_when: Vec<EnableWhen>,
    /// How `enable_when` combine.
    pub enable_behavior: EnableBehavior,
    /// JSON Logic deciding whether the item is shown (instead of `enable_when`).
    pub enable_when_expression: Option<Rule>,
    /// JSON Logic computing the answer; the item is then read-only.
    pub calculated: Option<Rule>,
    /// JSON Logic over patient data giving the answer when the form opens.
    pub prefill: Option<Rule>,
    /// Rules the answers must satisfy, reported on this item.
    pub constraints: Vec<Constraint>,
    /// Extract answers as Observations with this code.
    pub observation: Option<ObservationTarget>,
    /// Child items of a group.
    pub items: Vec<Item>,
}

impl Item {
    /// An item with only a linkId and type set.
    pub fn new(link_id: &str, item_type: ItemType) -> Item {
        Item {
            link_id: link_id.to_string(),
            item_type,
            text: LocalText::default(),
            help: LocalText::default(),
            required: false,
            repeats: false,
            read_only: false,
            page: false,
            min: None,
            max: None,
            max_length: None,
            regex: None,
            entry_format: LocalText::default(),
            options: Vec::new(),
            value_set: None,
            units: Vec::new(),
            initial: Vec::new(),
            enable_when: Vec::new(),
            enable_behavior: EnableBehavior::All,
            enable_when_expression: None,
            calculated: None,
            prefill: None,
            constraints: Vec::new(),
            observation: None,
            items: Vec::new(),
        }
    }
}
