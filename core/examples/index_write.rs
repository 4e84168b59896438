//! Times writing search-index rows on SQLite: `cargo run --release --example index_write`.
use std::time::Instant;

use serde_json::json;
use tessera_core::config::Config;
use tessera_core::db::{Access, Database};
use tessera_core::fhir::index;
use tessera_core::fhir::search::registry::SearchRegistry;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let db = Database::open(&config).await.unwrap();
    let mut tx = db.global_tx().await.unwrap();
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', 0)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let registry = SearchRegistry::shared();
    let patient = |n: usize| {
        json!({"resourceType": "Patient", "id": format!("p{n}"),
            "identifier": [{"system": "http://example.org/mrn", "value": format!("MRN-{n}")}],
            "active": true,
            "name": [{"use": "official", "family": format!("Family{n}"), "given": ["Given", "Middle"]}],
            "telecom": [{"system": "phone", "value": "555-0100", "use": "home"}],
            "gender": "female", "birthDate": "1970-01-01",
            "address": [{"line": ["1 Main St"], "city": "Springfield", "state": "MA", "postalCode": "01101", "country": "US"}]})
    };
    let rows = index::rows(&registry, &patient(0));
    println!(
        "{} rows per patient: {:?}",
        rows.len(),
        rows.iter().map(|r| r.param.as_str()).collect::<Vec<_>>()
    );
    // The same rows as JSON through one statement (json_each), for comparison.
    {
        let n = 1000;
        let started = Instant::now();
        let mut i = 0;
        while i < n {
            let mut tx = db
                .tenant_tx(&tessera_core::auth::rbac::Grant::system("t"), Access::Write)
                .await
                .unwrap();
            for _ in 0..50 {
                let r = index::rows(&registry, &patient(i + 7_000_000));
                let payload = index::rows_json(&r).to_string();
                sqlx::query("INSERT INTO search_index (tenant_id, resource_type, resource_id, param, term, qualifier, low, high, display) \
                    SELECT $1, $2, $3, e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, e.value ->> 5 FROM json_each($4) e")
                    .bind("t").bind("Patient").bind(format!("j{i}")).bind(payload)
                    .execute(tx.conn()).await.unwrap();
                i += 1;
            }
            tx.commit().await.unwrap();
        }
        println!(
            "json_each, 50 per commit: {:.0} µs per patient",
            started.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    }
    for per_commit in [1usize, 50] {
        let n = 1000;
        let started = Instant::now();
        let mut i = 0;
        while i < n {
            let mut tx = db
                .tenant_tx(&tessera_core::auth::rbac::Grant::system("t"), Access::Write)
                .await
                .unwrap();
            for _ in 0..per_commit {
                let r = index::rows(&registry, &patient(i + per_commit * 100_000));
                index::insert(&mut tx, "Patient", &format!("p{i}-{per_commit}"), &r)
                    .await
                    .unwrap();
                i += 1;
            }
            tx.commit().await.unwrap();
        }
        println!(
            "{per_commit} per commit: {:.0} µs per patient",
            started.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    }
}
