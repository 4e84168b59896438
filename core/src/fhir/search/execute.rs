//! Running a parsed search: the matching ids in order, the page, `_include`/`_revinclude`,
//! `_summary`/`_elements`, paging links over a snapshot, and the searchset Bundle.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::{json, Value};
use sqlx::Row;

use super::registry::SearchRegistry;
use super::request::{Include, SearchRequest, Summary, Total};
use super::shape::shape;
use super::snapshot::{Snapshot, Snapshots};
use super::sql::{self, Bind, Compartment, Context, Sql};
use crate::auth::rbac::{Action, Grant, Reach};
use crate::clock;
use crate::db::TenantTx;
use crate::fhir::access::{self, authorize_search};
use crate::fhir::outcome::{operation_outcome, FhirError, FhirResult, Issue};

/// Page size when `_count` is not given.
pub const DEFAULT_COUNT: usize = 20;
/// The most matches a snapshot holds; a search with more pages only through the first
/// this many and says so.
pub const MAX_MATCHES: usize = 10_000;
/// The most resources `_include`/`_revinclude` add to one page.
pub const MAX_INCLUDED: usize = 1_000;
/// `:iterate` rounds at most.
const MAX_ITERATIONS: usize = 4;

/// Where a search looks.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The searched type; None searches every type (`GET [base]?...`).
    pub resource_type: Option<String>,
    /// With no type: the types `_type` allows (empty: all).
    pub types: Vec<String>,
    /// A patient compartment (`Patient/{id}/Observation?...`).
    pub patient: Option<String>,
}

/// The pieces of a paging link.
pub struct Links<'a> {
    /// `http://host/t/x/fhir`
    pub fhir_base: &'a str,
    /// The request as received, for the self link of a first page.
    pub self_url: String,
    pub query: &'a str,
}

const COMPARTMENT: &str = include_str!("../../../fhir-r4/compartment-patient.json");

fn compartment_members() -> &'static HashMap<String, Vec<String>> {
    static MEMBERS: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    MEMBERS.get_or_init(|| {
        let value: Value = serde_json::from_str(COMPARTMENT).expect("vendored JSON");
        serde_json::from_value(value["resource"].clone()).expect("type -> params")
    })
}

/// The parameters that place a resource of `ty` in a patient's compartment (HL7 R4
/// CompartmentDefinition `patient`); None if the type is never in it.
pub fn patient_compartment_params(ty: &str) -> Option<&'static [String]> {
    compartment_members().get(ty).map(Vec::as_slice)
}

/// The types in the patient compartment (the Patient itself included), sorted.
pub fn patient_compartment_types() -> Vec<&'static str> {
    let mut types: Vec<&str> = compartment_members().keys().map(String::as_str).collect();
    if !types.contains(&"Patient") {
        types.push("Patient");
    }
    types.sort();
    types
}

pub struct Searcher<'a> {
    pub registry: &'a SearchRegistry,
}

/// One resource in a result: its type, id and current JSON.
type Found = (String, String, Value);

