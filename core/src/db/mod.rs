//! Storage connections and tenant-scoped transactions.
//!
//! Both backends are driven through sqlx's `Any` driver so that every query is written once
//! (both accept `$1` placeholders). What differs lives in `sqlite.rs` and `postgres.rs`:
//! how to connect, migrate, and bind a transaction to a tenant.

mod postgres;
mod sqlite;

use anyhow::{bail, Result};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Transaction};

use std::sync::{Arc, RwLock};

use crate::auth::rbac::Grant;
use crate::config::Config;
use crate::fhir::extensions::{ExtensionSource, TenantExtensions};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The database: a pool for reads and a pool for writes. On PostgreSQL they are the same pool;
/// on SQLite the writer holds a single connection, because SQLite allows one writer at a time
/// and queueing in-process is cheaper and fairer than spinning on `SQLITE_BUSY`.
#[derive(Clone)]
pub struct Database {
    backend: Backend,
    reader: AnyPool,
    writer: AnyPool,
    /// PostgreSQL: the schema owner's URL, for maintenance the application role may not do.
    owner_url: Option<String>,
    /// Where each tenant transaction gets its tenant's pack contributions from (installed by
    /// the server, import and reindex; none means the core alone).
    extensions: Arc<RwLock<Option<Arc<dyn ExtensionSource>>>>,
}

/// What a tenant transaction will do. Read transactions use the reader pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    /// Exactly one statement that binds its own tenant (PostgreSQL's `tessera_*` functions:
    /// reads by id, group-committed creates). On PostgreSQL it runs in the statement's own
    /// implicit transaction, saving the BEGIN and COMMIT round trips; any other statement run
    /// this way finds no tenant bound, so row-level security makes it fail closed.
    SingleStatementRead,
    SingleStatementWrite,
}

