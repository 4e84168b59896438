//! Identity and access against a real OpenID provider (npm `oidc-provider` serving
//! Keycloak-shaped realms, `tests/oidc/`): Keycloak tokens sign in, hostile tokens are
//! refused and audited, roles decide what each caller may do on every read path, the tenant
//! comes from the token, and the audit trail is append-only.

mod support;

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use support::oidc::Provider;
use support::{Backend, TestServer};
use tessera_core::auth::issuers::IssuerConfig;

/// A server trusting realm `acme` for tenant acme only (one realm per organization) and
/// realm `globex` as a shared realm whose `organization` claim names the tenant.
async fn start(backend: Backend, provider: &Provider) -> TestServer {
    let acme: IssuerConfig = serde_yaml::from_str(&format!(
        "issuer: {}\ntenants: [acme]\nclient_id: tessera\nclient_secret: tessera-secret\n",
        provider.issuer("acme")
    ))
    .unwrap();
    let shared: IssuerConfig = serde_yaml::from_str(&format!(
        "issuer: {}\ntenants: ['*']\ntenant_claim: organization\nclient_id: tessera\n",
        provider.issuer("globex")
    ))
    .unwrap();
    let s = TestServer::start_with(backend, |c| {
        c.auth.issuers = vec![acme, shared];
        // Short enough that tests do not wait long, long enough to show rate limiting.
        c.auth.jwks_min_refetch_seconds = 2;
    })
    .await;
    s.tenant("acme").await;
    s.tenant("globex").await;
    s
}

