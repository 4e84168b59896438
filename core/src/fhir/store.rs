//! Versioned resource storage inside a tenant transaction. Every statement filters on
//! `tenant_id` explicitly; on PostgreSQL row-level security enforces it again.

use serde_json::{json, Value};
use sqlx::Row;

use super::index::{self, IndexRow};
use crate::clock;
use crate::db::{Backend, TenantTx};
use crate::events::outbox;

/// One stored version of a resource.
#[derive(Debug, Clone)]
pub struct Stored {
    pub resource_type: String,
    pub id: String,
    pub version_id: i64,
    /// Microseconds since the Unix epoch.
    pub last_updated: i64,
    pub deleted: bool,
    /// The resource JSON with `meta.versionId` and `meta.lastUpdated` set; None if deleted.
    pub content: Option<String>,
    /// How this version was made: POST, PUT, PATCH or DELETE.
    pub method: String,
}

impl Stored {
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version_id)
    }

    /// `Type/id/_history/vid`, the versioned relative URL.
    pub fn versioned_path(&self) -> String {
        format!(
            "{}/{}/_history/{}",
            self.resource_type, self.id, self.version_id
        )
    }

    pub fn json(&self) -> Option<Value> {
        self.content
            .as_deref()
            .map(|c| serde_json::from_str(c).expect("stored content is JSON"))
    }

    fn from_row(row: &sqlx::any::AnyRow) -> Result<Stored, sqlx::Error> {
        Ok(Stored {
            resource_type: row.try_get("resource_type")?,
            id: row.try_get("id")?,
            version_id: row.try_get("version_id")?,
            last_updated: row.try_get("last_updated")?,
            deleted: row.try_get::<i64, _>("deleted")? != 0,
            content: row.try_get("content")?,
            method: row.try_get("method")?,
        })
    }
}

const CURRENT_COLUMNS: &str =
    "resource_type, id, version_id, last_updated, deleted, content, CASE WHEN deleted = 1 THEN 'DELETE' ELSE 'PUT' END AS method";
const HISTORY_COLUMNS: &str =
    "resource_type, id, version_id, last_updated, deleted, content, method";

/// The current version (possibly a deletion), locking the row on PostgreSQL when `for_update`.
pub async fn current(
    tx: &mut TenantTx,
    ty: &str,
    id: &str,
    for_update: bool,
) -> sqlx::Result<Option<Stored>> {
    let sql = match (tx.backend(), for_update) {
        // One round trip that also binds the tenant, so it works outside a transaction too.
        (Backend::Postgres, false) => "SELECT * FROM tessera_current($1, $2, $3)".to_string(),
        (Backend::Postgres, true) => format!(
            "SELECT {CURRENT_COLUMNS} FROM resources WHERE tenant_id = $1 AND resource_type = $2 AND id = $3 FOR UPDATE"
        ),
        (Backend::Sqlite, _) => format!(
            "SELECT {CURRENT_COLUMNS} FROM resources WHERE tenant_id = $1 AND resource_type = $2 AND id = $3"
        ),
    };
    let tenant = tx.tenant().to_string();
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(ty)
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(Stored::from_row).transpose()
}

pub async fn version(
    tx: &mut TenantTx,
    ty: &str,
    id: &str,
    version_id: i64,
) -> sqlx::Result<Option<Stored>> {
    let sql = match tx.backend() {
        Backend::Postgres => "SELECT * FROM tessera_version($1, $2, $3, $4)".to_string(),
        Backend::Sqlite => format!(
            "SELECT {HISTORY_COLUMNS} FROM resource_history \
             WHERE tenant_id = $1 AND resource_type = $2 AND id = $3 AND version_id = $4"
        ),
    };
    let tenant = tx.tenant().to_string();
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(ty)
        .bind(id)
        .bind(version_id)
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(Stored::from_row).transpose()
}

