//! The request buffer of ABI `tessera:pack@0.1.1`: what a route or webhook handler is given,
//! as one `list<u8>` instead of the `request` record.
//!
//! Why: lowering a record into a guest calls the guest's allocator once per string and list
//! (about fifteen calls into wasm for a typical request), and each call from the host into
//! wasm is one of the costliest steps of a pack call on a server whose caches are cold
//! (`docs/performance.md`, 2026-12-03). One buffer costs one such call. The host encodes
//! ([`encode`]); packs decode ([`decode`]): the SDK does it for its packs, and a pack written
//! against the raw bindings uses this crate too.
//!
//! The layout (all integers little-endian; docs/packs.md, "The request buffer"):
//!
//! ```text
//! request  = str method, str path, pairs params, str query, pairs headers, bytes body, caller
//! caller   = str user, opt username, u32 count then count × str roles, opt patient, opt location
//! pairs    = u32 count, then count × (str name, str value)
//! str      = bytes holding UTF-8
//! bytes    = u32 length, then length bytes
//! opt      = u8 0 (none), or u8 1 then str
//! ```
//!
//! The buffer ends after the last field; anything else is an error, never a panic.

use std::fmt;

/// The signed-in user a call runs for, as the pack sees them (a webhook has none: every field
/// empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// The user's stable id from their token (`sub`).
    pub user: String,
    /// Their display name, where the token carries one.
    pub username: Option<String>,
    /// Tessera roles granted in this organization.
    pub roles: Vec<String>,
    /// The Patient id of a `patient` user.
    pub patient: Option<String>,
    /// The Location the user is working at, if their client said.
    pub location: Option<String>,
}

/// A request to a pack route or webhook: the fields of the ABI's `request` record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Upper-case method.
    pub method: String,
    /// The path below `/t/{tenant}/packs/{pack}`, starting with `/`.
    pub path: String,
    /// Values bound by the route pattern's `{name}` segments.
    pub params: Vec<(String, String)>,
    /// The raw query string, without `?`.
    pub query: String,
    /// Headers the pack may see, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub caller: Caller,
}

/// Why a buffer is not a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset where decoding stopped.
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request buffer is malformed at byte {}: {}",
            self.offset, self.reason
        )
    }
}

impl std::error::Error for DecodeError {}

/// The buffer for `request`.
pub fn encode(request: &Request) -> Vec<u8> {
    let mut out = Writer(Vec::with_capacity(encoded_len(request)));
    out.str(&request.method);
    out.str(&request.path);
    out.pairs(&request.params);
    out.str(&request.query);
    out.pairs(&request.headers);
    out.bytes(&request.body);
    let caller = &request.caller;
    out.str(&caller.user);
    out.opt(caller.username.as_deref());
    out.count(caller.roles.len());
    for role in &caller.roles {
        out.str(role);
    }
    out.opt(caller.patient.as_deref());
    out.opt(caller.location.as_deref());
    out.0
}

/// The exact size of `encode(request)`, so that encoding allocates once.
fn encoded_len(request: &Request) -> usize {
    let str_len = |s: &str| 4 + s.len();
    let opt_len = |s: &Option<String>| 1 + s.as_deref().map_or(0, str_len);
    let pairs_len = |pairs: &[(String, String)]| {
        4 + pairs
            .iter()
            .map(|(k, v)| str_len(k) + str_len(v))
            .sum::<usize>()
    };
    let caller = &request.caller;
    str_len(&request.method)
        + str_len(&request.path)
        + pairs_len(&request.params)
        + str_len(&request.query)
        + pairs_len(&request.headers)
        + 4
        + request.body.len()
        + str_len(&caller.user)
        + opt_len(&caller.username)
        + 4
        + caller.roles.iter().map(|r| str_len(r)).sum::<usize>()
        + opt_len(&caller.patient)
        + opt_len(&caller.location)
}

