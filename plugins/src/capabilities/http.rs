//! Outbound HTTP to granted origins only.
//!
//! An origin is `scheme://host[:port]`, or `scheme://host:*` for any port (tests and local
//! services). Redirects are not followed, since a redirect could lead anywhere; the pack gets
//! the 3xx and may call the new place only if it too is granted. Responses are cut off at
//! `outbound_response_bytes`, and each request has `outbound_timeout_ms`.

use std::time::Duration;

use super::{HostError, HostState};
use crate::capabilities::log::truncate;

/// A granted origin.
#[derive(Clone, Debug, PartialEq)]
pub struct OriginPattern {
    scheme: String,
    host: String,
    /// None: any port.
    port: Option<u16>,
}

impl OriginPattern {
    pub fn parse(text: &str) -> Result<OriginPattern, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} must be an origin such as https://api.example.org"))?;
        if scheme != "https" && scheme != "http" {
            return Err(format!(
                "{text:?}: only http and https origins can be granted"
            ));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('@') || rest.contains('?') {
            return Err(format!(
                "{text:?}: grant an origin (scheme, host, port), not a path or credentials"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, "*")) => (host, None),
            Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("{text:?}: {port:?} is not a port"))?;
                (host, Some(port))
            }
            _ => (rest, Some(if scheme == "https" { 443 } else { 80 })),
        };
        let url = url::Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| format!("{text:?}: {e}"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty() && !h.contains('*'))
            .ok_or_else(|| format!("{text:?} has no host"))?;
        Ok(OriginPattern {
            scheme: scheme.to_string(),
            host: host.to_string(),
            port,
        })
    }

    pub fn allows(&self, url: &url::Url) -> bool {
        url.scheme() == self.scheme
            && url.host_str() == Some(self.host.as_str())
            && url.username().is_empty()
            && url.password().is_none()
            && match self.port {
                None => true,
                Some(port) => url.port_or_known_default() == Some(port),
            }
    }
}

/// An outbound request as the pack made it.
pub struct Outbound {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The answer handed back to the pack.
pub struct Inbound {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The client packs' requests go through: no redirects, no cookies, no proxies from the
/// environment.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent("tessera-pack-host")
        .build()
        .expect("build the outbound HTTP client")
}

impl HostState {
    pub(crate) async fn http_send(&mut self, request: Outbound) -> Result<Inbound, HostError> {
        self.spend_call()?;
        let url = url::Url::parse(&request.url)
            .map_err(|e| HostError::Invalid(format!("{:?} is not a URL: {e}", request.url)))?;
        if !self.call.grant.http.iter().any(|o| o.allows(&url)) {
            return Err(HostError::Denied(format!(
                "pack {} was not granted outbound HTTP to {}",
                self.call.pack_id,
                url.origin().ascii_serialization()
            )));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| HostError::Invalid(format!("{:?} is not a method", request.method)))?;
        let mut builder = self
            .http
            .request(method, url.clone())
            .timeout(Duration::from_millis(self.limits.outbound_timeout_ms))
            .body(request.body);
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case("host") {
                continue;
            }
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut response = builder.send().await.map_err(|e| {
            HostError::Unavailable(format!(
                "{}: {}",
                url.origin().ascii_serialization(),
                truncate(&e.to_string(), 300)
            ))
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HostError::Unavailable(truncate(&e.to_string(), 300)))?
        {
            if body.len() + chunk.len() > self.limits.outbound_response_bytes {
                return Err(HostError::Limit(format!(
                    "the response from {} is larger than {} bytes",
                    url.origin().ascii_serialization(),
                    self.limits.outbound_response_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Inbound {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).unwrap()
    }

    #[test]
    fn origins() {
        let api = OriginPattern::parse("https://api.example.org").unwrap();
        assert!(api.allows(&url("https://api.example.org/v1?x=1")));
        assert!(api.allows(&url("https://API.example.org:443/")));
        assert!(!api.allows(&url("http://api.example.org/")));
        assert!(!api.allows(&url("https://api.example.org:8443/")));
        assert!(!api.allows(&url("https://api.example.org.evil.com/")));
        assert!(!api.allows(&url("https://user:pw@api.example.org/")));
        let local = OriginPattern::parse("http://127.0.0.1:*").unwrap();
        assert!(local.allows(&url("http://127.0.0.1:9999/x")));
        assert!(!local.allows(&url("http://127.0.0.2:9999/x")));
        assert!(OriginPattern::parse("ftp://x").is_err());
        assert!(OriginPattern::parse("https://x/path").is_err());
        assert!(OriginPattern::parse("https://*.example.org").is_err());
        assert!(OriginPattern::parse("api.example.org").is_err());
    }
}
