//! FHIR REST interactions on both backends: create, read, vread, update (and update-as-create),
//! delete, conditional create/update/delete, JSON Patch, ETag/If-Match, Prefer, formats.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::TestServer;

fn patient(family: &str) -> Value {
    json!({"resourceType": "Patient", "name": [{"family": family}], "identifier": [{"system": "http://mrn", "value": family}]})
}

async fn crud_lifecycle(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");

    let created = s
        .post(&format!("{base}/Patient"), &patient("Smith"))
        .await
        .expect(201);
    let id = created.location_id();
    assert_eq!(
        created.header("location").unwrap(),
        format!("{base}/Patient/{id}/_history/1")
    );
    assert_eq!(created.header("etag").unwrap(), "W/\"1\"");
    assert!(created
        .header("content-type")
        .unwrap()
        .starts_with("application/fhir+json"));
    assert!(created.header("last-modified").unwrap().ends_with("GMT"));
    assert_eq!(created.body["id"], id.as_str());
    assert_eq!(created.body["meta"]["versionId"], "1");
    let last_updated = created.body["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        last_updated.ends_with('Z') && last_updated.len() >= 20,
        "{last_updated}"
    );

    let read = s.get(&format!("{base}/Patient/{id}")).await.expect(200);
    assert_eq!(read.body, created.body);
    assert_eq!(read.header("etag").unwrap(), "W/\"1\"");

    // A server-assigned id ignores any id in a create body.
    let ignored = s
        .post(
            &format!("{base}/Patient"),
            &json!({"resourceType": "Patient", "id": "mine"}),
        )
        .await
        .expect(201);
    assert_ne!(ignored.body["id"], "mine");

    let mut changed = read.body.clone();
    changed["name"][0]["family"] = json!("Smythe");
    let updated = s
        .put(&format!("{base}/Patient/{id}"), &changed)
        .await
        .expect(200);
    assert_eq!(updated.body["meta"]["versionId"], "2");
    assert_eq!(updated.header("etag").unwrap(), "W/\"2\"");
    assert!(updated.body["meta"]["lastUpdated"].as_str().unwrap() > last_updated.as_str());

    let v1 = s
        .get(&format!("{base}/Patient/{id}/_history/1"))
        .await
        .expect(200);
    assert_eq!(v1.body["name"][0]["family"], "Smith");
    let v2 = s
        .get(&format!("{base}/Patient/{id}/_history/2"))
        .await
        .expect(200);
    assert_eq!(v2.body["name"][0]["family"], "Smythe");
    s.get(&format!("{base}/Patient/{id}/_history/3"))
        .await
        .expect(404)
        .outcome();

    // Update-as-create with a client-chosen id.
    let chosen = s
        .put(
            &format!("{base}/Patient/chosen-1"),
            &json!({"resourceType": "Patient", "id": "chosen-1"}),
        )
        .await
        .expect(201);
    assert_eq!(
        chosen.header("location").unwrap(),
        format!("{base}/Patient/chosen-1/_history/1")
    );
    s.get(&format!("{base}/Patient/chosen-1")).await.expect(200);

    // Delete: 204, then 410 Gone; old versions stay readable; deleting again is harmless.
    s.delete(&format!("{base}/Patient/{id}")).await.expect(204);
    let gone = s.get(&format!("{base}/Patient/{id}")).await.expect(410);
    assert_eq!(gone.outcome()["issue"][0]["code"], "deleted");
    s.get(&format!("{base}/Patient/{id}/_history/2"))
        .await
        .expect(200);
    s.get(&format!("{base}/Patient/{id}/_history/3"))
        .await
        .expect(410);
    s.delete(&format!("{base}/Patient/{id}")).await.expect(204);
    s.delete(&format!("{base}/Patient/never-was"))
        .await
        .expect(404)
        .outcome();
    s.get(&format!("{base}/Patient/never-was"))
        .await
        .expect(404)
        .outcome();

    // Re-creating a deleted resource by PUT continues its version line.
    let revived = s
        .put(
            &format!("{base}/Patient/{id}"),
            &json!({"resourceType": "Patient", "id": id}),
        )
        .await
        .expect(201);
    assert_eq!(revived.body["meta"]["versionId"], "4");

    // Instance history: newest first, with the deletion.
    let history = s
        .get(&format!("{base}/Patient/{id}/_history"))
        .await
        .expect(200);
    assert_eq!(history.body["type"], "history");
    let methods: Vec<&str> = history.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request"]["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, vec!["PUT", "DELETE", "PUT", "POST"]);
    assert!(history.body["entry"][1].get("resource").is_none());
}
both_backends!(crud, crud_lifecycle);

