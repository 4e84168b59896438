//! Every Synthea bundle in ../shared/data/synthea loads as a transaction, over HTTP, with zero
//! errors on both backends; counts and references are checked against the files themselves.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use support::TestServer;
use tessera_core::db::Access;

fn synthea_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/synthea");
    assert!(dir.is_dir(), "Synthea data missing at {}", dir.display());
    dir
}

async fn loads_every_bundle(s: &TestServer) {
    s.tenant("synthea").await;
    let base = s.fhir("synthea");
    let files = tessera_core::import::files_to_import(&synthea_dir()).unwrap();
    assert_eq!(files.len(), 64);

    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    let mut observation_locations = Vec::new();
    for file in &files {
        let bundle: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let entries = bundle["entry"].as_array().unwrap().clone();
        for e in &entries {
            *expected
                .entry(e["resource"]["resourceType"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        let reply = s.post(&base, &bundle).await;
        assert_eq!(
            reply.status.as_u16(),
            200,
            "{}: {}",
            file.display(),
            reply.body
        );
        let results = reply.body["entry"].as_array().unwrap();
        assert_eq!(results.len(), entries.len());
        for (request, result) in entries.iter().zip(results) {
            assert_eq!(
                result["response"]["status"],
                "201 Created",
                "{}",
                file.display()
            );
            if request["resource"]["resourceType"] == "Observation"
                && observation_locations.len() < 50
            {
                observation_locations
                    .push(result["response"]["location"].as_str().unwrap().to_string());
            }
        }
    }

    // Stored counts per type, straight from the database, equal the files' counts.
    let mut tx = s
        .state()
        .db
        .tenant_tx(
            &tessera_core::auth::rbac::Grant::system("synthea"),
            Access::Read,
        )
        .await
        .unwrap();
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT resource_type, count(*) FROM resources WHERE tenant_id = $1 AND deleted = 0 GROUP BY resource_type")
        .bind("synthea")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    drop(tx);
    let stored: BTreeMap<String, i64> = rows.into_iter().collect();
    assert_eq!(stored, expected);
    assert_eq!(
        expected.values().sum::<i64>(),
        18_774,
        "all 64 files, including the one named `...json\"`"
    );

    // urn:uuid references inside a bundle became real ones that resolve.
    for location in observation_locations {
        let path = location.split("/_history").next().unwrap();
        let obs = s.get(&format!("{base}/{path}")).await.expect(200);
        let subject = obs.body["subject"]["reference"].as_str().unwrap();
        assert!(subject.starts_with("Patient/"), "{subject}");
        s.get(&format!("{base}/{subject}")).await.expect(200);
    }
}
both_backends!(synthea_ingest, loads_every_bundle);