impl Database {
    /// Connects to the configured database and applies pending migrations.
    pub async fn open(config: &Config) -> Result<Database> {
        sqlx::any::install_default_drivers();
        match config.database.url.as_deref() {
            None => sqlite::open(&config.data_dir.join("tessera.db"), &config.database).await,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                postgres::open(url, &config.database).await
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
                sqlite::open(std::path::Path::new(path), &config.database).await
            }
            Some(url) => bail!(
                "unsupported database URL {url:?}: use postgres://user@host/db, sqlite:path, \
                 or leave TESSERA_DATABASE_URL unset for the embedded SQLite database"
            ),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Installs the source of tenants' pack contributions (`crate::packs::Packs`).
    pub fn set_extension_source(&self, source: Arc<dyn ExtensionSource>) {
        *self.extensions.write().unwrap() = Some(source);
    }

    /// Drops the extension source (at shutdown, breaking the cycle packs → db → packs).
    pub fn clear_extension_source(&self) {
        self.extensions.write().unwrap().take();
    }

    /// What `tenant`'s enabled packs contribute (cached by the source).
    pub async fn extensions(&self, tenant: &str) -> Result<Arc<TenantExtensions>, sqlx::Error> {
        let source = self.extensions.read().unwrap().clone();
        match source {
            Some(source) => source.for_tenant(tenant).await,
            None => Ok(TenantExtensions::core()),
        }
    }

    /// Begins a transaction bound to one tenant. On PostgreSQL the transaction starts with
    /// `BEGIN; SET LOCAL tessera.tenant_id = '<tenant>'` (one round trip), so row-level
    /// security confines every statement of the transaction to that tenant even if a query
    /// forgets its `tenant_id` filter. Queries still filter explicitly, which is what keeps
    /// SQLite (which has no row-level security) isolated.
    ///
    /// The transaction carries the caller's [`Grant`]: what runs inside it asks the grant
    /// before touching data (the grant also names the tenant).
    pub async fn tenant_tx(
        &self,
        grant: &Arc<Grant>,
        access: Access,
    ) -> Result<TenantTx, sqlx::Error> {
        // Resolved before a connection is taken, so SQLite's one writer is never held while
        // a tenant's packs are looked up.
        let extensions = self.extensions(&grant.tenant).await?;
        self.open_tenant_tx(grant, access, extensions).await
    }

    /// A tenant transaction that ignores the tenant's packs: for the pack registry's own
    /// bookkeeping (which the extension source itself reads) and other tables no pack
    /// extends.
    pub async fn tenant_tx_core(
        &self,
        grant: &Arc<Grant>,
        access: Access,
    ) -> Result<TenantTx, sqlx::Error> {
        self.open_tenant_tx(grant, access, TenantExtensions::core())
            .await
    }

    async fn open_tenant_tx(
        &self,
        grant: &Arc<Grant>,
        access: Access,
        extensions: Arc<TenantExtensions>,
    ) -> Result<TenantTx, sqlx::Error> {
        let tenant = grant.tenant.as_str();
        let pool = match access {
            Access::Read | Access::SingleStatementRead => &self.reader,
            Access::Write | Access::SingleStatementWrite => &self.writer,
        };
        let single = matches!(
            access,
            Access::SingleStatementRead | Access::SingleStatementWrite
        );
        let conn = match self.backend {
            Backend::Postgres if single => Conn::Direct(pool.acquire().await?),
            Backend::Postgres => {
                // SET cannot take a bind parameter, so the tenant is inlined: it must be a
                // valid slug (lowercase letters, digits, '-'), which rules out any quoting.
                if crate::tenants::validate_slug(tenant).is_err() {
                    return Err(sqlx::Error::Protocol(format!(
                        "refusing to scope a transaction to the invalid tenant id {tenant:?}"
                    )));
                }
                // Searches are dynamic SQL whose best plan depends on the values (a patient
                // with five observations or a code every patient has); a generic plan cached
                // after five runs was measured at seconds where the custom plan took
                // milliseconds, so statements in these transactions are always planned for
                // their values.
                Conn::Tx(
                    pool.begin_with(format!(
                        "BEGIN; SET LOCAL tessera.tenant_id = '{tenant}'; \
                         SET LOCAL plan_cache_mode = force_custom_plan"
                    ))
                    .await?,
                )
            }
            // SQLite statements are in-process calls: always a real transaction.
            Backend::Sqlite => Conn::Tx(pool.begin().await?),
        };
        Ok(TenantTx {
            conn,
            grant: grant.clone(),
            backend: self.backend,
            extensions,
            events_recorded: false,
        })
    }

    /// A transaction for server-wide tables (the tenant registry), bound to no tenant.
    pub async fn global_tx(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.writer.begin().await
    }

    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// Refreshes the query planner's statistics (and, on PostgreSQL, the visibility map)
    /// after a bulk change (an import, a reindex),
    /// so searches are planned for the data as it now is. PostgreSQL's autovacuum does this
    /// eventually when it is on; this does not wait for it. On PostgreSQL it needs the
    /// owner's connection (ANALYZE is the owner's privilege), never the application role's.
    pub async fn refresh_statistics(&self) -> Result<()> {
        match (&self.backend, &self.owner_url) {
            (Backend::Postgres, Some(url)) => {
                use sqlx::{Connection, Executor};
                let mut conn = sqlx::PgConnection::connect(url).await?;
                // VACUUM also marks pages all-visible, which lets searches use index-only
                // scans on freshly loaded data.
                conn.execute("VACUUM (ANALYZE) resources, resource_history, search_index")
                    .await?;
                conn.close().await?;
            }
            (Backend::Postgres, None) => {}
            (Backend::Sqlite, _) => {
                // Sampled statistics are enough for choosing indexes and bound the time
                // (a full ANALYZE of a large index takes seconds, holding the writer).
                let mut conn = self.writer.acquire().await?;
                sqlx::query("PRAGMA analysis_limit = 1000")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("ANALYZE").execute(&mut *conn).await?;
            }
        }
        Ok(())
    }

    /// Checks the database answers; used by `/healthz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// A transaction bound to one tenant; dropping it without `commit` rolls it back.
pub struct TenantTx {
    conn: Conn,
    grant: Arc<Grant>,
    backend: Backend,
    extensions: Arc<TenantExtensions>,
    /// Set when a write recorded outbox events: delivery is woken after the commit.
    events_recorded: bool,
}

enum Conn {
    Tx(Transaction<'static, Any>),
    /// A single self-binding statement in its own implicit transaction (PostgreSQL only).
    Direct(PoolConnection<Any>),
}

impl TenantTx {
    pub fn tenant(&self) -> &str {
        &self.grant.tenant
    }

    /// What the caller of this transaction may do.
    pub fn grant(&self) -> &Arc<Grant> {
        &self.grant
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What the tenant's enabled packs contribute to this transaction's work.
    pub fn extensions(&self) -> &Arc<TenantExtensions> {
        &self.extensions
    }

    /// Notes that this transaction recorded events for packs (`crate::events::outbox`).
    pub fn note_events_recorded(&mut self) {
        self.events_recorded = true;
    }

    /// The connection, for running statements inside this transaction.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        match &mut self.conn {
            Conn::Tx(tx) => tx,
            Conn::Direct(conn) => conn,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.conn {
            Conn::Tx(tx) => tx.commit().await?,
            Conn::Direct(_) => {}
        }
        if self.events_recorded {
            self.extensions.events_committed(&self.grant.tenant);
        }
        Ok(())
    }
}

/// True for errors that mean "someone else wrote the same row first": retrying the whole
/// transaction is safe and will see their write.
pub fn is_write_conflict(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            matches!(
                db.code().as_deref(),
                Some("23505") | Some("40001") | Some("40P01")
            ) || db.message().contains("UNIQUE constraint failed")
                || db.message().contains("database is locked")
        }
        _ => false,
    }
}
