//! FHIR content negotiation: request bodies, `_format`/`Accept`, `Prefer`, and rendering
//! responses as `application/fhir+json`.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::fhir::bundle::Return;
use crate::fhir::outcome::{FhirError, Issue};

pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let mut response = FhirResponse::json(self.status, &self.to_outcome()).into_response();
        if self.status == axum::http::StatusCode::UNAUTHORIZED {
            // RFC 6750: say which scheme is expected and that the token was the problem.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static(
                    "Bearer realm=\"tessera\", error=\"invalid_token\"",
                ),
            );
        }
        response
    }
}

/// A JSON request body, with FHIR errors for every way it can be wrong.
pub struct FhirJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for FhirJson {
    type Rejection = FhirError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        if let Some(ct) = &content_type {
            let json_like = ct.starts_with("application/fhir+json")
                || ct.starts_with("application/json")
                || ct.starts_with("application/json-patch+json")
                || ct.starts_with("text/json");
            if !json_like {
                return Err(FhirError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Issue::error(
                        "not-supported",
                        format!("Content-Type {ct:?} is not supported; send application/fhir+json"),
                    ),
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                FhirError::new(
                    status,
                    Issue::error(
                        "too-long",
                        "the request body is larger than this server accepts (max_body_bytes)",
                    ),
                )
            } else {
                FhirError::new(
                    status,
                    Issue::error(
                        "invalid",
                        format!("cannot read the request body: {rejection}"),
                    ),
                )
            }
        })?;
        if bytes.is_empty() {
            return Err(FhirError::bad_request(
                "required",
                "the request has no body; send a FHIR resource as JSON",
            ));
        }
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            FhirError::bad_request("structure", format!("the body is not valid JSON: {e}"))
        })?;
        Ok(FhirJson(value))
    }
}

/// Refuses formats other than JSON (406), before any handler runs.
pub async fn require_json(req: Request, next: Next) -> Response {
    let format = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "_format")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(format) = format {
        // An unencoded `+` (`_format=application/fhir+json`) arrives as a space.
        let format = format.replace(' ', "+");
        if !matches!(
            format.as_str(),
            "json" | "application/json" | "application/fhir+json"
        ) {
            return FhirError::new(
                StatusCode::NOT_ACCEPTABLE,
                Issue::error(
                    "not-supported",
                    format!(
                        "_format={format} is not supported; this server speaks JSON (_format=json)"
                    ),
                ),
            )
            .into_response();
        }
    } else if let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    {
        let accepts_json = accept.split(',').any(|part| {
            let media = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            media.is_empty()
                || media == "*/*"
                || media == "application/*"
                || media.starts_with("application/fhir+json")
                || media.starts_with("application/json")
                || media.starts_with("text/json")
        });
        if !accepts_json {
            return FhirError::new(
                StatusCode::NOT_ACCEPTABLE,
                Issue::error(
                    "not-supported",
                    format!(
                        "cannot answer in {accept:?}; this server speaks application/fhir+json"
                    ),
                ),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// `Prefer: return=...`; representation is the default for single interactions.
pub fn prefer_return(headers: &HeaderMap, default: Return) -> Return {
    let Some(prefer) = headers.get("prefer").and_then(|v| v.to_str().ok()) else {
        return default;
    };
    for part in prefer.split([',', ';']) {
        match part.trim().to_ascii_lowercase().replace(' ', "").as_str() {
            "return=minimal" => return Return::Minimal,
            "return=representation" => return Return::Representation,
            "return=operationoutcome" => return Return::OperationOutcome,
            _ => {}
        }
    }
    default
}

/// `Prefer: handling=strict`: refuse unknown or malformed search parameters instead of
/// ignoring them (lenient is the default).
pub fn prefer_strict(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .any(|part| part.trim().to_ascii_lowercase().replace(' ', "") == "handling=strict")
}

/// `_pretty=true` asks for indented JSON.
pub fn wants_pretty(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "_pretty" && v == "true")
    })
}

/// A FHIR response: status, JSON body (already serialised) and headers.
pub struct FhirResponse {
    status: StatusCode,
    body: Option<String>,
    headers: Vec<(header::HeaderName, String)>,
}

impl FhirResponse {
    pub fn json(status: StatusCode, value: &Value) -> FhirResponse {
        FhirResponse {
            status,
            body: Some(value.to_string()),
            headers: Vec::new(),
        }
    }

    pub fn raw(status: StatusCode, body: String) -> FhirResponse {
        FhirResponse {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub fn empty(status: StatusCode) -> FhirResponse {
        FhirResponse {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: header::HeaderName, value: impl Into<String>) -> FhirResponse {
        self.headers.push((name, value.into()));
        self
    }

    pub fn pretty(mut self, pretty: bool) -> FhirResponse {
        if pretty {
            if let Some(body) = &self.body {
                if let Ok(value) = serde_json::from_str::<Value>(body) {
                    self.body = serde_json::to_string_pretty(&value).ok();
                }
            }
        }
        self
    }
}

impl IntoResponse for FhirResponse {
    fn into_response(self) -> Response {
        let mut builder = Response::builder().status(self.status);
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                builder = builder.header(name, v);
            }
        }
        match self.body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, FHIR_JSON)
                .body(Body::from(body)),
            None => builder.body(Body::empty()),
        }
        .expect("valid response")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(
            prefer_return(&h, Return::Representation),
            Return::Representation
        );
        h.insert(
            "prefer",
            HeaderValue::from_static("handling=strict, return=minimal"),
        );
        assert_eq!(prefer_return(&h, Return::Representation), Return::Minimal);
        h.insert(
            "prefer",
            HeaderValue::from_static("return=OperationOutcome"),
        );
        assert_eq!(prefer_return(&h, Return::Minimal), Return::OperationOutcome);
    }
}
