//! Embedded SQLite: WAL mode, one writer connection, several readers.

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool};
use sqlx::Executor;

use super::{Backend, Database};
use crate::config::DatabaseConfig;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

pub(super) async fn open(path: &Path, config: &DatabaseConfig) -> Result<Database> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    }
    let synchronous = match config.sqlite_synchronous.to_ascii_uppercase().as_str() {
        s @ ("FULL" | "NORMAL" | "EXTRA") => s.to_string(),
        other => {
            anyhow::bail!("database.sqlite_synchronous must be FULL, NORMAL or EXTRA, not {other}")
        }
    };

    // Migrate with a native connection; WAL mode is persistent in the file once set.
    let native = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    let pool = SqlitePool::connect_with(native)
        .await
        .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
    MIGRATOR
        .run(&pool)
        .await
        .context("applying SQLite migrations")?;
    pool.close().await;

    let url = format!("sqlite://{}", path.display());
    let pragmas = format!(
        "PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;"
    );
    let connect = |max: u32| {
        let pragmas = pragmas.clone();
        AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(move |conn, _meta| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    conn.execute(pragmas.as_str()).await?;
                    Ok(())
                })
            })
            .connect_with(sqlx::any::AnyConnectOptions::from_str(&url).expect("valid sqlite URL"))
    };
    let writer = connect(1).await?;
    let reader = connect(config.max_connections.max(2)).await?;
    Ok(Database {
        backend: Backend::Sqlite,
        reader,
        writer,
        owner_url: None,
        extensions: Default::default(),
    })
}
