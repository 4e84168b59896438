//! Calendar arithmetic behind the custom date operators.
//!
//! Every function takes and returns ISO dates (`YYYY-MM-DD`; a longer dateTime is cut to its
//! date). A value that is not a real calendar date gives `None`, which the operators turn into
//! `null`, so a calculation over an unanswered date stays empty instead of failing.
//! `assets/form.js` implements the same rules; `tests/logic-cases.json` checks both.

use time::{Date, Month};

/// The unit of a [`add`] step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Calendar days.
    Days,
    /// Seven days.
    Weeks,
    /// Calendar months; the day is clamped to the end of a shorter month.
    Months,
    /// Calendar years (twelve months).
    Years,
}

impl Unit {
    /// Reads `days`, `weeks`, `months` or `years`.
    pub fn parse(name: &str) -> Option<Unit> {
        match name {
            "days" | "day" => Some(Unit::Days),
            "weeks" | "week" => Some(Unit::Weeks),
            "months" | "month" => Some(Unit::Months),
            "years" | "year" => Some(Unit::Years),
            _ => None,
        }
    }
}

/// Reads the date at the start of `text` (`2024-03-01` or `2024-03-01T10:00:00Z`).
pub fn parse(text: &str) -> Option<Date> {
    let head = text.get(..10)?;
    if text.len() > 10 && !text[10..].starts_with('T') {
        return None;
    }
    let bytes = head.as_bytes();
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i32 = digits(&head[0..4])?;
    let month: u8 = digits(&head[5..7])?;
    let day: u8 = digits(&head[8..10])?;
    if year < 1 {
        return None;
    }
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `date` moved by `amount` units (negative moves back).
pub fn add(date: Date, amount: i64, unit: Unit) -> Option<Date> {
    match unit {
        Unit::Days => date.checked_add(time::Duration::days(amount)),
        Unit::Weeks => date.checked_add(time::Duration::days(amount.checked_mul(7)?)),
        Unit::Months => add_months(date, amount),
        Unit::Years => add_months(date, amount.checked_mul(12)?),
    }
}

fn add_months(date: Date, months: i64) -> Option<Date> {
    let index = i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1 + months;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    if !(1..=9999).contains(&year) {
        return None;
    }
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).ok()
}

/// Days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: Date, to: Date) -> i64 {
    i64::from(to.to_julian_day() - from.to_julian_day())
}

/// Whole months from `from` to `to`, counted like an age: a month is complete on the same
/// day of the month. Negative (and symmetric) when `to` is earlier.
pub fn months_between(from: Date, to: Date) -> i64 {
    if to < from {
        return -months_between(to, from);
    }
    let months = (i64::from(to.year()) - i64::from(from.year())) * 12
        + i64::from(u8::from(to.month()))
        - i64::from(u8::from(from.month()));
    if to.day() < from.day() {
        months - 1
    } else {
        months
    }
}

/// Whole years from `from` to `to` (an age when `from` is a birth date).
pub fn years_between(from: Date, to: Date) -> i64 {
    let months = months_between(from, to);
    if months < 0 {
        -((-months) / 12)
    } else {
        months / 12
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse(s).unwrap()
    }

    #[test]
    fn parses_only_real_dates() {
        assert_eq!(format(d("2024-02-29")), "2024-02-29");
        assert_eq!(format(d("2024-02-29T10:30:00+05:30")), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "yesterday",
            "2024-01-01x",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn naegele_due_date_is_lmp_plus_280_days() {
        assert_eq!(
            format(add(d("2024-01-01"), 280, Unit::Days).unwrap()),
            "2024-10-07"
        );
    }

    #[test]
    fn month_steps_clamp_to_month_end() {
        assert_eq!(
            format(add(d("2024-01-31"), 1, Unit::Months).unwrap()),
            "2024-02-29"
        );
        assert_eq!(
            format(add(d("2024-02-29"), 1, Unit::Years).unwrap()),
            "2025-02-28"
        );
        assert_eq!(
            format(add(d("2024-03-31"), -1, Unit::Months).unwrap()),
            "2024-02-29"
        );
    }

    #[test]
    fn ages_count_whole_months_and_years() {
        assert_eq!(years_between(d("1990-06-15"), d("2024-06-14")), 33);
        assert_eq!(years_between(d("1990-06-15"), d("2024-06-15")), 34);
        assert_eq!(months_between(d("2024-01-31"), d("2024-02-29")), 0);
        assert_eq!(months_between(d("2024-03-15"), d("2024-01-20")), -1);
        assert_eq!(days_between(d("2024-03-01"), d("2024-02-28")), -2);
    }
}
