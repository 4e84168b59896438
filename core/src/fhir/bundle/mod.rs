//! Batch and transaction Bundles (FHIR R4 §3.1.0.11).
//!
//! A transaction runs in one database transaction: ids are assigned to new resources first,
//! `urn:uuid:` fullUrls and conditional references (`Patient?identifier=s|v`) are rewritten to
//! real references, then entries run in the spec's order (DELETE, POST, PUT/PATCH, GET/HEAD)
//! and either all commit or none does. A batch runs each entry on its own.

mod transaction;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::criteria::Criteria;
use super::engine::{FhirEngine, Written};
use super::outcome::{operation_outcome, FhirError, FhirResult, Issue};
use super::store::Stored;
use super::validate::IdRule;
use crate::clock;
use crate::db::{Access, Database, TenantTx};
use crate::in_tenant_tx;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Method {
    // Declared in the spec's processing order.
    Delete,
    Post,
    Put,
    Patch,
    Get,
    Head,
}

#[derive(Debug, Clone)]
struct Entry {
    index: usize,
    full_url: Option<String>,
    method: Method,
    /// Relative request URL path, e.g. `Patient/1` or `Patient`.
    path: String,
    /// Query string without `?`, if any.
    query: Option<String>,
    resource: Option<Value>,
    if_none_exist: Option<String>,
    if_match: Option<String>,
}

/// What an entry did, rendered into `Bundle.entry.response` (and the resource if asked).
#[derive(Debug, Clone)]
pub struct EntryResult {
    pub status: StatusCode,
    pub stored: Option<Stored>,
    /// A body other than the stored resource (a searchset, an OperationOutcome).
    pub body: Option<Value>,
    /// Reads always carry the resource; writes only when `Prefer: return=representation`.
    pub is_read: bool,
}

impl EntryResult {
    fn written(w: Written) -> EntryResult {
        let status = if w.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        EntryResult {
            status,
            stored: Some(w.stored),
            body: None,
            is_read: false,
        }
    }

    fn read(stored: Stored) -> EntryResult {
        EntryResult {
            status: StatusCode::OK,
            stored: Some(stored),
            body: None,
            is_read: true,
        }
    }

    fn empty(status: StatusCode, body: Option<Value>) -> EntryResult {
        EntryResult {
            status,
            stored: None,
            body,
            is_read: false,
        }
    }
}

/// How much of each written resource the response carries (`Prefer: return=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    Minimal,
    Representation,
    OperationOutcome,
}

pub struct BundleProcessor<'a> {
    pub engine: &'a FhirEngine,
    pub db: &'a Database,
    /// The caller: its tenant and what it may do (each entry is checked against it).
    pub grant: &'a std::sync::Arc<crate::auth::rbac::Grant>,
    /// The tenant's FHIR base URL, e.g. `http://host/t/acme/fhir`.
    pub base: &'a str,
    pub prefer: Return,
}

