//! The FHIR interactions, each running inside a caller-supplied tenant transaction so that
//! single requests and Bundle entries share one implementation.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;

use super::access;
use super::criteria::Criteria;
use super::outcome::{FhirError, FhirResult, Issue};
use super::schema::SchemaValidator;
use super::search::registry::SearchRegistry;
use super::search::snapshot::Snapshots;
use super::store::{self, Stored};
use super::validate::{check_resource, is_valid_id, IdRule};
use crate::auth::rbac::{Action, Grant, Reach};
use crate::db::TenantTx;

/// Runs `$body` (an expression using the transaction `$tx`) in a tenant transaction, commits,
/// and retries the whole transaction up to three times when it lost a write race (409).
#[macro_export]
macro_rules! in_tenant_tx {
    ($db:expr, $grant:expr, $access:expr, |$tx:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut $tx = match $db.tenant_tx($grant, $access).await {
                Ok(tx) => tx,
                Err(err) => break Err($crate::fhir::outcome::FhirError::from(err)),
            };
            let result: $crate::fhir::outcome::FhirResult<_> = $body;
            match result {
                Ok(value) => match $tx.commit().await {
                    Ok(()) => break Ok(value),
                    Err(err) if attempt < 3 && $crate::db::is_write_conflict(&err) => continue,
                    Err(err) => break Err($crate::fhir::outcome::FhirError::from(err)),
                },
                Err(err) if attempt < 3 && err.status == ::axum::http::StatusCode::CONFLICT => {
                    continue
                }
                Err(err) => break Err(err),
            }
        }
    }};
}

/// A write's result: the stored version and whether it created the resource.
#[derive(Debug, Clone)]
pub struct Written {
    pub stored: Stored,
    pub created: bool,
}

#[derive(Clone)]
pub struct FhirEngine {
    schema: Arc<SchemaValidator>,
    registry: Arc<SearchRegistry>,
    snapshots: Arc<Snapshots>,
}

impl FhirEngine {
    pub fn new(schema: Arc<SchemaValidator>) -> FhirEngine {
        FhirEngine {
            schema,
            registry: SearchRegistry::shared(),
            snapshots: Arc::new(Snapshots::default()),
        }
    }

    /// The search parameters in force.
    pub fn registry(&self) -> &SearchRegistry {
        &self.registry
    }

    /// Paging snapshots of searches.
    pub fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    pub fn schema(&self) -> &SchemaValidator {
        &self.schema
    }

    /// Unknown types are 404 per the spec ("resource type not supported").
    pub fn check_type(&self, ty: &str) -> FhirResult<()> {
        if self.schema.is_resource_type(ty) {
            Ok(())
        } else {
            Err(FhirError::new(
                StatusCode::NOT_FOUND,
                Issue::error(
                    "not-supported",
                    format!("{ty:?} is not a FHIR R4 resource type"),
                ),
            ))
        }
    }

    fn check_id(id: &str) -> FhirResult<()> {
        if is_valid_id(id) {
            Ok(())
        } else {
            Err(FhirError::invalid(format!(
                "{id:?} is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)"
            )))
        }
    }

    pub fn validate(&self, ty: &str, body: &Value, rule: IdRule) -> FhirResult<()> {
        check_resource(&self.schema, ty, body, rule)
    }

    /// May the caller do `action` to `resource` (the type, and for compartment-bound callers
    /// the resource's place in their record)? Every interaction below asks before it acts.
    fn authorize(
        &self,
        tx: &TenantTx,
        action: Action,
        ty: &str,
        resource: &Value,
    ) -> FhirResult<()> {
        access::require(tx.grant(), &self.registry, action, ty, resource)
    }

    /// The checks of a create that runs outside a transaction (group commit).
    pub fn authorize_create(&self, grant: &Grant, ty: &str, body: &Value) -> FhirResult<()> {
        Self::check_writable(ty)?;
        access::require(grant, &self.registry, Action::Create, ty, body)
    }

