//! A JSON object written straight into a string, for routes that answer often.
//!
//! `Response::json(&json!({...}))` is the easy way to answer, and the one to use by default.
//! It builds a `serde_json::Value` (a map and a string per field), serializes it, and runs
//! serde_json's code for that on every call. In a pack that code is the pack's own copy,
//! compiled to wasm and cold at the start of each call, because every call gets a fresh
//! instance: on the benchmark's route it cost 5–15 µs a call (docs/performance.md,
//! "Packs: the guest's own code"). [`JsonObject`] writes the same bytes with a few dozen
//! instructions of its own.
//!
//! ```
//! use tessera_pack_sdk::json::JsonObject;
//! use tessera_pack_sdk::Response;
//!
//! let body = JsonObject::new()
//!     .string("greeting", "Hello, \"Ann\"!")
//!     .optional_string("location", None)
//!     .strings("roles", ["clinician", "admin"])
//!     .integer("visits", 3)
//!     .boolean("adult", true);
//! assert_eq!(
//!     body.clone().finish(),
//!     r#"{"greeting":"Hello, \"Ann\"!","location":null,"roles":["clinician","admin"],"visits":3,"adult":true}"#
//! );
//! let response = Response::json_object(body);
//! assert_eq!(response.header_value("content-type"), Some("application/json"));
//! ```
//!
//! Fields are written in the order they are added, and a key added twice is written twice:
//! the writer does not remember keys, which is what keeps it small.

/// A JSON object being written; see the [module](self).
#[derive(Clone, Debug)]
pub struct JsonObject {
    out: String,
}

impl Default for JsonObject {
    fn default() -> Self {
        JsonObject::new()
    }
}

impl JsonObject {
    /// An empty object.
    pub fn new() -> JsonObject {
        JsonObject::with_capacity(128)
    }

    /// An empty object with room for `bytes` of output before it grows.
    pub fn with_capacity(bytes: usize) -> JsonObject {
        let mut out = String::with_capacity(bytes.max(2));
        out.push('{');
        JsonObject { out }
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        write_string(&mut self.out, key);
        self.out.push(':');
    }

    /// `key: "value"`.
    pub fn string(mut self, key: &str, value: &str) -> JsonObject {
        self.key(key);
        write_string(&mut self.out, value);
        self
    }

    /// `key: "value"`, or `key: null` for `None`.
    pub fn optional_string(mut self, key: &str, value: Option<&str>) -> JsonObject {
        self.key(key);
        match value {
            Some(value) => write_string(&mut self.out, value),
            None => self.out.push_str("null"),
        }
        self
    }

    /// `key: ["a", "b", ...]`.
    pub fn strings<I, S>(mut self, key: &str, values: I) -> JsonObject
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.key(key);
        self.out.push('[');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_string(&mut self.out, value.as_ref());
        }
        self.out.push(']');
        self
    }

    /// `key: 42`.
    pub fn integer(mut self, key: &str, value: i64) -> JsonObject {
        self.key(key);
        // `i64::MIN` has no positive twin, so the digits come from the unsigned magnitude.
        if value < 0 {
            self.out.push('-');
        }
        write_digits(&mut self.out, value.unsigned_abs());
        self
    }

    /// `key: true` or `key: false`.
    pub fn boolean(mut self, key: &str, value: bool) -> JsonObject {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    /// `key: null`.
    pub fn null(mut self, key: &str) -> JsonObject {
        self.key(key);
        self.out.push_str("null");
        self
    }

    /// The finished object.
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

// By hand rather than with `write!`: the formatting machinery is the kind of cold code this
// module exists to keep off a call's path.
fn write_digits(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or("0"));
}

/// `value` as a JSON string, escaped the way serde_json escapes it.
fn write_string(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut plain_from = 0;
    for (at, byte) in value.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Escapes sit on ASCII bytes, so the slices between them are whole characters.
        out.push_str(&value[plain_from..at]);
        if escaped.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 15)] as char);
        } else {
            out.push_str(escaped);
        }
        plain_from = at + 1;
    }
    out.push_str(&value[plain_from..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const AWKWARD: &[&str] = &[
        "",
        "plain",
        "quote \" and backslash \\",
        "new\nline, tab\t, return\r, bell\u{7}, nul\u{0}, unit\u{1f}, backspace\u{8}, feed\u{c}",
        "ünïcødé, 日本語, emoji 🩺, separators \u{2028}\u{2029}",
        "</script><!--",
        "\u{7f} delete",
    ];

    #[test]
    fn strings_are_escaped_exactly_as_serde_json_escapes_them() {
        for text in AWKWARD {
            let ours = JsonObject::new().string("k", text).finish();
            let theirs = json!({ "k": text }).to_string();
            assert_eq!(ours, theirs, "for {text:?}");
        }
    }

    #[test]
    fn keys_are_escaped_too() {
        let ours = JsonObject::new().null("a\"b\\c\n").finish();
        let parsed: Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(parsed, json!({"a\"b\\c\n": null}));
    }

    #[test]
    fn every_kind_of_field_reads_back_as_written() {
        let ours = JsonObject::new()
            .string("s", "x")
            .optional_string("some", Some("y"))
            .optional_string("none", None)
            .strings("list", AWKWARD.iter())
            .strings("empty", Vec::<String>::new())
            .integer("zero", 0)
            .integer("max", i64::MAX)
            .integer("min", i64::MIN)
            .integer("negative", -42)
            .boolean("yes", true)
            .boolean("no", false)
            .null("nothing")
            .finish();
        let parsed: Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(
            parsed,
            json!({
                "s": "x", "some": "y", "none": null, "list": AWKWARD, "empty": [],
                "zero": 0, "max": i64::MAX, "min": i64::MIN, "negative": -42,
                "yes": true, "no": false, "nothing": null,
            })
        );
    }

    #[test]
    fn an_empty_object_is_valid_json() {
        assert_eq!(JsonObject::new().finish(), "{}");
        assert_eq!(JsonObject::with_capacity(0).finish(), "{}");
    }
}
