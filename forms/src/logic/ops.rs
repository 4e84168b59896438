//! Tessera's custom JSON Logic operators, registered on the shared engine.
//!
//! | operator | arguments | result |
//! |---|---|---|
//! | `date_add` | date, amount, unit (`days` default, `weeks`, `months`, `years`) | date |
//! | `days_between` | from, to | whole days `to - from` |
//! | `months_between` | from, to | whole months (like an age in months) |
//! | `years_between` | from, to | whole years (an age) |
//! | `round` | number, decimals (default 0) | rounded half away from zero |
//! | `floor` | number | largest whole number not above it |
//! | `observation` | system, code | the latest value of that Observation in the data's `observations` |
//!
//! A `null` or unreadable date or number gives `null`, so a calculation over unanswered
//! items stays empty. A wrong unit or argument count is an error.

use bumpalo::Bump;
use datalogic_rs::operator::EvalContext;
use datalogic_rs::{ArenaExt, CustomOperator, DataValue, Engine, Error, Result};

use super::dates::{self, Unit};

pub(super) fn engine_with_custom_operators() -> Engine {
    Engine::builder()
        .add_operator("date_add", DateAdd)
        .add_operator("days_between", Between(Span::Days))
        .add_operator("months_between", Between(Span::Months))
        .add_operator("years_between", Between(Span::Years))
        .add_operator("round", Round)
        .add_operator("floor", Floor)
        .add_operator("observation", ObservationLookup)
        .build()
}

use datalogic_rs::bumpalo;

fn date_arg(value: &DataValue<'_>) -> Option<time::Date> {
    value.as_str().and_then(dates::parse)
}