    /// Identifiers of systems a tenant's pack checks (an NHS number, an ABHA number) must
    /// pass its check before anything is written.
    fn check_identifiers<'a>(
        tx: &TenantTx,
        ty: &'a str,
        body: &'a Value,
    ) -> impl std::future::Future<Output = FhirResult<()>> + Send + 'a {
        // Owned, so the future holds no borrow of the transaction (which is not `Sync`).
        let (extensions, tenant) = (tx.extensions().clone(), tx.tenant().to_string());
        async move { extensions.check_identifiers(&tenant, ty, body).await }
    }

    /// AuditEvents are written by the server alone, into the audit trail (`crate::audit`).
    fn check_writable(ty: &str) -> FhirResult<()> {
        if ty == "AuditEvent" {
            return Err(FhirError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Issue::error(
                    "not-supported",
                    "AuditEvent is written by the server only; the audit trail cannot be changed",
                ),
            ));
        }
        Ok(())
    }

    /// A compartment-bound caller gets one answer for "not there" and "not yours".
    fn hide_absence(tx: &TenantTx, ty: &str, err: FhirError) -> FhirError {
        match tx.grant().reach(Action::Read, ty) {
            Some(Reach::PatientCompartment(_)) => access::outside_compartment(),
            _ => err,
        }
    }

    pub async fn read(&self, tx: &mut TenantTx, ty: &str, id: &str) -> FhirResult<Stored> {
        self.check_type(ty)?;
        Self::check_id(id)?;
        tx.grant().require(Action::Read, ty)?;
        let stored = match store::current(tx, ty, id, false).await? {
            None => Err(FhirError::not_found(format!("{ty}/{id} does not exist"))),
            Some(s) if s.deleted => Err(FhirError::gone(format!(
                "{ty}/{id} was deleted (version {})",
                s.version_id
            ))),
            Some(s) => Ok(s),
        }
        .map_err(|e| Self::hide_absence(tx, ty, e))?;
        self.authorize(tx, Action::Read, ty, &stored.json().unwrap_or_default())?;
        Ok(stored)
    }

    pub async fn vread(
        &self,
        tx: &mut TenantTx,
        ty: &str,
        id: &str,
        vid: &str,
    ) -> FhirResult<Stored> {
        self.check_type(ty)?;
        Self::check_id(id)?;
        tx.grant().require(Action::Read, ty)?;
        let version: i64 = vid
            .parse()
            .map_err(|_| FhirError::not_found(format!("{ty}/{id} has no version {vid:?}")))?;
        let stored = match store::version(tx, ty, id, version).await? {
            None => Err(FhirError::not_found(format!(
                "{ty}/{id} has no version {version}"
            ))),
            Some(s) if s.deleted => Err(FhirError::gone(format!(
                "version {version} of {ty}/{id} is a deletion"
            ))),
            Some(s) => Ok(s),
        }
        .map_err(|e| Self::hide_absence(tx, ty, e))?;
        self.authorize(tx, Action::Read, ty, &stored.json().unwrap_or_default())?;
        Ok(stored)
    }

    /// Create with a server-assigned id; with `If-None-Exist`, returns the one match instead.
    pub async fn create(
        &self,
        tx: &mut TenantTx,
        ty: &str,
        body: Value,
        if_none_exist: Option<&str>,
    ) -> FhirResult<Written> {
        self.check_type(ty)?;
        Self::check_writable(ty)?;
        self.authorize(tx, Action::Create, ty, &body)?;
        self.validate(ty, &body, IdRule::Assigned)?;
        if let Some(query) = if_none_exist {
            let criteria = Criteria::parse(ty, query.trim_start_matches('?'))?;
            criteria.lock_for_create(tx).await?;
            let found = criteria.matching_ids(tx, 2).await?;
            match found.as_slice() {
                [] => {}
                [id] => {
                    let stored = store::current(tx, ty, id, false)
                        .await?
                        .expect("matched row exists");
                    // Returning the match reads it.
                    self.authorize(tx, Action::Read, ty, &stored.json().unwrap_or_default())?;
                    return Ok(Written {
                        stored,
                        created: false,
                    });
                }
                _ => {
                    return Err(FhirError::precondition_failed(format!(
                        "If-None-Exist {query:?} matches more than one {ty}"
                    )))
                }
            }
        }
        self.create_with_id(tx, ty, &uuid::Uuid::new_v4().to_string(), body)
            .await
    }

    /// Writes version 1 of a resource whose id the caller chose (transactions pre-assign ids).
    pub async fn create_with_id(
        &self,
        tx: &mut TenantTx,
        ty: &str,
        id: &str,
        mut body: Value,
    ) -> FhirResult<Written> {
        Self::check_writable(ty)?;
        self.authorize(tx, Action::Create, ty, &body)?;
        Self::check_identifiers(tx, ty, &body).await?;
        let stored = store::write_version(tx, ty, id, None, "POST", Some(&mut body)).await?;
        Ok(Written {
            stored,
            created: true,
        })
    }

    /// Update, or create with the client's id when it does not exist yet.
    pub async fn update(
        &self,
        tx: &mut TenantTx,
        ty: &str,
        id: &str,
        mut body: Value,
        if_match: Option<&str>,
    ) -> FhirResult<Written> {
        self.check_type(ty)?;
        Self::check_id(id)?;
        Self::check_writable(ty)?;
        tx.grant().require(Action::Update, ty)?;
        self.validate(ty, &body, IdRule::MustBe(id))?;
        let previous = store::current(tx, ty, id, true).await?;
        let created = previous.as_ref().is_none_or(|p| p.deleted);
        match previous.as_ref().and_then(Stored::json) {
            // Both the version replaced and the new one must be the caller's to change.
            Some(old) => self.authorize(tx, Action::Update, ty, &old)?,
            None => self.authorize(tx, Action::Create, ty, &body)?,
        }
        self.authorize(tx, Action::Update, ty, &body)?;
        check_if_match(if_match, previous.as_ref(), ty, id)?;
        Self::check_identifiers(tx, ty, &body).await?;
        let stored =
            store::write_version(tx, ty, id, previous.as_ref(), "PUT", Some(&mut body)).await?;
        Ok(Written { stored, created })
    }

    /// `PUT Type?criteria`: no match creates, one match updates it, several is 412.
    pub async fn conditional_update(
        &self,
        tx: &mut TenantTx,
        ty: &str,
        query: &str,
        mut body: Value,
        if_match: Option<&str>,
    ) -> FhirResult<Written> {
        self.check_type(ty)?;
        let criteria = Criteria::parse(ty, query)?;
        criteria.lock_for_create(tx).await?;
        let found = criteria.matching_ids(tx, 2).await?;
        let body_id = body.get("id").and_then(Value::as_str).map(str::to_string);
        match found.as_slice() {
            [] => match body_id {
                Some(id) => {
                    // R4: no match but the body's id exists already is a 409, not an overwrite
                    // of a resource the criteria did not select.
                    if store::current(tx, ty, &id, false)
                        .await?
                        .is_some_and(|c| !c.deleted)
                    {
                        return Err(FhirError::conflict(format!(
                            "no {ty} matches {query:?}, but {ty}/{id} named in the body exists and does not match"
                        )));
                    }
                    self.update(tx, ty, &id, body, if_match).await
                }
                None => {
                    self.validate(ty, &body, IdRule::Assigned)?;
                    let id = uuid::Uuid::new_v4().to_string();
                    body["id"] = Value::String(id.clone());
                    self.update(tx, ty, &id, body, if_match).await
                }
            },
            [id] => {
                if body_id.as_deref().is_some_and(|b| b != id) {
                    return Err(FhirError::invalid(format!(
                        "the body's id {body_id:?} differs from {id:?}, the resource the criteria matched"
                    )));
                }
                body["id"] = Value::String(id.clone());
                self.update(tx, ty, id, body, if_match).await
            }
            _ => Err(FhirError::precondition_failed(format!(
                "conditional update {query:?} matches more than one {ty}"
            ))),
        }
    }

    /// JSON Patch (RFC 6902) applied to the current version.
    pub async fn patch(
        &self,
        tx: &mut TenantTx,
        ty: &str,
        id: &str,
        patch: &Value,
        if_match: Option<&str>,
    ) -> FhirResult<Written> {
        self.check_type(ty)?;
        Self::check_id(id)?;
        Self::check_writable(ty)?;
        tx.grant().require(Action::Update, ty)?;
        let operations: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| {
            FhirError::invalid(format!(
                "the body is not a JSON Patch document (an array of operations): {e}"
            ))
        })?;
        let previous = match store::current(tx, ty, id, true).await? {
            None => return Err(FhirError::not_found(format!("{ty}/{id} does not exist"))),
            Some(p) if p.deleted => return Err(FhirError::gone(format!("{ty}/{id} was deleted"))),
            Some(p) => p,
        };
        let mut resource = previous.json().expect("live resource has content");
        self.authorize(tx, Action::Update, ty, &resource)?;
        check_if_match(if_match, Some(&previous), ty, id)?;
        json_patch::patch(&mut resource, &operations).map_err(|e| {
            FhirError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Issue::error("processing", format!("the patch cannot be applied: {e}")),
            )
        })?;
        self.validate(ty, &resource, IdRule::MustBe(id))
            .map_err(|mut e| {
                e.status = StatusCode::UNPROCESSABLE_ENTITY;
                e.issues.insert(
                    0,
                    Issue::error("processing", "the patched resource is not valid"),
                );
                e
            })?;
        self.authorize(tx, Action::Update, ty, &resource)?;
        Self::check_identifiers(tx, ty, &resource).await?;
        let stored =
            store::write_version(tx, ty, id, Some(&previous), "PATCH", Some(&mut resource)).await?;
        Ok(Written {
            stored,
            created: false,
        })
    }

    pub async fn conditional_patch(
        &self,
        tx: &mut TenantTx,
        ty: &str,
        query: &str,
        patch: &Value,
        if_match: Option<&str>,
    ) -> FhirResult<Written> {
        self.check_type(ty)?;
        let found = Criteria::parse(ty, query)?.matching_ids(tx, 2).await?;
        match found.as_slice() {
            [] => Err(FhirError::not_found(format!("no {ty} matches {query:?}"))),
            [id] => self.patch(tx, ty, id, patch, if_match).await,
            _ => Err(FhirError::precondition_failed(format!(
                "conditional patch {query:?} matches more than one {ty}"
            ))),
        }
    }

    /// Delete: a new version marking the resource deleted. Deleting a deleted resource is a
    /// no-op success (None); a resource that never existed is 404.
    pub async fn delete(
        &self,
        tx: &mut TenantTx,
        ty: &str,
        id: &str,
    ) -> FhirResult<Option<Stored>> {
        self.check_type(ty)?;
        Self::check_id(id)?;
        Self::check_writable(ty)?;
        tx.grant().require(Action::Delete, ty)?;
        match store::current(tx, ty, id, true).await? {
            None => Err(FhirError::not_found(format!("{ty}/{id} does not exist"))),
            Some(p) if p.deleted => Ok(None),
            Some(p) => Ok(Some({
                self.authorize(tx, Action::Delete, ty, &p.json().unwrap_or_default())?;
                store::write_version(tx, ty, id, Some(&p), "DELETE", None).await?
            })),
        }
    }

    /// `DELETE Type?criteria`: deletes the one match; none is a no-op; several is 412.
    pub async fn conditional_delete(
        &self,
        tx: &mut TenantTx,
        ty: &str,
        query: &str,
    ) -> FhirResult<Option<Stored>> {
        self.check_type(ty)?;
        let found = Criteria::parse(ty, query)?.matching_ids(tx, 2).await?;
        match found.as_slice() {
            [] => Ok(None),
            [id] => self.delete(tx, ty, id).await,
            _ => Err(FhirError::precondition_failed(format!(
                "conditional delete {query:?} matches more than one {ty}"
            ))),
        }
    }
}

