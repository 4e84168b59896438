//! What a route or webhook handler is given.

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::query::Query;

/// An HTTP method a route or webhook answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The upper-case name (`GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = Error;

    fn from_str(text: &str) -> Result<Method> {
        Ok(match text {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            other => return Err(Error::bad_request(format!("method {other} is not served"))),
        })
    }
}

/// The signed-in user a pack runs for. A webhook has none: every field is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// The user's stable id from their token (`sub`).
    pub user: String,
    /// Their display name, where the token carries one.
    pub username: Option<String>,
    /// Tessera roles granted in this organization.
    pub roles: Vec<String>,
    /// The Patient id of a `patient` user, who only ever sees their own record.
    pub patient: Option<String>,
    /// The Location the user is working at, if their client said.
    pub location: Option<String>,
}

impl Caller {
    /// Does the caller hold `role`?
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// A request to one of the pack's routes or webhooks.
///
/// ```
/// use tessera_pack_sdk::{Method, Request};
///
/// let request = Request::builder(Method::Post, "/patients/p1/notes")
///     .param("id", "p1")
///     .query("draft=true")
///     .header("Content-Type", "application/json")
///     .body(r#"{"text": "Seen today"}"#)
///     .build();
/// assert_eq!(request.param("id"), Some("p1"));
/// assert_eq!(request.query().get("draft"), Some("true"));
/// assert_eq!(request.header("content-type"), Some("application/json"));
/// let note: serde_json::Value = request.json().unwrap();
/// assert_eq!(note["text"], "Seen today");
/// ```
#[derive(Clone, Debug)]
pub struct Request {
    method: Method,
    path: String,
    params: Vec<(String, String)>,
    raw_query: String,
    query: Query,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    caller: Caller,
}

impl Request {
    /// Starts a request by hand, for unit tests of handlers.
    pub fn builder(method: Method, path: impl Into<String>) -> RequestBuilder {
        RequestBuilder {
            request: Request {
                method,
                path: path.into(),
                params: Vec::new(),
                raw_query: String::new(),
                query: Query::default(),
                headers: Vec::new(),
                body: Vec::new(),
                caller: Caller::default(),
            },
        }
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The path below `/t/{tenant}/packs/{pack}`, starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A value bound by the route pattern's `{name}` segment, already percent-decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Like [`Request::param`], parsed as `T`; a 400 error naming the segment when it is
    /// missing or does not parse.
    pub fn param_as<T>(&self, name: &str) -> Result<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let value = self
            .param(name)
            .ok_or_else(|| Error::bad_request(format!("the path has no {{{name}}} segment")))?;
        value
            .parse()
            .map_err(|e| Error::bad_request(format!("path segment {name}={value:?}: {e}")))
    }

    /// The parsed query string.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The raw query string, without `?`.
    pub fn raw_query(&self) -> &str {
        &self.raw_query
    }

    /// A header's value; names compare without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, names in lower case.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The body's bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8 text; a 400 error when it is not.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body)
            .map_err(|_| Error::bad_request("the request body is not UTF-8 text"))
    }

    /// The body parsed as JSON into `T`; a 400 error saying what does not fit.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        if self.body.is_empty() {
            return Err(Error::bad_request("the request needs a JSON body"));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::bad_request(format!("the request body does not fit: {e}")))
    }

    /// Who is calling (empty for a webhook).
    pub fn caller(&self) -> &Caller {
        &self.caller
    }
}

/// Builds a [`Request`] by hand (see [`Request::builder`]).
#[derive(Clone, Debug)]
pub struct RequestBuilder {
    request: Request,
}

impl RequestBuilder {
    /// Binds a path parameter.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.params.push((name.into(), value.into()));
        self
    }

    /// Sets the raw query string (without `?`).
    pub fn query(mut self, raw: impl Into<String>) -> Self {
        self.request.raw_query = raw.into();
        self.request.query = Query::parse(&self.request.raw_query);
        self
    }

    /// Adds a header (the name is stored in lower case, as the host sends them).
    pub fn header(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.request
            .headers
            .push((name.as_ref().to_ascii_lowercase(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.request.body = body.into();
        self
    }

    /// Sets who is calling.
    pub fn caller(mut self, caller: Caller) -> Self {
        self.request.caller = caller;
        self
    }

    /// The request.
    pub fn build(self) -> Request {
        self.request
    }
}

impl Request {
    /// Translates the host's request.
    pub(crate) fn from_host(request: crate::bindings::tessera::pack::types::Request) -> Request {
        let caller = request.caller;
        Request {
            // The host only routes the methods a route registered, all of which parse.
            method: request.method.parse().unwrap_or(Method::Get),
            path: request.path,
            params: request.params,
            query: Query::parse(&request.query),
            raw_query: request.query,
            headers: request
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            body: request.body,
            caller: Caller {
                user: caller.user,
                username: caller.username,
                roles: caller.roles,
                patient: caller.patient,
                location: caller.location,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_params_and_bodies_say_what_is_wrong() {
        let request = Request::builder(Method::Get, "/weeks/x")
            .param("weeks", "x")
            .build();
        let err = request.param_as::<u32>("weeks").unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.message().contains("weeks=\"x\""), "{err}");
        assert!(request.param_as::<u32>("other").is_err());
        let err = request.json::<serde_json::Value>().unwrap_err();
        assert!(err.message().contains("needs a JSON body"), "{err}");
        let bad = Request::builder(Method::Post, "/").body("{").build();
        assert_eq!(bad.json::<serde_json::Value>().unwrap_err().status(), 400);
    }

    #[test]
    fn methods_round_trip() {
        for method in [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
        ] {
            assert_eq!(method.as_str().parse::<Method>().unwrap(), method);
        }
        assert!("TRACE".parse::<Method>().is_err());
    }
}