impl BundleProcessor<'_> {
    pub async fn process(&self, bundle: Value) -> FhirResult<Value> {
        if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            return Err(FhirError::invalid(
                "POST to the FHIR base takes a Bundle of type batch or transaction",
            ));
        }
        let kind = bundle["type"].as_str().unwrap_or_default().to_string();
        let entries = self.parse_entries(&bundle)?;
        match kind.as_str() {
            "transaction" => self.transaction(entries).await,
            "batch" => Ok(self.batch(entries).await),
            other => Err(FhirError::new(
                StatusCode::BAD_REQUEST,
                Issue::error(
                    "invalid",
                    format!("Bundle.type {other:?} cannot be processed; use batch or transaction"),
                )
                .at("Bundle.type"),
            )),
        }
    }

    fn parse_entries(&self, bundle: &Value) -> FhirResult<Vec<Entry>> {
        let list = match &bundle["entry"] {
            Value::Null => return Ok(Vec::new()),
            Value::Array(list) => list,
            _ => {
                return Err(FhirError::new(
                    StatusCode::BAD_REQUEST,
                    Issue::error("structure", "Bundle.entry must be an array").at("Bundle.entry"),
                ))
            }
        };
        list.iter()
            .enumerate()
            .map(|(index, raw)| self.parse_entry(index, raw))
            .collect()
    }

    fn parse_entry(&self, index: usize, raw: &Value) -> FhirResult<Entry> {
        let at = |field: &str| format!("Bundle.entry[{index}].{field}");
        let bad = |field: &str, msg: String| {
            FhirError::new(
                StatusCode::BAD_REQUEST,
                Issue::error("invalid", msg).at(at(field)),
            )
        };
        let request = raw
            .get("request")
            .filter(|r| r.is_object())
            .ok_or_else(|| bad("request", format!("entry {index} has no request")))?;
        let method = match request["method"].as_str() {
            Some("GET") => Method::Get,
            Some("HEAD") => Method::Head,
            Some("POST") => Method::Post,
            Some("PUT") => Method::Put,
            Some("PATCH") => Method::Patch,
            Some("DELETE") => Method::Delete,
            other => return Err(bad("request.method", format!("entry {index}: request.method {other:?} is not GET, HEAD, POST, PUT, PATCH or DELETE"))),
        };
        let url = request["url"]
            .as_str()
            .ok_or_else(|| bad("request.url", format!("entry {index} has no request.url")))?;
        let relative = self.relative_url(url).ok_or_else(|| {
            bad(
                "request.url",
                format!("entry {index}: request.url {url:?} is not on this server"),
            )
        })?;
        let (path, query) = match relative.split_once('?') {
            Some((p, q)) => (p.trim_matches('/').to_string(), Some(q.to_string())),
            None => (relative.trim_matches('/').to_string(), None),
        };
        let resource = raw.get("resource").cloned();
        if matches!(method, Method::Post | Method::Put | Method::Patch) && resource.is_none() {
            return Err(bad(
                "resource",
                format!("entry {index}: a {method:?} needs a resource"),
            ));
        }
        Ok(Entry {
            index,
            full_url: raw["fullUrl"].as_str().map(str::to_string),
            method,
            path,
            query,
            resource,
            if_none_exist: request["ifNoneExist"].as_str().map(str::to_string),
            if_match: request["ifMatch"].as_str().map(str::to_string),
        })
    }

    /// `Patient/1`, `/Patient/1` or `{base}/Patient/1` → `Patient/1`.
    fn relative_url(&self, url: &str) -> Option<String> {
        if let Some(rest) = url.strip_prefix(self.base) {
            return Some(rest.trim_start_matches('/').to_string());
        }
        if url.starts_with("http://") || url.starts_with("https://") {
            // Another base naming this tenant's FHIR endpoint (e.g. a different host name).
            let marker = format!("/t/{}/fhir/", self.grant.tenant);
            return url.split_once(&marker).map(|(_, rest)| rest.to_string());
        }
        Some(url.trim_start_matches('/').to_string())
    }

    async fn batch(&self, entries: Vec<Entry>) -> Value {
        let mut results = Vec::with_capacity(entries.len());
        for entry in entries {
            let access = if matches!(entry.method, Method::Get | Method::Head) {
                Access::Read
            } else {
                Access::Write
            };
            let outcome = in_tenant_tx!(self.db, self.grant, access, |tx| self
                .run_entry(&mut tx, &entry, false)
                .await);
            let result = outcome
                .unwrap_or_else(|err| EntryResult::empty(err.status, Some(err.to_outcome())));
            results.push((entry.index, result));
        }
        self.response_bundle("batch-response", results)
    }

    /// One entry's interaction. In a transaction POST ids were assigned in step 1.
    async fn run_entry(
        &self,
        tx: &mut TenantTx,
        entry: &Entry,
        in_transaction: bool,
    ) -> FhirResult<EntryResult> {
        let segments: Vec<&str> = entry.path.split('/').filter(|s| !s.is_empty()).collect();
        let resource = || entry.resource.clone().expect("checked when parsed");
        let e = self.engine;
        match (entry.method, segments.as_slice(), entry.query.as_deref()) {
            (Method::Post, [ty], _) => {
                let body = resource();
                if in_transaction {
                    e.check_type(ty)?;
                    e.validate(ty, &body, IdRule::Assigned)?;
                    let id = body["id"].as_str().expect("assigned").to_string();
                    e.create_with_id(tx, ty, &id, body)
                        .await
                        .map(EntryResult::written)
                } else {
                    e.create(tx, ty, body, entry.if_none_exist.as_deref())
                        .await
                        .map(EntryResult::written)
                }
            }
            (Method::Put, [ty, id], None) => e
                .update(tx, ty, id, resource(), entry.if_match.as_deref())
                .await
                .map(EntryResult::written),
            (Method::Put, [ty], Some(q)) => e
                .conditional_update(tx, ty, q, resource(), entry.if_match.as_deref())
                .await
                .map(EntryResult::written),
            (Method::Patch, [ty, id], None) => e
                .patch(
                    tx,
                    ty,
                    id,
                    &patch_document(resource())?,
                    entry.if_match.as_deref(),
                )
                .await
                .map(EntryResult::written),
            (Method::Patch, [ty], Some(q)) => e
                .conditional_patch(
                    tx,
                    ty,
                    q,
                    &patch_document(resource())?,
                    entry.if_match.as_deref(),
                )
                .await
                .map(EntryResult::written),
            (Method::Delete, [ty, id], None) => {
                e.delete(tx, ty, id).await?;
                Ok(EntryResult::empty(StatusCode::NO_CONTENT, None))
            }
            (Method::Delete, [ty], Some(q)) => Ok(match e.conditional_delete(tx, ty, q).await? {
                Some(_) => EntryResult::empty(StatusCode::NO_CONTENT, None),
                None => EntryResult::empty(StatusCode::OK, Some(no_match_outcome(ty))),
            }),
            (Method::Get | Method::Head, [ty, id], None) => {
                Ok(EntryResult::read(e.read(tx, ty, id).await?))
            }
            (Method::Get | Method::Head, [ty, id, "_history", vid], None) => {
                Ok(EntryResult::read(e.vread(tx, ty, id, vid).await?))
            }
            (Method::Get | Method::Head, [ty], Some(q)) => {
                e.check_type(ty)?;
                let ids = Criteria::parse(ty, q)?.matching_ids(tx, 1000).await?;
                let mut found = Vec::with_capacity(ids.len());
                for id in &ids {
                    found.push(e.read(tx, ty, id).await?);
                }
                Ok(EntryResult::empty(
                    StatusCode::OK,
                    Some(searchset(self.base, &found)),
                ))
            }
            _ => Err(FhirError::not_supported(format!(
                "{:?} {}{} is not an interaction this server supports inside a Bundle",
                entry.method,
                entry.path,
                entry
                    .query
                    .as_deref()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default()
            ))),
        }
    }

    fn response_bundle(&self, kind: &str, results: Vec<(usize, EntryResult)>) -> Value {
        let entries: Vec<Value> = results
            .into_iter()
            .map(|(_, r)| self.response_entry(r))
            .collect();
        json!({
            "resourceType": "Bundle",
            "id": uuid::Uuid::new_v4().to_string(),
            "type": kind,
            "meta": { "lastUpdated": clock::format_instant(clock::now_micros()) },
            "entry": entries,
        })
    }

    fn response_entry(&self, result: EntryResult) -> Value {
        let mut response = json!({ "status": status_line(result.status) });
        let mut entry = json!({});
        if let Some(stored) = &result.stored {
            entry["fullUrl"] = json!(format!(
                "{}/{}/{}",
                self.base, stored.resource_type, stored.id
            ));
            if result.status == StatusCode::CREATED {
                response["location"] = json!(stored.versioned_path());
            }
            response["etag"] = json!(stored.etag());
            response["lastModified"] = json!(clock::format_instant(stored.last_updated));
            if self.prefer == Return::Representation || result.is_read {
                if let Some(resource) = stored.json() {
                    entry["resource"] = resource;
                }
            }
        }
        if let Some(body) = result.body {
            if body["resourceType"] == "OperationOutcome" {
                response["outcome"] = body;
            } else {
                entry["resource"] = body;
            }
        } else if self.prefer == Return::OperationOutcome {
            response["outcome"] =
                operation_outcome(&[Issue::information(status_line(result.status))]);
        }
        entry["response"] = response;
        entry
    }
}

