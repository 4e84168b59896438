//! The `audit_event` table: appending records, reading one, and searching a tenant's trail.
//! Searches support the AuditEvent parameters an auditor needs (below); anything else is
//! refused with a 400 naming it, since silently ignoring a filter on an audit trail would
//! show an auditor more — or other — events than they asked for.

use serde_json::Value;
use sqlx::Row;

use super::record::AuditRecord;
use crate::auth::rbac::Grant;
use crate::db::{Access, Database, TenantTx};
use crate::fhir::outcome::{FhirError, FhirResult};
use crate::fhir::search::extract::date_range;
use crate::fhir::search::request::{split_prefix, Prefix};

/// Appends `records` (all of one tenant) in one transaction.
pub async fn insert(db: &Database, tenant: &str, records: &[AuditRecord]) -> sqlx::Result<()> {
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Write)
        .await?;
    for chunk in records.chunks(50) {
        let mut sql = String::from(
            "INSERT INTO audit_event (tenant_id, id, recorded, type, subtype, action, outcome, \
             agent, agent_name, entity, entity_type, address, content) VALUES ",
        );
        for (i, _) in chunk.iter().enumerate() {
            let b = i * 13;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10,
                b + 11,
                b + 12,
                b + 13
            ));
        }
        let mut query = sqlx::query(&sql);
        for r in chunk {
            query = query
                .bind(&r.tenant)
                .bind(&r.id)
                .bind(r.recorded)
                .bind(r.kind.code())
                .bind(&r.subtype)
                .bind(r.action)
                .bind(r.outcome)
                .bind(r.agent_key())
                .bind(r.username.clone())
                .bind(r.entity.clone())
                .bind(r.entity_type.clone())
                .bind(r.address.clone())
                .bind(r.to_fhir().to_string());
        }
        query.execute(tx.conn()).await?;
    }
    tx.commit().await
}

/// One event by id.
pub async fn read(tx: &mut TenantTx, id: &str) -> FhirResult<Value> {
    let row = sqlx::query("SELECT content FROM audit_event WHERE tenant_id = $1 AND id = $2")
        .bind(tx.tenant().to_string())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    match row {
        Some(row) => {
            let text: String = row.try_get("content")?;
            serde_json::from_str(&text).map_err(|e| FhirError::internal(e.to_string()))
        }
        None => Err(FhirError::not_found(format!(
            "AuditEvent/{id} does not exist"
        ))),
    }
}

/// A parsed audit search.
#[derive(Debug, Default)]
pub struct AuditQuery {
    conditions: Vec<(String, Vec<Bind>)>,
    pub count: usize,
    pub ascending: bool,
    /// Keyset paging: continue after (recorded, id).
    pub after: Option<(i64, String)>,
}

#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 1000;

/// The search parameters supported, and the column each filters.
const TEXT_PARAMS: &[(&str, &str)] = &[
    ("_id", "id"),
    ("agent", "agent"),
    ("agent-name", "agent_name"),
    ("entity", "entity"),
    ("entity-type", "entity_type"),
    ("address", "address"),
    ("outcome", "outcome"),
    ("action", "action"),
    ("subtype", "subtype"),
    ("type", "type"),
];

impl AuditQuery {
    pub fn parse(pairs: &[(String, String)]) -> FhirResult<AuditQuery> {
        let mut q = AuditQuery {
            count: DEFAULT_COUNT,
            ..AuditQuery::default()
        };
        for (name, value) in pairs {
            match name.as_str() {
                "_count" => {
                    q.count = value
                        .parse::<usize>()
                        .map_err(|_| {
                            FhirError::invalid(format!("_count={value:?} is not a number"))
                        })?
                        .clamp(1, MAX_COUNT)
                }
                "_sort" => match value.as_str() {
                    "date" | "_lastUpdated" => q.ascending = true,
                    "-date" | "-_lastUpdated" => q.ascending = false,
                    _ => {
                        return Err(FhirError::invalid(format!(
                            "AuditEvent can be sorted by date or -date, not {value:?}"
                        )))
                    }
                },
                "_after" => {
                    let (micros, id) = value
                        .split_once('.')
                        .and_then(|(m, id)| Some((m.parse().ok()?, id.to_string())))
                        .ok_or_else(|| FhirError::invalid("_after is not a paging cursor"))?;
                    q.after = Some((micros, id));
                }
                "date" => {
                    for v in value.split(',') {
                        q.conditions.push(date_condition(v)?);
                    }
                }
                _ => {
                    // `type` and `subtype` are tokens: a `system|` part is allowed and ignored.
                    let Some((_, column)) = TEXT_PARAMS.iter().find(|(p, _)| p == name) else {
                        return Err(FhirError::invalid(format!(
                            "AuditEvent search does not support {name:?}; use one of _id, date, agent, agent-name, entity, entity-type, address, outcome, action, subtype, type, _count, _sort"
                        )));
                    };
                    let values: Vec<Bind> = value
                        .split(',')
                        .map(|v| Bind::Text(v.rsplit('|').next().unwrap_or(v).to_string()))
                        .collect();
                    let placeholders = vec!["?"; values.len()].join(", ");
                    q.conditions
                        .push((format!("{column} IN ({placeholders})"), values));
                }
            }
        }
        Ok(q)
    }
}

