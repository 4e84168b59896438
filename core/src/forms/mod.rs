//! Forms in the server (issue #7): the forms engine is the `tessera-forms` crate; this module
//! decides which forms a tenant offers (`catalog`), reads what their logic needs and writes
//! what they produce as the signed-in user (`records`), and stores submissions, amendments
//! and withdrawals whole (`submissions`). HTTP lives in `http/forms/`.

pub mod catalog;
pub mod records;
pub mod submissions;

use time::{OffsetDateTime, UtcOffset};

/// The clinic's clock: `forms.utc_offset` from the configuration (`+05:30`).
#[derive(Clone, Copy, Debug)]
pub struct ClinicClock {
    offset: UtcOffset,
}

impl ClinicClock {
    /// Parses `+HH:MM` / `-HH:MM` (or `Z`).
    pub fn parse(offset: &str) -> Result<ClinicClock, String> {
        let offset = offset.trim();
        if offset == "Z" || offset.is_empty() {
            return Ok(ClinicClock {
                offset: UtcOffset::UTC,
            });
        }
        let format =
            time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
        UtcOffset::parse(offset, &format)
            .map(|offset| ClinicClock { offset })
            .map_err(|_| {
                format!("forms.utc_offset {offset:?} is not an offset like +05:30 or -04:00")
            })
    }

    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc().to_offset(self.offset)
    }

    pub fn today(&self) -> time::Date {
        self.now().date()
    }

    /// The offset as FHIR writes it (`+05:30`, `Z` for UTC).
    pub fn zone(&self) -> String {
        if self.offset == UtcOffset::UTC {
            return "Z".into();
        }
        let (h, m, _) = self.offset.as_hms();
        format!(
            "{}{:02}:{:02}",
            if self.offset.is_negative() { '-' } else { '+' },
            h.unsigned_abs(),
            m.unsigned_abs()
        )
    }

    /// Now as a FHIR dateTime in the clinic's offset (`authored`).
    pub fn now_fhir(&self) -> String {
        let now = self.now();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            self.zone()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_and_print() {
        assert_eq!(ClinicClock::parse("+05:30").unwrap().zone(), "+05:30");
        assert_eq!(ClinicClock::parse("-04:00").unwrap().zone(), "-04:00");
        assert_eq!(ClinicClock::parse("Z").unwrap().zone(), "Z");
        assert!(ClinicClock::parse("IST").is_err());
        let stamp = ClinicClock::parse("+05:30").unwrap().now_fhir();
        assert!(stamp.ends_with("+05:30") && stamp.len() == 25, "{stamp}");
    }
}
