//! The HTTP layer that audits every tenant request once its response is ready. Requests
//! that change data wait until their audit record is stored; reads are stored within
//! moments, in batches (docs/security.md says what a crash can cost).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::record::{AuditRecord, Kind};
use super::AuditSlot;
use crate::http::AppState;

/// What a request did, in AuditEvent terms: (subtype, action, entity, entity type).
fn classify(
    method: &Method,
    path: &str,
) -> (&'static str, &'static str, Option<String>, Option<String>) {
    if let Some(rest) = path.strip_prefix("/api/admin/tenants/") {
        // Administration: the entity is what was administered (`roles/lab-tech`).
        let what = rest.split_once('/').map(|(_, w)| w.to_string());
        let action = match *method {
            Method::GET | Method::HEAD => "R",
            Method::POST => "C",
            Method::DELETE => "D",
            _ => "U",
        };
        return ("admin", action, what, None);
    }
    if let Some(rest) = path
        .strip_prefix("/t/")
        .and_then(|r| r.split_once('/'))
        .and_then(|(_, r)| r.strip_prefix("packs/"))
    {
        // A pack's route: the entity is the pack and the path within it.
        let action = match *method {
            Method::GET | Method::HEAD => "R",
            Method::POST => "C",
            Method::DELETE => "D",
            _ => "U",
        };
        return ("pack-route", action, Some(format!("pack:{rest}")), None);
    }
    // path: /t/{tenant}/fhir/...
    let rest: Vec<&str> = path.split('/').skip(4).filter(|s| !s.is_empty()).collect();
    let is_type = |s: &str| s.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    let typed = |i: usize| rest.get(i).filter(|s| is_type(s)).map(|s| s.to_string());
    let instance = || match (rest.first(), rest.get(1)) {
        (Some(t), Some(id)) => Some(format!("{t}/{id}")),
        _ => None,
    };
    let get = *method == Method::GET || *method == Method::HEAD;
    match (rest.as_slice(), get) {
        ([], true) | (["_search"], false) => ("search-system", "E", None, None),
        ([], false) => ("transaction", "E", None, None),
        (["metadata"], _) => ("capabilities", "R", None, None),
        (["_history"], _) => ("history-system", "R", None, None),
        ([_, "_search"], _) => ("search-type", "E", None, typed(0)),
        ([_, "_history"], _) => ("history-type", "R", None, typed(0)),
        ([_, _, "_history"], _) => ("history-instance", "R", instance(), typed(0)),
        ([_, _, "_history", _], _) => ("vread", "R", instance(), typed(0)),
        ([_, _, op], _) if op.starts_with('$') => ("operation", "E", instance(), typed(0)),
        ([_, _, target], _) => ("search-type", "E", instance(), Some(target.to_string())),
        ([_], true) => ("search-type", "E", None, typed(0)),
        ([_], false) => match *method {
            Method::POST => ("create", "C", None, typed(0)),
            Method::DELETE => ("delete", "D", None, typed(0)),
            Method::PATCH => ("patch", "U", None, typed(0)),
            _ => ("update", "U", None, typed(0)),
        },
        ([_, _], _) => match *method {
            Method::GET | Method::HEAD => ("read", "R", instance(), typed(0)),
            Method::DELETE => ("delete", "D", instance(), typed(0)),
            Method::PATCH => ("patch", "U", instance(), typed(0)),
            _ => ("update", "U", instance(), typed(0)),
        },
        _ => ("operation", "E", None, None),
    }
}

pub async fn audit_requests(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let address = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let response = next.run(req).await;
    let data = slot.data();
    // Only requests that reached a tenant's authorization are audited (not `metadata`).
    let Some(tenant) = data.tenant else {
        return response;
    };
    let (subtype, action, entity, entity_type) = match &data.same_as {
        Some((as_method, as_path)) => classify(as_method, as_path),
        None => classify(&method, &path),
    };
    let mut record = AuditRecord::new(&tenant, Kind::Rest, subtype, action);
    let status = response.status();
    record.outcome = if status.is_server_error() {
        "8"
    } else if status.is_client_error() {
        "4"
    } else {
        "0"
    };
    record.outcome_text = data.failure.or_else(|| {
        (status.is_client_error() || status.is_server_error()).then(|| format!("HTTP {status}"))
    });
    record.issuer = data.issuer;
    record.subject = data.subject;
    record.username = data.username;
    record.roles = data.roles;
    record.address = address;
    record.entity = entity.or_else(|| entity_type.clone());
    record.entity_type = entity_type;
    record.query = query.filter(|_| action == "E");
    record.description = match (&data.via_pack, &data.same_as) {
        (Some(pack), _) => format!("{method} {path} (by pack {pack})"),
        (None, Some((as_method, as_path))) => {
            format!("{method} {path} (admin page, as {as_method} {as_path})")
        }
        (None, None) => format!("{method} {path}"),
    };
    let changes_data = !matches!(method, Method::GET | Method::HEAD);
    state.audit.record(record, changes_data).await;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_as_fhir_interactions() {
        let c = |m: Method, p: &str| {
            let (s, a, e, t) = classify(&m, p);
            (s, a, e, t)
        };
        assert_eq!(
            c(Method::GET, "/t/a/fhir/Patient/1"),
            (
                "read",
                "R",
                Some("Patient/1".into()),
                Some("Patient".into())
            )
        );
        assert_eq!(c(Method::GET, "/t/a/fhir/Patient").0, "search-type");
        assert_eq!(c(Method::POST, "/t/a/fhir/Patient").0, "create");
        assert_eq!(c(Method::POST, "/t/a/fhir").0, "transaction");
        assert_eq!(c(Method::GET, "/t/a/fhir/Patient/1/_history/2").0, "vread");
        assert_eq!(
            c(Method::GET, "/t/a/fhir/Patient/1/$everything").0,
            "operation"
        );
        assert_eq!(
            c(Method::GET, "/t/a/fhir/Patient/1/Observation"),
            (
                "search-type",
                "E",
                Some("Patient/1".into()),
                Some("Observation".into())
            )
        );
        assert_eq!(c(Method::DELETE, "/t/a/fhir/Patient/1").1, "D");
    }
}
