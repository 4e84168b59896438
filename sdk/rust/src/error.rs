//! Errors a pack's handlers return, and how they reach the caller.
//!
//! Host calls (FHIR, key-value store, outbound HTTP) fail with the host's reason; request
//! helpers fail when the caller sent something malformed. A handler returns them with `?`,
//! and the SDK answers the caller with the matching HTTP status and a JSON body
//! `{"error": "<kind>", "message": "..."}`, so most handlers never build an error response
//! themselves.

use std::fmt;

use crate::bindings::tessera::pack::types::HostError;

/// What went wrong, and therefore which HTTP status the caller gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller sent something malformed (400).
    BadRequest,
    /// The organization did not grant the pack this, or the caller may not do it (403).
    Denied,
    /// Nothing there (404).
    NotFound,
    /// The host refused a malformed request from the pack (422), for example a FHIR resource
    /// that does not validate.
    Invalid,
    /// A limit was reached: size, count or rate (429).
    Limit,
    /// Something further away failed; worth retrying later (503).
    Unavailable,
    /// The pack itself is wrong or misconfigured (500).
    Internal,
}

impl ErrorKind {
    /// The HTTP status a caller gets for this kind.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Denied => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Invalid => 422,
            ErrorKind::Limit => 429,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }

    /// A short word for the kind, as sent in the error body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad-request",
            ErrorKind::Denied => "denied",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Limit => "limit",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error with its kind and a message for the caller.
///
/// ```
/// use tessera_pack_sdk::{Error, ErrorKind};
///
/// let err = Error::bad_request("weeks must be between 1 and 45");
/// assert_eq!(err.kind(), ErrorKind::BadRequest);
/// assert_eq!(err.status(), 400);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The result of anything in the SDK that can fail.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// The caller sent something malformed (400).
    pub fn bad_request(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadRequest, message)
    }

    /// The caller may not do this (403).
    pub fn denied(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Denied, message)
    }

    /// Nothing there (404).
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }

    /// The pack is wrong or misconfigured (500).
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message for the caller.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status the caller gets.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The same error with `context` in front of its message (`"reading Patient/1: ..."`).
    pub fn context(self, context: impl fmt::Display) -> Error {
        Error {
            kind: self.kind,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

impl From<HostError> for Error {
    fn from(err: HostError) -> Error {
        match err {
            HostError::Denied(m) => Error::new(ErrorKind::Denied, m),
            HostError::NotFound(m) => Error::new(ErrorKind::NotFound, m),
            HostError::Invalid(m) => Error::new(ErrorKind::Invalid, m),
            HostError::Limit(m) => Error::new(ErrorKind::Limit, m),
            HostError::Unavailable(m) => Error::new(ErrorKind::Unavailable, m),
        }
    }
}

/// JSON the host sent that does not parse is the host's fault or a limit, never the caller's.
pub(crate) fn host_json(what: &str, err: serde_json::Error) -> Error {
    Error::internal(format!("{what} is not the JSON expected: {err}"))
}
