//! The search part of `tessera bench`: p50/p99 latency of the clinical queries issue #3 names,
//! over HTTP, on the Synthea data, then again with ten times as much data in the database.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::http::AppState;

/// The measured queries, with `{patient}`, `{code}`, `{identifier}` and `{family}` filled in
/// from the data (a different patient for each run).
pub const QUERIES: &[(&str, &str)] = &[
    (
        "latest observations of a code",
        "Observation?patient={patient}&code=http://loinc.org|{code}&_sort=-date",
    ),
    (
        "active conditions",
        "Condition?patient={patient}&clinical-status=active",
    ),
    (
        "recent encounters",
        "Encounter?patient={patient}&date=ge2015",
    ),
    (
        "patient by name and birth date",
        "Patient?name={family}&birthdate={birthdate}",
    ),
    (
        "medications by patient identifier",
        "MedicationRequest?patient.identifier={identifier}",
    ),
    (
        "patients with an observation of a code",
        "Patient?_has:Observation:patient:code=http://loinc.org|{code}&_count=20",
    ),
];

/// Values to fill the queries with, one set per patient.
pub struct Subject {
    pub patient: String,
    pub identifier: String,
    pub family: String,
    pub birthdate: String,
}

#[derive(Debug, Clone)]
pub struct QueryLatency {
    pub name: &'static str,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Mean number of matches per run.
    pub mean_matches: f64,
}

/// Patients of `tenant` with what the queries need.
pub async fn subjects(client: &reqwest::Client, base: &str) -> Result<Vec<Subject>> {
    let response = client
        .get(format!("{base}/Patient?_count=1000"))
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 200,
        "listing the patients to search for: {}",
        response.status()
    );
    let bundle: Value = response.json().await?;
    let mut out = Vec::new();
    for e in bundle["entry"].as_array().into_iter().flatten() {
        let r = &e["resource"];
        let identifier = r["identifier"]
            .as_array()
            .and_then(|ids| ids.iter().find(|i| i["system"].is_string()))
            .map(|i| {
                format!(
                    "{}|{}",
                    i["system"].as_str().unwrap_or(""),
                    i["value"].as_str().unwrap_or("")
                )
            });
        let (Some(id), Some(identifier), Some(family), Some(birthdate)) = (
            r["id"].as_str(),
            identifier,
            r["name"][0]["family"].as_str(),
            r["birthDate"].as_str(),
        ) else {
            continue;
        };
        out.push(Subject {
            patient: id.to_string(),
            identifier,
            family: family.chars().take(4).collect(),
            birthdate: birthdate.to_string(),
        });
    }
    anyhow::ensure!(!out.is_empty(), "no patients to search for");
    Ok(out)
}

fn fill(template: &str, s: &Subject, code: &str) -> String {
    template
        .replace("{patient}", &s.patient)
        .replace("{code}", code)
        .replace("{identifier}", &s.identifier)
        .replace("{family}", &s.family)
        .replace("{birthdate}", &s.birthdate)
}

/// Runs each query `runs` times (after a warm-up round) and reports its latency percentiles.
pub async fn measure(
    client: &reqwest::Client,
    base: &str,
    subjects: &[Subject],
    code: &str,
    runs: usize,
) -> Result<Vec<QueryLatency>> {
    let mut out = Vec::new();
    for (name, template) in QUERIES {
        let mut latencies: Vec<Duration> = Vec::with_capacity(runs);
        let mut matches = 0usize;
        for i in 0..runs + subjects.len().min(10) {
            let s = &subjects[i % subjects.len()];
            let url = format!("{base}/{}", fill(template, s, code));
            let started = Instant::now();
            let response = client.get(&url).send().await?;
            anyhow::ensure!(response.status() == 200, "{url}: {}", response.status());
            let body: Value = response.json().await?;
            let elapsed = started.elapsed();
            if i >= subjects.len().min(10) {
                latencies.push(elapsed);
                matches += body["total"].as_u64().unwrap_or(0) as usize;
            }
        }
        latencies.sort();
        let pct = |p: f64| {
            latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]
                .as_secs_f64()
                * 1000.0
        };
        out.push(QueryLatency {
            name,
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            mean_matches: matches as f64 / runs as f64,
        });
    }
    Ok(out)
}

/// Loads `copies` more copies of the Synthea data: one more into `tenant` itself and the rest
/// into new tenants, so both a tenant's own data and the table sizes grow.
pub async fn grow(
    state: &AppState,
    synthea: &std::path::Path,
    tenant: &str,
    copies: usize,
) -> Result<()> {
    for n in 0..copies {
        let target = if n == 0 {
            tenant.to_string()
        } else {
            let t = format!("copy{n}");
            state.tenants.create(&t, None).await?;
            t
        };
        eprintln!("   copy {} of {copies} into tenant {target}", n + 1);
        let report = crate::import::import(state, &target, synthea, true)
            .await
            .with_context(|| format!("loading copy {n}"))?;
        anyhow::ensure!(report.failures.is_empty(), "{:?}", report.failures);
    }
    Ok(())
}
