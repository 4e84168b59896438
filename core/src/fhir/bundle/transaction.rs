//! Transaction Bundles: identities first, then reference rewriting, then the entries in the
//! spec's order, all in one database transaction.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::Value;

use super::{BundleProcessor, Entry, EntryResult, Method};
use crate::db::{Access, TenantTx};
use crate::fhir::criteria::Criteria;
use crate::fhir::outcome::{FhirError, FhirResult, Issue};
use crate::fhir::store::{self, Stored};
use crate::in_tenant_tx;

impl BundleProcessor<'_> {
    pub(super) async fn transaction(&self, entries: Vec<Entry>) -> FhirResult<Value> {
        check_no_duplicate_targets(&entries)?;
        let results = in_tenant_tx!(self.db, self.grant, Access::Write, |tx| {
            self.run_transaction(&mut tx, entries.clone()).await
        })?;
        Ok(self.response_bundle("transaction-response", results))
    }

    async fn run_transaction(
        &self,
        tx: &mut TenantTx,
        mut entries: Vec<Entry>,
    ) -> FhirResult<Vec<(usize, EntryResult)>> {
        let mut results: Vec<(usize, EntryResult)> = Vec::with_capacity(entries.len());
        // 1. Decide every new resource's identity, so references to it can be rewritten.
        let mut rewrites: HashMap<String, String> = HashMap::new();
        let mut existing: HashMap<usize, Stored> = HashMap::new();
        for entry in &mut entries {
            let prefix = format!("Bundle.entry[{}]", entry.index);
            match entry.method {
                Method::Post => {
                    let ty = entry.path.clone();
                    self.engine
                        .check_type(&ty)
                        .map_err(|e| e.within(&format!("{prefix}.request.url")))?;
                    let mut id = uuid::Uuid::new_v4().to_string();
                    if let Some(query) = &entry.if_none_exist {
                        let criteria = Criteria::parse(&ty, query.trim_start_matches('?'))
                            .map_err(|e| e.within(&format!("{prefix}.request.ifNoneExist")))?;
                        criteria.lock_for_create(tx).await?;
                        let found = criteria.matching_ids(tx, 2).await?;
                        match found.as_slice() {
                            [] => {}
                            [one] => {
                                id = one.clone();
                                let stored =
                                    store::current(tx, &ty, one, false).await?.expect("matched");
                                existing.insert(entry.index, stored);
                            }
                            _ => {
                                return Err(FhirError::precondition_failed(format!(
                                    "ifNoneExist {query:?} matches more than one {ty}"
                                ))
                                .within(&prefix))
                            }
                        }
                    }
                    if let Some(resource) = entry.resource.as_mut() {
                        resource["id"] = Value::String(id.clone());
                    }
                    if let Some(full_url) = &entry.full_url {
                        rewrites.insert(full_url.clone(), format!("{ty}/{id}"));
                    }
                }
                Method::Put if entry.query.is_some() => {
                    let ty = entry.path.clone();
                    self.engine
                        .check_type(&ty)
                        .map_err(|e| e.within(&format!("{prefix}.request.url")))?;
                    let query = entry.query.clone().unwrap_or_default();
                    let criteria = Criteria::parse(&ty, &query)
                        .map_err(|e| e.within(&format!("{prefix}.request.url")))?;
                    criteria.lock_for_create(tx).await?;
                    let found = criteria.matching_ids(tx, 2).await?;
                    let body_id = entry
                        .resource
                        .as_ref()
                        .and_then(|r| r["id"].as_str())
                        .map(str::to_string);
                    let id = match found.as_slice() {
                        [] => match body_id {
                            Some(id) => {
                                // R4: no match, but the body's id exists: 409, as over REST.
                                if store::current(tx, &ty, &id, false)
                                    .await?
                                    .is_some_and(|c| !c.deleted)
                                {
                                    return Err(FhirError::conflict(format!("no {ty} matches {query:?}, but {ty}/{id} named in the body exists and does not match")).within(&prefix));
                                }
                                id
                            }
                            None => uuid::Uuid::new_v4().to_string(),
                        },
                        [one] if body_id.as_deref().is_some_and(|b| b != one) => {
                            return Err(FhirError::invalid(format!("the body's id {body_id:?} differs from {one:?}, the resource the criteria matched")).within(&prefix));
                        }
                        [one] => one.clone(),
                        _ => {
                            return Err(FhirError::precondition_failed(format!(
                                "conditional update {query:?} matches more than one {ty}"
                            ))
                            .within(&prefix))
                        }
                    };
                    entry.path = format!("{ty}/{id}");
                    entry.query = None;
                    if let Some(resource) = entry.resource.as_mut() {
                        resource["id"] = Value::String(id.clone());
                    }
                    if let Some(full_url) = &entry.full_url {
                        rewrites.insert(full_url.clone(), format!("{ty}/{id}"));
                    }
                }
                Method::Put => {
                    if let Some(full_url) = &entry.full_url {
                        if full_url.starts_with("urn:") {
                            rewrites.insert(full_url.clone(), entry.path.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        // 2. Rewrite references: placeholders to assigned ids, conditional ones by search.
        for entry in &mut entries {
            if let Some(resource) = entry.resource.as_mut() {
                let prefix = format!("Bundle.entry[{}].resource", entry.index);
                rewrite_references(tx, resource, &rewrites)
                    .await
                    .map_err(|e| e.within(&prefix))?;
            }
        }
        // 3. Run in the spec's order; the response keeps the request order.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by_key(|&i| (entries[i].method, i));
        for i in order {
            let entry = &entries[i];
            let result = match existing.remove(&entry.index) {
                Some(stored) => EntryResult {
                    status: StatusCode::OK,
                    stored: Some(stored),
                    body: None,
                    is_read: false,
                },
                None => self
                    .run_entry(tx, entry, true)
                    .await
                    .map_err(|e| e.within_entry(entry.index))?,
            };
            results.push((entry.index, result));
        }
        results.sort_by_key(|(index, _)| *index);
        Ok(results)
    }
}

/// Two entries writing the same resource make the result order-dependent; the spec forbids it.
fn check_no_duplicate_targets(entries: &[Entry]) -> FhirResult<()> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for entry in entries {
        if matches!(entry.method, Method::Put | Method::Patch | Method::Delete)
            && entry.query.is_none()
        {
            if let Some(first) = seen.insert(&entry.path, entry.index) {
                return Err(FhirError::new(
                    StatusCode::BAD_REQUEST,
                    Issue::error(
                        "invalid",
                        format!(
                            "entries {first} and {} both change {}",
                            entry.index, entry.path
                        ),
                    )
                    .at(format!("Bundle.entry[{}].request.url", entry.index)),
                ));
            }
        }
    }
    Ok(())
}

/// Replaces `reference` values that are fullUrls of this Bundle, and resolves conditional
/// references, anywhere inside `resource`.
async fn rewrite_references(
    tx: &mut TenantTx,
    resource: &mut Value,
    rewrites: &HashMap<String, String>,
) -> FhirResult<()> {
    let mut pending: Vec<(String, String)> = Vec::new(); // (path, conditional reference)
    collect_references(resource, &mut String::new(), &mut |path, reference| {
        if let Some(target) = rewrites.get(reference.as_str()) {
            *reference = target.clone();
        } else if reference.contains('?')
            && !reference.starts_with("http")
            && !reference.starts_with('#')
        {
            pending.push((path.to_string(), reference.clone()));
        }
    });
    for (path, reference) in pending {
        let (ty, query) = reference.split_once('?').expect("contains ?");
        let at = format!("Resource{path}");
        let criteria = Criteria::parse(ty, query).map_err(|e| e.within(&at))?;
        let found = criteria.matching_ids(tx, 2).await?;
        let target = match found.as_slice() {
            [one] => format!("{ty}/{one}"),
            [] => {
                return Err(FhirError::new(
                    StatusCode::NOT_FOUND,
                    Issue::error(
                        "not-found",
                        format!("conditional reference {reference:?} matches no resource"),
                    )
                    .at(at),
                ))
            }
            _ => {
                return Err(FhirError::precondition_failed(format!(
                    "conditional reference {reference:?} matches more than one resource"
                ))
                .within(&at))
            }
        };
        collect_references(resource, &mut String::new(), &mut |_, r| {
            if *r == reference {
                *r = target.clone();
            }
        });
    }
    Ok(())
}

fn collect_references(
    value: &mut Value,
    path: &mut String,
    found: &mut dyn FnMut(&str, &mut String),
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                match child {
                    Value::String(reference) if key == "reference" => found(path, reference),
                    _ => collect_references(child, path, found),
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                collect_references(child, path, found);
                path.truncate(len);
            }
        }
        _ => {}
    }
}
