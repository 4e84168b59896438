//! Server time for `meta.lastUpdated`: microseconds since the Unix epoch, strictly increasing
//! within this process so that versions written back to back never share an instant and
//! history orders exactly.

use std::sync::atomic::{AtomicI64, Ordering};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

static LAST: AtomicI64 = AtomicI64::new(0);

pub fn now_micros() -> i64 {
    let wall = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = wall.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// A FHIR `instant` with microsecond precision, e.g. `2026-11-21T18:00:00.123456Z`.
pub fn format_instant(micros: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1_000).expect("in range");
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// An HTTP-date for `Last-Modified`.
pub fn format_http_date(micros: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(micros / 1_000_000).expect("in range");
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&fmt).expect("formattable")
}

/// Parses a FHIR `instant`/`dateTime` or a partial date (`2020`, `2020-05`, `2020-05-01`) as
/// the earliest microsecond it denotes; dates without a zone are taken as UTC.
pub fn parse_fhir_time(value: &str) -> Option<i64> {
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return Some((t.unix_timestamp_nanos() / 1_000) as i64);
    }
    let padded = match value.len() {
        4 => format!("{value}-01-01T00:00:00Z"),
        7 => format!("{value}-01T00:00:00Z"),
        10 => format!("{value}T00:00:00Z"),
        _ => return None,
    };
    OffsetDateTime::parse(&padded, &Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing() {
        let a = now_micros();
        let b = now_micros();
        assert!(b > a);
    }

    #[test]
    fn formats_and_parses_round_trip() {
        let t = 1_700_000_000_123_456;
        let s = format_instant(t);
        assert_eq!(s, "2023-11-14T22:13:20.123456Z");
        assert_eq!(parse_fhir_time(&s), Some(t));
        assert_eq!(parse_fhir_time("2023"), Some(1_672_531_200_000_000));
        assert_eq!(parse_fhir_time("2023-13"), None);
        assert_eq!(format_http_date(t), "Tue, 14 Nov 2023 22:13:20 GMT");
    }
}