/// The request in `buffer`.
pub fn decode(buffer: &[u8]) -> Result<Request, DecodeError> {
    let mut input = Reader { buffer, at: 0 };
    let method = input.str()?;
    let path = input.str()?;
    let params = input.pairs()?;
    let query = input.str()?;
    let headers = input.pairs()?;
    let body = input.bytes()?.to_vec();
    let user = input.str()?;
    let username = input.opt()?;
    let roles = (0..input.count()?)
        .map(|_| input.str())
        .collect::<Result<_, _>>()?;
    let patient = input.opt()?;
    let location = input.opt()?;
    if input.at != buffer.len() {
        return Err(input.error("bytes after the last field"));
    }
    Ok(Request {
        method,
        path,
        params,
        query,
        headers,
        body,
        caller: Caller {
            user,
            username,
            roles,
            patient,
            location,
        },
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn count(&mut self, n: usize) {
        // The host bounds bodies and headers far below 4 GiB; a larger field is a bug there.
        let n = u32::try_from(n).expect("a request field of 4 GiB or more");
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.count(bytes.len());
        self.0.extend_from_slice(bytes);
    }

    fn str(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    fn opt(&mut self, text: Option<&str>) {
        match text {
            None => self.0.push(0),
            Some(text) => {
                self.0.push(1);
                self.str(text);
            }
        }
    }

    fn pairs(&mut self, pairs: &[(String, String)]) {
        self.count(pairs.len());
        for (name, value) in pairs {
            self.str(name);
            self.str(value);
        }
    }
}

struct Reader<'a> {
    buffer: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, reason: &'static str) -> DecodeError {
        DecodeError {
            offset: self.at,
            reason,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.buffer.len())
            .ok_or_else(|| self.error("a field runs past the end"))?;
        let taken = &self.buffer[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn count(&mut self) -> Result<usize, DecodeError> {
        let raw = self.take(4)?;
        Ok(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.count()?;
        self.take(len)
    }

    fn str(&mut self) -> Result<String, DecodeError> {
        let start = self.at;
        let raw = self.bytes()?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| DecodeError {
                offset: start,
                reason: "a text field is not UTF-8",
            })
    }

    fn opt(&mut self) -> Result<Option<String>, DecodeError> {
        match self.take(1)?[0] {
            0 => Ok(None),
            1 => self.str().map(Some),
            _ => Err(DecodeError {
                offset: self.at - 1,
                reason: "an optional field's tag is neither 0 nor 1",
            }),
        }
    }

    fn pairs(&mut self) -> Result<Vec<(String, String)>, DecodeError> {
        let n = self.count()?;
        // Each pair takes at least 8 bytes: a count larger than what is left is malformed,
        // and must not reserve memory for it.
        if n > (self.buffer.len() - self.at) / 8 {
            return Err(self.error("more pairs than the buffer holds"));
        }
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            pairs.push((self.str()?, self.str()?));
        }
        Ok(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Request {
        Request {
            method: "POST".into(),
            path: "/patients/p1/summary".into(),
            params: vec![
                ("id".into(), "p1".into()),
                ("kind".into(), "ünïcode".into()),
            ],
            query: "a=1&b=%20".into(),
            headers: vec![
                ("accept".into(), "*/*".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: vec![0, 1, 2, 255, b'{'],
            caller: Caller {
                user: "u-1".into(),
                username: Some("Dr Ann".into()),
                roles: vec!["clinician".into(), "admin".into()],
                patient: None,
                location: Some("Location/ward-3".into()),
            },
        }
    }

    #[test]
    fn what_is_encoded_decodes_to_the_same_request() {
        for request in [full(), Request::default()] {
            let buffer = encode(&request);
            assert_eq!(buffer.len(), encoded_len(&request));
            assert_eq!(decode(&buffer), Ok(request));
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let buffer = encode(&full());
        for end in 0..buffer.len() {
            let err = decode(&buffer[..end]).unwrap_err();
            assert!(err.offset <= end, "{err} for a buffer of {end} bytes");
        }
    }

    #[test]
    fn malformed_buffers_say_where_and_why() {
        let mut extra = encode(&full());
        extra.push(0);
        assert_eq!(
            decode(&extra).unwrap_err().reason,
            "bytes after the last field"
        );

        // A method whose one byte is not UTF-8.
        let mut bad_utf8 = encode(&Request {
            method: "G".into(),
            ..Default::default()
        });
        bad_utf8[4] = 0xff;
        let err = decode(&bad_utf8).unwrap_err();
        assert_eq!((err.offset, err.reason), (0, "a text field is not UTF-8"));

        // A params count of 4 billion must not reserve memory for them.
        let mut huge = encode(&Request::default());
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode(&huge).unwrap_err().reason,
            "more pairs than the buffer holds"
        );

        // The username's option tag.
        let mut tag = encode(&Request::default());
        let username_tag = tag.len() - 4 - 1 - 1 - 1;
        tag[username_tag] = 7;
        assert_eq!(
            decode(&tag).unwrap_err().reason,
            "an optional field's tag is neither 0 nor 1"
        );
    }
}