impl Searcher<'_> {
    fn context<'b>(&'b self, fhir_base: &'b str) -> Context<'b> {
        Context {
            registry: self.registry,
            base_url: fhir_base,
            now: clock::now_micros(),
        }
    }

    /// The WHERE clause of `scope` and `request`.
    fn where_clause(
        &self,
        ctx: &Context,
        q: &mut Sql,
        scope: &Scope,
        request: &SearchRequest,
        grant: &Grant,
    ) -> FhirResult<String> {
        let scope = &authorize_search(grant, all_types(), scope, request)?;
        let compartment = match (&scope.patient, &scope.resource_type) {
            (Some(patient), Some(ty)) => Some(Compartment {
                patient_id: patient.clone(),
                params: patient_compartment_params(ty)
                    .map(<[String]>::to_vec)
                    .unwrap_or_default(),
            }),
            _ => None,
        };
        let mut clause = sql::where_clause(
            ctx,
            q,
            scope.resource_type.as_deref(),
            &request.filters,
            compartment.as_ref(),
        )?;
        if scope.resource_type.is_none() && !scope.types.is_empty() {
            let types: Vec<String> = scope.types.iter().map(|t| q.text(t)).collect();
            clause += &format!(" AND r.resource_type IN ({})", types.join(", "));
        }
        Ok(clause)
    }

    /// The number of matches.
    pub async fn count(
        &self,
        tx: &mut TenantTx,
        fhir_base: &str,
        scope: &Scope,
        request: &SearchRequest,
    ) -> FhirResult<usize> {
        let ctx = self.context(fhir_base);
        let mut q = Sql::new(tx.tenant());
        let grant = tx.grant().clone();
        let clause = self.where_clause(&ctx, &mut q, scope, request, &grant)?;
        let text = format!("SELECT COUNT(*) AS n FROM resources r WHERE {clause}");
        let row = bind_all(sqlx::query(&text), &q.binds)
            .fetch_one(tx.conn())
            .await?;
        Ok(row.try_get::<i64, _>("n")? as usize)
    }

    /// The `(type, id)` of the first `limit` matches in result order.
    pub async fn matching(
        &self,
        tx: &mut TenantTx,
        fhir_base: &str,
        scope: &Scope,
        request: &SearchRequest,
        limit: usize,
    ) -> FhirResult<Vec<(String, String)>> {
        let ctx = self.context(fhir_base);
        let mut q = Sql::new(tx.tenant());
        let grant = tx.grant().clone();
        let (columns, order) =
            sql::sort(&ctx, &mut q, scope.resource_type.as_deref(), &request.sort);
        let clause = self.where_clause(&ctx, &mut q, scope, request, &grant)?;
        let text = format!(
            "SELECT x.resource_type, x.id FROM (SELECT r.resource_type, r.id{columns} FROM resources r \
             WHERE {clause}) x ORDER BY {order} LIMIT {limit}"
        );
        let rows = bind_all(sqlx::query(&text), &q.binds)
            .fetch_all(tx.conn())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("resource_type")?, r.try_get("id")?)))
            .collect::<sqlx::Result<_>>()
            .map_err(FhirError::from)
    }

    /// The SQL and bound values of the matching query, for EXPLAIN-based tests.
    pub fn explain_sql(
        &self,
        tenant: &str,
        fhir_base: &str,
        scope: &Scope,
        request: &SearchRequest,
    ) -> FhirResult<(String, Vec<Bind>)> {
        let ctx = self.context(fhir_base);
        let mut q = Sql::new(tenant);
        let (columns, order) =
            sql::sort(&ctx, &mut q, scope.resource_type.as_deref(), &request.sort);
        let clause = self.where_clause(&ctx, &mut q, scope, request, &Grant::system(tenant))?;
        Ok((
            format!(
                "SELECT x.resource_type, x.id FROM (SELECT r.resource_type, r.id{columns} FROM resources r \
                 WHERE {clause}) x ORDER BY {order} LIMIT 21"
            ),
            q.binds,
        ))
    }

    /// A first page: runs the search and renders the Bundle; returns the snapshot to store
    /// when there is more than one page (see [`Searcher::first_page`]).
    pub async fn search(
        &self,
        tx: &mut TenantTx,
        scope: &Scope,
        request: &SearchRequest,
        links: &Links<'_>,
    ) -> FhirResult<(Value, Option<Snapshot>)> {
        let count = request.count.unwrap_or(DEFAULT_COUNT);
        if request.summary == Some(Summary::Count) || count == 0 {
            let total = self.count(tx, links.fhir_base, scope, request).await?;
            let mut bundle = bundle_head(Some(total));
            bundle["link"] = json!([{"relation": "self", "url": links.self_url}]);
            add_outcome(&mut bundle, &request.ignored);
            return Ok((bundle, None));
        }
        let matches = self
            .matching(tx, links.fhir_base, scope, request, MAX_MATCHES + 1)
            .await?;
        let accurate = if matches.len() > MAX_MATCHES && request.total == Some(Total::Accurate) {
            Some(self.count(tx, links.fhir_base, scope, request).await?)
        } else {
            None
        };
        self.first_page(tx, scope, request, links, matches, accurate)
            .await
    }

    /// The first page of `matches` (at most `MAX_MATCHES + 1`; one more means "there are
    /// more"), and the snapshot to store when there is more than one page. Its `next` link is
    /// left empty for the caller to fill in with [`next_link`] once the snapshot is stored.
    pub async fn first_page(
        &self,
        tx: &mut TenantTx,
        scope: &Scope,
        request: &SearchRequest,
        links: &Links<'_>,
        mut matches: Vec<(String, String)>,
        accurate_total: Option<usize>,
    ) -> FhirResult<(Value, Option<Snapshot>)> {
        let count = request.count.unwrap_or(DEFAULT_COUNT).max(1);
        let mut warnings = request.ignored.clone();
        let mut total = Some(matches.len());
        if matches.len() > MAX_MATCHES {
            matches.truncate(MAX_MATCHES);
            total = accurate_total;
            warnings.push(Issue::warning(
                "too-costly",
                format!(
                    "more than {MAX_MATCHES} resources match; only the first {MAX_MATCHES} can be paged through — narrow the search"
                ),
            ));
        }
        if request.total == Some(Total::None) {
            total = None;
        }
        let snapshot = (matches.len() > count).then(|| Snapshot {
            resource_type: scope.resource_type.clone(),
            query: links.query.to_string(),
            entries: matches.clone(),
            total,
            compartment: scope.patient.clone(),
        });
        let page: Vec<(String, String)> = matches.into_iter().take(count).collect();
        let mut bundle = self
            .render(tx, links.fhir_base, request, &page, total, &warnings)
            .await?;
        bundle["link"] = json!([{"relation": "self", "url": links.self_url}]);
        Ok((bundle, snapshot))
    }

    /// `Patient/{id}/$everything`: the patient and every resource in their compartment, by
    /// type then id, optionally only those changed since `since` and of `types`.
    pub async fn everything(
        &self,
        tx: &mut TenantTx,
        patient: &str,
        since: Option<i64>,
        types: &[String],
    ) -> FhirResult<Vec<(String, String)>> {
        if let Reach::PatientCompartment(own) = tx.grant().require(Action::Read, "Patient")? {
            if own != patient {
                return Err(access::outside_compartment());
            }
        }
        let mut q = Sql::new(tx.tenant());
        let target = q.text(format!("Patient/{patient}"));
        let mut branches = Vec::new();
        for ty in patient_compartment_types() {
            if !types.is_empty() && !types.iter().any(|t| t == ty) {
                continue;
            }
            let t = q.text(ty);
            if ty == "Patient" {
                let id = q.text(patient);
                branches.push(format!("SELECT {t} AS resource_type, {id} AS rid"));
                continue;
            }
            for param in patient_compartment_params(ty).unwrap_or_default() {
                let p = q.text(param);
                branches.push(format!(
                    "SELECT resource_type, resource_id AS rid FROM search_index WHERE tenant_id = $1 \
                     AND resource_type = {t} AND param = {p} AND term = {target}"
                ));
            }
        }
        if branches.is_empty() {
            return Ok(Vec::new());
        }
        let since_clause = match since {
            Some(s) => format!(" AND r.last_updated >= {}", q.int(s)),
            None => String::new(),
        };
        let text = format!(
            "SELECT DISTINCT r.resource_type, r.id FROM resources r JOIN ({}) m \
             ON r.resource_type = m.resource_type AND r.id = m.rid \
             WHERE r.tenant_id = $1 AND r.deleted = 0{since_clause} \
             ORDER BY r.resource_type, r.id LIMIT {}",
            branches.join(" UNION ALL "),
            MAX_MATCHES + 1
        );
        let rows = bind_all(sqlx::query(&text), &q.binds)
            .fetch_all(tx.conn())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("resource_type")?, r.try_get("id")?)))
            .collect::<sqlx::Result<_>>()
            .map_err(FhirError::from)
    }

    /// A later page of a stored snapshot.
    #[allow(clippy::too_many_arguments)]
    pub async fn page(
        &self,
        tx: &mut TenantTx,
        snapshots: &Snapshots,
        fhir_base: &str,
        snapshot_id: &str,
        offset: usize,
        count: usize,
        request: &SearchRequest,
    ) -> FhirResult<Value> {
        let snapshot = snapshots.get(tx, snapshot_id).await?.ok_or_else(|| {
            FhirError::new(
                axum::http::StatusCode::GONE,
                Issue::error(
                    "not-found",
                    "this paging link has expired (links last an hour); repeat the search",
                ),
            )
        })?;
        let count = count.clamp(1, super::request::MAX_COUNT);
        let page: Vec<(String, String)> = snapshot
            .entries
            .iter()
            .skip(offset)
            .take(count)
            .cloned()
            .collect();
        let mut bundle = self
            .render(
                tx,
                fhir_base,
                request,
                &page,
                snapshot.total,
                &request.ignored,
            )
            .await?;
        let url = |o: usize| page_link(fhir_base, snapshot_id, o, count);
        let mut link = vec![json!({"relation": "self", "url": url(offset)})];
        link.push(json!({"relation": "first", "url": url(0)}));
        if offset > 0 {
            link.push(json!({"relation": "previous", "url": url(offset.saturating_sub(count))}));
        }
        if offset + count < snapshot.entries.len() {
            link.push(json!({"relation": "next", "url": url(offset + count)}));
        }
        bundle["link"] = Value::Array(link);
        Ok(bundle)
    }

    /// The Bundle of one page: matches in order (shaped by `_summary`/`_elements`), then
    /// what `_include`/`_revinclude` add, then an OperationOutcome of warnings.
    async fn render(
        &self,
        tx: &mut TenantTx,
        fhir_base: &str,
        request: &SearchRequest,
        page: &[(String, String)],
        total: Option<usize>,
        warnings: &[Issue],
    ) -> FhirResult<Value> {
        // What the caller may not read never leaves, whichever way it was reached (a match,
        // an include, a paging link made by someone else in the tenant).
        let grant = tx.grant().clone();
        let visible = |(ty, _, resource): &Found| {
            access::allows(&grant, self.registry, Action::Read, ty, resource)
        };
        let mut found = fetch(tx, page).await?;
        found.retain(visible);
        let mut warnings = warnings.to_vec();
        let mut included = self.included(tx, request, &found, &mut warnings).await?;
        let before = included.len();
        included.retain(visible);
        if included.len() < before {
            warnings.push(Issue::information(format!(
                "{} included resource(s) you may not read were left out",
                before - included.len()
            )));
        }
        let mut bundle = bundle_head(total);
        let mut entries = Vec::with_capacity(found.len() + included.len() + 1);
        for (ty, id, resource) in found {
            let resource = shape(resource, request.summary, &request.elements);
            entries.push(json!({
                "fullUrl": format!("{fhir_base}/{ty}/{id}"),
                "resource": resource,
                "search": {"mode": "match"}
            }));
        }
        for (ty, id, resource) in included {
            entries.push(json!({
                "fullUrl": format!("{fhir_base}/{ty}/{id}"),
                "resource": resource,
                "search": {"mode": "include"}
            }));
        }
        bundle["entry"] = Value::Array(entries);
        add_outcome(&mut bundle, &warnings);
        Ok(bundle)
    }

    /// Resources `_include` and `_revinclude` add to `matches`, without duplicates.
    async fn included(
        &self,
        tx: &mut TenantTx,
        request: &SearchRequest,
        matches: &[Found],
        warnings: &mut Vec<Issue>,
    ) -> FhirResult<Vec<Found>> {
        if request.includes.is_empty() && request.revincludes.is_empty() {
            return Ok(Vec::new());
        }
        let mut seen: HashSet<(String, String)> = matches
            .iter()
            .map(|(t, i, _)| (t.clone(), i.clone()))
            .collect();
        let mut added: Vec<Found> = Vec::new();
        let mut frontier: Vec<(String, String)> = seen.iter().cloned().collect();
        for round in 0..MAX_ITERATIONS {
            let applies = |inc: &&Include| round == 0 || inc.iterate;
            let mut wanted: Vec<(String, String)> = Vec::new();
            for inc in request.includes.iter().filter(applies) {
                wanted.extend(include_targets(tx, inc, &frontier).await?);
            }
            for inc in request.revincludes.iter().filter(applies) {
                wanted.extend(revinclude_sources(tx, inc, &frontier).await?);
            }
            wanted.retain(|key| seen.insert(key.clone()));
            if wanted.is_empty() {
                break;
            }
            if added.len() + wanted.len() > MAX_INCLUDED {
                wanted.truncate(MAX_INCLUDED.saturating_sub(added.len()));
                warnings.push(Issue::warning(
                    "too-costly",
                    format!("only the first {MAX_INCLUDED} included resources are returned"),
                ));
            }
            let fetched = fetch(tx, &wanted).await?;
            frontier = fetched
                .iter()
                .map(|(t, i, _)| (t.clone(), i.clone()))
                .collect();
            added.extend(fetched);
            if added.len() >= MAX_INCLUDED {
                break;
            }
        }
        Ok(added)
    }
}