fn number_arg(value: &DataValue<'_>) -> Option<f64> {
    match value {
        DataValue::Number(_) => value.as_f64(),
        // JsonLogic arithmetic accepts numeric text ("3"); so do these operators.
        DataValue::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn expect_args(name: &str, args: &[&DataValue<'_>], min: usize, max: usize) -> Result<()> {
    if args.len() < min || args.len() > max {
        let wanted = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(Error::invalid_arguments(format!(
            "{name} takes {wanted} arguments, got {}",
            args.len()
        )));
    }
    Ok(())
}

/// A whole number as f64 → i64, or the number returned as a float.
fn number_result<'a>(arena: &'a Bump, n: f64) -> &'a DataValue<'a> {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        arena.i64(n as i64)
    } else {
        arena.f64(n)
    }
}

struct DateAdd;

impl CustomOperator for DateAdd {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        _ctx: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> Result<&'a DataValue<'a>> {
        expect_args("date_add", args, 2, 3)?;
        let unit = match args.get(2) {
            None => Unit::Days,
            Some(u) => u.as_str().and_then(Unit::parse).ok_or_else(|| {
                Error::invalid_arguments(
                    "date_add: the unit must be \"days\", \"weeks\", \"months\" or \"years\"",
                )
            })?,
        };
        let (Some(date), Some(amount)) = (date_arg(args[0]), number_arg(args[1])) else {
            return Ok(arena.null());
        };
        Ok(match dates::add(date, amount.trunc() as i64, unit) {
            Some(moved) => arena.string(&dates::format(moved)),
            None => arena.null(),
        })
    }
}

#[derive(Clone, Copy)]
enum Span {
    Days,
    Months,
    Years,
}

struct Between(Span);

impl CustomOperator for Between {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        _ctx: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> Result<&'a DataValue<'a>> {
        let name = match self.0 {
            Span::Days => "days_between",
            Span::Months => "months_between",
            Span::Years => "years_between",
        };
        expect_args(name, args, 2, 2)?;
        let (Some(from), Some(to)) = (date_arg(args[0]), date_arg(args[1])) else {
            return Ok(arena.null());
        };
        Ok(arena.i64(match self.0 {
            Span::Days => dates::days_between(from, to),
            Span::Months => dates::months_between(from, to),
            Span::Years => dates::years_between(from, to),
        }))
    }
}

struct Round;

impl CustomOperator for Round {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        _ctx: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> Result<&'a DataValue<'a>> {
        expect_args("round", args, 1, 2)?;
        let decimals = match args.get(1) {
            None => 0,
            Some(d) => match number_arg(d) {
                Some(d) if d.fract() == 0.0 && (0.0..=10.0).contains(&d) => d as i32,
                _ => {
                    return Err(Error::invalid_arguments(
                        "round: decimals must be a whole number from 0 to 10",
                    ))
                }
            },
        };
        let Some(n) = number_arg(args[0]) else {
            return Ok(arena.null());
        };
        let factor = 10f64.powi(decimals);
        // f64::round rounds half away from zero; form.js does the same explicitly.
        Ok(number_result(arena, (n * factor).round() / factor))
    }
}

struct Floor;

impl CustomOperator for Floor {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        _ctx: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> Result<&'a DataValue<'a>> {
        expect_args("floor", args, 1, 1)?;
        Ok(match number_arg(args[0]) {
            Some(n) => number_result(arena, n.floor()),
            None => arena.null(),
        })
    }
}

/// `{"observation": [system, code]}` reads `observations["system|code"]` of the data, which
/// [`super::LogicContext`] fills with the latest value of each Observation the server found.
struct ObservationLookup;

impl CustomOperator for ObservationLookup {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        ctx: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> Result<&'a DataValue<'a>> {
        expect_args("observation", args, 2, 2)?;
        let (Some(system), Some(code)) = (args[0].as_str(), args[1].as_str()) else {
            return Err(Error::invalid_arguments(
                "observation takes a system and a code, both text",
            ));
        };
        let key = format!("{system}|{code}");
        let root = ctx.root_input();
        let found = match root {
            DataValue::Object(_) => match &root["observations"] {
                observations @ DataValue::Object(_) => &observations[key.as_str()],
                _ => arena.null(),
            },
            _ => arena.null(),
        };
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use crate::logic::Rule;
    use serde_json::json;

    fn eval(rule: serde_json::Value, data: serde_json::Value) -> serde_json::Value {
        Rule::compile(&rule).unwrap().evaluate(&data).unwrap()
    }

    #[test]
    fn date_operators() {
        assert_eq!(
            eval(
                json!({"date_add": [{"var": "lmp"}, 280]}),
                json!({"lmp": "2024-01-01"})
            ),
            json!("2024-10-07")
        );
        assert_eq!(
            eval(json!({"date_add": [{"var": "lmp"}, 280]}), json!({})),
            json!(null)
        );
        assert_eq!(
            eval(
                json!({"days_between": ["2024-01-01", "2024-03-01"]}),
                json!({})
            ),
            json!(60)
        );
        assert_eq!(
            eval(
                json!({"years_between": ["1990-06-15", "2024-06-14"]}),
                json!({})
            ),
            json!(33)
        );
        let err = Rule::compile(&json!({"date_add": ["2024-01-01", 1, "fortnights"]}))
            .unwrap()
            .evaluate(&json!({}))
            .unwrap_err();
        assert!(err.message.contains("unit must be"), "{err}");
    }

    #[test]
    fn rounding_and_observation_lookup() {
        assert_eq!(
            eval(json!({"round": [22.857142, 1]}), json!({})),
            json!(22.9)
        );
        assert_eq!(eval(json!({"round": [-2.5]}), json!({})), json!(-3));
        assert_eq!(eval(json!({"floor": [-2.5]}), json!({})), json!(-3));
        let data = json!({"observations": {"http://loinc.org|29463-7": 61.5}});
        assert_eq!(
            eval(
                json!({"observation": ["http://loinc.org", "29463-7"]}),
                data.clone()
            ),
            json!(61.5)
        );
        assert_eq!(
            eval(json!({"observation": ["http://loinc.org", "8302-2"]}), data),
            json!(null)
        );
    }
}