/// `If-Match: W/"3"` must name the current version.
fn check_if_match(
    if_match: Option<&str>,
    current: Option<&Stored>,
    ty: &str,
    id: &str,
) -> FhirResult<()> {
    let Some(header) = if_match else {
        return Ok(());
    };
    let wanted = parse_etag(header)?;
    match current {
        Some(c) if !c.deleted && c.version_id == wanted => Ok(()),
        Some(c) => Err(FhirError::precondition_failed(format!(
            "If-Match names version {wanted} of {ty}/{id} but the current version is {}",
            c.version_id
        ))),
        None => Err(FhirError::precondition_failed(format!(
            "If-Match given but {ty}/{id} does not exist"
        ))),
    }
}

/// `W/"3"`, `"3"` or `3`.
pub fn parse_etag(text: &str) -> FhirResult<i64> {
    let trimmed = text.trim().trim_start_matches("W/").trim_matches('"');
    trimmed.parse().map_err(|_| {
        FhirError::invalid(format!(
            "If-Match {text:?} is not a version ETag like W/\"3\""
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        assert_eq!(parse_etag("W/\"3\"").unwrap(), 3);
        assert_eq!(parse_etag("\"12\"").unwrap(), 12);
        assert!(parse_etag("W/\"x\"").is_err());
    }
}
