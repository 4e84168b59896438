//! Reading and checking typed values written as text: dates, date-times, times, numbers.
//!
//! Shared by the YAML reader, the Questionnaire reader, validation and posted form fields, so
//! a value is accepted or refused the same way wherever it comes from.

use std::sync::LazyLock;

use regex::Regex;

use crate::logic::dates;

static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-](0\d|1[0-4]):[0-5]\d)$")
        .expect("valid regex")
});

static TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?$").expect("valid regex")
});

static TIME_ZONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(Z|[+-](0\d|1[0-4]):[0-5]\d)$").expect("valid regex"));

/// A calendar date `YYYY-MM-DD` that exists, or `None`.
pub fn date(text: &str) -> Option<String> {
    let text = text.trim();
    (text.len() == 10)
        .then(|| dates::parse(text))
        .flatten()
        .map(dates::format)
}

/// A FHIR dateTime with a time and a zone (`2024-05-01T10:30:00+05:30`), seconds added when
/// missing, or `None`.
pub fn date_time(text: &str) -> Option<String> {
    let text = text.trim();
    let caps = DATE_TIME.captures(text)?;
    date(&caps[1])?;
    if caps.get(3).is_some() {
        Some(text.to_string())
    } else {
        // Insert the seconds FHIR instants usually carry: `T10:30+05:30` → `T10:30:00+05:30`.
        Some(format!("{}:00{}", &text[..16], &text[16..]))
    }
}

/// A date-time typed in a browser's `datetime-local` field (`2024-05-01T10:30`), given the
/// clinic's zone (`+05:30` or `Z`), or an already complete FHIR dateTime.
pub fn local_date_time(text: &str, zone: &str) -> Option<String> {
    let text = text.trim();
    date_time(text).or_else(|| {
        if TIME_ZONE.is_match(zone) {
            date_time(&format!("{text}{zone}"))
        } else {
            None
        }
    })
}

/// A time of day `HH:MM:SS` (seconds added when missing), or `None`.
pub fn time(text: &str) -> Option<String> {
    let text = text.trim();
    TIME.is_match(text).then(|| {
        if text.len() == 5 {
            format!("{text}:00")
        } else {
            text.to_string()
        }
    })
}

/// A whole number written as text (`42`, `-3`), or `None`.
pub fn integer(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// A decimal number written as text (`61.5`, `-0.25`; a comma is not a decimal mark), or
/// `None`. Infinity and NaN are refused.
pub fn decimal(text: &str) -> Option<f64> {
    let text = text.trim();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    plain
        .then(|| text.parse::<f64>().ok())
        .flatten()
        .filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dates_times_and_numbers_strictly() {
        assert_eq!(date("2024-02-29").as_deref(), Some("2024-02-29"));
        assert_eq!(date("2023-02-29"), None);
        assert_eq!(
            date_time("2024-05-01T10:30+05:30").as_deref(),
            Some("2024-05-01T10:30:00+05:30")
        );
        assert_eq!(date_time("2024-05-01T10:30:00"), None, "a zone is required");
        assert_eq!(
            local_date_time("2024-05-01T10:30", "Z").as_deref(),
            Some("2024-05-01T10:30:00Z")
        );
        assert_eq!(time("07:05").as_deref(), Some("07:05:00"));
        assert_eq!(time("24:00"), None);
        assert_eq!(decimal("61.5"), Some(61.5));
        assert_eq!(decimal("inf"), None);
        assert_eq!(decimal("1,5"), None);
        assert_eq!(integer("42"), Some(42));
        assert_eq!(integer("4.2"), None);
    }
}
