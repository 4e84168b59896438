//! What enabled packs add to a tenant's FHIR processing, end to end on both backends with real
//! packs: events through the transactional outbox, identifier checks on every write, and
//! SearchParameters layered over HL7's.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use support::packs::*;
use support::{Backend, TestServer};
use tessera_core::auth::rbac::Grant;
use tessera_core::db::Access;

/// Quick delivery and few attempts, so retries and failures show within a test.
fn fast_events(config: &mut tessera_core::config::Config) {
    config.packs.events.sweep_ms = 50;
    config.packs.events.max_attempts = 2;
    config.packs.events.backoff_ms = 50;
    config.packs.events.backoff_max_ms = 100;
    // greeter keeps one key per event it hears.
    config.packs.limits.kv_keys = 1000;
}

/// A server with greeter 1.0.0 installed and enabled for acme, delivering events quickly.
async fn with_greeter(
    backend: Backend,
    adjust: impl FnOnce(&mut tessera_core::config::Config),
) -> TestServer {
    greeter_enabled(backend, |config| {
        fast_events(config);
        adjust(config);
    })
    .await
}

fn patient(family: &str) -> Value {
    json!({"resourceType": "Patient", "name": [{"family": family}]})
}

/// What greeter heard so far (its key-value store, through its `/events` route).
async fn heard(server: &TestServer) -> Vec<Value> {
    let (status, body, _) = call(
        server,
        "acme",
        &["clinician"],
        Method::GET,
        &pack_url(server, "acme", "/greeter/events"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["events"].as_array().cloned().unwrap_or_default()
}

/// Waits until greeter heard `count` events (or 15 s passed); what it heard.
async fn heard_at_least(server: &TestServer, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let events = heard(server).await;
        if events.len() >= count || started.elapsed() > Duration::from_secs(15) {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many AuditEvents of acme match `query`, waiting up to 5 s for `expected` (audit
/// records are written in batches, just after the deliveries they record).
async fn audited(server: &TestServer, query: &str, expected: usize) -> usize {
    let started = Instant::now();
    loop {
        let audit = server
            .get(&format!(
                "{}/AuditEvent?{query}&_count=100",
                server.fhir("acme")
            ))
            .await
            .expect(200);
        let count = audit.body["entry"].as_array().map_or(0, Vec::len);
        if count >= expected || started.elapsed() > Duration::from_secs(5) {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn summary(events: &[Value]) -> Vec<String> {
    let mut lines: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["interaction"].as_str().unwrap(),
                e["family"].as_str().unwrap()
            )
        })
        .collect();
    lines.sort();
    lines
}

async fn events_follow_committed_changes(backend: Backend) {
    let server = with_greeter(backend, |_| {}).await;
    let fhir = server.fhir("acme");
    // A plain create (group commit), a conditional create, an update, a delete.
    let alpha = server
        .post(&format!("{fhir}/Patient"), &patient("Alpha"))
        .await
        .expect(201)
        .location_id();
    let beta = server
        .request(
            Method::POST,
            &format!("{fhir}/Patient"),
            Some(&patient("Beta")),
            &[("if-none-exist", "family=Beta")],
        )
        .await
        .expect(201)
        .location_id();
    let mut changed = patient("Alpha2");
    changed["id"] = json!(alpha);
    server
        .put(&format!("{fhir}/Patient/{alpha}"), &changed)
        .await
        .expect(200);
    server
        .delete(&format!("{fhir}/Patient/{beta}"))
        .await
        .expect(204);
    // A transaction's entries; and a failed transaction, which leaves no event.
    let transaction = |entries: Vec<Value>| json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let create = |resource: Value| json!({"resource": resource, "request": {"method": "POST", "url": "Patient"}});
    server
        .post(
            &fhir,
            &transaction(vec![create(patient("Gamma")), create(patient("Delta"))]),
        )
        .await
        .expect(200);
    let broken = json!({"resourceType": "Patient", "gender": "sometimes"});
    let reply = server
        .post(
            &fhir,
            &transaction(vec![create(patient("Never")), create(broken)]),
        )
        .await;
    assert!(reply.status.is_client_error(), "{}", reply.body);
    // The pack's own write, and a type it did not subscribe to.
    let own = server
        .client
        .post(pack_url(&server, "acme", "/greeter/patients"))
        .bearer_auth(server.token("acme", &["clinician"]))
        .body(patient("Own").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(own.status().as_u16(), 201);
    server
        .post(
            &format!("{fhir}/Observation"),
            &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}),
        )
        .await
        .expect(201);

    let events = heard_at_least(&server, 6).await;
    assert_eq!(
        summary(&events),
        vec![
            "create Alpha",
            "create Beta",
            "create Delta",
            "create Gamma",
            "delete ",
            "update Alpha2"
        ],
        "{events:?}"
    );
    // Nothing more arrives: not the failed transaction's, not the pack's own write.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(heard(&server).await.len(), 6);

    // Changes made while the pack is disabled are not its business.
    server
        .post(&admin_url(&server, "acme", "/greeter/disable"), &json!({}))
        .await
        .expect(200);
    server
        .post(&format!("{fhir}/Patient"), &patient("Quiet"))
        .await
        .expect(201);
    enable_greeter(&server, "acme").await;
    server
        .post(&format!("{fhir}/Patient"), &patient("Loud"))
        .await
        .expect(201);
    let events = heard_at_least(&server, 7).await;
    let families = summary(&events);
    assert!(
        families.contains(&"create Loud".to_string()),
        "{families:?}"
    );
    assert!(
        !families.iter().any(|f| f.contains("Quiet")),
        "{families:?}"
    );

    // Every delivery is audited as the pack's.
    assert_eq!(audited(&server, "subtype=event", 7).await, 7);
    server.stop().await;
}

async fn failing_handlers_are_retried_then_kept(backend: Backend) {
    let server = with_greeter(backend, |_| {}).await;
    let fhir = server.fhir("acme");
    let failing = server
        .post(&format!("{fhir}/Patient"), &patient("Fail"))
        .await
        .expect(201)
        .location_id();
    let looping = server
        .post(&format!("{fhir}/Patient"), &patient("Loop"))
        .await
        .expect(201)
        .location_id();
    server
        .post(&format!("{fhir}/Patient"), &patient("Fine"))
        .await
        .expect(201);
    let events_url = admin_url(&server, "acme", "/greeter/events");
    let started = Instant::now();
    let failed = loop {
        let reply = server
            .get(&format!("{events_url}?status=failed"))
            .await
            .expect(200);
        if reply.body["failed"] == 2 || started.elapsed() > Duration::from_secs(20) {
            break reply.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed["failed"], 2, "{failed}");
    let by_id = |id: &str| {
        failed["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no failed event of {id}: {failed}"))
    };
    let fail = by_id(&failing);
    assert_eq!(fail["attempts"], 2, "{fail}");
    assert!(
        fail["last_error"]
            .as_str()
            .unwrap()
            .contains("asked to fail"),
        "{fail}"
    );
    let runaway = by_id(&looping);
    assert!(
        runaway["last_error"].as_str().unwrap().contains("deadline"),
        "{runaway}"
    );
    // The well-behaved one was delivered all the same.
    assert!(summary(&heard(&server).await).contains(&"create Fine".to_string()));
    // Failed attempts are in the audit trail as serious failures (two of each).
    assert_eq!(audited(&server, "subtype=event&outcome=8", 4).await, 4);

    // The admin puts them back in line: they are pending again, then fail again.
    let retried = server
        .post(&format!("{events_url}/retry"), &json!({}))
        .await
        .expect(200);
    assert_eq!(retried.body["retried"], 2);
    let one = server
        .post(&format!("{events_url}/retry"), &json!({"seq": 1}))
        .await;
    assert_eq!(one.status.as_u16(), 404, "{}", one.body);
    let started = Instant::now();
    let mut saw_failed_again = false;
    while started.elapsed() < Duration::from_secs(20) {
        let reply = server
            .get(&format!("{events_url}?status=failed"))
            .await
            .expect(200);
        if reply.body["failed"] == 2 {
            saw_failed_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_failed_again);
    // Removing the pack's settings removes its events.
    server
        .delete(&admin_url(&server, "acme", "/greeter"))
        .await
        .expect(204);
    let after = server
        .get(&format!("{events_url}?status=failed"))
        .await
        .expect(200);
    assert_eq!(after.body["failed"], 0, "{}", after.body);
    server.stop().await;
}

/// Events outlive the server that recorded them, and a dispatcher that died holding a lease
/// delays an event only until the lease expires.
async fn nothing_lost_when_a_server_stops(backend: Backend) {
    let mut server = with_greeter(backend, |config| config.packs.events.deliver = false).await;
    let fhir = server.fhir("acme");
    server
        .post(&format!("{fhir}/Patient"), &patient("Kept"))
        .await
        .expect(201);
    let events_url = admin_url(&server, "acme", "/greeter/events");
    let pending = server
        .get(&format!("{events_url}?status=pending"))
        .await
        .expect(200);
    assert_eq!(pending.body["pending"], 1, "{}", pending.body);
    assert!(heard(&server).await.is_empty());

    server
        .restart(|config| config.packs.events.deliver = true)
        .await;
    assert_eq!(
        summary(&heard_at_least(&server, 1).await),
        vec!["create Kept"]
    );

    // A dispatcher claims an event, then dies: its lease holds the event for a while.
    server
        .restart(|config| config.packs.events.deliver = false)
        .await;
    let fhir = server.fhir("acme");
    server
        .post(&format!("{fhir}/Patient"), &patient("Leased"))
        .await
        .expect(201);
    let db = server.state().db.clone();
    let mut tx = db
        .tenant_tx_core(&Grant::system("acme"), Access::Write)
        .await
        .unwrap();
    let lease_until = tessera_core::clock::now_micros() + 1_500_000;
    let claimed = sqlx::query(
        "UPDATE event_outbox SET lease_until = $1, attempts = 1 WHERE tenant_id = 'acme'",
    )
    .bind(lease_until)
    .execute(tx.conn())
    .await
    .unwrap();
    assert_eq!(claimed.rows_affected(), 1);
    tx.commit().await.unwrap();
    server
        .restart(|config| config.packs.events.deliver = true)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        heard(&server).await.len(),
        1,
        "delivered while another dispatcher held it"
    );
    let events = heard_at_least(&server, 2).await;
    assert_eq!(summary(&events), vec!["create Kept", "create Leased"]);
    server.stop().await;
}

async fn identifier_checks_guard_every_write(backend: Backend) {
    let server = with_greeter(backend, |_| {}).await;
    let fhir = server.fhir("acme");
    let even = "urn:tessera:test:even";
    let with_id = |value: &str| {
        json!({"resourceType": "Patient", "name": [{"family": "Id"}],
               "identifier": [{"system": "urn:other", "value": "x"}, {"system": even, "value": value}]})
    };
    let before = server.version_count("acme", "Patient").await;
    let refused = server
        .post(&format!("{fhir}/Patient"), &with_id("3"))
        .await
        .expect(422);
    assert_eq!(refused.expressions(), vec!["Patient.identifier[1].value"]);
    let text = refused.body.to_string();
    assert!(
        text.contains("3 is odd") && text.contains("greeter"),
        "{text}"
    );
    server
        .request(
            Method::POST,
            &format!("{fhir}/Patient"),
            Some(&with_id("5")),
            &[("if-none-exist", "family=Nobody")],
        )
        .await
        .expect(422);
    let id = server
        .post(&format!("{fhir}/Patient"), &with_id("4"))
        .await
        .expect(201)
        .location_id();
    let mut update = with_id("7");
    update["id"] = json!(id);
    server
        .put(&format!("{fhir}/Patient/{id}"), &update)
        .await
        .expect(422);
    let patch = json!([{"op": "replace", "path": "/identifier/1/value", "value": "9"}]);
    let reply = server
        .client
        .patch(format!("{fhir}/Patient/{id}"))
        .bearer_auth(server.token("acme", &["org-admin"]))
        .header("content-type", "application/json-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 422);
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": with_id("2"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": with_id("11"), "request": {"method": "POST", "url": "Patient"}},
    ]});
    let reply = server.post(&fhir, &bundle).await.expect(422);
    assert_eq!(
        reply.expressions(),
        vec!["Bundle.entry[1].resource.identifier[1].value"]
    );
    assert_eq!(
        server.version_count("acme", "Patient").await,
        before + 1,
        "only the valid create"
    );
    // Another tenant without the pack has no such check.
    server
        .post(&format!("{}/Patient", server.fhir("globex")), &with_id("3"))
        .await
        .expect(201);

    server.stop().await;
}

/// A check that cannot answer refuses the write, and the server carries on.
async fn failing_identifier_checks_store_nothing(backend: Backend) {
    let publisher = Publisher::new();
    let server = server_with(backend, &publisher, |_| {}).await;
    let built = test_packs::built();
    let hostile = test_packs::archive(&test_packs::hostile_manifest(), &built.hostile);
    let (status, body) = install(&server, publisher.sign(hostile), &["platform-admin"]).await;
    assert_eq!(status, 201, "{body}");
    server
        .put(
            &admin_url(&server, "globex", "/hostile"),
            &json!({"consent": {"fhir": {"Patient": ["read", "search"]}, "http": [], "features": {}}}),
        )
        .await
        .expect(200);
    let fhir = server.fhir("globex");
    for value in ["trap", "loop"] {
        let resource = json!({"resourceType": "Patient",
            "identifier": [{"system": "urn:tessera:test:hostile", "value": value}]});
        let reply = server
            .post(&format!("{fhir}/Patient"), &resource)
            .await
            .expect(503);
        assert!(
            reply.body.to_string().contains("could not be checked"),
            "{}",
            reply.body
        );
    }
    assert_eq!(server.version_count("globex", "Patient").await, 0);
    server
        .post(&format!("{fhir}/Patient"), &patient("Unchecked"))
        .await
        .expect(201);
    server.stop().await;
}

async fn pack_search_parameters(backend: Backend) {
    let publisher = Publisher::new();
    let server = server_with(backend, &publisher, fast_events).await;
    let fhir = server.fhir("acme");
    let nicknamed = |family: &str, nickname: &str| json!({"resourceType": "Patient", "name": [{"family": family}, {"use": "nickname", "given": [nickname]}]});
    let strict = |url: String| {
        let server = &server;
        async move {
            server
                .request(Method::GET, &url, None, &[("prefer", "handling=strict")])
                .await
        }
    };
    let older = server
        .post(&format!("{fhir}/Patient"), &nicknamed("Older", "Bobby"))
        .await
        .expect(201)
        .location_id();
    strict(format!("{fhir}/Patient?nickname=Bobby"))
        .await
        .expect(400);

    let built = test_packs::built();
    let (status, body) = install(
        &server,
        publisher.sign(greeter_v("1.0.0", built)),
        &["platform-admin"],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    enable_greeter(&server, "acme").await;
    // Resources stored before the pack was enabled are indexed in the background.
    let started = Instant::now();
    let found = loop {
        let reply = strict(format!("{fhir}/Patient?nickname=Bobby"))
            .await
            .expect(200);
        // While the index is built, an OperationOutcome entry says results may be incomplete.
        let ids: Vec<String> = reply.body["entry"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter(|e| e["resource"]["resourceType"] == "Patient")
                    .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        if !ids.is_empty() || started.elapsed() > Duration::from_secs(15) {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(found, vec![older]);
    // New ones at once; with modifiers, and through a chain.
    let newer = server
        .post(&format!("{fhir}/Patient"), &nicknamed("Newer", "Sunny"))
        .await
        .expect(201)
        .location_id();
    let reply = strict(format!("{fhir}/Patient?nickname:exact=Sunny"))
        .await
        .expect(200);
    assert_eq!(reply.body["entry"][0]["resource"]["id"], newer.as_str());
    let observation = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                             "subject": {"reference": format!("Patient/{newer}")}});
    let obs = server
        .post(&format!("{fhir}/Observation"), &observation)
        .await
        .expect(201)
        .location_id();
    let reply = strict(format!("{fhir}/Observation?subject:Patient.nickname=sun"))
        .await
        .expect(200);
    assert_eq!(
        reply.body["entry"][0]["resource"]["id"],
        obs.as_str(),
        "{}",
        reply.body
    );
    assert_eq!(reply.body["entry"].as_array().unwrap().len(), 1);
    // Other tenants do not have it.
    strict(format!("{}/Patient?nickname=Sunny", server.fhir("globex")))
        .await
        .expect(400);
    // Disabled: gone again.
    server
        .post(&admin_url(&server, "acme", "/greeter/disable"), &json!({}))
        .await
        .expect(200);
    strict(format!("{fhir}/Patient?nickname=Sunny"))
        .await
        .expect(400);
    server.stop().await;
}

each_backend!(
    events_follow_committed_changes,
    failing_handlers_are_retried_then_kept,
    nothing_lost_when_a_server_stops,
    identifier_checks_guard_every_write,
    failing_identifier_checks_store_nothing,
    pack_search_parameters,
);

/// Two servers sharing one PostgreSQL database deliver each event exactly once between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_deliver_each_event_once() {
    let first = with_greeter(Backend::Postgres, |_| {}).await;
    let mut config = first.config.clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let second = tessera_core::server::start(config).await.unwrap();
    let second_fhir = format!("http://{}/t/acme/fhir", second.addr);
    let token = first.token("acme", &["clinician"]);
    for i in 0..20 {
        let base = if i % 2 == 0 {
            first.fhir("acme")
        } else {
            second_fhir.clone()
        };
        let reply = first
            .client
            .post(format!("{base}/Patient"))
            .bearer_auth(&token)
            .header("content-type", "application/fhir+json")
            .body(patient(&format!("Twin{i:02}")).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 201);
    }
    heard_at_least(&first, 20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = heard(&first).await;
    let mut families: Vec<String> = events
        .iter()
        .map(|e| e["family"].as_str().unwrap().to_string())
        .collect();
    families.sort();
    let expected: Vec<String> = (0..20).map(|i| format!("Twin{i:02}")).collect();
    assert_eq!(families, expected, "each event once");
    second.shutdown().await.unwrap();
    first.stop().await;
}
