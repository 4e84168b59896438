//! The search index follows every write on both backends: rows appear with a create (group
//! commit or transaction), are replaced by an update, vanish with a delete, and `reindex`
//! rebuilds them exactly.

mod support;

use serde_json::{json, Value};
use support::TestServer;
use tessera_core::db::Access;
use tessera_core::fhir::index::{IndexRows, TABLES};

/// The index rows stored for `ty/id`, read back per table and sorted, for comparison.
async fn stored_rows(s: &TestServer, tenant: &str, ty: &str, id: &str) -> Vec<String> {
    let mut tx = s.state().db.tenant_tx(tenant, Access::Read).await.unwrap();
    let mut out = Vec::new();
    let queries = [
        ("search_token", "param || '|' || system || '|' || code"),
        (
            "search_string",
            "param || '|' || normalized || '|' || exact",
        ),
        (
            "search_reference",
            "param || '|' || target_type || '|' || target_id || '|' || url",
        ),
        (
            "search_date",
            "param || '|' || CAST(low AS TEXT) || '|' || CAST(high AS TEXT)",
        ),
        ("search_uri", "param || '|' || uri"),
    ];
    for (table, expr) in queries {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT '{table}:' || {expr} FROM {table} \
             WHERE tenant_id = $1 AND resource_type = $2 AND resource_id = $3"
        ))
        .bind(tenant)
        .bind(ty)
        .bind(id)
        .fetch_all(tx.conn())
        .await
        .unwrap();
        out.extend(rows);
    }
    let numbers: i64 = sqlx::query_scalar("SELECT count(*) FROM search_quantity WHERE tenant_id = $1 AND resource_type = $2 AND resource_id = $3")
        .bind(tenant)
        .bind(ty)
        .bind(id)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    out.push(format!("quantities:{numbers}"));
    out.sort();
    out
}

/// The same rows computed from the resource JSON.
fn expected_rows(resource: &Value) -> Vec<String> {
    let rows = IndexRows::of(resource);
    let mut out: Vec<String> = Vec::new();
    out.extend(
        rows.token
            .iter()
            .map(|(p, s, c, _)| format!("search_token:{p}|{s}|{c}")),
    );
    out.extend(
        rows.string
            .iter()
            .map(|(p, n, e)| format!("search_string:{p}|{n}|{e}")),
    );
    out.extend(
        rows.reference
            .iter()
            .map(|(p, t, i, u)| format!("search_reference:{p}|{t}|{i}|{u}")),
    );
    out.extend(
        rows.date
            .iter()
            .map(|(p, l, h)| format!("search_date:{p}|{l}|{h}")),
    );
    out.extend(rows.uri.iter().map(|(p, u)| format!("search_uri:{p}|{u}")));
    out.push(format!("quantities:{}", rows.quantity.len()));
    out.sort();
    out
}

async fn index_follows_writes(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    let patient = json!({"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "7"}],
        "name": [{"family": "Åberg", "given": ["Eva"]}], "birthDate": "1980-02-29", "gender": "female",
        "telecom": [{"system": "email", "value": "eva@example.org"}]});
    let created = s
        .post(&format!("{base}/Patient"), &patient)
        .await
        .expect(201);
    let id = created.location_id();
    let rows = stored_rows(s, "acme", "Patient", &id).await;
    assert_eq!(rows, expected_rows(&created.body));
    assert!(
        rows.iter().any(|r| r == "search_string:family|aberg|Åberg"),
        "{rows:?}"
    );

    // An update replaces the rows; nothing of the old version stays.
    let mut changed = created.body.clone();
    changed["name"][0]["family"] = json!("Berg");
    let updated = s
        .put(&format!("{base}/Patient/{id}"), &changed)
        .await
        .expect(200);
    let rows = stored_rows(s, "acme", "Patient", &id).await;
    assert_eq!(rows, expected_rows(&updated.body));
    assert!(!rows.iter().any(|r| r.contains("aberg")), "{rows:?}");

    // A transaction-created Observation indexes its reference, date and quantity.
    let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"method": "POST", "url": "Observation"},
        "resource": {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "subject": {"reference": format!("Patient/{id}")}, "effectiveDateTime": "2024-03-01T10:00:00Z",
        "valueQuantity": {"value": 6.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}}}]});
    let reply = s.post(&base, &tx).await.expect(200);
    let obs_id = reply.body["entry"][0]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_string();
    let obs = s
        .get(&format!("{base}/Observation/{obs_id}"))
        .await
        .expect(200);
    let rows = stored_rows(s, "acme", "Observation", &obs_id).await;
    assert_eq!(rows, expected_rows(&obs.body));
    assert!(
        rows.iter()
            .any(|r| r == &format!("search_reference:patient|Patient|{id}|Patient/{id}")),
        "{rows:?}"
    );

    // A delete removes every row.
    s.delete(&format!("{base}/Patient/{id}")).await.expect(204);
    assert_eq!(
        stored_rows(s, "acme", "Patient", &id).await,
        vec!["quantities:0".to_string()]
    );

    // Reindex rebuilds lost rows exactly and leaves deleted resources unindexed.
    let mut wipe = s.state().db.tenant_tx("acme", Access::Write).await.unwrap();
    for table in TABLES {
        sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
            .bind("acme")
            .execute(wipe.conn())
            .await
            .unwrap();
    }
    wipe.commit().await.unwrap();
    let report = tessera_core::reindex::reindex(&s.state().db, &["acme".to_string()], false)
        .await
        .unwrap();
    assert_eq!(report.resources, 1, "only the live Observation");
    assert_eq!(
        stored_rows(s, "acme", "Observation", &obs_id).await,
        expected_rows(&obs.body)
    );
    assert!(
        tessera_core::reindex::reindex(&s.state().db, &["nobody".to_string()], false)
            .await
            .is_err()
    );
}
both_backends!(index_follows_writes_and_reindex, index_follows_writes);
