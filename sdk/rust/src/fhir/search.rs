//! Typed FHIR search parameters, turned into a correctly escaped query string.

use std::fmt;

use crate::query::encode_component;

/// A comparison prefix for number, date and quantity parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefix {
    /// `eq`: equal (the default when no prefix is given).
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `gt`: greater than.
    Gt,
    /// `lt`: less than.
    Lt,
    /// `ge`: greater or equal.
    Ge,
    /// `le`: less or equal.
    Le,
    /// `sa`: starts after.
    Sa,
    /// `eb`: ends before.
    Eb,
    /// `ap`: approximately.
    Ap,
}

impl Prefix {
    /// The two-letter prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::Eq => "eq",
            Prefix::Ne => "ne",
            Prefix::Gt => "gt",
            Prefix::Lt => "lt",
            Prefix::Ge => "ge",
            Prefix::Le => "le",
            Prefix::Sa => "sa",
            Prefix::Eb => "eb",
            Prefix::Ap => "ap",
        }
    }
}

/// Search parameters for [`crate::fhir::search`]. Values are escaped twice over, as FHIR
/// wants: `\`, `|`, `,` and `$` inside a value with a backslash, then the whole for the URL.
///
/// ```
/// use tessera_pack_sdk::fhir::{Prefix, SearchParams};
///
/// let params = SearchParams::new()
///     .token("code", Some("http://loinc.org"), "8480-6")
///     .reference("subject", "Patient/p1")
///     .date("date", Prefix::Ge, "2024-01-01")
///     .sort_descending("date")
///     .count(10);
/// assert_eq!(
///     params.to_query(),
///     "code=http%3A%2F%2Floinc.org%7C8480-6&subject=Patient%2Fp1&date=ge2024-01-01&_sort=-date&_count=10"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchParams {
    pairs: Vec<(String, String)>,
}

/// Escapes FHIR's search separators inside one literal value.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | '|' | ',' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl SearchParams {
    /// No parameters: every resource of the type, a page at a time.
    pub fn new() -> SearchParams {
        SearchParams::default()
    }

    /// A parameter whose value is already in FHIR syntax (it is only URL-encoded): for
    /// modifiers and forms the typed methods do not cover, such as `name:contains`.
    pub fn raw(mut self, name: impl Into<String>, value: impl Into<String>) -> SearchParams {
        self.pairs.push((name.into(), value.into()));
        self
    }

    /// A string parameter (`name=smith` matches names starting with "smith", ignoring
    /// case and accents).
    pub fn string(self, name: &str, value: &str) -> SearchParams {
        self.raw(name, escape_value(value))
    }

    /// A string parameter that must match exactly (`name:exact`).
    pub fn exact(self, name: &str, value: &str) -> SearchParams {
        self.raw(format!("{name}:exact"), escape_value(value))
    }

    /// A token: a code in a system (`system|code`), or a code in any system when `system` is
    /// `None`.
    pub fn token(self, name: &str, system: Option<&str>, code: &str) -> SearchParams {
        let value = match system {
            Some(system) => format!("{}|{}", escape_value(system), escape_value(code)),
            None => escape_value(code),
        };
        self.raw(name, value)
    }

    /// A reference to a resource (`Patient/p1`).
    pub fn reference(self, name: &str, reference: &str) -> SearchParams {
        self.raw(name, escape_value(reference))
    }

    /// A date or dateTime with a prefix (`date=ge2024-01-01`).
    pub fn date(self, name: &str, prefix: Prefix, date: &str) -> SearchParams {
        self.raw(name, format!("{}{}", prefix.as_str(), escape_value(date)))
    }

    /// A number with a prefix (`probability=gt0.8`).
    pub fn number(self, name: &str, prefix: Prefix, number: impl fmt::Display) -> SearchParams {
        self.raw(name, format!("{}{number}", prefix.as_str()))
    }

    /// A quantity with a prefix, in a unit of a system (`value-quantity=gt140|http://unitsofmeasure.org|mm[Hg]`).
    pub fn quantity(
        self,
        name: &str,
        prefix: Prefix,
        number: impl fmt::Display,
        system: &str,
        unit: &str,
    ) -> SearchParams {
        self.raw(
            name,
            format!(
                "{}{number}|{}|{}",
                prefix.as_str(),
                escape_value(system),
                escape_value(unit)
            ),
        )
    }

    /// Any of several values of one parameter (`code=a,b`), each escaped.
    pub fn any_of(self, name: &str, values: &[&str]) -> SearchParams {
        let joined = values
            .iter()
            .map(|v| escape_value(v))
            .collect::<Vec<_>>()
            .join(",");
        self.raw(name, joined)
    }

    /// At most `count` results per page (`_count`).
    pub fn count(self, count: u32) -> SearchParams {
        self.raw("_count", count.to_string())
    }

    /// Sort by a parameter, ascending (`_sort=date`). Call again for a second key.
    pub fn sort(self, name: &str) -> SearchParams {
        self.append_sort(name.to_string())
    }

    /// Sort by a parameter, descending (`_sort=-date`).
    pub fn sort_descending(self, name: &str) -> SearchParams {
        self.append_sort(format!("-{name}"))
    }

    fn append_sort(mut self, key: String) -> SearchParams {
        if let Some((_, value)) = self.pairs.iter_mut().find(|(n, _)| n == "_sort") {
            value.push(',');
            value.push_str(&key);
            return self;
        }
        self.raw("_sort", key)
    }

    /// Also return resources this one refers to (`_include=Observation:subject`).
    pub fn include(self, include: &str) -> SearchParams {
        self.raw("_include", include)
    }

    /// Also return resources that refer to the matches (`_revinclude=Observation:subject`).
    pub fn revinclude(self, include: &str) -> SearchParams {
        self.raw("_revinclude", include)
    }

    /// The query string, without `?`.
    pub fn to_query(&self) -> String {
        self.pairs
            .iter()
            .map(|(name, value)| format!("{}={}", encode_name(name), encode_component(value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Parameter names keep `:` (modifiers) and `.` (chains) readable; everything else is
/// escaped like a value.
fn encode_name(name: &str) -> String {
    name.split(':')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Query;

    #[test]
    fn separators_inside_values_are_escaped_for_fhir_then_the_url() {
        let params = SearchParams::new()
            .token("identifier", Some("urn:sys|weird"), "A,B")
            .exact("name", "O'Brien $1")
            .any_of("status", &["final", "amended"]);
        let query = Query::parse(&params.to_query());
        assert_eq!(query.get("identifier"), Some("urn:sys\\|weird|A\\,B"));
        assert_eq!(query.get("name:exact"), Some("O'Brien \\$1"));
        assert_eq!(query.get("status"), Some("final,amended"));
    }

    #[test]
    fn sort_keys_accumulate_and_prefixes_are_written() {
        let params = SearchParams::new()
            .sort("family")
            .sort_descending("birthdate")
            .number("probability", Prefix::Gt, 0.8)
            .quantity(
                "value-quantity",
                Prefix::Ge,
                140,
                "http://unitsofmeasure.org",
                "mm[Hg]",
            );
        let query = Query::parse(&params.to_query());
        assert_eq!(query.get("_sort"), Some("family,-birthdate"));
        assert_eq!(query.get("probability"), Some("gt0.8"));
        assert_eq!(
            query.get("value-quantity"),
            Some("ge140|http://unitsofmeasure.org|mm[Hg]")
        );
        assert_eq!(SearchParams::new().to_query(), "");
    }
}
