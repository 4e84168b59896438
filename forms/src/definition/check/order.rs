//! Ordering: calculations after what they read (refusing circles), bounds and dateTimes, and
//! "did you mean" suggestions for misspelled linkIds.

use std::collections::HashMap;

use super::Checker;
use crate::definition::model::{AnswerValue, Item};
use crate::logic;

/// Calculated items in dependency order; a cycle is reported.
pub(super) fn order_calculations<'a>(
    c: &mut Checker<'_>,
    flat: &[(Vec<usize>, Option<usize>)],
    by_link_id: &HashMap<String, usize>,
    item_at: &dyn Fn(usize) -> &'a Item,
) -> Vec<usize> {
    let calculated: Vec<usize> = (0..flat.len())
        .filter(|&i| item_at(i).calculated.is_some())
        .collect();
    let deps = |i: usize| -> Vec<usize> {
        item_at(i)
            .calculated
            .as_ref()
            .map(|r| logic::variables(r.source()))
            .unwrap_or_default()
            .iter()
            .filter_map(|v| by_link_id.get(v).copied())
            .filter(|&d| item_at(d).calculated.is_some())
            .collect()
    };
    // Depth-first topological sort; `visiting` catches cycles.
    let mut order = Vec::new();
    let mut state: HashMap<usize, bool> = HashMap::new(); // false = visiting, true = done
    fn visit(
        i: usize,
        deps: &dyn Fn(usize) -> Vec<usize>,
        state: &mut HashMap<usize, bool>,
        order: &mut Vec<usize>,
        stack: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match state.get(&i) {
            Some(true) => return Ok(()),
            Some(false) => {
                let start = stack.iter().position(|&s| s == i).unwrap_or(0);
                return Err(stack[start..].to_vec());
            }
            None => {}
        }
        state.insert(i, false);
        stack.push(i);
        for d in deps(i) {
            visit(d, deps, state, order, stack)?;
        }
        stack.pop();
        state.insert(i, true);
        order.push(i);
        Ok(())
    }
    for &i in &calculated {
        if let Err(cycle) = visit(i, &deps, &mut state, &mut order, &mut Vec::new()) {
            let names: Vec<&str> = cycle.iter().map(|&j| item_at(j).link_id.as_str()).collect();
            let first = names[0].to_string();
            c.report(
                &first,
                "calculated",
                format!(
                    "calculations depend on each other in a circle: {} -> {}",
                    names.join(" -> "),
                    first
                ),
            );
            return Vec::new();
        }
    }
    order
}

/// Orders two bounds of the same kind.
pub(crate) fn compare(a: &AnswerValue, b: &AnswerValue) -> Option<std::cmp::Ordering> {
    match (a.as_number(), b.as_number()) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => match (a, b) {
            (AnswerValue::Date(x), AnswerValue::Date(y))
            | (AnswerValue::Time(x), AnswerValue::Time(y)) => Some(x.cmp(y)),
            (AnswerValue::DateTime(x), AnswerValue::DateTime(y)) => {
                Some(instant_key(x).cmp(&instant_key(y)))
            }
            _ => None,
        },
    }
}

/// Orders dateTimes with different zones: minutes since an epoch, UTC.
fn instant_key(text: &str) -> i64 {
    let date = crate::logic::dates::parse(text)
        .map(|d| i64::from(d.to_julian_day()))
        .unwrap_or(0);
    let num =
        |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let mut minutes = date * 1440 + num(11..13) * 60 + num(14..16);
    let zone = text
        .get(19..)
        .unwrap_or_default()
        .trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if let Some(sign) = zone.chars().next().filter(|c| *c == '+' || *c == '-') {
        let offset = zone
            .get(1..3)
            .and_then(|h| h.parse::<i64>().ok())
            .unwrap_or(0)
            * 60
            + zone
                .get(4..6)
                .and_then(|m| m.parse::<i64>().ok())
                .unwrap_or(0);
        minutes -= if sign == '+' { offset } else { -offset };
    }
    minutes * 60 + num(17..19)
}

/// ", did you mean 'weight'?" when a known linkId is one or two edits away.
pub(super) fn suggestion(unknown: &str, types: &HashMap<&str, &Item>) -> String {
    types
        .keys()
        .map(|k| (edit_distance(unknown, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean '{k}'?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j]))
                .min(row[j] + 1)
                .min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