/// Writes the next version of `ty/id` after `previous` (None for a new resource): sets
/// `meta.versionId`/`meta.lastUpdated` in `resource`, appends to history, replaces the current
/// row and the search index — all in the caller's transaction. `resource` None is a deletion.
pub async fn write_version(
    tx: &mut TenantTx,
    ty: &str,
    id: &str,
    previous: Option<&Stored>,
    method: &str,
    resource: Option<&mut Value>,
) -> sqlx::Result<Stored> {
    let version_id = previous.map_or(1, |p| p.version_id + 1);
    let last_updated = clock::now_micros();
    let mut rows = Vec::new();
    let content = resource.map(|r| {
        stamp_meta(r, id, version_id, last_updated);
        // The tenant's parameters: HL7's plus those of the packs it enabled.
        rows = index::rows(tx.extensions().registry(), r);
        r.to_string()
    });
    let deleted = i64::from(content.is_none());

    let tenant = tx.tenant().to_string();
    match tx.backend() {
        // One round trip (a function that binds the tenant, then writes history, current row
        // and index rows in order, replacing an earlier version's rows), so a plain create
        // needs no explicit transaction.
        Backend::Postgres => {
            let index_json = (!rows.is_empty()).then(|| index::rows_json(&rows).to_string());
            sqlx::query("SELECT tessera_write_version($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(&tenant)
                .bind(ty)
                .bind(id)
                .bind(version_id)
                .bind(last_updated)
                .bind(method)
                .bind(deleted)
                .bind(content.as_deref())
                .bind(i64::from(previous.is_none()))
                .bind(index_json)
                .execute(tx.conn())
                .await?;
        }
        Backend::Sqlite => {
            if previous.is_some() {
                index::remove(tx, ty, id).await?;
            }
            write_version_sqlite(
                tx,
                &tenant,
                ty,
                id,
                previous.is_none(),
                version_id,
                last_updated,
                method,
                deleted,
                content.as_deref(),
                &rows,
            )
            .await?
        }
    }

    let interaction = match (&content, previous) {
        (None, _) => "delete",
        (Some(_), Some(p)) if !p.deleted => "update",
        (Some(_), _) => "create",
    };
    let acting_pack = tx.grant().acting_pack.clone();
    outbox::record(tx, ty, id, version_id, interaction, acting_pack.as_deref()).await?;

    Ok(Stored {
        resource_type: ty.to_string(),
        id: id.to_string(),
        version_id,
        last_updated,
        deleted: deleted == 1,
        content,
        method: method.to_string(),
    })
}

/// Version 1 of several new resources `(type, id, resource)`, in the caller's transaction.
/// On PostgreSQL this is one statement (`tessera_create_many`) that binds its own tenant, so
/// it may also run as a single statement outside an explicit transaction.
pub async fn create_many(
    tx: &mut TenantTx,
    new: Vec<(String, String, Value)>,
) -> sqlx::Result<Vec<Stored>> {
    let mut stored = Vec::with_capacity(new.len());
    let mut rows = Vec::with_capacity(new.len());
    let registry = tx.extensions().registry().clone();
    for (ty, id, mut resource) in new {
        let last_updated = clock::now_micros();
        stamp_meta(&mut resource, &id, 1, last_updated);
        let index_rows = index::rows(&registry, &resource);
        let content = resource.to_string();
        rows.push((index_rows, content.clone()));
        stored.push(Stored {
            resource_type: ty,
            id,
            version_id: 1,
            last_updated,
            deleted: false,
            content: Some(content),
            method: "POST".into(),
        });
    }
    let tenant = tx.tenant().to_string();
    match tx.backend() {
        Backend::Postgres => {
            let payload: Vec<Value> = stored
                .iter()
                .zip(&rows)
                .map(|(s, (index_rows, content))| {
                    json!({"resource_type": s.resource_type, "id": s.id, "last_updated": s.last_updated,
                           "content": content, "idx": index::rows_json(index_rows)})
                })
                .collect();
            sqlx::query("SELECT tessera_create_many($1, $2)")
                .bind(&tenant)
                .bind(Value::Array(payload).to_string())
                .execute(tx.conn())
                .await?;
        }
        Backend::Sqlite => {
            for (s, (index_rows, content)) in stored.iter().zip(&rows) {
                write_version_sqlite(
                    tx,
                    &tenant,
                    &s.resource_type,
                    &s.id,
                    true,
                    1,
                    s.last_updated,
                    "POST",
                    0,
                    Some(content),
                    index_rows,
                )
                .await?;
            }
        }
    }
    Ok(stored)
}

/// The SQLite path of `write_version`: the same rows, as separate in-process statements.
#[allow(clippy::too_many_arguments)]
async fn write_version_sqlite(
    tx: &mut TenantTx,
    tenant: &str,
    ty: &str,
    id: &str,
    is_new: bool,
    version_id: i64,
    last_updated: i64,
    method: &str,
    deleted: i64,
    content: Option<&str>,
    rows: &[IndexRow],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO resource_history (tenant_id, resource_type, id, version_id, last_updated, method, deleted, content) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant)
    .bind(ty)
    .bind(id)
    .bind(version_id)
    .bind(last_updated)
    .bind(method)
    .bind(deleted)
    .bind(content)
    .execute(tx.conn())
    .await?;
    // A new resource is a plain INSERT: a concurrent creator of the same id fails with a
    // unique violation, which the caller retries, instead of silently overwriting.
    let current = if is_new {
        "INSERT INTO resources (tenant_id, resource_type, id, version_id, last_updated, deleted, content) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    } else {
        "UPDATE resources SET version_id = $4, last_updated = $5, deleted = $6, content = $7 \
         WHERE tenant_id = $1 AND resource_type = $2 AND id = $3"
    };
    sqlx::query(current)
        .bind(tenant)
        .bind(ty)
        .bind(id)
        .bind(version_id)
        .bind(last_updated)
        .bind(deleted)
        .bind(content)
        .execute(tx.conn())
        .await?;
    index::insert(tx, ty, id, rows).await
}

