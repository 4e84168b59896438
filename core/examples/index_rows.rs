//! Times search-index row extraction over every Synthea resource:
//! `cargo run --release --example index_rows -- ../shared/data/synthea`.
use std::time::Instant;

use tessera_core::fhir::index;
use tessera_core::fhir::search::registry::SearchRegistry;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or("../shared/data/synthea".into());
    let registry = SearchRegistry::shared();
    let mut resources = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bundle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for e in bundle["entry"].as_array().unwrap() {
            resources.push(e["resource"].clone());
        }
    }
    let started = Instant::now();
    let mut rows = 0;
    let mut by_type = std::collections::BTreeMap::<String, (usize, std::time::Duration)>::new();
    for r in &resources {
        let t = Instant::now();
        rows += index::rows(&registry, r).len();
        let e = by_type
            .entry(r["resourceType"].as_str().unwrap().to_string())
            .or_default();
        e.0 += 1;
        e.1 += t.elapsed();
    }
    let elapsed = started.elapsed();
    println!(
        "{} resources, {rows} rows, {:.1} µs per resource",
        resources.len(),
        elapsed.as_secs_f64() * 1e6 / resources.len() as f64
    );
    let mut by_param = std::collections::HashMap::<String, usize>::new();
    for r in &resources {
        for row in index::rows(&registry, r) {
            *by_param
                .entry(format!(
                    "{}.{}",
                    r["resourceType"].as_str().unwrap(),
                    row.param
                ))
                .or_default() += 1;
        }
    }
    let mut top: Vec<_> = by_param.into_iter().collect();
    top.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for (param, n) in top.iter().take(25) {
        println!("{param}: {n} rows");
    }
    for (ty, (n, d)) in by_type {
        println!(
            "{ty}: {n} resources, {:.1} µs each",
            d.as_secs_f64() * 1e6 / n as f64
        );
    }
}