/// The URL of the page at `offset` of snapshot `id`.
pub fn page_link(fhir_base: &str, id: &str, offset: usize, count: usize) -> String {
    format!("{fhir_base}?_getpages={id}&_getpagesoffset={offset}&_count={count}")
}

/// Adds the `next` link of a first page once its snapshot is stored as `id`.
pub fn next_link(bundle: &mut Value, fhir_base: &str, id: &str, count: usize) {
    if let Some(links) = bundle["link"].as_array_mut() {
        links.push(json!({"relation": "next", "url": page_link(fhir_base, id, count, count)}));
    }
}

fn bundle_head(total: Option<usize>) -> Value {
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"lastUpdated": clock::format_instant(clock::now_micros())},
        "type": "searchset",
    });
    if let Some(total) = total {
        bundle["total"] = json!(total);
    }
    bundle
}

/// Warnings (ignored parameters, truncation) as an OperationOutcome entry with mode `outcome`.
fn add_outcome(bundle: &mut Value, warnings: &[Issue]) {
    if warnings.is_empty() {
        return;
    }
    let outcome = operation_outcome(warnings);
    let entry = json!({"resource": outcome, "search": {"mode": "outcome"}});
    match bundle.get_mut("entry").and_then(Value::as_array_mut) {
        Some(entries) => entries.push(entry),
        None => bundle["entry"] = json!([entry]),
    }
}

