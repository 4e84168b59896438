//! Query strings: parsing with percent-decoding, and encoding values for URLs.

use std::str::FromStr;

use crate::error::{Error, Result};

/// A parsed query string (`a=1&b=x%20y&a=2`), in order, with names and values decoded
/// (`%XX` escapes, and `+` as a space).
///
/// ```
/// use tessera_pack_sdk::Query;
///
/// let query = Query::parse("name=Ann%20Lee&tag=a&tag=b&weeks=12");
/// assert_eq!(query.get("name"), Some("Ann Lee"));
/// assert_eq!(query.get_all("tag"), vec!["a", "b"]);
/// assert_eq!(query.parse_value::<u32>("weeks").unwrap(), Some(12));
/// assert!(query.parse_value::<u32>("name").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string (without `?`). Malformed escapes are kept as written
    /// rather than refused, as browsers do.
    pub fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode_component(name), decode_component(value))
            })
            .collect();
        Query { pairs }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of `name` parsed as `T`; a 400 error naming the parameter when it
    /// does not parse.
    pub fn parse_value<T>(&self, name: &str) -> Result<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.get(name)
            .map(|value| {
                value.parse::<T>().map_err(|e| {
                    Error::bad_request(format!("query parameter {name}={value:?}: {e}"))
                })
            })
            .transpose()
    }

    /// Every (name, value) pair, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// No parameters at all?
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Decodes one query-string component: `+` is a space, `%XX` a byte. Bytes that do not form
/// UTF-8 are replaced, and a `%` not followed by two hex digits stays as it is.
pub fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a value for a query string or path segment: everything but the
/// unreserved characters (`A-Z a-z 0-9 - . _ ~`) is escaped.
///
/// ```
/// assert_eq!(tessera_pack_sdk::query::encode_component("a b|c/é"), "a%20b%7Cc%2F%C3%A9");
/// ```
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_plus_and_keeps_malformed_escapes() {
        let query = Query::parse("q=a+b%2Bc&bad=100%&x=%zz&empty=&flag&&u=%C3%A9");
        assert_eq!(query.get("q"), Some("a b+c"));
        assert_eq!(query.get("bad"), Some("100%"));
        assert_eq!(query.get("x"), Some("%zz"));
        assert_eq!(query.get("empty"), Some(""));
        assert_eq!(query.get("flag"), Some(""));
        assert_eq!(query.get("u"), Some("é"));
        assert_eq!(query.get("missing"), None);
        assert_eq!(query.pairs().count(), 6);
        assert!(Query::parse("").is_empty());
    }

    #[test]
    fn a_value_that_does_not_parse_names_the_parameter() {
        let err = Query::parse("count=ten")
            .parse_value::<u8>("count")
            .unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.message().contains("count=\"ten\""), "{err}");
    }

    #[test]
    fn encoding_round_trips() {
        let text = "Ann & Bob = 100% / ü?";
        assert_eq!(decode_component(&encode_component(text)), text);
    }
}