async fn call(
    s: &TestServer,
    token: &str,
    method: Method,
    url: &str,
    body: Option<&Value>,
) -> support::Reply {
    s.as_user(Some(token), method, url, body).await
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Audit events of `tenant` as its org-admin sees them (after flushing the writer).
async fn audit(s: &TestServer, tenant: &str, query: &str) -> Vec<Value> {
    s.state().audit.flush().await;
    let reply = s
        .get(&format!(
            "{}/AuditEvent?{query}&_count=1000",
            s.fhir(tenant)
        ))
        .await
        .expect(200);
    reply.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .collect()
}

async fn keycloak_tokens_and_roles(s: &TestServer, p: &Provider) {
    let base = s.fhir("acme");
    let alice = p.password_token("acme", "alice").await; // clinician (realm role)
    let bob = p.password_token("acme", "bob").await; // front-desk
    let carol = p.password_token("acme", "carol").await; // org-admin (client role)
    let dave = p.password_token("acme", "dave").await; // no Tessera role

    // A clinician reads and writes clinical records but may not delete them.
    let created = call(
        s,
        &alice,
        Method::POST,
        &format!("{base}/Patient"),
        Some(&json!({"resourceType": "Patient", "name": [{"family": "Ng"}]})),
    )
    .await
    .expect(201);
    let pid = created.location_id();
    let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "bp"}, "subject": {"reference": format!("Patient/{pid}")}});
    call(
        s,
        &alice,
        Method::POST,
        &format!("{base}/Observation"),
        Some(&obs),
    )
    .await
    .expect(201);
    call(
        s,
        &alice,
        Method::GET,
        &format!("{base}/Patient/{pid}"),
        None,
    )
    .await
    .expect(200);
    let refused = call(
        s,
        &alice,
        Method::DELETE,
        &format!("{base}/Patient/{pid}"),
        None,
    )
    .await
    .expect(403);
    assert!(refused.outcome()["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("clinician"));
    call(
        s,
        &alice,
        Method::GET,
        &format!("{base}/Patient/{pid}"),
        None,
    )
    .await
    .expect(200);

    // Front desk: registration yes, clinical records no, on every read path.
    call(
        s,
        &bob,
        Method::POST,
        &format!("{base}/Patient"),
        Some(&json!({"resourceType": "Patient"})),
    )
    .await
    .expect(201);
    call(s, &bob, Method::GET, &format!("{base}/Observation"), None)
        .await
        .expect(403);
    call(
        s,
        &bob,
        Method::GET,
        &format!("{base}/Observation/_history"),
        None,
    )
    .await
    .expect(403);
    call(
        s,
        &bob,
        Method::POST,
        &format!("{base}/Observation"),
        Some(&obs),
    )
    .await
    .expect(403);
    // _revinclude of Observations is filtered out of a Patient search ...
    let found = call(
        s,
        &bob,
        Method::GET,
        &format!("{base}/Patient?_id={pid}&_revinclude=Observation:subject"),
        None,
    )
    .await
    .expect(200);
    let types: Vec<&str> = found.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["resource"]["resourceType"].as_str())
        .collect();
    assert!(
        types.contains(&"Patient") && !types.contains(&"Observation"),
        "{types:?}"
    );
    let as_clinician = call(
        s,
        &alice,
        Method::GET,
        &format!("{base}/Patient?_id={pid}&_revinclude=Observation:subject"),
        None,
    )
    .await
    .expect(200);
    assert!(as_clinician.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["resource"]["resourceType"] == "Observation"));
    // ... and _has cannot be used to learn about them.
    call(
        s,
        &bob,
        Method::GET,
        &format!("{base}/Patient?_has:Observation:subject:code:text=bp"),
        None,
    )
    .await
    .expect(403);
    // A search across types keeps to what front desk may read.
    let all = call(s, &bob, Method::GET, &format!("{base}?_count=100"), None)
        .await
        .expect(200);
    assert!(all.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["resource"]["resourceType"] != "Observation"));
    // History across the tenant leaves out what front desk may not read.
    let history = call(s, &bob, Method::GET, &format!("{base}/_history"), None)
        .await
        .expect(200);
    assert!(history.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["resource"]["resourceType"] != "Observation"));
    // Each transaction entry is checked: one forbidden entry fails the whole transaction.
    let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Patient"}, "resource": {"resourceType": "Patient", "name": [{"family": "TxOnly"}]}},
        {"request": {"method": "POST", "url": "Observation"}, "resource": obs},
    ]});
    call(s, &bob, Method::POST, &base, Some(&tx))
        .await
        .expect(403);
    let txonly = call(
        s,
        &carol,
        Method::GET,
        &format!("{base}/Patient?family=TxOnly"),
        None,
    )
    .await
    .expect(200);
    assert_eq!(
        txonly.body["total"], 0,
        "nothing of the refused transaction was stored"
    );

    // No Tessera role at all: 403 everywhere.
    call(s, &dave, Method::GET, &format!("{base}/Patient"), None)
        .await
        .expect(403);

    // The org-admin (a Keycloak client role) reads the audit trail: who did what, refusals too.
    let events = audit(s, "acme", "agent-name=alice").await;
    assert!(events
        .iter()
        .any(|e| e["subtype"][0]["code"] == "create" && e["outcome"] == "0"));
    let refusal = events
        .iter()
        .find(|e| e["action"] == "D")
        .expect("the refused delete is audited");
    assert_eq!(refusal["outcome"], "4");
    assert_eq!(
        refusal["agent"][0]["who"]["identifier"]["value"],
        "user-alice"
    );
    assert_eq!(
        refusal["agent"][0]["who"]["identifier"]["system"],
        p.issuer("acme")
    );
    assert!(refusal["agent"][0]["network"]["address"].as_str().is_some());
    assert_eq!(
        refusal["entity"][0]["what"]["reference"],
        format!("Patient/{pid}")
    );
    // Clinicians may not read the audit trail; nobody may write it.
    call(s, &alice, Method::GET, &format!("{base}/AuditEvent"), None)
        .await
        .expect(403);
    let id = refusal["id"].as_str().unwrap();
    call(
        s,
        &carol,
        Method::GET,
        &format!("{base}/AuditEvent/{id}"),
        None,
    )
    .await
    .expect(200);
    call(
        s,
        &carol,
        Method::DELETE,
        &format!("{base}/AuditEvent/{id}"),
        None,
    )
    .await
    .expect(405);
    call(
        s,
        &carol,
        Method::PUT,
        &format!("{base}/AuditEvent/{id}"),
        Some(refusal),
    )
    .await
    .expect(405);
    call(
        s,
        &carol,
        Method::POST,
        &format!("{base}/AuditEvent"),
        Some(refusal),
    )
    .await
    .expect(405);
    let sneaky = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "PUT", "url": format!("AuditEvent/{id}")}, "resource": refusal}]});
    let batch = call(s, &carol, Method::POST, &base, Some(&sneaky))
        .await
        .expect(200);
    assert!(batch.body["entry"][0]["response"]["status"]
        .as_str()
        .unwrap()
        .starts_with("405"));
}

