//! The packs Tessera ships (`packs/`), as the server installs them at start and an
//! organization uses them: NHS and ABHA numbers checked on every write, the obstetrics form
//! in Hindi from the India pack, its rules raised, and a Flag put on a patient by its event
//! handler. On both backends.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Backend, TestServer};

async fn started(backend: Backend) -> TestServer {
    let server = TestServer::start_with(backend, |config| {
        config.packs.bundled = true;
        config.packs.poll_ms = 100;
        config.packs.events.sweep_ms = 50;
    })
    .await;
    server.tenant("acme").await;
    server
}

async fn enable(server: &TestServer, pack: &str) {
    let admin = format!("{}/api/admin/tenants/acme/packs/{pack}", server.origin);
    let shown = server.get(&admin).await.expect(200);
    let permissions = shown.body["versions"][0]["permissions"].clone();
    server
        .put(&admin, &json!({"consent": permissions}))
        .await
        .expect(200);
}

fn patient(identifiers: Value) -> Value {
    json!({"resourceType": "Patient", "gender": "female", "birthDate": "1995-02-03", "identifier": identifiers})
}

async fn the_bundled_packs_at_work(backend: Backend) {
    let mut server = started(backend).await;
    let installed = server
        .client
        .get(format!("{}/api/admin/packs", server.origin))
        .bearer_auth(server.token("acme", &["platform-admin"]))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let mut ids: Vec<(String, String)> = installed["packs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["signed_by"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            ("india-abdm".into(), "bundled".into()),
            ("obstetrics".into(), "bundled".into()),
            ("uk-core".into(), "bundled".into())
        ]
    );
    // A restart installs nothing twice.
    server.restart(|_| {}).await;
    let log = server
        .client
        .get(format!("{}/api/admin/packs/log", server.origin))
        .bearer_auth(server.token("acme", &["platform-admin"]))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(log["log"].as_array().unwrap().len(), 3, "{log}");

    let fhir = server.fhir("acme");
    // Not enabled: nothing is checked.
    let nhs = "https://fhir.nhs.uk/Id/nhs-number";
    server
        .post(
            &format!("{fhir}/Patient"),
            &patient(json!([{"system": nhs, "value": "9434765918"}])),
        )
        .await
        .expect(201);
    enable(&server, "uk-core").await;
    let refused = server
        .post(
            &format!("{fhir}/Patient"),
            &patient(json!([{"system": nhs, "value": "9434765918"}])),
        )
        .await
        .expect(422);
    assert!(
        refused.body.to_string().contains("check digit"),
        "{}",
        refused.body
    );
    server
        .post(
            &format!("{fhir}/Patient"),
            &patient(json!([{"system": nhs, "value": "943 476 5919"}])),
        )
        .await
        .expect(201);

    enable(&server, "india-abdm").await;
    let abha = "https://healthid.abdm.gov.in";
    server
        .post(
            &format!("{fhir}/Patient"),
            &patient(json!([{"system": abha, "value": "91-1234-5678-901"}])),
        )
        .await
        .expect(422);
    let mary = server
        .post(
            &format!("{fhir}/Patient"),
            &patient(json!([{"system": abha, "value": "91-1234-5678-9012"}])),
        )
        .await
        .expect(201)
        .location_id();

    // The obstetrics form, in Hindi from the India pack.
    enable(&server, "obstetrics").await;
    let page = server
        .client
        .get(format!(
            "{}/t/acme/forms/anc-booking?patient={mary}&locale=hi",
            server.origin
        ))
        .bearer_auth(server.token("acme", &["clinician"]))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("प्रसवपूर्व पंजीकरण जाँच"),
        "the Hindi title: {html}"
    );
    assert!(
        html.contains("अंतिम मासिक धर्म का पहला दिन"),
        "a Hindi item text"
    );

    // A raised blood pressure: a Flag from the event handler (once), and the rule raised.
    let systolic = |value: i64, day: &str| {
        json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "subject": {"reference": format!("Patient/{mary}")},
            "effectiveDateTime": day,
            "valueQuantity": {"value": value, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}})
    };
    server
        .post(&format!("{fhir}/Observation"), &systolic(152, "2026-11-30"))
        .await
        .expect(201);
    let flags_url = format!("{fhir}/Flag?patient={mary}");
    let started = Instant::now();
    while flag_count(&server, &flags_url).await == 0 && started.elapsed() < Duration::from_secs(15)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = server
        .get(&format!(
            "{}/api/admin/tenants/acme/packs/obstetrics/events?status=failed",
            server.origin
        ))
        .await;
    assert_eq!(
        flag_count(&server, &flags_url).await,
        1,
        "the pack flagged the raised reading; failed events: {}; flags: {}",
        events.body,
        server.get(&format!("{fhir}/Flag")).await.body
    );
    server
        .post(&format!("{fhir}/Observation"), &systolic(158, "2026-12-01"))
        .await
        .expect(201);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        flag_count(&server, &flags_url).await,
        1,
        "an active flag is not raised twice"
    );
    let rules = server
        .client
        .get(format!("{}/t/acme/rules?patient={mary}", server.origin))
        .bearer_auth(server.token("acme", &["clinician"]))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let raised: Vec<&str> = rules["raised"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(raised, vec!["hypertension"], "{rules}");
    // The pregnancy summary route reads the same record.
    let summary = server
        .client
        .get(format!(
            "{}/t/acme/packs/obstetrics/patients/{mary}/pregnancy",
            server.origin
        ))
        .bearer_auth(server.token("acme", &["nurse"]))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        summary["blood_pressure"]["systolic"].as_f64(),
        Some(158.0),
        "{summary}"
    );
    assert_eq!(summary["blood_pressure"]["raised"], true);
    server.stop().await;
}

async fn flag_count(server: &TestServer, url: &str) -> usize {
    let reply = server.get(url).await.expect(200);
    reply.body["entry"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_packs_sqlite() {
    the_bundled_packs_at_work(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_packs_postgres() {
    the_bundled_packs_at_work(Backend::Postgres).await
}