/// Binds `binds` to `query` in order.
pub fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        query = match b {
            Bind::Text(t) => query.bind(t.as_str()),
            Bind::Real(r) => query.bind(*r),
            Bind::Int(i) => query.bind(*i),
        };
    }
    query
}

/// The current, live versions of `keys`, in the order given (missing ones are skipped).
pub async fn fetch(tx: &mut TenantTx, keys: &[(String, String)]) -> FhirResult<Vec<Found>> {
    let mut by_type: HashMap<&str, Vec<&str>> = HashMap::new();
    for (ty, id) in keys {
        by_type.entry(ty).or_default().push(id);
    }
    let mut content: HashMap<(String, String), Value> = HashMap::new();
    for (ty, ids) in by_type {
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> =
                (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let text = format!(
                "SELECT id, content FROM resources WHERE tenant_id = $1 AND resource_type = $2 \
                 AND deleted = 0 AND id IN ({})",
                placeholders.join(", ")
            );
            let tenant = tx.tenant().to_string();
            let mut query = sqlx::query(&text).bind(tenant).bind(ty);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(tx.conn()).await? {
                let id: String = row.try_get("id")?;
                let text: String = row.try_get("content")?;
                let value: Value = serde_json::from_str(&text)
                    .map_err(|e| FhirError::internal(format!("stored JSON: {e}")))?;
                content.insert((ty.to_string(), id), value);
            }
        }
    }
    Ok(keys
        .iter()
        .filter_map(|(t, i)| {
            content
                .remove(&(t.clone(), i.clone()))
                .map(|v| (t.clone(), i.clone(), v))
        })
        .collect())
}