async fn patient_sees_only_their_record(s: &TestServer, p: &Provider) {
    let base = s.fhir("acme");
    // pat's token says fhirUser: Patient/pat-1.
    s.put(
        &format!("{base}/Patient/pat-1"),
        &json!({"resourceType": "Patient", "id": "pat-1"}),
    )
    .await
    .expect(201);
    s.put(
        &format!("{base}/Patient/other"),
        &json!({"resourceType": "Patient", "id": "other"}),
    )
    .await
    .expect(201);
    for (id, who) in [("o-mine", "pat-1"), ("o-theirs", "other")] {
        s.put(&format!("{base}/Observation/{id}"), &json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"text": "x"}, "subject": {"reference": format!("Patient/{who}")}})).await.expect(201);
    }
    let pat = p.password_token("acme", "pat").await;
    call(s, &pat, Method::GET, &format!("{base}/Patient/pat-1"), None)
        .await
        .expect(200);
    call(
        s,
        &pat,
        Method::GET,
        &format!("{base}/Observation/o-mine"),
        None,
    )
    .await
    .expect(200);
    // Someone else's record and a record that does not exist answer alike.
    let theirs = call(
        s,
        &pat,
        Method::GET,
        &format!("{base}/Observation/o-theirs"),
        None,
    )
    .await
    .expect(403);
    let missing = call(
        s,
        &pat,
        Method::GET,
        &format!("{base}/Observation/nope"),
        None,
    )
    .await
    .expect(403);
    assert_eq!(theirs.body, missing.body);
    call(s, &pat, Method::GET, &format!("{base}/Patient/other"), None)
        .await
        .expect(403);
    let search = call(s, &pat, Method::GET, &format!("{base}/Observation"), None)
        .await
        .expect(200);
    let ids: Vec<&str> = search.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["resource"]["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["o-mine"]);
    let patients = call(s, &pat, Method::GET, &format!("{base}/Patient"), None)
        .await
        .expect(200);
    assert_eq!(patients.body["total"], 1);
    call(
        s,
        &pat,
        Method::GET,
        &format!("{base}/Patient/pat-1/$everything"),
        None,
    )
    .await
    .expect(200);
    call(
        s,
        &pat,
        Method::GET,
        &format!("{base}/Patient/other/$everything"),
        None,
    )
    .await
    .expect(403);
    call(
        s,
        &pat,
        Method::GET,
        &format!("{base}/Patient/other/Observation"),
        None,
    )
    .await
    .expect(403);
    call(
        s,
        &pat,
        Method::GET,
        &format!("{base}?_type=Observation"),
        None,
    )
    .await
    .expect(403);
    // Including a resource outside the compartment leaves it out.
    let inc = call(
        s,
        &pat,
        Method::GET,
        &format!("{base}/Observation?_include=Observation:subject"),
        None,
    )
    .await
    .expect(200);
    assert!(inc.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["resource"]["id"] != "other"));
    // Patients do not write.
    call(
        s,
        &pat,
        Method::PUT,
        &format!("{base}/Patient/pat-1"),
        Some(&json!({"resourceType": "Patient", "id": "pat-1", "gender": "other"})),
    )
    .await
    .expect(403);
}

