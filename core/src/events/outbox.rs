//! The `event_outbox` table: events are recorded inside the transaction of the change they
//! describe, then claimed, delivered and removed (or kept as failed) by the dispatcher.

use serde::Serialize;
use sqlx::Row;

use crate::clock;
use crate::db::{Backend, Database, TenantTx};

/// One event waiting for (or failed at) delivery to one pack.
#[derive(Clone, Debug, Serialize)]
pub struct OutboxEvent {
    pub seq: i64,
    pub pack: String,
    pub resource_type: String,
    pub id: String,
    pub version_id: i64,
    pub interaction: String,
    pub status: String,
    pub attempts: i64,
    /// Microseconds since the epoch.
    pub due_at: i64,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "seq, pack_id, resource_type, id, version_id, interaction, status, attempts, due_at, last_error";

impl OutboxEvent {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<OutboxEvent> {
        Ok(OutboxEvent {
            seq: row.try_get("seq")?,
            pack: row.try_get("pack_id")?,
            resource_type: row.try_get("resource_type")?,
            id: row.try_get("id")?,
            version_id: row.try_get("version_id")?,
            interaction: row.try_get("interaction")?,
            status: row.try_get("status")?,
            attempts: row
                .try_get::<i64, _>("attempts")
                .or_else(|_| row.try_get::<i32, _>("attempts").map(i64::from))?,
            due_at: row.try_get("due_at")?,
            last_error: row.try_get("last_error")?,
        })
    }
}

/// Records `interaction` on `ty/id` at `version_id` for every pack of the tenant that
/// subscribed to it, except the pack that made the change. Runs in the change's transaction,
/// so the events commit (or roll back) with it.
pub async fn record(
    tx: &mut TenantTx,
    ty: &str,
    id: &str,
    version_id: i64,
    interaction: &str,
    acting_pack: Option<&str>,
) -> sqlx::Result<()> {
    let extensions = tx.extensions().clone();
    let packs: Vec<&str> = extensions
        .subscribers_of(ty, interaction, acting_pack)
        .collect();
    if packs.is_empty() {
        return Ok(());
    }
    let seq = clock::now_micros();
    let tenant = tx.tenant().to_string();
    for pack in packs {
        sqlx::query(
            "INSERT INTO event_outbox (tenant_id, seq, pack_id, resource_type, id, version_id, interaction, due_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $2)",
        )
        .bind(&tenant)
        .bind(seq)
        .bind(pack)
        .bind(ty)
        .bind(id)
        .bind(version_id)
        .bind(interaction)
        .execute(tx.conn())
        .await?;
    }
    tx.note_events_recorded();
    Ok(())
}

/// The tenants with events due now. On PostgreSQL one call of a function that sees every
/// tenant's outbox and returns only tenant ids (`tessera_outbox_due_tenants`).
pub async fn due_tenants(db: &Database) -> sqlx::Result<Vec<String>> {
    let now = clock::now_micros();
    let sql = match db.backend() {
        Backend::Postgres => "SELECT t FROM tessera_outbox_due_tenants($1) AS t",
        Backend::Sqlite => {
            "SELECT DISTINCT tenant_id AS t FROM event_outbox \
             WHERE status = 'pending' AND due_at <= $1 AND (lease_until IS NULL OR lease_until < $1)"
        }
    };
    let rows = sqlx::query(sql).bind(now).fetch_all(db.reader()).await?;
    rows.iter().map(|r| r.try_get::<String, _>("t")).collect()
}

/// Claims up to `limit` due events of the tenant for `lease_micros`, oldest first, counting
/// the attempt now (so an event whose delivery kills its server still runs out of attempts).
/// Other dispatchers skip claimed rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has
/// one writer).
pub async fn claim(
    tx: &mut TenantTx,
    limit: i64,
    lease_micros: i64,
) -> sqlx::Result<Vec<OutboxEvent>> {
    let now = clock::now_micros();
    let lock = match tx.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE event_outbox SET lease_until = $2, attempts = attempts + 1 \
         WHERE tenant_id = $1 AND (seq, pack_id) IN ( \
             SELECT seq, pack_id FROM event_outbox \
             WHERE tenant_id = $1 AND status = 'pending' AND due_at <= $3 \
               AND (lease_until IS NULL OR lease_until < $3) \
             ORDER BY seq LIMIT $4 {lock}) \
         RETURNING {COLUMNS}"
    );
    let tenant = tx.tenant().to_string();
    let rows = sqlx::query(&sql)
        .bind(tenant)
        .bind(now + lease_micros)
        .bind(now)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    let mut events = rows
        .iter()
        .map(OutboxEvent::from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
    events.sort_by_key(|e| e.seq);
    Ok(events)
}

/// Delivered: the event is gone.
pub async fn delivered(tx: &mut TenantTx, event: &OutboxEvent) -> sqlx::Result<()> {
    let tenant = tx.tenant().to_string();
    sqlx::query("DELETE FROM event_outbox WHERE tenant_id = $1 AND seq = $2 AND pack_id = $3")
        .bind(tenant)
        .bind(event.seq)
        .bind(&event.pack)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Not delivered: due again at `retry_at`, or kept as failed once `max_attempts` were made.
pub async fn failed(
    tx: &mut TenantTx,
    event: &OutboxEvent,
    error: &str,
    retry_at: i64,
    max_attempts: i64,
) -> sqlx::Result<()> {
    let tenant = tx.tenant().to_string();
    sqlx::query(
        "UPDATE event_outbox SET lease_until = NULL, due_at = $4, last_error = $5, \
         status = CASE WHEN attempts >= $6 THEN 'failed' ELSE 'pending' END \
         WHERE tenant_id = $1 AND seq = $2 AND pack_id = $3",
    )
    .bind(tenant)
    .bind(event.seq)
    .bind(&event.pack)
    .bind(retry_at)
    .bind(truncate(error, 2000))
    .bind(max_attempts)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Not attempted (the pack is not enabled at the moment): due again at `retry_at`, and the
/// claim does not count as an attempt.
pub async fn deferred(tx: &mut TenantTx, event: &OutboxEvent, retry_at: i64) -> sqlx::Result<()> {
    let tenant = tx.tenant().to_string();
    sqlx::query(
        "UPDATE event_outbox SET lease_until = NULL, due_at = $4, attempts = attempts - 1 \
         WHERE tenant_id = $1 AND seq = $2 AND pack_id = $3",
    )
    .bind(tenant)
    .bind(event.seq)
    .bind(&event.pack)
    .bind(retry_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A pack's events in the tenant, oldest first: `status` `pending` or `failed`.
pub async fn list(
    tx: &mut TenantTx,
    pack: &str,
    status: &str,
    limit: i64,
) -> sqlx::Result<Vec<OutboxEvent>> {
    let tenant = tx.tenant().to_string();
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM event_outbox WHERE tenant_id = $1 AND pack_id = $2 AND status = $3 \
         ORDER BY seq LIMIT $4"
    ))
    .bind(tenant)
    .bind(pack)
    .bind(status)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(OutboxEvent::from_row).collect()
}

/// How many of a pack's events are pending and failed.
pub async fn counts(tx: &mut TenantTx, pack: &str) -> sqlx::Result<(i64, i64)> {
    let tenant = tx.tenant().to_string();
    let row = sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending, \
                COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed \
         FROM event_outbox WHERE tenant_id = $1 AND pack_id = $2",
    )
    .bind(tenant)
    .bind(pack)
    .fetch_one(tx.conn())
    .await?;
    Ok((row.try_get("pending")?, row.try_get("failed")?))
}

/// Puts a pack's failed events (one, by `seq`, or all) back in line with fresh attempts.
/// Returns how many.
pub async fn retry(tx: &mut TenantTx, pack: &str, seq: Option<i64>) -> sqlx::Result<u64> {
    let tenant = tx.tenant().to_string();
    let now = clock::now_micros();
    let result = sqlx::query(
        "UPDATE event_outbox SET status = 'pending', attempts = 0, due_at = $3, lease_until = NULL \
         WHERE tenant_id = $1 AND pack_id = $2 AND status = 'failed' AND ($4 = 0 OR seq = $5)",
    )
    .bind(tenant)
    .bind(pack)
    .bind(now)
    .bind(i64::from(seq.is_some()))
    .bind(seq.unwrap_or(0))
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected())
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
