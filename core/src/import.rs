//! `tessera import`: bulk load of FHIR Bundles (or single resources) from files, through the
//! same engine as the REST API, so imported data is validated and indexed identically.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::auth::rbac::Grant;
use crate::db::Access;
use crate::fhir::bundle::{BundleProcessor, Return};
use crate::http::AppState;
use crate::in_tenant_tx;

#[derive(Debug, Default)]
pub struct ImportReport {
    pub files: usize,
    pub resources: usize,
    pub failures: Vec<(PathBuf, String)>,
    pub elapsed: Duration,
}

impl ImportReport {
    pub fn resources_per_second(&self) -> f64 {
        self.resources as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The files to load, in load order: shared organisations and practitioners first (other
/// bundles may refer to them), then the rest by name.
pub fn files_to_import(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        bail!("{} is neither a file nor a directory", path.display());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot list {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        // Every visible file: skipping by extension would silently drop data whose name is
        // odd (one Synthea file ends in `.json"`); a file that is not JSON is reported instead.
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    let shared_first = |p: &PathBuf| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let rank = if name.starts_with("hospitalInformation") {
            0
        } else if name.starts_with("practitionerInformation") {
            1
        } else {
            2
        };
        (rank, name.to_string())
    };
    files.sort_by_key(shared_first);
    Ok(files)
}

/// Loads every file into `tenant`. A transaction Bundle commits whole or not at all; a failed
/// file is reported and the import goes on with the next one.
pub async fn import(
    state: &AppState,
    tenant: &str,
    path: &Path,
    show_progress: bool,
) -> Result<ImportReport> {
    if !state.tenants.exists(tenant).await? {
        bail!("tenant {tenant:?} does not exist; create it with `tessera tenant create {tenant}`");
    }
    let files = files_to_import(path)?;
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    let bar = if show_progress {
        ProgressBar::new(total_bytes)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .expect("valid template"),
    );
    let base = format!(
        "{}/t/{tenant}/fhir",
        state
            .config
            .base_url
            .clone()
            .unwrap_or_else(|| "http://localhost".into())
    );
    let system = Grant::system(tenant);
    let processor = BundleProcessor {
        engine: &state.engine,
        db: &state.db,
        grant: &system,
        base: &base,
        prefer: Return::Minimal,
    };

    let started = Instant::now();
    let mut report = ImportReport::default();
    for file in files {
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        match import_file(&processor, state, tenant, &file).await {
            Ok(count) => report.resources += count,
            Err(err) => {
                bar.println(format!("failed: {}: {err:#}", file.display()));
                report.failures.push((file.clone(), format!("{err:#}")));
            }
        }
        report.files += 1;
        bar.inc(size);
        let rate = report.resources as f64 / started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!("{} resources, {rate:.0}/s", report.resources));
    }
    bar.finish();
    report.elapsed = started.elapsed();
    // A bulk load changes the data's shape; plan the next searches for what is there now.
    state.db.refresh_statistics().await?;
    Ok(report)
}

async fn import_file(
    processor: &BundleProcessor<'_>,
    state: &AppState,
    tenant: &str,
    file: &Path,
) -> Result<usize> {
    let text = tokio::fs::read(file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?;
    let value: Value = serde_json::from_slice(&text).context("not valid JSON")?;
    match value["resourceType"].as_str() {
        Some("Bundle") if matches!(value["type"].as_str(), Some("transaction" | "batch")) => {
            let kind = value["type"].as_str().unwrap_or_default().to_string();
            let response = processor
                .process(value)
                .await
                .map_err(|e| anyhow::anyhow!(e.message()))?;
            let entries = response["entry"].as_array().cloned().unwrap_or_default();
            let failed: Vec<String> = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    !e["response"]["status"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with('2')
                })
                .map(|(i, e)| format!("entry {i}: {}", e["response"]["status"]))
                .collect();
            if kind == "batch" && !failed.is_empty() {
                bail!(
                    "{} of {} batch entries failed: {}",
                    failed.len(),
                    entries.len(),
                    failed.join(", ")
                );
            }
            Ok(entries.len())
        }
        Some("Bundle") => bail!("Bundle.type must be transaction or batch to import"),
        Some(ty) => {
            // A single resource: create it, or update it under its own id.
            let ty = ty.to_string();
            let id = value["id"].as_str().map(str::to_string);
            in_tenant_tx!(
                state.db,
                &Grant::system(tenant),
                Access::Write,
                |tx| match &id {
                    Some(id) =>
                        state
                            .engine
                            .update(&mut tx, &ty, id, value.clone(), None)
                            .await,
                    None => state.engine.create(&mut tx, &ty, value.clone(), None).await,
                }
            )
            .map_err(|e| anyhow::anyhow!(e.message()))?;
            Ok(1)
        }
        None => bail!("not a FHIR resource (no resourceType)"),
    }
}
