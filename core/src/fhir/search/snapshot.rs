//! Result snapshots for stable paging. The first page of a search that has more than one
//! page stores the ordered matches; `next`/`previous` links name the snapshot and an offset.
//! Later pages therefore neither skip nor repeat results while others write, which offset
//! paging over live rows cannot promise.
//!
//! PostgreSQL keeps snapshots in the UNLOGGED `search_snapshot` table so every server process
//! sharing the database can serve the links; SQLite, which is embedded in one process, keeps
//! them in memory. Either way they expire after [`LIFETIME_MICROS`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::auth::rbac::Grant;
use crate::clock;
use crate::db::{Access, Backend, Database, TenantTx};

/// How long paging links stay valid.
pub const LIFETIME_MICROS: i64 = 3_600 * 1_000_000;
/// Snapshots kept in memory at most (SQLite); the oldest go first.
const MEMORY_CAPACITY: usize = 2_000;

/// The ordered matches of one search and what is needed to render its pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// The searched type; None for a search across types.
    pub resource_type: Option<String>,
    /// The request's query string, for `_include`, `_summary` and `_elements` on later pages.
    pub query: String,
    /// `(type, id)` in result order.
    pub entries: Vec<(String, String)>,
    /// The number of matches, when known.
    pub total: Option<usize>,
    /// The patient compartment searched, if any.
    pub compartment: Option<String>,
}

/// In-memory snapshots by (tenant, id), with their creation time.
type MemorySnapshots = HashMap<(String, String), (i64, Arc<Snapshot>)>;

#[derive(Default)]
pub struct Snapshots {
    memory: Mutex<MemorySnapshots>,
}

impl Snapshots {
    /// Stores `snapshot` for `tenant` and returns its id. On PostgreSQL in a transaction of
    /// its own, so the search itself stays a read.
    pub async fn put(
        &self,
        db: &Database,
        tenant: &str,
        snapshot: Snapshot,
    ) -> sqlx::Result<String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now = clock::now_micros();
        match db.backend() {
            Backend::Postgres => {
                let mut tx = db
                    .tenant_tx_core(&Grant::system(tenant), Access::Write)
                    .await?;
                // Snapshots are disposable: their commit need not wait for a disk flush.
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(tx.conn())
                    .await?;
                sqlx::query("DELETE FROM search_snapshot WHERE tenant_id = $1 AND created < $2")
                    .bind(tenant)
                    .bind(now - LIFETIME_MICROS)
                    .execute(tx.conn())
                    .await?;
                sqlx::query(
                    "INSERT INTO search_snapshot (tenant_id, id, created, entries) VALUES ($1, $2, $3, $4)",
                )
                .bind(tenant)
                .bind(&id)
                .bind(now)
                .bind(serde_json::to_string(&snapshot).expect("serialisable"))
                .execute(tx.conn())
                .await?;
                tx.commit().await?;
            }
            Backend::Sqlite => {
                let mut memory = self.memory.lock().expect("snapshot lock");
                memory.retain(|_, (created, _)| *created >= now - LIFETIME_MICROS);
                if memory.len() >= MEMORY_CAPACITY {
                    if let Some(oldest) = memory
                        .iter()
                        .min_by_key(|(_, (created, _))| *created)
                        .map(|(k, _)| k.clone())
                    {
                        memory.remove(&oldest);
                    }
                }
                memory.insert((tenant.to_string(), id.clone()), (now, Arc::new(snapshot)));
            }
        }
        Ok(id)
    }

    /// The tenant's snapshot `id`, if it exists and has not expired.
    pub async fn get(&self, tx: &mut TenantTx, id: &str) -> sqlx::Result<Option<Snapshot>> {
        let cutoff = clock::now_micros() - LIFETIME_MICROS;
        match tx.backend() {
            Backend::Postgres => {
                let tenant = tx.tenant().to_string();
                let row = sqlx::query(
                    "SELECT entries FROM search_snapshot WHERE tenant_id = $1 AND id = $2 AND created >= $3",
                )
                .bind(tenant)
                .bind(id)
                .bind(cutoff)
                .fetch_optional(tx.conn())
                .await?;
                Ok(row.and_then(|r| {
                    let text: String = r.get("entries");
                    serde_json::from_str(&text).ok()
                }))
            }
            Backend::Sqlite => {
                let memory = self.memory.lock().expect("snapshot lock");
                Ok(memory
                    .get(&(tx.tenant().to_string(), id.to_string()))
                    .filter(|(created, _)| *created >= cutoff)
                    .map(|(_, s)| s.as_ref().clone()))
            }
        }
    }
}
