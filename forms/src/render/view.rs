//! The data the templates read: one plain view per item, with everything decided here
//! (labels in the right language, values, which controls are hidden) so the templates stay
//! simple markup.

use serde::Serialize;
use serde_json::{json, Value};

use super::{RenderInput, UiText};
use crate::answers::Answers;
use crate::definition::{AnswerValue, Form, Item, ItemType};
use crate::locale::Locale;

#[derive(Serialize)]
pub(super) struct FormView<'a> {
    action: &'a str,
    form_id: &'a str,
    version: String,
    lang: &'a str,
    title: String,
    description: String,
    hidden: Vec<NameValue<'a>>,
    errors: Vec<SummaryError>,
    entries: Vec<ItemView>,
    ui: &'a UiText,
    logic_json: String,
    script_url: Option<&'a str>,
}

#[derive(Serialize)]
struct NameValue<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct SummaryError {
    anchor: Option<String>,
    label: String,
    message: String,
}

#[derive(Serialize, Default)]
struct ItemView {
    link_id: String,
    wrapper_id: String,
    input_id: String,
    label: String,
    help: Option<String>,
    help_id: String,
    error: Option<String>,
    error_id: String,
    described_by: Option<String>,
    required: bool,
    hidden: bool,
    is_page: bool,
    is_group: bool,
    is_field: bool,
    is_choice: bool,
    inputs: Vec<InputView>,
    options: Vec<OptionView>,
    units: Vec<OptionView>,
    unit_single: Option<String>,
    /// Attributes of the unit `<select>` when there are several units.
    unit_select: Option<String>,
    datalist_id: Option<String>,
    /// Values of a read-only choice, posted by hidden inputs (its disabled radio buttons are
    /// not posted).
    locked_values: Vec<String>,
    /// For the entry that closes a group: the element to close.
    end_tag: Option<&'static str>,
}

#[derive(Serialize)]
struct InputView {
    textarea: bool,
    /// The escaped attributes of the `<input>` or `<textarea>`.
    attrs: String,
    /// A textarea's content.
    value: String,
}

#[derive(Serialize)]
struct OptionView {
    id: String,
    value: String,
    label: String,
    checked: bool,
    /// The escaped attributes of the option's radio button or checkbox.
    attrs: String,
}

/// A control's attributes, each value HTML-escaped. Assembled here rather than with a dozen
/// `{{#if}}`s per control in the template, which made rendering a long form several times
/// slower.
#[derive(Default)]
struct Attrs(String);

impl Attrs {
    fn add(mut self, name: &str, value: &str) -> Self {
        self.0.push(' ');
        self.0.push_str(name);
        self.0.push_str("=\"");
        self.0.push_str(&handlebars::html_escape(value));
        self.0.push('"');
        self
    }

    fn maybe(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.add(name, v),
            None => self,
        }
    }

    fn flag(mut self, name: &str, on: bool) -> Self {
        if on {
            self.0.push(' ');
            self.0.push_str(name);
        }
        self
    }
}

/// Shared while building item views.
struct Builder<'a> {
    form: &'a Form,
    locale: &'a Locale,
    ui: &'a UiText,
    answers: Answers,
    enabled: Vec<bool>,
    errors: &'a [crate::issue::ItemError],
}

pub(super) fn form_view<'a>(form: &'a Form, input: &'a RenderInput) -> FormView<'a> {
    let mut answers = match &input.answers {
        Some(answers) => answers.clone(),
        None => starting_answers(form, &input.prefill),
    };
    let state = form.evaluate_state(&mut answers, input.context.as_ref());
    let builder = Builder {
        form,
        locale: &input.locale,
        ui: &input.ui,
        answers,
        enabled: state.enabled,
        errors: &input.errors,
    };
    let mut entries = Vec::with_capacity(form.flat.len() + 16);
    for item in &form.items {
        builder.push_entries(item, &mut entries);
    }
    let errors = input
        .errors
        .iter()
        .map(|e| {
            let item = form.item(&e.link_id);
            let visible = form
                .by_link_id
                .get(&e.link_id)
                .is_some_and(|&i| builder.enabled[i]);
            SummaryError {
                anchor: item.filter(|_| visible).map(|i| first_control_id(form, i)),
                label: item
                    .map(|i| i.text.get(&input.locale, &form.language).to_string())
                    .unwrap_or_default(),
                message: e.message.clone(),
            }
        })
        .collect();
    FormView {
        action: &input.action,
        form_id: &form.id,
        version: form.version.to_string(),
        lang: input.locale.tag(),
        title: form.title(&input.locale),
        description: form.description(&input.locale),
        hidden: input
            .hidden_fields
            .iter()
            .map(|(n, v)| NameValue { name: n, value: v })
            .collect(),
        errors,
        entries,
        ui: &input.ui,
        logic_json: logic_spec(form, input),
        script_url: input.script_url.as_deref(),
    }
}