async fn tenant_comes_from_the_token(s: &TestServer, p: &Provider) {
    let alice = p.password_token("acme", "alice").await;
    // Realm acme serves tenant acme only: globex and a tenant that does not exist look alike.
    let other = call(
        s,
        &alice,
        Method::GET,
        &format!("{}/Patient", s.fhir("globex")),
        None,
    )
    .await
    .expect(403);
    let ghost = call(
        s,
        &alice,
        Method::GET,
        &format!("{}/Patient", s.fhir("no-such-org")),
        None,
    )
    .await
    .expect(403);
    assert_eq!(other.body, ghost.body);
    // The shared realm: the organization claim names the tenant(s).
    let g_alice = p.password_token("globex", "alice").await; // organization: [globex]
    call(
        s,
        &g_alice,
        Method::GET,
        &format!("{}/Patient", s.fhir("globex")),
        None,
    )
    .await
    .expect(200);
    call(
        s,
        &g_alice,
        Method::GET,
        &format!("{}/Patient", s.fhir("acme")),
        None,
    )
    .await
    .expect(403);
    let multi = p.password_token("globex", "multi").await; // organization: [acme, globex]
    call(
        s,
        &multi,
        Method::GET,
        &format!("{}/Patient", s.fhir("acme")),
        None,
    )
    .await
    .expect(200);
    call(
        s,
        &multi,
        Method::GET,
        &format!("{}/Patient", s.fhir("globex")),
        None,
    )
    .await
    .expect(200);
    // globex's trail holds the refused attempt by acme's alice; acme's org-admin cannot read it.
    let events = audit(s, "globex", "outcome=4").await;
    assert!(
        events
            .iter()
            .any(|e| e["agent"][0]["who"]["identifier"]["system"] == p.issuer("acme")),
        "{events:?}"
    );
    let carol = p.password_token("acme", "carol").await;
    call(
        s,
        &carol,
        Method::GET,
        &format!("{}/AuditEvent", s.fhir("globex")),
        None,
    )
    .await
    .expect(403);
    assert!(audit(s, "acme", "")
        .await
        .iter()
        .all(|e| e["source"]["site"] == "acme"));

    // SMART discovery points each tenant at its own provider, without a token.
    for (tenant, realm) in [("acme", "acme"), ("globex", "globex")] {
        let smart = s
            .as_user(
                None,
                Method::GET,
                &format!("{}/.well-known/smart-configuration", s.fhir(tenant)),
                None,
            )
            .await
            .expect(200);
        assert_eq!(smart.body["issuer"], p.issuer(realm));
        assert_eq!(
            smart.body["token_endpoint"],
            format!("{}/protocol/openid-connect/token", p.issuer(realm))
        );
        assert!(smart.body["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "permission-patient"));
    }
    // metadata is public too.
    s.as_user(
        None,
        Method::GET,
        &format!("{}/metadata", s.fhir("acme")),
        None,
    )
    .await
    .expect(200);
}

async fn hostile_tokens_are_refused(s: &TestServer, p: &Provider) {
    let url = format!("{}/Patient", s.fhir("acme"));
    let iss = p.issuer("acme");
    let claims = |extra: Value| {
        let mut c = json!({"iss": iss, "sub": "user-alice", "aud": "account", "azp": "tessera",
            "iat": now(), "exp": now() + 300, "preferred_username": "mallory",
            "realm_access": {"roles": ["org-admin"]}, "organization": ["acme"]});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    // The same claims signed properly are accepted: what fails below fails for its reason.
    let good = p.sign("acme", claims(json!({})), json!({}), "realm").await;
    call(s, &good, Method::GET, &url, None).await.expect(200);

    let pem = p.public_key_pem("acme").await;
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(json!({})),
        &jsonwebtoken::EncodingKey::from_secret(pem.as_bytes()),
    )
    .unwrap();
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(json!({})))
    );
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    parts[1] = b64(&claims(
        json!({"realm_access": {"roles": ["platform-admin", "org-admin"]}}),
    ));
    let tampered = parts.join(".");
    let hostile = vec![
        (
            "expired",
            p.sign(
                "acme",
                claims(json!({"exp": now() - 3600, "iat": now() - 7200})),
                json!({}),
                "realm",
            )
            .await,
            "expired",
        ),
        (
            "not yet valid",
            p.sign(
                "acme",
                claims(json!({"nbf": now() + 3600})),
                json!({}),
                "realm",
            )
            .await,
            "not valid yet",
        ),
        (
            "wrong issuer",
            p.sign(
                "acme",
                claims(json!({"iss": "https://evil.example/realms/acme"})),
                json!({}),
                "realm",
            )
            .await,
            "not trusted",
        ),
        (
            "issuer of another realm",
            p.sign(
                "acme",
                claims(json!({"iss": p.issuer("globex")})),
                json!({}),
                "realm",
            )
            .await,
            "key",
        ),
        (
            "wrong audience",
            p.sign(
                "acme",
                claims(json!({"aud": "other-app", "azp": "other-app"})),
                json!({}),
                "realm",
            )
            .await,
            "aud",
        ),
        (
            "bad signature",
            p.sign("acme", claims(json!({})), json!({}), "other").await,
            "signature",
        ),
        ("alg none", none, "algorithm"),
        ("HS256 with the public key", hs256, "algorithm"),
        (
            "unknown kid",
            p.sign(
                "acme",
                claims(json!({})),
                json!({"kid": "made-up"}),
                "other",
            )
            .await,
            "key",
        ),
        ("tampered claims", tampered, "signature"),
        ("garbage", "not.a.jwt".to_string(), "well-formed"),
        (
            "an ID token",
            p.sign(
                "acme",
                claims(json!({"typ": "ID", "aud": "tessera"})),
                json!({}),
                "realm",
            )
            .await,
            "not an access token",
        ),
    ];
    let before = s.version_count("acme", "Patient").await;
    for (name, token, reason) in &hostile {
        let reply = call(
            s,
            token,
            Method::POST,
            &url,
            Some(&json!({"resourceType": "Patient"})),
        )
        .await;
        assert_eq!(reply.status.as_u16(), 401, "{name}: {}", reply.body);
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .starts_with("Bearer"),
            "{name}"
        );
        let text = reply.outcome()["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(text.contains(reason), "{name}: {text}");
    }
    // No token, or another scheme.
    s.as_user(None, Method::GET, &url, None).await.expect(401);
    s.request(
        Method::GET,
        &url,
        None,
        &[("authorization", "Basic YWxpY2U6cHc=")],
    )
    .await
    .expect(401);
    assert_eq!(
        s.version_count("acme", "Patient").await,
        before,
        "a refused request stored nothing"
    );
    // Every refusal is in the trail with its reason.
    let refused = audit(s, "acme", "outcome=4&subtype=create").await;
    assert!(refused.len() >= hostile.len(), "{} audited", refused.len());
    assert!(refused.iter().any(|e| e["outcomeDesc"]
        .as_str()
        .is_some_and(|d| d.contains("expired"))));
}

