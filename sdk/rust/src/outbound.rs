//! Outbound HTTP, to origins `pack.yaml` lists under `permissions.http` only. The host
//! follows no redirects and bounds the time and the size of the answer.
//!
//! ```no_run
//! use serde_json::{json, Value};
//! use tessera_pack_sdk::{config, outbound::OutboundRequest};
//!
//! # fn example() -> tessera_pack_sdk::Result<()> {
//! let response = OutboundRequest::post("https://api.example.org/v1/lookup")
//!     .bearer(&config::secret("api-key").unwrap_or_default())
//!     .json(&json!({"abha": "12-3456-7890-1234"}))?
//!     .send()?;
//! if response.is_success() {
//!     let answer: Value = response.json()?;
//!     # let _ = answer;
//! }
//! # Ok(()) }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::tessera::pack::outbound_http as host;
use crate::bindings::tessera::pack::types::Header;
use crate::error::{Error, Result};
use crate::request::Method;

/// A request to another system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundRequest {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl OutboundRequest {
    /// A request with `method` to an absolute `url`.
    pub fn new(method: Method, url: impl Into<String>) -> OutboundRequest {
        OutboundRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> OutboundRequest {
        OutboundRequest::new(Method::Get, url)
    }

    /// `POST url`.
    pub fn post(url: impl Into<String>) -> OutboundRequest {
        OutboundRequest::new(Method::Post, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::internal(format!("the request body does not serialize: {e}")))?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Sends it. A host that is not granted is a `Denied` error; a timeout or an answer too
    /// large is `Limit` or `Unavailable`.
    pub fn send(self) -> Result<OutboundResponse> {
        let request = host::OutboundRequest {
            method: self.method.as_str().to_string(),
            url: self.url.clone(),
            headers: self
                .headers
                .into_iter()
                .map(|(name, value)| Header { name, value })
                .collect(),
            body: self.body,
        };
        let response = host::send(&request)
            .map_err(|e| Error::from(e).context(format_args!("{} {}", self.method, self.url)))?;
        Ok(OutboundResponse {
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            body: response.body,
        })
    }
}

/// What another system answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl OutboundResponse {
    /// A 2xx status?
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header's value; names compare without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON into `T`; an `Unavailable` error when the other system sent
    /// something else.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::new(
                crate::ErrorKind::Unavailable,
                format!(
                    "the answer (status {}) is not the JSON expected: {e}",
                    self.status
                ),
            )
        })
    }
}