fn date_condition(text: &str) -> FhirResult<(String, Vec<Bind>)> {
    let (prefix, rest) = split_prefix(text);
    let (low, high) = date_range(rest).ok_or_else(|| {
        FhirError::invalid(format!("date={text:?} is not a FHIR date or dateTime"))
    })?;
    Ok(match prefix.unwrap_or(Prefix::Eq) {
        Prefix::Eq => (
            "recorded BETWEEN ? AND ?".into(),
            vec![Bind::Int(low), Bind::Int(high)],
        ),
        Prefix::Gt | Prefix::Sa => ("recorded > ?".into(), vec![Bind::Int(high)]),
        Prefix::Ge => ("recorded >= ?".into(), vec![Bind::Int(low)]),
        Prefix::Lt | Prefix::Eb => ("recorded < ?".into(), vec![Bind::Int(low)]),
        Prefix::Le => ("recorded <= ?".into(), vec![Bind::Int(high)]),
        Prefix::Ne => (
            "(recorded < ? OR recorded > ?)".into(),
            vec![Bind::Int(low), Bind::Int(high)],
        ),
        Prefix::Ap => {
            let slack = ((high - low) / 10).max(86_400_000_000);
            (
                "recorded BETWEEN ? AND ?".into(),
                vec![Bind::Int(low - slack), Bind::Int(high + slack)],
            )
        }
    })
}

/// One page of matches, newest first unless sorted by `date`; one more than `count` is
/// fetched to know whether there is a next page.
pub async fn search(tx: &mut TenantTx, q: &AuditQuery) -> FhirResult<(Vec<Value>, Option<String>)> {
    let mut sql =
        String::from("SELECT id, recorded, content FROM audit_event WHERE tenant_id = $1");
    let mut binds: Vec<Bind> = vec![Bind::Text(tx.tenant().to_string())];
    let mut next = 2;
    let mut add = |sql: &mut String, fragment: &str, values: &[Bind], binds: &mut Vec<Bind>| {
        let mut out = String::new();
        let mut values = values.iter();
        for c in fragment.chars() {
            if c == '?' {
                out.push_str(&format!("${next}"));
                next += 1;
                binds.push(values.next().expect("one value per placeholder").clone());
            } else {
                out.push(c);
            }
        }
        sql.push_str(" AND ");
        sql.push_str(&out);
    };
    for (fragment, values) in &q.conditions {
        add(&mut sql, fragment, values, &mut binds);
    }
    let (cmp, order) = if q.ascending {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    if let Some((micros, id)) = &q.after {
        add(
            &mut sql,
            &format!("(recorded {cmp} ? OR (recorded = ? AND id {cmp} ?))"),
            &[
                Bind::Int(*micros),
                Bind::Int(*micros),
                Bind::Text(id.clone()),
            ],
            &mut binds,
        );
    }
    sql.push_str(&format!(
        " ORDER BY recorded {order}, id {order} LIMIT {}",
        q.count + 1
    ));
    let mut query = sqlx::query(&sql);
    for b in binds {
        query = match b {
            Bind::Text(t) => query.bind(t),
            Bind::Int(i) => query.bind(i),
        };
    }
    let rows = query.fetch_all(tx.conn()).await?;
    let mut events = Vec::new();
    let mut cursor = None;
    for (i, row) in rows.iter().enumerate() {
        if i == q.count {
            let last = &rows[i - 1];
            let micros: i64 = last.try_get("recorded")?;
            let id: String = last.try_get("id")?;
            cursor = Some(format!("{micros}.{id}"));
            break;
        }
        let text: String = row.try_get("content")?;
        events.push(serde_json::from_str(&text).map_err(|e| FhirError::internal(e.to_string()))?);
    }
    Ok((events, cursor))
}