/// Prefill first, then the form's initial values (and pre-selected options).
fn starting_answers(form: &Form, prefill: &Answers) -> Answers {
    let mut answers = prefill.clone();
    for flat in &form.flat {
        let item = form.item_at(&flat.path);
        if answers.has(&item.link_id) || !item.item_type.is_question() {
            continue;
        }
        let mut initial = item.initial.clone();
        initial.extend(item.options.iter().filter(|o| o.initial_selected).map(|o| {
            AnswerValue::Coding(crate::definition::Coding {
                system: o.system.clone(),
                code: o.code.clone(),
                display: None,
            })
        }));
        answers.set(&item.link_id, initial);
    }
    answers
}

/// The id a summary link jumps to: the item's first control.
fn first_control_id(form: &Form, item: &Item) -> String {
    match item.item_type {
        ItemType::Choice | ItemType::Boolean => format!("q-{}-0", item.link_id),
        ItemType::Group | ItemType::Display => format!("item-{}", item.link_id),
        _ if item.repeats || form.options_of(item).is_empty() => format!("q-{}", item.link_id),
        _ => format!("q-{}", item.link_id),
    }
}

impl Builder<'_> {
    fn text(&self, text: &crate::locale::LocalText) -> String {
        text.get(self.locale, &self.form.language).to_string()
    }

    /// The entries of an item: the item itself, or a group's start, its children's entries
    /// and its end.
    fn push_entries(&self, item: &Item, out: &mut Vec<ItemView>) {
        out.push(self.item(item));
        if item.item_type == ItemType::Group {
            for child in &item.items {
                self.push_entries(child, out);
            }
            out.push(ItemView {
                end_tag: Some(if item.page { "section" } else { "fieldset" }),
                ..ItemView::default()
            });
        }
    }

    fn item(&self, item: &Item) -> ItemView {
        let id = &item.link_id;
        let index = self.form.by_link_id[id];
        let error = {
            let messages: Vec<&str> = self
                .errors
                .iter()
                .filter(|e| &e.link_id == id)
                .map(|e| e.message.as_str())
                .collect();
            (!messages.is_empty()).then(|| messages.join(" "))
        };
        let help = (!item.help.is_empty()).then(|| self.text(&item.help));
        let mut described = Vec::new();
        if help.is_some() {
            described.push(format!("q-{id}-help"));
        }
        if error.is_some() {
            described.push(format!("q-{id}-error"));
        }
        let mut view = ItemView {
            link_id: id.clone(),
            wrapper_id: format!("item-{id}"),
            input_id: format!("q-{id}"),
            label: self.text(&item.text),
            help,
            help_id: format!("q-{id}-help"),
            error,
            error_id: format!("q-{id}-error"),
            described_by: (!described.is_empty()).then(|| described.join(" ")),
            required: item.required,
            hidden: !self.enabled[index],
            ..ItemView::default()
        };
        let values = self.answers.get(id);
        match item.item_type {
            ItemType::Group => {
                view.is_page = item.page;
                view.is_group = !item.page;
            }
            // The template's last case: a paragraph.
            ItemType::Display => {}
            ItemType::Boolean => {
                view.is_choice = true;
                let chosen = values.first().and_then(|v| match v {
                    AnswerValue::Boolean(b) => Some(*b),
                    _ => None,
                });
                let options = [(true, &self.ui.yes), (false, &self.ui.no)];
                view.options = options
                    .iter()
                    .enumerate()
                    .map(|(n, (b, label))| {
                        self.option(item, &view, n, &b.to_string(), label, chosen == Some(*b))
                    })
                    .collect();
            }
            ItemType::Choice => {
                view.is_choice = true;
                let codes: Vec<String> = values.iter().map(AnswerValue::to_input_text).collect();
                view.options = self
                    .form
                    .options_of(item)
                    .iter()
                    .enumerate()
                    .map(|(n, o)| {
                        self.option(
                            item,
                            &view,
                            n,
                            &o.code,
                            &self.text(&o.display),
                            codes.contains(&o.code),
                        )
                    })
                    .collect();
            }
            _ => self.free_entry(item, values, &mut view),
        }
        if view.is_choice && item.read_only {
            view.locked_values = view
                .options
                .iter()
                .filter(|o| o.checked)
                .map(|o| o.value.clone())
                .collect();
        }
        view
    }

    /// One radio button or checkbox of a choice.
    fn option(
        &self,
        item: &Item,
        view: &ItemView,
        n: usize,
        value: &str,
        label: &str,
        checked: bool,
    ) -> OptionView {
        let id = format!("q-{}-{n}", item.link_id);
        let attrs = Attrs::default()
            .add("type", if item.repeats { "checkbox" } else { "radio" })
            .add("id", &id)
            .add("name", &item.link_id)
            .add("value", value)
            .flag("checked", checked)
            .flag("disabled", item.read_only || view.hidden)
            .flag("data-locked", item.read_only)
            .maybe(
                "aria-required",
                (item.required && !item.repeats).then_some("true"),
            )
            .maybe("aria-invalid", view.error.is_some().then_some("true"));
        OptionView {
            id,
            value: value.to_string(),
            label: label.to_string(),
            checked,
            attrs: attrs.0,
        }
    }

    /// Items typed into: text, numbers, dates, quantities, open choices.
    fn free_entry(&self, item: &Item, values: &[AnswerValue], view: &mut ItemView) {
        let id = &item.link_id;
        view.is_field = true;
        let textarea = item.item_type == ItemType::Text;
        let input_type = match item.item_type {
            ItemType::Date => "date",
            ItemType::DateTime => "datetime-local",
            ItemType::Time => "time",
            _ => "text",
        };
        // Numbers are typed in text inputs with a numeric keyboard: a number input would
        // drop what the user typed when it is not a number, and the error could not show it.
        let input_mode = match item.item_type {
            ItemType::Integer => Some("numeric"),
            ItemType::Decimal | ItemType::Quantity => Some("decimal"),
            _ => None,
        };
        let placeholder = (!item.entry_format.is_empty()).then(|| self.text(&item.entry_format));
        let options = self.form.options_of(item);
        if item.item_type == ItemType::OpenChoice {
            view.datalist_id = Some(format!("q-{id}-options"));
            view.options = options
                .iter()
                .enumerate()
                .map(|(n, o)| OptionView {
                    id: format!("q-{id}-o{n}"),
                    value: o.code.clone(),
                    label: self.text(&o.display),
                    checked: false,
                    attrs: String::new(),
                })
                .collect();
        }
        let shown = |v: &AnswerValue| match v {
            AnswerValue::Coding(c) => options
                .iter()
                .find(|o| o.code == c.code)
                .map(|o| self.text(&o.display))
                .unwrap_or_else(|| c.code.clone()),
            other => other.to_input_text(),
        };
        let mut texts: Vec<String> = values.iter().map(shown).collect();
        // A repeating item gets one more empty input for another answer.
        if texts.is_empty() || (item.repeats && !item.read_only) {
            texts.push(String::new());
        }
        let max_length = item.max_length.map(|n| n.to_string());
        view.inputs = texts
            .into_iter()
            .enumerate()
            .map(|(n, value)| {
                let input_id = if n == 0 {
                    format!("q-{id}")
                } else {
                    format!("q-{id}-{n}")
                };
                let aria_label = (n > 0).then(|| format!("{} ({})", view.label, n + 1));
                let mut attrs = Attrs::default();
                if !textarea {
                    attrs = attrs.add("type", input_type);
                }
                attrs = attrs.add("id", &input_id).add("name", id);
                if textarea {
                    attrs = attrs.add("rows", "4");
                } else {
                    attrs = attrs.add("value", &value);
                }
                let attrs = attrs
                    .maybe("aria-label", aria_label.as_deref())
                    .maybe("inputmode", input_mode)
                    .maybe("maxlength", max_length.as_deref())
                    .maybe("placeholder", placeholder.as_deref())
                    .maybe("list", view.datalist_id.as_deref())
                    .maybe("aria-describedby", view.described_by.as_deref())
                    .maybe("aria-required", item.required.then_some("true"))
                    .maybe("aria-invalid", view.error.is_some().then_some("true"))
                    .flag("readonly", item.read_only)
                    .flag("data-calculated", item.calculated.is_some())
                    .flag("disabled", view.hidden);
                InputView {
                    textarea,
                    attrs: attrs.0,
                    value: if textarea { value } else { String::new() },
                }
            })
            .collect();
        if item.item_type == ItemType::Quantity {
            let chosen = values.first().and_then(|v| match v {
                AnswerValue::Quantity { unit: Some(u), .. } => Some(u.code.clone()),
                _ => None,
            });
            let label =
                |u: &crate::definition::Coding| u.display.clone().unwrap_or_else(|| u.code.clone());
            if item.units.len() == 1 {
                view.unit_single = Some(label(&item.units[0]));
            } else {
                view.unit_select = Some(
                    Attrs::default()
                        .add("id", &format!("q-{id}-unit"))
                        .add("name", &format!("{id}.unit"))
                        .add("aria-label", &format!("{}: {}", self.ui.unit, view.label))
                        .flag("disabled", view.hidden)
                        .0,
                );
                view.units = item
                    .units
                    .iter()
                    .enumerate()
                    .map(|(n, u)| OptionView {
                        id: format!("q-{id}-u{n}"),
                        value: u.code.clone(),
                        label: label(u),
                        checked: chosen.as_deref() == Some(u.code.as_str()),
                        attrs: String::new(),
                    })
                    .collect();
            }
        }
    }
}

