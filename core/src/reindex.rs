//! Rebuilding the search index from the stored resources: `tessera reindex`, and at start-up
//! when the search parameters differ from those the index was built with (an upgrade that
//! changes HL7's definitions or how values are indexed).
//!
//! Each batch of resources is re-indexed in its own tenant transaction, replacing each
//! resource's rows atomically, so searches keep working (on old or new rows, never on none)
//! while a reindex runs.

use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::Row;

use crate::auth::rbac::Grant;
use crate::db::{Access, Database};
use crate::fhir::index;
use crate::fhir::search::registry::SearchRegistry;

/// Resources per transaction.
const BATCH: i64 = 500;

#[derive(Debug, Default, Clone, Copy)]
pub struct ReindexReport {
    pub tenants: usize,
    pub resources: usize,
    pub rows: usize,
    pub seconds: f64,
}

/// Re-indexes `tenant` (or every tenant), showing a progress bar when `show_progress`.
pub async fn reindex(
    db: &Database,
    tenant: Option<&str>,
    show_progress: bool,
) -> Result<ReindexReport> {
    let started = Instant::now();
    let tenants: Vec<String> = match tenant {
        Some(t) => vec![t.to_string()],
        None => {
            sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
                .fetch_all(db.reader())
                .await?
        }
    };
    let mut report = ReindexReport {
        tenants: tenants.len(),
        ..ReindexReport::default()
    };
    for tenant in &tenants {
        let (resources, rows) = reindex_tenant(db, tenant, None, show_progress).await?;
        report.resources += resources;
        report.rows += rows;
    }
    db.refresh_statistics().await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Re-indexes one tenant's resources (of `types` only, when given) with the tenant's search
/// parameters (HL7's and its packs'); returns the resources and rows written.
pub async fn reindex_tenant(
    db: &Database,
    tenant: &str,
    types: Option<&[String]>,
    show_progress: bool,
) -> Result<(usize, usize)> {
    let all_types = types.is_none();
    let types: Vec<String> = types.map(<[String]>::to_vec).unwrap_or_default();
    let mut tx = db.tenant_tx(&Grant::system(tenant), Access::Read).await?;
    let mut total: i64 = 0;
    for ty in types.iter().map(Some).chain(all_types.then_some(None)) {
        total += sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM resources WHERE tenant_id = $1 AND deleted = 0 \
             AND ($2 = '' OR resource_type = $2)",
        )
        .bind(tenant)
        .bind(ty.map(String::as_str).unwrap_or(""))
        .fetch_one(tx.conn())
        .await?;
    }
    tx.commit().await?;
    let bar = if show_progress {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} resources {msg}",
        )
        .expect("valid template"),
    );
    bar.set_message(format!("tenant {tenant}"));
    let (mut resources, mut written) = (0, 0);
    for ty in types.iter().map(Some).chain(all_types.then_some(None)) {
        let only = ty.map(String::as_str).unwrap_or("");
        let mut after = (only.to_string(), String::new());
        loop {
            let mut tx = db.tenant_tx(&Grant::system(tenant), Access::Write).await?;
            let registry = tx.extensions().registry().clone();
            let rows = sqlx::query(
                "SELECT resource_type, id, content FROM resources WHERE tenant_id = $1 AND deleted = 0 \
                 AND ($5 = '' OR resource_type = $5) \
                 AND (resource_type > $2 OR (resource_type = $2 AND id > $3)) \
                 ORDER BY resource_type, id LIMIT $4",
            )
            .bind(tenant)
            .bind(&after.0)
            .bind(&after.1)
            .bind(BATCH)
            .bind(only)
            .fetch_all(tx.conn())
            .await?;
            if rows.is_empty() {
                tx.commit().await?;
                break;
            }
            for row in &rows {
                let ty: String = row.try_get("resource_type")?;
                let id: String = row.try_get("id")?;
                let content: String = row.try_get("content")?;
                let resource: serde_json::Value = serde_json::from_str(&content)
                    .with_context(|| format!("stored {ty}/{id} is not JSON"))?;
                let index_rows = index::rows(&registry, &resource);
                index::remove(&mut tx, &ty, &id).await?;
                index::insert(&mut tx, &ty, &id, &index_rows).await?;
                written += index_rows.len();
                after = (ty, id);
            }
            tx.commit().await?;
            resources += rows.len();
            bar.inc(rows.len() as u64);
        }
    }
    bar.finish_and_clear();
    Ok((resources, written))
}

/// Rebuilds the index if it was built with other search parameters than this build's, then
/// records the current fingerprint. Cheap when nothing changed (one SELECT).
pub async fn ensure_current(db: &Database) -> Result<()> {
    let fingerprint = SearchRegistry::shared().fingerprint();
    let stored: Option<String> =
        sqlx::query_scalar("SELECT fingerprint FROM search_index_state WHERE singleton = 1")
            .fetch_optional(db.reader())
            .await?;
    if stored.as_deref() == Some(fingerprint.as_str()) {
        return Ok(());
    }
    tracing::info!(
        from = stored.as_deref().unwrap_or("none"),
        to = %fingerprint,
        "search parameters changed; rebuilding the search index"
    );
    let report = reindex(db, None, false).await?;
    if report.resources > 0 {
        tracing::info!(
            tenants = report.tenants,
            resources = report.resources,
            rows = report.rows,
            seconds = report.seconds,
            "search index rebuilt"
        );
    }
    let mut tx = db.global_tx().await?;
    sqlx::query("DELETE FROM search_index_state")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO search_index_state (singleton, fingerprint) VALUES (1, $1)")
        .bind(&fingerprint)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
