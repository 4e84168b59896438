//! Batch and transaction Bundles: atomicity, urn:uuid rewriting, conditional references,
//! processing order, per-entry batch results.

mod support;

use serde_json::{json, Value};
use support::TestServer;

fn entry(full_url: Option<&str>, method: &str, url: &str, resource: Option<Value>) -> Value {
    let mut e = json!({"request": {"method": method, "url": url}});
    if let Some(f) = full_url {
        e["fullUrl"] = json!(f);
    }
    if let Some(r) = resource {
        e["resource"] = r;
    }
    e
}

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": kind, "entry": entries})
}

fn observation(subject: &str) -> Value {
    json!({"resourceType": "Observation", "status": "final", "code": {"text": "HbA1c"}, "subject": {"reference": subject}})
}

async fn transaction_rewrites_and_commits(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    let patient_urn = "urn:uuid:6f0b3c4e-1d2a-4b7c-9e8f-0a1b2c3d4e5f";
    let tx = bundle(
        "transaction",
        vec![
            entry(
                Some("urn:uuid:aaaaaaaa-0000-4000-8000-000000000001"),
                "POST",
                "Observation",
                Some(observation(patient_urn)),
            ),
            entry(
                Some(patient_urn),
                "POST",
                "Patient",
                Some(
                    json!({"resourceType": "Patient", "identifier": [{"system": "http://mrn", "value": "42"}]}),
                ),
            ),
            entry(
                None,
                "PUT",
                "Practitioner/dr-1",
                Some(json!({"resourceType": "Practitioner", "id": "dr-1"})),
            ),
        ],
    );
    let reply = s.post(&base, &tx).await.expect(200);
    assert_eq!(reply.body["type"], "transaction-response");
    let entries = reply.body["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["response"]["status"], "201 Created");
    assert_eq!(entries[2]["response"]["status"], "201 Created");
    assert!(entries[0]["response"]["location"]
        .as_str()
        .unwrap()
        .starts_with("Observation/"));
    assert_eq!(entries[0]["response"]["etag"], "W/\"1\"");
    let patient_id = entries[1]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_string();
    let obs_location = entries[0]["response"]["location"].as_str().unwrap();
    let obs = s
        .get(&format!(
            "{base}/{}",
            obs_location.split("/_history").next().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(
        obs.body["subject"]["reference"],
        format!("Patient/{patient_id}")
    );

    // Conditional references resolve against stored data; ifNoneExist finds the existing one.
    let tx2 = bundle(
        "transaction",
        vec![
            entry(
                None,
                "POST",
                "Observation",
                Some(observation("Patient?identifier=http://mrn|42")),
            ),
            json!({"request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=http://mrn|42"}, "resource": {"resourceType": "Patient"}}),
        ],
    );
    let reply = s.post(&base, &tx2).await.expect(200);
    assert_eq!(reply.body["entry"][1]["response"]["status"], "200 OK");
    assert_eq!(
        reply.body["entry"][1]["fullUrl"],
        format!("{base}/Patient/{patient_id}")
    );
    let loc = reply.body["entry"][0]["response"]["location"]
        .as_str()
        .unwrap();
    let obs2 = s
        .get(&format!(
            "{base}/{}",
            loc.split("/_history").next().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(
        obs2.body["subject"]["reference"],
        format!("Patient/{patient_id}")
    );
    assert_eq!(s.version_count("acme", "Patient").await, 1);

    // A conditional reference that matches nothing fails the whole transaction.
    let tx3 = bundle(
        "transaction",
        vec![
            entry(
                None,
                "POST",
                "Patient",
                Some(json!({"resourceType": "Patient"})),
            ),
            entry(
                None,
                "POST",
                "Observation",
                Some(observation("Patient?identifier=http://mrn|nobody")),
            ),
        ],
    );
    let failed = s.post(&base, &tx3).await.expect(404);
    assert!(
        failed.expressions()[0].starts_with("Bundle.entry[1].resource"),
        "{:?}",
        failed.expressions()
    );
    assert_eq!(s.version_count("acme", "Patient").await, 1);
}
both_backends!(transaction_rewrite, transaction_rewrites_and_commits);

async fn transaction_is_all_or_nothing(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    s.put(
        &format!("{base}/Patient/keep"),
        &json!({"resourceType": "Patient", "id": "keep"}),
    )
    .await
    .expect(201);
    let tx = bundle(
        "transaction",
        vec![
            entry(
                None,
                "POST",
                "Patient",
                Some(json!({"resourceType": "Patient", "name": [{"family": "Good"}]})),
            ),
            entry(None, "DELETE", "Patient/keep", None),
            entry(
                None,
                "PUT",
                "Patient/new",
                Some(json!({"resourceType": "Patient", "id": "new"})),
            ),
            entry(
                None,
                "POST",
                "Observation",
                Some(
                    json!({"resourceType": "Observation", "status": "not-a-status", "code": {"text": "x"}}),
                ),
            ),
        ],
    );
    let reply = s.post(&base, &tx).await.expect(400);
    assert!(
        reply
            .expressions()
            .contains(&"Bundle.entry[3].resource.status".to_string()),
        "{:?}",
        reply.expressions()
    );
    // Nothing of it happened: no new Patient, `keep` not deleted, no `new`.
    assert_eq!(s.version_count("acme", "Patient").await, 1);
    s.get(&format!("{base}/Patient/keep")).await.expect(200);
    s.get(&format!("{base}/Patient/new")).await.expect(404);
    assert_eq!(s.version_count("acme", "Observation").await, 0);

    // An entry failing a precondition (stale ifMatch) also aborts everything.
    let tx = bundle(
        "transaction",
        vec![
            entry(
                None,
                "POST",
                "Patient",
                Some(json!({"resourceType": "Patient"})),
            ),
            json!({"request": {"method": "PUT", "url": "Patient/keep", "ifMatch": "W/\"7\""}, "resource": {"resourceType": "Patient", "id": "keep"}}),
        ],
    );
    let reply = s.post(&base, &tx).await.expect(412);
    assert_eq!(reply.expressions(), vec!["Bundle.entry[1]"]);
    assert_eq!(s.version_count("acme", "Patient").await, 1);

    // Two entries changing one resource are refused.
    let tx = bundle(
        "transaction",
        vec![
            entry(
                None,
                "PUT",
                "Patient/keep",
                Some(json!({"resourceType": "Patient", "id": "keep"})),
            ),
            entry(None, "DELETE", "Patient/keep", None),
        ],
    );
    s.post(&base, &tx).await.expect(400).outcome();
    // Malformed bundles.
    s.post(
        &base,
        &json!({"resourceType": "Bundle", "type": "collection"}),
    )
    .await
    .expect(400)
    .outcome();
    s.post(&base, &json!({"resourceType": "Patient"}))
        .await
        .expect(400)
        .outcome();
    s.post(
        &base,
        &bundle(
            "transaction",
            vec![json!({"resource": {"resourceType": "Patient"}})],
        ),
    )
    .await
    .expect(400)
    .outcome();
    s.post(
        &base,
        &bundle("transaction", vec![entry(None, "TRACE", "Patient", None)]),
    )
    .await
    .expect(400)
    .outcome();
    assert_eq!(s.version_count("acme", "Patient").await, 1);
}
both_backends!(transaction_atomic, transaction_is_all_or_nothing);

async fn transaction_processing_order(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    s.put(
        &format!("{base}/Patient/old"),
        &json!({"resourceType": "Patient", "id": "old"}),
    )
    .await
    .expect(201);
    s.put(
        &format!("{base}/Patient/p"),
        &json!({"resourceType": "Patient", "id": "p", "active": false}),
    )
    .await
    .expect(201);
    use base64::Engine;
    let patch = base64::engine::general_purpose::STANDARD
        .encode(r#"[{"op":"replace","path":"/active","value":true}]"#);
    // Listed GET, PATCH, POST, DELETE: run DELETE, POST, PATCH, GET; the GET sees the patch.
    let tx = bundle(
        "transaction",
        vec![
            entry(None, "GET", "Patient/p", None),
            entry(
                None,
                "PATCH",
                "Patient/p",
                Some(
                    json!({"resourceType": "Binary", "contentType": "application/json-patch+json", "data": patch}),
                ),
            ),
            entry(
                None,
                "POST",
                "Patient",
                Some(json!({"resourceType": "Patient"})),
            ),
            entry(None, "DELETE", "Patient/old", None),
        ],
    );
    let reply = s.post(&base, &tx).await.expect(200);
    let statuses: Vec<&str> = reply.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["200 OK", "200 OK", "201 Created", "204 No Content"]
    );
    assert_eq!(
        reply.body["entry"][0]["resource"]["active"], true,
        "GET ran after PATCH"
    );
    assert_eq!(reply.body["entry"][0]["resource"]["meta"]["versionId"], "2");
    s.get(&format!("{base}/Patient/old")).await.expect(410);
}
both_backends!(transaction_order, transaction_processing_order);

async fn batch_entries_stand_alone(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    let b = bundle(
        "batch",
        vec![
            entry(
                None,
                "POST",
                "Patient",
                Some(json!({"resourceType": "Patient", "name": [{"family": "Ok"}]})),
            ),
            entry(
                None,
                "POST",
                "Patient",
                Some(json!({"resourceType": "Patient", "gender": "robot"})),
            ),
            entry(None, "GET", "Patient/missing", None),
            entry(
                None,
                "PUT",
                "Patient/b1",
                Some(json!({"resourceType": "Patient", "id": "b1"})),
            ),
            entry(None, "GET", "Patient?identifier=none", None),
        ],
    );
    let reply = s
        .request(
            reqwest::Method::POST,
            &base,
            Some(&b),
            &[("Prefer", "return=representation")],
        )
        .await
        .expect(200);
    assert_eq!(reply.body["type"], "batch-response");
    let entries = reply.body["entry"].as_array().unwrap();
    let statuses: Vec<&str> = entries
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec![
            "201 Created",
            "400 Bad Request",
            "404 Not Found",
            "201 Created",
            "200 OK"
        ]
    );
    assert_eq!(entries[0]["resource"]["name"][0]["family"], "Ok");
    assert_eq!(
        entries[1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(
        entries[1]["response"]["outcome"]["issue"][0]["expression"][0],
        "Patient.gender"
    );
    assert_eq!(entries[4]["resource"]["type"], "searchset");
    assert_eq!(s.version_count("acme", "Patient").await, 2);
}
both_backends!(batch, batch_entries_stand_alone);
