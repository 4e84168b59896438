//! What a route or webhook handler answers.

use serde::Serialize;

use crate::error::{Error, Result};

/// An HTTP response.
///
/// ```
/// use serde_json::json;
/// use tessera_pack_sdk::Response;
///
/// let response = Response::json(&json!({"greeting": "Hello"}))
///     .unwrap()
///     .with_status(201)
///     .header("cache-control", "no-store");
/// assert_eq!(response.status(), 201);
/// assert_eq!(response.header_value("Content-Type"), Some("application/json"));
/// assert_eq!(response.body(), br#"{"greeting":"Hello"}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `200` with `value` as JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Response> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::internal(format!("the response does not serialize: {e}")))?;
        Ok(Response::new(200)
            .header("content-type", "application/json")
            .with_body(body))
    }

    /// `200` with an object written by [`JsonObject`](crate::json::JsonObject): the same
    /// kind of answer as [`Response::json`], without serde_json's code on the call's path
    /// (for routes that answer often; see the [`json`](crate::json) module).
    pub fn json_object(object: crate::json::JsonObject) -> Response {
        Response::new(200)
            .header("content-type", "application/json")
            .with_body(object.finish())
    }

    /// `200` with plain text.
    pub fn text(text: impl Into<String>) -> Response {
        Response::new(200)
            .header("content-type", "text/plain; charset=utf-8")
            .with_body(text.into())
    }

    /// `200` with an HTML page. The host serves pack pages with
    /// `Content-Security-Policy: sandbox`, so scripts in them do not run as Tessera.
    pub fn html(html: impl Into<String>) -> Response {
        Response::new(200)
            .header("content-type", "text/html; charset=utf-8")
            .with_body(html.into())
    }

    /// `204 No Content`.
    pub fn no_content() -> Response {
        Response::new(204)
    }

    /// The JSON error body the SDK sends for an [`Error`]:
    /// `{"error": "<kind>", "message": "..."}` with the kind's status.
    pub fn error(error: &Error) -> Response {
        let body = serde_json::json!({"error": error.kind().as_str(), "message": error.message()});
        Response::new(error.status())
            .header("content-type", "application/json")
            .with_body(body.to_string())
    }

    /// The same response with another status.
    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// The same response with `body`.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// Adds a header (names are sent in lower case). The host drops headers a pack may not
    /// set, such as `set-cookie`.
    pub fn header(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Response {
        let name = name.as_ref().to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// A header's value; names compare without regard to case.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub(crate) fn into_host(self) -> crate::bindings::tessera::pack::types::Response {
        use crate::bindings::tessera::pack::types as abi;
        abi::Response {
            status: self.status,
            headers: self
                .headers
                .into_iter()
                .map(|(name, value)| abi::Header { name, value })
                .collect(),
            body: self.body,
        }
    }
}

impl From<Error> for Response {
    fn from(error: Error) -> Response {
        Response::error(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_become_json_with_their_status() {
        let response = Response::from(Error::not_found("no such patient"));
        assert_eq!(response.status(), 404);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["error"], "not-found");
        assert_eq!(body["message"], "no such patient");
    }

    #[test]
    fn a_header_set_twice_keeps_the_last_value() {
        let response = Response::text("x").header("Content-Type", "text/csv");
        assert_eq!(response.header_value("content-type"), Some("text/csv"));
        assert_eq!(response.headers.len(), 1);
    }
}