/// The JSON the browser script reads: every item's type, place, enable rule and
/// calculation, the calculation order, and the context data. `<`, `>` and `&` are escaped
/// so the block cannot end the script element early. The item part is the same for every
/// render of a form, so it is built once.
fn logic_spec(form: &Form, input: &RenderInput) -> String {
    let items = form.script_items.get_or_init(|| {
        let items: Vec<Value> = form
            .flat
            .iter()
            .map(|flat| {
                let item = form.item_at(&flat.path);
                json!({
                    "linkId": item.link_id,
                    "type": item.item_type.code(),
                    "question": item.item_type.is_question(),
                    "repeats": item.repeats,
                    "parent": flat.parent.map(|p| form.flat_item(p).link_id.clone()),
                    "enable": flat.enable_rule.as_ref().map(|r| r.source().clone()),
                    "calculated": item.calculated.as_ref().map(|r| r.source().clone()),
                    "options": form.options_of(item).iter().map(|o| o.code.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let order: Vec<&str> = form
            .calculation_order
            .iter()
            .map(|&i| form.flat_item(i).link_id.as_str())
            .collect();
        escape_for_script(&format!("\"items\":{},\"calculationOrder\":{}", json!(items), json!(order)))
    });
    let context = input
        .context
        .as_ref()
        .map(|c| Value::Object(c.to_data()))
        .unwrap_or_else(|| json!({}));
    let zone = if input.time_zone.is_empty() {
        "Z"
    } else {
        input.time_zone.as_str()
    };
    format!(
        "{{{items},\"context\":{},\"timeZone\":{}}}",
        escape_for_script(&context.to_string()),
        escape_for_script(&json!(zone).to_string())
    )
}

/// JSON safe inside a `<script>` element: `<`, `>` and `&` as `\u` escapes (still valid JSON).
fn escape_for_script(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}
