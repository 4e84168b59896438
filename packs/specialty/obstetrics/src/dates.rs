//! Calendar dates as days since 1970-01-01 (proleptic Gregorian), enough for pregnancy
//! dates without a date library in the component.

/// Days since the epoch of a civil date (Howard Hinnant's algorithm).
pub fn from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub fn to_civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-03-04` (or the date part of a dateTime).
pub fn parse_date(text: &str) -> Option<i64> {
    let date = text.get(..10)?;
    let mut parts = date.split('-');
    let year = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then(|| from_civil(year, month, day))
}

pub fn format(days: i64) -> String {
    let (y, m, d) = to_civil(days);
    format!("{y:04}-{m:02}-{d:02}")
}

pub fn add_days(days: i64, more: i64) -> i64 {
    days + more
}

pub fn days_between(from: i64, to: i64) -> i64 {
    to - from
}

/// Today (UTC) from the host's clock.
pub fn today() -> i64 {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    seconds.div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_dates() {
        assert_eq!(from_civil(1970, 1, 1), 0);
        assert_eq!(format(from_civil(2024, 2, 29)), "2024-02-29");
        assert_eq!(format(add_days(parse_date("2026-03-01").unwrap(), 280)), "2026-12-06");
        assert_eq!(days_between(parse_date("2026-01-01").unwrap(), parse_date("2026-03-01").unwrap()), 59);
        assert!(parse_date("2026-13-01").is_none());
    }
}