/// One column of the index rows of `ty`'s parameter `param` whose `key_column` is one of
/// `keys` (in chunks of 500, under any database's bind limit), distinct.
async fn index_lookup(
    tx: &mut TenantTx,
    ty: &str,
    param: &str,
    key_column: &str,
    keys: &[&str],
    wanted_column: &str,
) -> FhirResult<Vec<String>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(500) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 4)).collect();
        let text = format!(
            "SELECT DISTINCT {wanted_column} FROM search_index WHERE tenant_id = $1 \
             AND resource_type = $2 AND param = $3 AND {key_column} IN ({}) ORDER BY {wanted_column}",
            placeholders.join(", ")
        );
        let tenant = tx.tenant().to_string();
        let mut query = sqlx::query(&text).bind(tenant).bind(ty).bind(param);
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(tx.conn()).await? {
            out.push(row.try_get(wanted_column)?);
        }
    }
    Ok(out)
}

/// `_include=Source:param[:Target]`: what the frontier's resources of type Source point at.
async fn include_targets(
    tx: &mut TenantTx,
    inc: &Include,
    frontier: &[(String, String)],
) -> FhirResult<Vec<(String, String)>> {
    let Some(param) = &inc.param else {
        return Ok(Vec::new());
    };
    let ids: Vec<&str> = frontier
        .iter()
        .filter(|(t, _)| *t == inc.source_type)
        .map(|(_, i)| i.as_str())
        .collect();
    let terms = index_lookup(tx, &inc.source_type, param, "resource_id", &ids, "term").await?;
    Ok(terms
        .iter()
        .filter_map(|term| term.split_once('/'))
        .filter(|(ty, id)| inc.target_type.as_deref().is_none_or(|t| t == *ty) && !id.contains('/'))
        .map(|(ty, id)| (ty.to_string(), id.to_string()))
        .collect())
}

/// `_revinclude=Source:param[:Target]`: resources of type Source pointing at the frontier.
async fn revinclude_sources(
    tx: &mut TenantTx,
    inc: &Include,
    frontier: &[(String, String)],
) -> FhirResult<Vec<(String, String)>> {
    let Some(param) = &inc.param else {
        return Ok(Vec::new());
    };
    let terms: Vec<String> = frontier
        .iter()
        .filter(|(t, _)| inc.target_type.as_deref().is_none_or(|x| x == t))
        .map(|(t, i)| format!("{t}/{i}"))
        .collect();
    let keys: Vec<&str> = terms.iter().map(String::as_str).collect();
    let ids = index_lookup(tx, &inc.source_type, param, "term", &keys, "resource_id").await?;
    Ok(ids
        .into_iter()
        .map(|id| (inc.source_type.clone(), id))
        .collect())
}

/// Every R4 resource type, for searches across types.
fn all_types() -> &'static [String] {
    static TYPES: OnceLock<Vec<String>> = OnceLock::new();
    TYPES.get_or_init(|| {
        crate::server::shared_schema()
            .resource_types()
            .map(str::to_string)
            .collect()
    })
}