/// In a Bundle a JSON Patch travels as a Binary resource holding the patch (base64).
fn patch_document(resource: Value) -> FhirResult<Value> {
    if resource["resourceType"] == "Binary" {
        use base64::Engine;
        let data = resource["data"]
            .as_str()
            .ok_or_else(|| FhirError::invalid("the PATCH entry's Binary has no data"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| FhirError::invalid("the PATCH entry's Binary.data is not base64"))?;
        return serde_json::from_slice(&bytes).map_err(|e| {
            FhirError::invalid(format!(
                "the PATCH entry's Binary does not hold a JSON Patch: {e}"
            ))
        });
    }
    if resource.is_array() {
        return Ok(resource);
    }
    Err(FhirError::not_supported("PATCH entries must hold a JSON Patch in a Binary resource (FHIRPath Patch is not supported)"))
}

/// The answer to a conditional delete that matched nothing (REST and Bundles alike).
pub fn no_match_outcome(ty: &str) -> Value {
    operation_outcome(&[Issue::information(format!(
        "no {ty} matched; nothing was deleted"
    ))])
}

pub fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

/// A `searchset` Bundle of `found` (used by GET entries with criteria).
pub fn searchset(base: &str, found: &[Stored]) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": found.len(),
        "entry": found.iter().map(|s| json!({
            "fullUrl": format!("{base}/{}/{}", s.resource_type, s.id),
            "resource": s.json(),
            "search": { "mode": "match" },
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_order_is_the_specs() {
        let mut m = vec![
            Method::Get,
            Method::Put,
            Method::Post,
            Method::Delete,
            Method::Patch,
        ];
        m.sort();
        assert_eq!(
            m,
            vec![
                Method::Delete,
                Method::Post,
                Method::Put,
                Method::Patch,
                Method::Get
            ]
        );
    }
}
