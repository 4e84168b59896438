//! Hostile and broken input: each gets a clear OperationOutcome and stores nothing.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Backend, TestServer};

async fn nothing_stored(s: &TestServer) {
    assert_eq!(
        s.version_count("acme", "Patient").await,
        0,
        "a rejected request stored something"
    );
}

async fn raw(s: &TestServer, method: Method, url: &str, body: &str) -> support::Reply {
    let response = s
        .authed(method, url)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(serde_json::Value::Null);
    support::Reply {
        status,
        headers,
        body,
    }
}

async fn rejects_bad_input(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    let url = format!("{base}/Patient");

    let invalid_json = raw(s, Method::POST, &url, "{\"resourceType\": \"Patient\",")
        .await
        .expect(400);
    assert!(invalid_json.outcome()["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    raw(s, Method::POST, &url, "").await.expect(400).outcome();
    raw(s, Method::POST, &url, "[1,2]")
        .await
        .expect(400)
        .outcome();

    let mismatch = s
        .post(
            &url,
            &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}),
        )
        .await
        .expect(400);
    assert_eq!(mismatch.expressions(), vec!["Patient.resourceType"]);
    s.post(&url, &json!({"name": [{"family": "X"}]}))
        .await
        .expect(400)
        .outcome();

    let unknown = s
        .post(
            &format!("{base}/Patinet"),
            &json!({"resourceType": "Patinet"}),
        )
        .await
        .expect(404);
    assert_eq!(unknown.outcome()["issue"][0]["code"], "not-supported");
    s.get(&format!("{base}/Patinet/1"))
        .await
        .expect(404)
        .outcome();

    let structure = s.post(&url, &json!({"resourceType": "Patient", "birthDate": "1970-02-31x", "gender": "robot", "nickname": "x", "active": null})).await.expect(400);
    let paths = structure.expressions();
    for expected in [
        "Patient.birthDate",
        "Patient.gender",
        "Patient.nickname",
        "Patient.active",
    ] {
        assert!(
            paths.contains(&expected.to_string()),
            "{expected} not in {paths:?}"
        );
    }
    let missing = s
        .post(
            &format!("{base}/Observation"),
            &json!({"resourceType": "Observation", "status": "final"}),
        )
        .await
        .expect(400);
    assert_eq!(missing.expressions(), vec!["Observation.code"]);
    let bad_ref = s.post(&format!("{base}/Observation"), &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/has space"}})).await.expect(400);
    assert_eq!(bad_ref.expressions(), vec!["Observation.subject.reference"]);
    let cond_ref = s.post(&format!("{base}/Observation"), &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient?identifier=x|y"}})).await.expect(400);
    assert!(cond_ref.outcome()["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("transaction"));

    let dangling = s.post(&format!("{base}/Observation"), &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "urn:uuid:0b8f3c0e-7c4f-4c4e-9b1e-2c3d4e5f6a7b"}})).await.expect(400);
    assert_eq!(
        dangling.expressions(),
        vec!["Observation.subject.reference"]
    );
    let unresolved = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Patient"}, "resource": {"resourceType": "Patient", "generalPractitioner": [{"reference": "urn:uuid:11111111-2222-4333-8444-555555555555"}]}}]});
    let reply = s.post(&base, &unresolved).await.expect(400);
    assert_eq!(
        reply.expressions(),
        vec!["Bundle.entry[0].resource.generalPractitioner[0].reference"]
    );

    // Wrong methods get an OperationOutcome too.
    let not_allowed = s
        .post(
            &format!("{url}/some-id"),
            &json!({"resourceType": "Patient"}),
        )
        .await
        .expect(405);
    not_allowed.outcome();
    s.delete(&format!("{base}/metadata"))
        .await
        .expect(405)
        .outcome();
    s.request(reqwest::Method::PUT, &base, Some(&json!({})), &[])
        .await
        .expect(405)
        .outcome();

    // Updates: id mismatch, missing id, invalid id.
    let id_mismatch = s
        .put(
            &format!("{url}/abc"),
            &json!({"resourceType": "Patient", "id": "xyz"}),
        )
        .await
        .expect(400);
    assert_eq!(id_mismatch.expressions(), vec!["Patient.id"]);
    s.put(&format!("{url}/abc"), &json!({"resourceType": "Patient"}))
        .await
        .expect(400)
        .outcome();
    let long_id = "x".repeat(65);
    s.put(
        &format!("{url}/{long_id}"),
        &json!({"resourceType": "Patient", "id": long_id}),
    )
    .await
    .expect(400)
    .outcome();
    s.get(&format!("{url}/a_b")).await.expect(400).outcome();

    // Deeply nested input is refused, not recursed into without bound.
    let mut deep = json!({"url": "http://x", "valueString": "leaf"});
    for _ in 0..200 {
        deep = json!({"url": "http://x", "extension": [deep]});
    }
    s.post(
        &url,
        &json!({"resourceType": "Patient", "extension": [deep]}),
    )
    .await
    .expect(400)
    .outcome();

    nothing_stored(s).await;
}
both_backends!(bad_input, rejects_bad_input);

async fn rejects_oversized_body(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.max_body_bytes = 4096).await;
    s.tenant("acme").await;
    let big = json!({"resourceType": "Patient", "name": [{"text": "x".repeat(10_000)}]});
    let reply = s
        .post(&format!("{}/Patient", s.fhir("acme")), &big)
        .await
        .expect(413);
    assert_eq!(reply.outcome()["issue"][0]["code"], "too-long");
    s.post(
        &format!("{}/Patient", s.fhir("acme")),
        &json!({"resourceType": "Patient"}),
    )
    .await
    .expect(201);
    assert_eq!(s.version_count("acme", "Patient").await, 1);
    s.stop().await;
}

#[tokio::test]
async fn oversized_body_sqlite() {
    rejects_oversized_body(Backend::Sqlite).await;
}

#[tokio::test]
async fn oversized_body_postgres() {
    rejects_oversized_body(Backend::Postgres).await;
}
