//! Packs end to end on both backends: real packs compiled from source, signed, installed
//! through the admin API, enabled per tenant and called through their routes.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use support::packs::*;
use support::Backend;
use tessera_plugins::PackArchive;

async fn lifecycle(backend: Backend) {
    let built = test_packs::built();
    let publisher = Publisher::new();
    let server = server(backend, &publisher).await;

    // Install: signatures, roles and duplicates.
    let (status, body) = install(
        &server,
        greeter_v("1.0.0", built).write(),
        &["platform-admin"],
    )
    .await;
    assert_eq!(status, 400, "unsigned: {body}");
    assert!(body.to_string().contains("not signed"), "{body}");
    let stranger = Publisher::new();
    let (status, body) = install(
        &server,
        stranger.sign(greeter_v("1.0.0", built)),
        &["platform-admin"],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("does not trust"), "{body}");
    let mut tampered = PackArchive::read(&publisher.sign(greeter_v("1.0.0", built))).unwrap();
    tampered.component = std::fs::read(&built.hostile).unwrap();
    let (status, body) = install(&server, tampered.write(), &["platform-admin"]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("changed after signing"), "{body}");
    let (status, _) = install(
        &server,
        publisher.sign(greeter_v("1.0.0", built)),
        &["org-admin"],
    )
    .await;
    assert_eq!(status, 403, "an org-admin does not install server-wide");
    let (status, body) = install(
        &server,
        publisher.sign(greeter_v("1.0.0", built)),
        &["platform-admin"],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["permissions"], greeter_permissions());
    let (status, _) = install(
        &server,
        publisher.sign(greeter_v("1.0.0", built)),
        &["platform-admin"],
    )
    .await;
    assert_eq!(status, 409, "the same version twice");
    let (status, body) = install(
        &server,
        publisher.sign(greeter_v("2.0.0", built)),
        &["platform-admin"],
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Not enabled: the routes are not there.
    let hello = pack_url(&server, "acme", "/greeter/hello/Ann");
    let (status, _, _) = call(&server, "acme", &["clinician"], Method::GET, &hello, &[]).await;
    assert_eq!(status, 404);

    // Enabling needs consent to exactly what the pack requests.
    let enable = admin_url(&server, "acme", "/greeter");
    let reply = server
        .put(&enable, &json!({"config": {"greeting": "Howdy"}}))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.to_string().contains("consent"), "{}", reply.body);
    let secret = "correct-horse-battery";
    let reply = server
        .put(&enable, &json!({"config": {"greeting": 7}, "secrets": {"api-key": secret}, "consent": greeter_permissions()}))
        .await;
    assert_eq!(
        reply.status, 400,
        "config against the schema: {}",
        reply.body
    );
    assert!(!reply.body.to_string().contains(secret));
    let reply = server
        .put(&enable, &json!({"config": {"greeting": "Howdy", "api-key": secret}, "consent": greeter_permissions()}))
        .await;
    assert_eq!(reply.status, 400, "a secret in config: {}", reply.body);
    let (status, _, _) = call(&server, "acme", &["clinician"], Method::GET, &hello, &[]).await;
    assert_eq!(status, 404, "nothing was enabled by the refused requests");
    let reply = server
        .put(&enable, &json!({"config": {"greeting": "Howdy"}, "secrets": {"api-key": secret}, "consent": greeter_permissions()}))
        .await
        .expect(200);
    assert_eq!(reply.body["version"], "2.0.0", "the latest by default");
    assert_eq!(reply.body["secrets_set"], json!(["api-key"]));
    assert!(
        !reply.body.to_string().contains(secret),
        "secrets are never returned"
    );
    let listed = server
        .get(&admin_url(&server, "acme", ""))
        .await
        .expect(200);
    assert!(!listed.body.to_string().contains(secret));

    // Sealed at rest.
    {
        let grant = tessera_core::auth::rbac::Grant::system("acme");
        let mut tx = server
            .state()
            .db
            .tenant_tx(&grant, tessera_core::db::Access::Read)
            .await
            .unwrap();
        let rows = tessera_core::packs::store::settings(tx.conn(), "acme")
            .await
            .unwrap();
        let sealed = rows[0].secrets.clone().unwrap();
        assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }

    // The route, as users with and without the pack's feature.
    let (status, body, headers) =
        call(&server, "acme", &["clinician"], Method::GET, &hello, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["greeting"], "Howdy, Ann!");
    assert_eq!(body["version"], "2");
    assert_eq!(body["roles"], json!(["clinician"]));
    assert_eq!(headers["content-security-policy"], "sandbox");
    let (status, _, _) = call(&server, "acme", &["front-desk"], Method::GET, &hello, &[]).await;
    assert_eq!(status, 403, "front-desk lacks feature:greeter.greet");
    let settings = pack_url(&server, "acme", "/greeter/settings");
    let (status, body, _) = call(
        &server,
        "acme",
        &["front-desk"],
        Method::GET,
        &settings,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["has_secret"], true);
    assert_eq!(body["secret_length"], secret.len());
    // A change of configuration is seen by the next call (what calls run with is cached
    // per settings change, not per call).
    for greeting in ["G'day", "Howdy"] {
        server
            .put(&enable, &json!({"config": {"greeting": greeting}, "secrets": {"api-key": secret}, "consent": greeter_permissions()}))
            .await
            .expect(200);
        let (_, body, _) = call(&server, "acme", &["clinician"], Method::GET, &hello, &[]).await;
        assert_eq!(body["greeting"], format!("{greeting}, Ann!"));
    }
    let (status, _, _) = call(&server, "acme", &["clinician"], Method::DELETE, &hello, &[]).await;
    assert_eq!(status, 405);
    let (status, _) = {
        let r = server.client.get(&hello).send().await.unwrap();
        (r.status().as_u16(), ())
    };
    assert_eq!(status, 401, "pack routes need sign-in");

    // A webhook: called by another system without a user token.
    let hook = pack_url(&server, "acme", "/greeter/_hooks/ping");
    let response = server
        .client
        .post(&hook)
        .body("event=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["hook"].clone(), body["bytes"].clone()),
        (json!("ping"), json!(7))
    );
    assert_eq!(server.client.get(&hook).send().await.unwrap().status(), 405);
    let unknown = pack_url(&server, "acme", "/greeter/_hooks/nope");
    assert_eq!(
        server.client.post(&unknown).send().await.unwrap().status(),
        404
    );
    let elsewhere = pack_url(&server, "globex", "/greeter/_hooks/ping");
    assert_eq!(
        server
            .client
            .post(&elsewhere)
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "not enabled there"
    );
    let nowhere = pack_url(&server, "no-such-tenant", "/greeter/_hooks/ping");
    assert_eq!(
        server.client.post(&nowhere).send().await.unwrap().status(),
        404
    );

    // A second tenant runs version 1, pinned, at the same time.
    let reply = server
        .put(
            &admin_url(&server, "globex", "/greeter"),
            &json!({"version": "1.0.0", "consent": greeter_permissions()}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["pinned"], true);
    let (status, body, _) = call(
        &server,
        "globex",
        &["clinician"],
        Method::GET,
        &pack_url(&server, "globex", "/greeter/hello/Bo"),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], "1");
    assert_eq!(body["greeting"], "Hello, Bo!");
    let (_, body, _) = call(&server, "acme", &["clinician"], Method::GET, &hello, &[]).await;
    assert_eq!(body["version"], "2");

    // FHIR through the pack, within the tenant.
    let patient = server
        .post(
            &format!("{}/Patient", server.fhir("acme")),
            &json!({"resourceType": "Patient", "name": [{"family": "Chalmers"}]}),
        )
        .await
        .expect(201)
        .location_id();
    let foreign = server
        .post(
            &format!("{}/Patient", server.fhir("globex")),
            &json!({"resourceType": "Patient", "name": [{"family": "Secretsson"}]}),
        )
        .await
        .expect(201)
        .location_id();
    let (status, body, _) = call(
        &server,
        "acme",
        &["clinician"],
        Method::GET,
        &pack_url(
            &server,
            "acme",
            &format!("/greeter/patients/{patient}/summary"),
        ),
        &[],
    )
    .await;
    assert_eq!(
        (status, body["family"].clone()),
        (200, json!("Chalmers")),
        "{body}"
    );
    let (status, body, _) = call(
        &server,
        "acme",
        &["clinician"],
        Method::GET,
        &pack_url(
            &server,
            "acme",
            &format!("/greeter/patients/{foreign}/summary"),
        ),
        &[],
    )
    .await;
    assert_eq!(status, 404, "another tenant's patient is not there: {body}");
    // A billing user may read Patients; a patient user only their own.
    let created = server
        .client
        .post(pack_url(&server, "acme", "/greeter/patients"))
        .bearer_auth(server.token("acme", &["nurse"]))
        .body(json!({"resourceType": "Patient", "name": [{"family": "ByPack"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status().as_u16(),
        403,
        "the route needs Patient create, which a nurse lacks"
    );

    // The key-value store is per tenant.
    let counter = |tenant: &'static str| {
        let url = pack_url(&server, tenant, "/greeter/counter");
        let server = &server;
        async move {
            call(server, tenant, &["clinician"], Method::POST, &url, &[])
                .await
                .1["count"]
                .clone()
        }
    };
    assert_eq!(counter("acme").await, 1);
    assert_eq!(counter("acme").await, 2);
    assert_eq!(counter("globex").await, 1);

    // Roll back, upgrade, pin.
    let reply = server
        .post(&admin_url(&server, "acme", "/greeter/rollback"), &json!({}))
        .await;
    assert_eq!(
        reply.status, 409,
        "nothing to roll back to yet: {}",
        reply.body
    );
    let reply = server
        .put(&enable, &json!({"version": "1.0.0"}))
        .await
        .expect(200);
    assert_eq!(
        (
            reply.body["version"].clone(),
            reply.body["previous_version"].clone()
        ),
        (json!("1.0.0"), json!("2.0.0"))
    );
    let (_, body, _) = call(&server, "acme", &["clinician"], Method::GET, &hello, &[]).await;
    assert_eq!(
        (body["version"].clone(), body["greeting"].clone()),
        (json!("1"), json!("Howdy, Ann!")),
        "config kept"
    );
    let reply = server
        .post(&admin_url(&server, "acme", "/greeter/rollback"), &json!({}))
        .await
        .expect(200);
    assert_eq!(
        (reply.body["version"].clone(), reply.body["pinned"].clone()),
        (json!("2.0.0"), json!(true))
    );
    let (_, body, _) = call(&server, "acme", &["clinician"], Method::GET, &hello, &[]).await;
    assert_eq!(body["version"], "2", "rolled back without a restart");
    let reply = server
        .post(&admin_url(&server, "acme", "/greeter/upgrade"), &json!({}))
        .await;
    assert_eq!(reply.status, 409, "pinned: {}", reply.body);
    server
        .post(
            &admin_url(&server, "acme", "/greeter/pin"),
            &json!({"pinned": false}),
        )
        .await
        .expect(200);
    server
        .post(&admin_url(&server, "acme", "/greeter/rollback"), &json!({}))
        .await
        .expect(200);
    server
        .post(
            &admin_url(&server, "acme", "/greeter/pin"),
            &json!({"pinned": false}),
        )
        .await
        .expect(200);
    let reply = server
        .post(&admin_url(&server, "acme", "/greeter/upgrade"), &json!({}))
        .await
        .expect(200);
    assert_eq!(reply.body["version"], "2.0.0", "the latest");
    assert_eq!(reply.body["previous_version"], "1.0.0");

    // Disable and enable again: the configuration and secrets are kept.
    server
        .post(&admin_url(&server, "acme", "/greeter/disable"), &json!({}))
        .await
        .expect(200);
    let (status, _, _) = call(&server, "acme", &["clinician"], Method::GET, &hello, &[]).await;
    assert_eq!(status, 404);
    server.put(&enable, &json!({})).await.expect(200);
    let (status, body, _) = call(
        &server,
        "acme",
        &["front-desk"],
        Method::GET,
        &settings,
        &[],
    )
    .await;
    assert_eq!((status, body["has_secret"].clone()), (200, json!(true)));

    // Location overrides along partOf: disabled at the hospital, enabled again on one ward.
    let hospital = server
        .post(
            &format!("{}/Location", server.fhir("acme")),
            &json!({"resourceType": "Location", "name": "Hospital"}),
        )
        .await
        .expect(201)
        .location_id();
    let ward = server.post(&format!("{}/Location", server.fhir("acme")), &json!({"resourceType": "Location", "name": "Ward A", "partOf": {"reference": format!("Location/{hospital}")}})).await.expect(201).location_id();
    let bed = server.post(&format!("{}/Location", server.fhir("acme")), &json!({"resourceType": "Location", "name": "Bed 1", "partOf": {"reference": format!("Location/{ward}")}})).await.expect(201).location_id();
    let reply = server
        .put(
            &admin_url(&server, "acme", &format!("/greeter/locations/{hospital}")),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let (status, _, _) = call(
        &server,
        "acme",
        &["clinician"],
        Method::GET,
        &hello,
        &[("tessera-location", &bed)],
    )
    .await;
    assert_eq!(status, 404, "disabled for everything in the hospital");
    server
        .put(
            &admin_url(&server, "acme", &format!("/greeter/locations/{ward}")),
            &json!({"enabled": true, "config": {"greeting": "Namaste"}}),
        )
        .await;
    let (status, body, _) = call(
        &server,
        "acme",
        &["clinician"],
        Method::GET,
        &hello,
        &[("tessera-location", &bed)],
    )
    .await;
    assert_eq!(
        (status, body["greeting"].clone()),
        (200, json!("Namaste, Ann!")),
        "{body}"
    );
    assert_eq!(body["location"], json!(bed));
    let (_, body, _) = call(
        &server,
        "acme",
        &["clinician"],
        Method::GET,
        &hello,
        &[("tessera-location", &hospital)],
    )
    .await;
    assert_ne!(body["greeting"], json!("Namaste, Ann!"));
    let (_, body, _) = call(&server, "acme", &["clinician"], Method::GET, &hello, &[]).await;
    assert_eq!(
        body["greeting"], "Howdy, Ann!",
        "the tenant-wide setting without a Location"
    );
    let reply = server
        .put(
            &admin_url(&server, "acme", &format!("/greeter/locations/{ward}")),
            &json!({"config": {"greeting": 5}}),
        )
        .await;
    assert_eq!(reply.status, 400, "location config is checked too");

    // What the pack registers is listed (forms and rules are stored until their engines land).
    let (status, body, _) = call(
        &server,
        "acme",
        &["clinician"],
        Method::GET,
        &pack_url(&server, "acme", ""),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["packs"][0]["forms"][0]["id"], "greeting-survey");
    assert_eq!(body["packs"][0]["rules"][0]["id"], "adult");

    // Uninstall only once no tenant uses the version.
    let delete_v1 = format!("{}/api/admin/packs/greeter/1.0.0", server.origin);
    let platform = server.token("acme", &["platform-admin"]);
    let status = server
        .client
        .delete(&delete_v1)
        .bearer_auth(&platform)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        status, 409,
        "globex runs 1.0.0 and acme keeps it to roll back to"
    );
    server
        .delete(&admin_url(&server, "globex", "/greeter"))
        .await
        .expect(204);
    server
        .delete(&admin_url(&server, "acme", "/greeter"))
        .await
        .expect(204);
    let status = server
        .client
        .delete(&delete_v1)
        .bearer_auth(&platform)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    assert_eq!(
        counter("globex").await,
        Value::Null,
        "removed with its data"
    );

    // Every step is in the tenant's audit trail, the pack route calls included.
    let audit = server
        .get(&format!(
            "{}/AuditEvent?entity=pack:greeter/hello/Ann&_count=100",
            server.fhir("acme")
        ))
        .await
        .expect(200);
    assert!(
        audit.body["total"]
            .as_u64()
            .unwrap_or(audit.body["entry"].as_array().map_or(0, |e| e.len() as u64))
            > 0
            || audit.body["entry"]
                .as_array()
                .is_some_and(|e| !e.is_empty()),
        "{}",
        audit.body
    );
    let admin = server
        .get(&format!(
            "{}/AuditEvent?entity=packs/greeter/rollback",
            server.fhir("acme")
        ))
        .await
        .expect(200);
    assert!(
        admin.body["entry"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{}",
        admin.body
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_sqlite() {
    lifecycle(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_postgres() {
    lifecycle(Backend::Postgres).await;
}

async fn hostile(backend: Backend) {
    let built = test_packs::built();
    let publisher = Publisher::new();
    let server = server(backend, &publisher).await;
    let hostile = test_packs::archive(&test_packs::hostile_manifest(), &built.hostile);
    assert_eq!(
        install(&server, publisher.sign(hostile), &["platform-admin"])
            .await
            .0,
        201
    );
    assert_eq!(
        install(
            &server,
            publisher.sign(greeter_v("1.0.0", built)),
            &["platform-admin"]
        )
        .await
        .0,
        201
    );
    server
        .put(
            &admin_url(&server, "acme", "/hostile"),
            &json!({"consent": {"fhir": {"Patient": ["read", "search"]}}}),
        )
        .await
        .expect(200);
    server
        .put(
            &admin_url(&server, "acme", "/greeter"),
            &json!({"consent": greeter_permissions()}),
        )
        .await
        .expect(200);
    let secret_family = "Secretsson";
    let foreign = server
        .post(
            &format!("{}/Patient", server.fhir("globex")),
            &json!({"resourceType": "Patient", "name": [{"family": secret_family}]}),
        )
        .await
        .expect(201)
        .location_id();
    let own = server
        .post(
            &format!("{}/Patient", server.fhir("acme")),
            &json!({"resourceType": "Patient", "name": [{"family": "Own"}]}),
        )
        .await
        .expect(201)
        .location_id();
    server
        .post(&format!("{}/Observation", server.fhir("acme")), &json!({"resourceType": "Observation", "status": "final", "code": {"text": "bp"}, "subject": {"reference": format!("Patient/{own}")}}))
        .await
        .expect(201);
    let url = |path: &str| pack_url(&server, "acme", &format!("/hostile{path}"));
    let get = |path: String| {
        let server = &server;
        async move { call(server, "acme", &["clinician"], Method::GET, &path, &[]).await }
    };

    let started = Instant::now();
    let (status, body, _) = get(url("/loop")).await;
    assert_eq!(status, 504, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let (status, body, _) = get(url("/bomb")).await;
    assert_eq!(status, 502);
    assert!(body.to_string().contains("memory limit"), "{body}");
    let (status, body, _) = get(url("/panic")).await;
    assert_eq!(status, 502);
    assert!(body.to_string().contains("panics on purpose"), "{body}");
    let (status, _, _) = get(url("/huge")).await;
    assert_eq!(status, 502);
    let (status, _, _) = get(url("/headers-flood")).await;
    assert_eq!(status, 502);

    let (status, body, _) = get(url("/read-ungranted")).await;
    assert_eq!(status, 200);
    for key in ["observation", "search", "chain", "create", "transaction"] {
        assert!(
            body[key]["error"]
                .as_str()
                .is_some_and(|e| e.contains("Denied")),
            "{key}: {body}"
        );
    }
    // Included resources of a type the pack may not read are left out of the Bundle.
    let included = body["include"]["ok"]
        .as_str()
        .expect("the Patient search itself is granted");
    assert!(
        included.contains("Own") && !included.contains("Observation/"),
        "{included}"
    );
    let (status, body, _) = get(url("/fetch-ungranted")).await;
    assert_eq!(status, 200);
    assert!(
        body["fetch"]["error"]
            .as_str()
            .unwrap()
            .contains("not granted"),
        "{body}"
    );
    let (status, body, _) = get(format!("{}?id={foreign}", url("/other-tenant"))).await;
    assert_eq!(status, 200);
    assert!(
        !body.to_string().contains(secret_family),
        "nothing of globex leaks: {body}"
    );
    assert!(
        body["plain"]["error"]
            .as_str()
            .unwrap()
            .contains("NotFound"),
        "{body}"
    );
    let (status, body, _) = get(url("/kv-flood")).await;
    assert_eq!(status, 200);
    assert!(
        body[0]["error"].as_str().unwrap().contains("Limit"),
        "{body}"
    );
    assert_eq!(body[2]["stopped_after"], 20, "{body}");
    let (status, _, _) = get(url("/log-flood")).await;
    assert!(status == 200 || status == 504, "{status}");

    // Nothing else noticed: the server, the other pack, FHIR.
    assert_eq!(
        server
            .client
            .get(format!("{}/healthz", server.origin))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, _, _) = call(
        &server,
        "acme",
        &["clinician"],
        Method::GET,
        &pack_url(&server, "acme", "/greeter/hello/Ann"),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    server
        .get(&format!("{}/Patient/{foreign}", server.fhir("globex")))
        .await
        .expect(200);

    // Stopped calls are audited with what stopped them.
    let audit = server
        .get(&format!(
            "{}/AuditEvent?entity=pack:hostile/bomb",
            server.fhir("acme")
        ))
        .await
        .expect(200);
    let entry = &audit.body["entry"][0]["resource"];
    assert_eq!(entry["outcome"], "8", "{}", audit.body);
    assert!(
        entry["outcomeDesc"]
            .as_str()
            .unwrap_or("")
            .contains("memory"),
        "{entry}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_packs_sqlite() {
    hostile(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_packs_postgres() {
    hostile(Backend::Postgres).await;
}

/// Two server processes' worth of state on one PostgreSQL database: a change made through
/// one is seen by the other without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_sees_enable_and_disable() {
    let built = test_packs::built();
    let publisher = Publisher::new();
    let first = server(Backend::Postgres, &publisher).await;
    assert_eq!(
        install(
            &first,
            publisher.sign(greeter_v("1.0.0", built)),
            &["platform-admin"]
        )
        .await
        .0,
        201
    );
    let mut config = first.config.clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let second = tessera_core::server::start(config).await.unwrap();
    let second_hello = format!("http://{}/t/acme/packs/greeter/hello/Ann", second.addr);
    let token = first.token("acme", &["clinician"]);
    let status_at_second = || {
        let (client, url, token) = (first.client.clone(), second_hello.clone(), token.clone());
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status_at_second().await, 404);
    first
        .put(
            &admin_url(&first, "acme", "/greeter"),
            &json!({"consent": greeter_permissions()}),
        )
        .await
        .expect(200);
    let waited = wait_for(&status_at_second, 200).await;
    assert!(waited.is_some(), "the second server never saw the enable");
    first
        .post(&admin_url(&first, "acme", "/greeter/disable"), &json!({}))
        .await
        .expect(200);
    let waited = wait_for(&status_at_second, 404).await;
    assert!(waited.is_some(), "the second server never saw the disable");
    eprintln!("seen by the second server after {:?}", waited.unwrap());
    second.shutdown().await.unwrap();
    first.stop().await;
}

/// Dependencies with semver ranges, and an ABI the host lacks, each refused with what to do.
async fn dependencies(backend: Backend) {
    let built = test_packs::built();
    let publisher = Publisher::new();
    let server = server(backend, &publisher).await;
    for version in ["1.0.0", "2.0.0"] {
        assert_eq!(
            install(
                &server,
                publisher.sign(greeter_v(version, built)),
                &["platform-admin"]
            )
            .await
            .0,
            201
        );
    }
    let dependent = test_packs::hostile_manifest()
        .replace("id: hostile", "id: antenatal")
        .replace("abi: 0.1.0", "abi: 0.1.0\ndependencies:\n  greeter: ^2.0");
    let dependent = test_packs::archive(&dependent, &built.hostile);
    assert_eq!(
        install(&server, publisher.sign(dependent), &["platform-admin"])
            .await
            .0,
        201
    );
    let future = test_packs::archive(
        &test_packs::hostile_manifest()
            .replace("abi: 0.1.0", "abi: 0.2.0")
            .replace("id: hostile", "id: future"),
        &built.hostile,
    );
    let (status, body) = install(&server, publisher.sign(future), &["platform-admin"]).await;
    assert_eq!(status, 400);
    assert!(
        body.to_string().contains("abi 0.2.0 is not served"),
        "{body}"
    );

    let consent = json!({"fhir": {"Patient": ["read", "search"]}});
    let antenatal = admin_url(&server, "acme", "/antenatal");
    let reply = server.put(&antenatal, &json!({"consent": consent})).await;
    assert_eq!(reply.status, 409);
    assert!(
        reply
            .body
            .to_string()
            .contains("needs greeter ^2.0 enabled first"),
        "{}",
        reply.body
    );
    server
        .put(
            &admin_url(&server, "acme", "/greeter"),
            &json!({"version": "1.0.0", "consent": greeter_permissions()}),
        )
        .await
        .expect(200);
    let reply = server.put(&antenatal, &json!({"consent": consent})).await;
    assert_eq!(reply.status, 409);
    assert!(
        reply.body.to_string().contains("runs greeter 1.0.0"),
        "{}",
        reply.body
    );
    server
        .post(
            &admin_url(&server, "acme", "/greeter/upgrade"),
            &json!({"version": "2.0.0"}),
        )
        .await
        .expect(200);
    server
        .put(&antenatal, &json!({"consent": consent}))
        .await
        .expect(200);
    let reply = server
        .post(&admin_url(&server, "acme", "/greeter/disable"), &json!({}))
        .await;
    assert_eq!(reply.status, 409, "antenatal depends on it: {}", reply.body);
    let reply = server
        .post(&admin_url(&server, "acme", "/greeter/rollback"), &json!({}))
        .await;
    assert_eq!(
        reply.status, 409,
        "1.0.0 is out of antenatal's range: {}",
        reply.body
    );
    let (status, _, _) = call(
        &server,
        "acme",
        &["clinician"],
        Method::GET,
        &pack_url(&server, "acme", "/greeter/hello/Ann"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "refused changes changed nothing");
    server
        .post(
            &admin_url(&server, "acme", "/antenatal/disable"),
            &json!({}),
        )
        .await
        .expect(200);
    server
        .post(&admin_url(&server, "acme", "/greeter/disable"), &json!({}))
        .await
        .expect(200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_sqlite() {
    dependencies(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_postgres() {
    dependencies(Backend::Postgres).await;
}