async fn keys_are_cached_and_rotated(s: &TestServer, p: &Provider) {
    let url = format!("{}/Patient", s.fhir("acme"));
    for user in ["alice", "bob", "carol", "alice"] {
        let t = p.password_token("acme", user).await;
        call(s, &t, Method::GET, &url, None).await;
    }
    assert_eq!(
        p.jwks_requests("acme").await,
        1,
        "keys are fetched once and cached"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // The provider rotates its key: the first token with the new kid triggers one refresh.
    let kid = p.rotate("acme").await;
    let fresh = p.password_token("acme", "alice").await;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(fresh.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], kid);
    call(s, &fresh, Method::GET, &url, None).await.expect(200);
    assert_eq!(p.jwks_requests("acme").await, 2);
    // A flood of made-up kids right after does not become a flood of fetches.
    for i in 0..5 {
        let t = p.sign("acme", json!({"iss": p.issuer("acme"), "sub": "x", "aud": "account", "azp": "tessera", "exp": now() + 60}), json!({"kid": format!("random-{i}")}), "other").await;
        call(s, &t, Method::GET, &url, None).await.expect(401);
    }
    assert_eq!(p.jwks_requests("acme").await, 2);
    // Tokens signed with the old key still verify while it is published.
    let old = p.password_token("acme", "bob").await;
    call(s, &old, Method::GET, &url, None).await.expect(200);
}

async fn audit_trail_is_append_only(s: &TestServer) {
    s.get(&format!("{}/Patient", s.fhir("acme")))
        .await
        .expect(200);
    s.state().audit.flush().await;
    match s.backend {
        Backend::Sqlite => {
            let db = s.config.data_dir.join("tessera.db");
            let url = format!("sqlite://{}", db.display());
            use sqlx::{Connection, Executor};
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            for statement in [
                "UPDATE audit_event SET outcome = '0'",
                "DELETE FROM audit_event",
            ] {
                let err = conn.execute(statement).await.unwrap_err();
                assert!(err.to_string().contains("append-only"), "{err}");
            }
        }
        Backend::Postgres => {
            // As the role the server runs as.
            let mut url = url::Url::parse(s.config.database.url.as_ref().unwrap()).unwrap();
            url.set_username(&s.config.database.app_role).unwrap();
            use sqlx::{Connection, Executor};
            let mut conn = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
            conn.execute("SET tessera.tenant_id = 'acme'")
                .await
                .unwrap();
            for statement in [
                "UPDATE audit_event SET outcome = '0'",
                "DELETE FROM audit_event",
                "TRUNCATE audit_event",
            ] {
                let err = conn.execute(statement).await.unwrap_err();
                assert!(
                    err.to_string().contains("permission denied"),
                    "{statement}: {err}"
                );
            }
        }
    }
    assert!(!audit(s, "acme", "").await.is_empty());
}