async fn conditional_interactions(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    let url = format!("{base}/Patient");

    // Conditional create.
    let first = s
        .request(
            Method::POST,
            &url,
            Some(&patient("Doe")),
            &[("If-None-Exist", "identifier=http://mrn|Doe")],
        )
        .await
        .expect(201);
    let again = s
        .request(
            Method::POST,
            &url,
            Some(&patient("Doe")),
            &[("If-None-Exist", "identifier=http://mrn|Doe")],
        )
        .await
        .expect(200);
    assert_eq!(first.body["id"], again.body["id"]);
    assert_eq!(s.version_count("acme", "Patient").await, 1);

    // Conditional update: a match updates it, no match creates.
    let mut body = patient("Doe");
    body["gender"] = json!("female");
    let updated = s
        .put(&format!("{url}?identifier=http://mrn|Doe"), &body)
        .await
        .expect(200);
    assert_eq!(updated.body["id"], first.body["id"]);
    assert_eq!(updated.body["meta"]["versionId"], "2");
    let created = s
        .put(&format!("{url}?identifier=http://mrn|Roe"), &patient("Roe"))
        .await
        .expect(201);
    assert_ne!(created.body["id"], first.body["id"]);

    // Several matches: 412, nothing written.
    s.post(&url, &patient("Roe")).await.expect(201);
    let before = s.version_count("acme", "Patient").await;
    s.put(&format!("{url}?identifier=http://mrn|Roe"), &patient("Roe"))
        .await
        .expect(412)
        .outcome();
    s.request(
        Method::POST,
        &url,
        Some(&patient("Roe")),
        &[("If-None-Exist", "identifier=Roe")],
    )
    .await
    .expect(412);
    s.delete(&format!("{url}?identifier=http://mrn|Roe"))
        .await
        .expect(412);
    assert_eq!(s.version_count("acme", "Patient").await, before);

    // Conditional delete of exactly one; of none is a harmless no-op.
    s.delete(&format!("{url}?identifier=http://mrn|Doe"))
        .await
        .expect(204);
    s.get(&format!("{url}/{}", first.body["id"].as_str().unwrap()))
        .await
        .expect(410);
    s.delete(&format!("{url}?identifier=http://mrn|Nobody"))
        .await
        .expect(200)
        .outcome();

    // No match, but the body names an existing resource the criteria did not select: 409.
    let other = s
        .put(
            &format!("{url}/bystander"),
            &json!({"resourceType": "Patient", "id": "bystander"}),
        )
        .await
        .expect(201);
    let conflict = s
        .put(
            &format!("{url}?identifier=http://mrn|Zed"),
            &json!({"resourceType": "Patient", "id": "bystander", "gender": "male"}),
        )
        .await
        .expect(409);
    conflict.outcome();
    assert_eq!(s.get(&format!("{url}/bystander")).await.body, other.body);
    // No match and a new id: update-as-create under that id.
    s.put(
        &format!("{url}?identifier=http://mrn|Zed"),
        &json!({"resourceType": "Patient", "id": "zed"}),
    )
    .await
    .expect(201);

    // Every search parameter works in criteria: several Roes match, so this is ambiguous.
    s.put(&format!("{url}?name=Roe"), &patient("Roe"))
        .await
        .expect(412);
    // Criteria this server cannot evaluate are refused (strictly), never matched loosely.
    let refused = s
        .put(&format!("{url}?nickname=Roe"), &patient("Roe"))
        .await
        .expect(400);
    assert!(refused.outcome()["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("nickname"));
    s.delete(&url).await.expect(400);
}
both_backends!(conditional, conditional_interactions);

async fn json_patch_and_if_match(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    let id = s
        .post(&format!("{base}/Patient"), &patient("Patch"))
        .await
        .expect(201)
        .location_id();
    let url = format!("{base}/Patient/{id}");
    let patch = json!([{"op": "replace", "path": "/name/0/family", "value": "Patched"}, {"op": "add", "path": "/active", "value": true}]);

    let stale = s
        .request(
            Method::PATCH,
            &url,
            Some(&patch),
            &[("If-Match", "W/\"9\"")],
        )
        .await
        .expect(412);
    stale.outcome();
    let patched = s
        .request(
            Method::PATCH,
            &url,
            Some(&patch),
            &[
                ("If-Match", "W/\"1\""),
                ("content-type", "application/json-patch+json"),
            ],
        )
        .await
        .expect(200);
    assert_eq!(patched.body["name"][0]["family"], "Patched");
    assert_eq!(patched.body["active"], true);
    assert_eq!(patched.body["meta"]["versionId"], "2");

    // A patch that would make the resource invalid, or change its id, is refused whole.
    let invalid = json!([{"op": "add", "path": "/active", "value": "yes"}]);
    s.request(Method::PATCH, &url, Some(&invalid), &[])
        .await
        .expect(422)
        .outcome();
    let rename = json!([{"op": "replace", "path": "/id", "value": "other"}]);
    s.request(Method::PATCH, &url, Some(&rename), &[])
        .await
        .expect(422);
    let not_a_patch = json!({"op": "replace"});
    s.request(Method::PATCH, &url, Some(&not_a_patch), &[])
        .await
        .expect(400);
    s.request(
        Method::PATCH,
        &format!("{base}/Patient/nope"),
        Some(&patch),
        &[],
    )
    .await
    .expect(404);
    assert_eq!(s.get(&url).await.body["meta"]["versionId"], "2");

    // Stale If-Match on update: 412 and the stored version is unchanged.
    let mut body = s.get(&url).await.body;
    body["gender"] = json!("male");
    let stale = s
        .request(Method::PUT, &url, Some(&body), &[("If-Match", "W/\"1\"")])
        .await
        .expect(412);
    assert!(stale.outcome()["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("current version is 2"));
    assert!(s.get(&url).await.body.get("gender").is_none());
    s.request(Method::PUT, &url, Some(&body), &[("If-Match", "W/\"2\"")])
        .await
        .expect(200);
    s.request(Method::PUT, &url, Some(&body), &[("If-Match", "garbage")])
        .await
        .expect(400);

    // If-None-Match with the current ETag: 304.
    let not_modified = s
        .request(Method::GET, &url, None, &[("If-None-Match", "W/\"3\"")])
        .await;
    assert_eq!(not_modified.status.as_u16(), 304);
}
both_backends!(patch_and_versions, json_patch_and_if_match);

async fn prefer_and_formats(s: &TestServer) {
    s.tenant("acme").await;
    let url = format!("{}/Patient", s.fhir("acme"));
    let minimal = s
        .request(
            Method::POST,
            &url,
            Some(&patient("A")),
            &[("Prefer", "return=minimal")],
        )
        .await
        .expect(201);
    assert!(minimal.body.is_null());
    assert!(minimal.header("location").is_some());
    let outcome = s
        .request(
            Method::POST,
            &url,
            Some(&patient("B")),
            &[("Prefer", "return=OperationOutcome")],
        )
        .await
        .expect(201);
    assert_eq!(outcome.body["resourceType"], "OperationOutcome");
    let full = s
        .request(
            Method::POST,
            &url,
            Some(&patient("C")),
            &[("Prefer", "return=representation")],
        )
        .await
        .expect(201);
    assert_eq!(full.body["resourceType"], "Patient");

    let id = full.location_id();
    let read_url = format!("{url}/{id}");
    s.get(&format!("{read_url}?_format=json")).await.expect(200);
    s.get(&format!("{read_url}?_format=application/fhir%2Bjson"))
        .await
        .expect(200);
    s.get(&format!("{read_url}?_format=application/fhir+json"))
        .await
        .expect(200);
    s.get(&format!("{read_url}?_format=xml"))
        .await
        .expect(406)
        .outcome();
    s.request(
        Method::GET,
        &read_url,
        None,
        &[("Accept", "application/fhir+xml")],
    )
    .await
    .expect(406);
    s.request(
        Method::GET,
        &read_url,
        None,
        &[("Accept", "application/fhir+json")],
    )
    .await
    .expect(200);
    let raw = s
        .authed(Method::GET, &format!("{read_url}?_pretty=true"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.contains("\n  \"resourceType\""), "{raw}");
    let xml = s
        .authed(Method::POST, &url)
        .header("content-type", "application/fhir+xml")
        .body("<Patient/>")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status().as_u16(), 415);

    let meta = s
        .get(&format!("{}/metadata", s.fhir("acme")))
        .await
        .expect(200);
    assert_eq!(meta.body["resourceType"], "CapabilityStatement");
    assert_eq!(meta.body["fhirVersion"], "4.0.1");
    assert_eq!(
        meta.body["rest"][0]["resource"].as_array().unwrap().len(),
        146
    );
    let codes: Vec<&str> = meta.body["rest"][0]["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec!["transaction", "batch", "history-system", "search-system"]
    );
}
both_backends!(prefer_formats_metadata, prefer_and_formats);

async fn concurrent_writers(s: &TestServer) {
    s.tenant("acme").await;
    let url = format!("{}/Patient/shared", s.fhir("acme"));
    s.put(&url, &json!({"resourceType": "Patient", "id": "shared"}))
        .await
        .expect(201);
    let mut tasks = Vec::new();
    let token = s.token("acme", &["org-admin"]);
    for i in 0..8 {
        let client = s.client.clone();
        let url = url.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"resourceType": "Patient", "id": "shared", "name": [{"family": format!("W{i}")}]});
            client.put(&url).bearer_auth(&token).header("content-type", "application/fhir+json").body(body.to_string()).send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    // Every write got its own version: none lost, none duplicated.
    let history = s.get(&format!("{url}/_history")).await.expect(200);
    let mut versions: Vec<i64> = history.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["resource"]["meta"]["versionId"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    versions.sort();
    assert_eq!(versions, (1..=9).collect::<Vec<_>>());
}
both_backends!(concurrency, concurrent_writers);

async fn operational_endpoints(s: &TestServer) {
    let health = s.get(&format!("{}/healthz", s.origin)).await.expect(200);
    assert_eq!(health.body["database"], s.backend.name());
    s.get(&format!("{}/t/nobody/fhir/Patient/1", s.origin))
        .await
        .expect(404)
        .outcome();
    s.get(&format!("{}/nowhere", s.origin))
        .await
        .expect(404)
        .outcome();
    let metrics = s
        .client
        .get(format!("{}/metrics", s.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tessera_http_requests_total{method=\"GET\",route=\"/t/{tenant}/fhir/{type}/{id}\",status=\"404\"}"), "{metrics}");
    assert!(
        metrics.contains("tessera_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
}
both_backends!(operations, operational_endpoints);

async fn group_commit_keeps_each_create(s: &TestServer) {
    s.tenant("acme").await;
    s.tenant("other").await;
    // Many concurrent creates across two tenants: each acknowledged one is stored, once.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = s.client.clone();
        let tenant = if i % 3 == 0 { "other" } else { "acme" };
        let url = format!("{}/Patient", s.fhir(tenant));
        let token = s.token(tenant, &["org-admin"]);
        tasks.push(tokio::spawn(async move {
            let body = json!({"resourceType": "Patient", "name": [{"family": format!("G{i}")}]});
            let r = client
                .post(&url)
                .bearer_auth(&token)
                .header("content-type", "application/fhir+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201);
            let v: Value = r.json().await.unwrap();
            (
                tenant,
                v["id"].as_str().unwrap().to_string(),
                v["name"][0]["family"].as_str().unwrap().to_string(),
            )
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let (tenant, id, family) = t.await.unwrap();
        let read = s
            .get(&format!("{}/Patient/{id}", s.fhir(tenant)))
            .await
            .expect(200);
        assert_eq!(read.body["name"][0]["family"], family.as_str());
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    assert_eq!(s.version_count("acme", "Patient").await, 26);
    assert_eq!(s.version_count("other", "Patient").await, 14);

    // Two creates of one id queued together: the batch fails, each is retried alone, and
    // exactly one succeeds; the other gets a conflict and nothing of it is stored.
    let queue = s.state().creates.clone();
    let body = json!({"resourceType": "Patient"});
    let grant = tessera_core::auth::rbac::Grant::system("acme");
    let (a, b) = tokio::join!(
        queue.create(&grant, "Patient", "same-id".into(), body.clone()),
        queue.create(&grant, "Patient", "same-id".into(), body.clone()),
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one of two creates of one id succeeds"
    );
    let failed = a.err().or(b.err()).unwrap();
    assert_eq!(failed.status.as_u16(), 409);
    let history = s
        .get(&format!("{}/Patient/same-id/_history", s.fhir("acme")))
        .await
        .expect(200);
    assert_eq!(history.body["entry"].as_array().unwrap().len(), 1);
}
both_backends!(group_commit, group_commit_keeps_each_create);

async fn concurrent_conditional_creates_make_one(s: &TestServer) {
    s.tenant("acme").await;
    let url = format!("{}/Patient", s.fhir("acme"));
    let mut tasks = Vec::new();
    let token = s.token("acme", &["org-admin"]);
    for i in 0..8 {
        let client = s.client.clone();
        let url = url.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            // The same criteria written two ways: encoding must not matter.
            let criteria = if i % 2 == 0 { "identifier=http://mrn|race" } else { "identifier=http%3A%2F%2Fmrn%7Crace" };
            let body = json!({"resourceType": "Patient", "identifier": [{"system": "http://mrn", "value": "race"}]});
            let r = client.post(&url).bearer_auth(&token).header("content-type", "application/fhir+json").header("If-None-Exist", criteria).body(body.to_string()).send().await.unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            (status, v["id"].as_str().unwrap().to_string())
        }));
    }
    let mut created = 0;
    let mut ids = Vec::new();
    for t in tasks {
        let (status, id) = t.await.unwrap();
        assert!(status == 201 || status == 200, "{status}");
        created += usize::from(status == 201);
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(created, 1, "exactly one conditional create creates");
    assert_eq!(ids.len(), 1, "all answers name the same resource");
    assert_eq!(s.version_count("acme", "Patient").await, 1);
}
both_backends!(
    conditional_create_race,
    concurrent_conditional_creates_make_one
);