/// Server-owned metadata: the id, `meta.versionId` and `meta.lastUpdated`. The client's other
/// `meta` elements (profile, tag, security, source) are kept.
fn stamp_meta(resource: &mut Value, id: &str, version_id: i64, last_updated: i64) {
    let object = resource.as_object_mut().expect("validated as an object");
    // Keep `resourceType` then `id` first, as FHIR JSON conventionally orders them.
    object.shift_remove("id");
    object.shift_insert(
        1.min(object.len()),
        "id".into(),
        Value::String(id.to_string()),
    );
    let meta = object.entry("meta").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta["versionId"] = Value::String(version_id.to_string());
    meta["lastUpdated"] = Value::String(clock::format_instant(last_updated));
}

/// Which versions a history request covers.
#[derive(Debug, Clone, Default)]
pub struct HistoryScope {
    pub resource_type: Option<String>,
    pub id: Option<String>,
}

/// A position in the newest-first history order: versions strictly older come next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryCursor {
    pub last_updated: i64,
    pub resource_type: String,
    pub id: String,
    pub version_id: i64,
}

impl HistoryCursor {
    pub fn of(stored: &Stored) -> HistoryCursor {
        HistoryCursor {
            last_updated: stored.last_updated,
            resource_type: stored.resource_type.clone(),
            id: stored.id.clone(),
            version_id: stored.version_id,
        }
    }

    /// `micros:Type:id:vid` — ids cannot contain ':'.
    pub fn encode(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.last_updated, self.resource_type, self.id, self.version_id
        )
    }

    pub fn decode(text: &str) -> Option<HistoryCursor> {
        let mut parts = text.split(':');
        let cursor = HistoryCursor {
            last_updated: parts.next()?.parse().ok()?,
            resource_type: parts.next()?.to_string(),
            id: parts.next()?.to_string(),
            version_id: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(cursor)
    }
}

/// Versions in scope, newest first, at or after `since`, strictly after `cursor`.
pub async fn history(
    tx: &mut TenantTx,
    scope: &HistoryScope,
    since: Option<i64>,
    cursor: Option<&HistoryCursor>,
    limit: i64,
) -> sqlx::Result<Vec<Stored>> {
    let mut sql = format!("SELECT {HISTORY_COLUMNS} FROM resource_history WHERE tenant_id = $1");
    let mut n = 1;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if scope.resource_type.is_some() {
        sql += &format!(" AND resource_type = {}", next());
    }
    if scope.id.is_some() {
        sql += &format!(" AND id = {}", next());
    }
    if since.is_some() {
        sql += &format!(" AND last_updated >= {}", next());
    }
    if cursor.is_some() {
        let (a, b, c, d) = (next(), next(), next(), next());
        sql +=
            &format!(" AND (last_updated, resource_type, id, version_id) < ({a}, {b}, {c}, {d})");
    }
    sql += &format!(
        " ORDER BY last_updated DESC, resource_type DESC, id DESC, version_id DESC LIMIT {}",
        next()
    );

    let tenant = tx.tenant().to_string();
    let mut query = sqlx::query(&sql).bind(tenant);
    if let Some(ty) = &scope.resource_type {
        query = query.bind(ty.clone());
    }
    if let Some(id) = &scope.id {
        query = query.bind(id.clone());
    }
    if let Some(since) = since {
        query = query.bind(since);
    }
    if let Some(c) = cursor {
        query = query
            .bind(c.last_updated)
            .bind(c.resource_type.clone())
            .bind(c.id.clone())
            .bind(c.version_id);
    }
    let rows = query.bind(limit).fetch_all(tx.conn()).await?;
    rows.iter().map(Stored::from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let c = HistoryCursor {
            last_updated: 12,
            resource_type: "Patient".into(),
            id: "a.b-c".into(),
            version_id: 3,
        };
        assert_eq!(HistoryCursor::decode(&c.encode()), Some(c));
        assert_eq!(HistoryCursor::decode("1:Patient:x"), None);
        assert_eq!(HistoryCursor::decode("x:Patient:x:1"), None);
    }

    #[test]
    fn meta_is_stamped_and_id_comes_second() {
        let mut r =
            json!({"resourceType": "Patient", "meta": {"tag": [{"code": "t"}]}, "active": true});
        stamp_meta(&mut r, "p1", 2, 1_700_000_000_000_000);
        let keys: Vec<_> = r.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys[..2], ["resourceType".to_string(), "id".to_string()]);
        assert_eq!(r["meta"]["versionId"], "2");
        assert_eq!(r["meta"]["tag"][0]["code"], "t");
        assert_eq!(r["meta"]["lastUpdated"], "2023-11-14T22:13:20.000000Z");
    }
}
