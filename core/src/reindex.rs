//! `tessera reindex`: recomputes every live resource's search index rows, for when search
//! parameters change. Works tenant by tenant in pages, each page one transaction, so it can
//! run beside a live server and be interrupted and rerun safely.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::Row;

use crate::db::{Access, Database};
use crate::fhir::index::{self, IndexRows};

const PAGE: i64 = 500;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReindexReport {
    pub resources: u64,
    pub rows: u64,
}

/// Reindexes `tenants` (all of them when empty).
pub async fn reindex(
    db: &Database,
    tenants: &[String],
    show_progress: bool,
) -> Result<ReindexReport> {
    let tenants: Vec<String> = if tenants.is_empty() {
        sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
            .fetch_all(db.reader())
            .await?
    } else {
        for tenant in tenants {
            let known: Option<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1")
                .bind(tenant)
                .fetch_optional(db.reader())
                .await?;
            anyhow::ensure!(
                known.is_some(),
                "unknown tenant {tenant:?}; `tessera tenant list` shows the tenants"
            );
        }
        tenants.to_vec()
    };
    let mut report = ReindexReport::default();
    for tenant in tenants {
        let mut tx = db.tenant_tx(&tenant, Access::Read).await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM resources WHERE tenant_id = $1 AND deleted = 0",
        )
        .bind(&tenant)
        .fetch_one(tx.conn())
        .await?;
        drop(tx);
        let bar = if show_progress {
            ProgressBar::new(total as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {pos}/{len}")
                .expect("valid template"),
        );
        bar.set_message(format!("reindexing {tenant}"));

        // Keyset paging over (type, id): stable while others write.
        let mut after = (String::new(), String::new());
        loop {
            let mut tx = db.tenant_tx(&tenant, Access::Write).await?;
            let page = sqlx::query(
                "SELECT resource_type, id, content FROM resources \
                 WHERE tenant_id = $1 AND deleted = 0 AND (resource_type, id) > ($2, $3) \
                 ORDER BY resource_type, id LIMIT $4",
            )
            .bind(&tenant)
            .bind(&after.0)
            .bind(&after.1)
            .bind(PAGE)
            .fetch_all(tx.conn())
            .await?;
            if page.is_empty() {
                break;
            }
            for row in &page {
                let (ty, id, content): (String, String, String) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                let resource: serde_json::Value = serde_json::from_str(&content)?;
                let rows = IndexRows::of(&resource);
                index::remove(&mut tx, &ty, &id).await?;
                index::insert(&mut tx, &ty, &id, &rows).await?;
                report.rows += rows.len() as u64;
                after = (ty, id);
            }
            tx.commit().await?;
            report.resources += page.len() as u64;
            bar.inc(page.len() as u64);
        }
        bar.finish();
    }
    Ok(report)
}