/// A browser: a cookie jar shared by Tessera's and the provider's pages, following redirects.
fn browser() -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    (client, jar)
}

/// Signs `user` in through the provider's login form; returns the final response.
async fn sign_in(
    s: &TestServer,
    browser: &reqwest::Client,
    user: &str,
    return_to: &str,
) -> reqwest::Response {
    let form = browser
        .get(format!(
            "{}/t/acme/auth/login?return_to={return_to}",
            s.origin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let form_url = form.url().clone();
    assert!(
        form_url.path().contains("/realms/acme/interaction/"),
        "{form_url}"
    );
    browser
        .post(form_url)
        .form(&[("username", user), ("password", "pw")])
        .send()
        .await
        .unwrap()
}

async fn browser_sign_on(s: &TestServer, p: &Provider) {
    let _ = p;
    let (browser, jar) = browser();
    let landed = sign_in(s, &browser, "alice", "/t/acme/fhir/Patient").await;
    assert_eq!(landed.status(), 200);
    assert_eq!(
        landed.url().path(),
        "/t/acme/fhir/Patient",
        "back where sign-in started"
    );
    let tessera = url::Url::parse(&format!("{}/t/acme/", s.origin)).unwrap();
    use reqwest::cookie::CookieStore;
    let cookie = jar
        .cookies(&tessera)
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("tessera_session="), "{cookie}");
    let session: Value = browser
        .get(format!("{}/t/acme/auth/session", s.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["username"], "alice");
    assert_eq!(session["roles"], json!(["clinician"]));
    let csrf = session["csrf_token"].as_str().unwrap().to_string();

    // State-changing requests with the cookie need the CSRF token.
    let url = format!("{}/Patient", s.fhir("acme"));
    let body = json!({"resourceType": "Patient", "name": [{"family": "Cookie"}]}).to_string();
    let post = |csrf: Option<&str>| {
        let mut r = browser
            .post(&url)
            .header("content-type", "application/fhir+json")
            .body(body.clone());
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 403);
    assert_eq!(post(Some("forged")).await.unwrap().status(), 403);
    assert_eq!(post(Some(&csrf)).await.unwrap().status(), 201);

    // A tampered session cookie is no session.
    let value = cookie
        .split("tessera_session=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let mut tampered = value.to_string();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let r = reqwest::Client::new()
        .get(&url)
        .header("cookie", format!("tessera_session={tampered}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The cookie is bound to its tenant.
    let r = reqwest::Client::new()
        .get(format!("{}/Patient", s.fhir("globex")))
        .header("cookie", format!("tessera_session={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A forged or replayed callback is refused.
    let r = browser
        .get(format!(
            "{}/t/acme/auth/callback?code=x&state=forged",
            s.origin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // return_to cannot leave the tenant (no open redirect).
    let (other, _) = self::browser();
    let landed = sign_in(s, &other, "alice", "https://evil.example/").await;
    assert_eq!(landed.url().path(), "/t/acme/auth/session");

    // Logout needs the CSRF token; then the session is gone, here and at the provider.
    let r = browser
        .post(format!("{}/t/acme/auth/logout", s.origin))
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        browser.get(&url).send().await.unwrap().status(),
        200,
        "still signed in"
    );
    let r = browser
        .post(format!("{}/t/acme/auth/logout", s.origin))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.url().path(),
        "/t/acme/auth/logged-out",
        "RP-initiated logout came back"
    );
    let r = reqwest::Client::new()
        .get(&url)
        .header("cookie", format!("tessera_session={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Signing in again shows the provider's login form: its session ended too.
    let again = browser
        .get(format!("{}/t/acme/auth/login", s.origin))
        .send()
        .await
        .unwrap();
    assert!(
        again.url().path().contains("/interaction/"),
        "{}",
        again.url()
    );

    // A user without a Tessera role is refused at sign-in.
    let (dave, _) = self::browser();
    let refused = sign_in(s, &dave, "dave", "/t/acme/fhir/Patient").await;
    assert_eq!(refused.status(), 403);

    // Sign-ins, refusals and sign-outs are in the trail.
    let events = audit(s, "acme", "type=110114").await;
    let of = |user: &str, subtype: &str, outcome: &str| {
        events.iter().any(|e| {
            e["agent"][0]["name"] == user
                && e["subtype"][0]["code"] == subtype
                && e["outcome"] == outcome
        })
    };
    assert!(
        of("alice", "login", "0") && of("alice", "logout", "0") && of("alice", "logout", "4"),
        "{events:?}"
    );
    assert!(of("dave", "login", "4"), "{events:?}");
}

macro_rules! with_provider {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let p = Provider::start();
                let s = start(Backend::Sqlite, &p).await;
                $body(&s, &p).await;
                s.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let p = Provider::start();
                let s = start(Backend::Postgres, &p).await;
                $body(&s, &p).await;
                s.stop().await;
            }
        }
    };
}

with_provider!(keycloak, keycloak_tokens_and_roles);
with_provider!(patient_role, patient_sees_only_their_record);
with_provider!(tenancy, tenant_comes_from_the_token);
with_provider!(hostile, hostile_tokens_are_refused);
with_provider!(browser_flow, browser_sign_on);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_cached_and_rotated() {
    let p = Provider::start();
    let s = start(Backend::Sqlite, &p).await;
    keys_are_cached_and_rotated(&s, &p).await;
    s.stop().await;
}

async fn append_only(s: &TestServer) {
    s.tenant("acme").await;
    audit_trail_is_append_only(s).await;
}
both_backends!(audit_append_only, append_only);

async fn local_accounts(s: &TestServer) {
    s.tenant("acme").await;
    let one_time = s
        .server
        .as_ref()
        .unwrap()
        .bootstrap_password
        .clone()
        .expect("first start creates the bootstrap admin");
    let http = reqwest::Client::new();
    let token = |user: &str, password: &str, tenant: &str| {
        http.post(format!("{}/auth/local/token", s.origin))
            .form(&[
                ("username", user),
                ("password", password),
                ("tenant", tenant),
            ])
            .send()
    };
    // The one-time password must be replaced first.
    let r = token("admin", &one_time, "acme").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "password_change_required"
    );
    let change = |old: &str, new: &str| {
        http.post(format!("{}/auth/local/password", s.origin))
            .form(&[
                ("username", "admin"),
                ("password", old),
                ("new_password", new),
            ])
            .send()
    };
    assert_eq!(change(&one_time, "short").await.unwrap().status(), 400);
    assert_eq!(
        change("wrong-password", "a long enough password")
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        change(&one_time, "a long enough password")
            .await
            .unwrap()
            .status(),
        204
    );
    let r = token("admin", "a long enough password", "acme")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let access = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // The local token passes the same verification as any other.
    s.as_user(
        Some(&access),
        Method::GET,
        &format!("{}/Patient", s.fhir("acme")),
        None,
    )
    .await
    .expect(200);
    // A tenant that does not exist answers like one the user may not enter.
    assert_eq!(
        token("admin", "a long enough password", "ghost")
            .await
            .unwrap()
            .status(),
        403
    );

    // Passwords are stored as argon2id hashes.
    let users = tessera_core::auth::users::LocalUsers::new(s.state().db.clone());
    let nurse_password = users
        .add(&tessera_core::auth::users::LocalUser {
            username: "nina".into(),
            tenants: vec!["acme".into()],
            roles: vec!["nurse".into()],
            patient: None,
        })
        .await
        .unwrap();
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM local_users WHERE username = 'nina'")
            .fetch_one(s.state().db.reader())
            .await
            .unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains(&nurse_password));

    // Unknown users and wrong passwords read alike; five failures lock the account.
    let unknown = token("nobody", "whatever", "acme").await.unwrap();
    assert_eq!(unknown.status(), 401);
    let unknown: Value = unknown.json().await.unwrap();
    let wrong: Value = token("admin", "wrong", "acme")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unknown, wrong);
    for _ in 0..4 {
        token("admin", "wrong", "acme").await.unwrap();
    }
    let locked = token("admin", "a long enough password", "acme")
        .await
        .unwrap();
    assert_eq!(locked.status(), 401);
    assert!(locked.json::<Value>().await.unwrap()["error_description"]
        .as_str()
        .unwrap()
        .contains("locked"));
    // Every attempt is in the tenant's trail.
    let failed = audit(s, "acme", "type=110114&outcome=4").await;
    assert!(failed.len() >= 6, "{}", failed.len());
    assert!(audit(s, "acme", "type=110114&outcome=0")
        .await
        .iter()
        .any(|e| e["agent"][0]["name"] == "admin"));
}
both_backends!(local_users, local_accounts);

async fn tenant_roles_and_mapping(s: &TestServer) {
    s.tenant("acme").await;
    s.tenant("globex").await;
    let admin = |tenant: &str| format!("{}/api/admin/tenants/{tenant}", s.origin);
    let lab_tech = json!({
        "description": "Laboratory technician",
        "permissions": {"Observation": ["read", "search", "create"], "Patient": ["read", "search"]}
    });
    // Only an org-admin administers roles.
    let clinician = s.token("acme", &["clinician"]);
    call(
        s,
        &clinician,
        Method::PUT,
        &format!("{}/roles/lab-tech", admin("acme")),
        Some(&lab_tech),
    )
    .await
    .expect(403);
    s.put(&format!("{}/roles/lab-tech", admin("acme")), &lab_tech)
        .await
        .expect(200);
    // Bad definitions and system names are refused with what to fix.
    let bad = s
        .put(
            &format!("{}/roles/bad", admin("acme")),
            &json!({"permissions": {"observation": ["read"]}}),
        )
        .await
        .expect(400);
    assert!(
        bad.body.to_string().contains("not a target"),
        "{}",
        bad.body
    );
    s.put(
        &format!("{}/roles/odd", admin("acme")),
        &json!({"permissions": {"Patient": ["fly"]}}),
    )
    .await
    .expect(400);
    s.put(&format!("{}/roles/clinician", admin("acme")), &lab_tech)
        .await
        .expect(400);
    s.put(
        &format!("{}/role-map", admin("acme")),
        &json!({"laboratory": ["no-such-role"]}),
    )
    .await
    .expect(400);
    s.put(
        &format!("{}/role-map", admin("acme")),
        &json!({"laboratory": ["lab-tech"]}),
    )
    .await
    .expect(200);
    let listed = s.get(&format!("{}/roles", admin("acme"))).await.expect(200);
    assert!(
        listed.body["tenant"]["lab-tech"].is_object() && listed.body["system"]["nurse"].is_object()
    );

    // A provider role named "laboratory" now means lab-tech in acme, and nothing in globex.
    let base = s.fhir("acme");
    let lab = s.token("acme", &["laboratory"]);
    let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "k"}});
    call(
        s,
        &lab,
        Method::POST,
        &format!("{base}/Observation"),
        Some(&obs),
    )
    .await
    .expect(201);
    call(s, &lab, Method::GET, &format!("{base}/Condition"), None)
        .await
        .expect(403);
    call(
        s,
        &lab,
        Method::DELETE,
        &format!("{base}/Observation/x"),
        None,
    )
    .await
    .expect(403);
    let elsewhere = s.token("globex", &["laboratory"]);
    call(
        s,
        &elsewhere,
        Method::GET,
        &format!("{}/Observation", s.fhir("globex")),
        None,
    )
    .await
    .expect(403);
    // The role can be named directly too, in its own tenant only.
    let direct = s.token("acme", &["lab-tech"]);
    call(
        s,
        &direct,
        Method::GET,
        &format!("{base}/Observation"),
        None,
    )
    .await
    .expect(200);
    // Deleting the role takes effect at once.
    s.delete(&format!("{}/roles/lab-tech", admin("acme")))
        .await
        .expect(204);
    call(s, &lab, Method::GET, &format!("{base}/Observation"), None)
        .await
        .expect(403);
    s.delete(&format!("{}/roles/lab-tech", admin("acme")))
        .await
        .expect(404);
    // Another tenant's org-admin cannot touch acme's policy.
    let other_admin = s.token("globex", &["org-admin"]);
    call(
        s,
        &other_admin,
        Method::GET,
        &format!("{}/roles", admin("acme")),
        None,
    )
    .await
    .expect(403);
    // Administration is audited.
    let events = audit(s, "acme", "subtype=admin").await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "U" && e["outcome"] == "0"),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["outcome"] == "4"));
}
both_backends!(tenant_roles, tenant_roles_and_mapping);
