//! The admin pages (`/t/{tenant}/admin/...`) on both backends: real packs compiled from
//! source, signed and installed through the admin API; the pages driven in a real headless
//! Chromium (`tests/browser/`), and their protections (headers, CSRF, escaping, audit)
//! checked over plain HTTP too, so that part runs even where no browser is installed.

mod support;

use support::packs::test_packs;

use serde_json::{json, Value};
use support::browser::Browser;
use support::oidc::Provider;
use support::{Backend, TestServer};
use tessera_plugins::signing::SigningKey;

/// The test greeter with a configuration form of every kind: text, whole number, yes/no,
/// a choice and a secret. Version 2 asks for one permission more (an outbound origin).
fn manifest(version: &str, description: Option<&str>) -> String {
    let http: &[&str] = if version.starts_with('1') {
        &[]
    } else {
        &["https://api.example.org"]
    };
    let text = test_packs::greeter_manifest(version, http).replace(
        "    api-key: { type: string, writeOnly: true, minLength: 8 }\n",
        "    visits: { type: integer, minimum: 1, maximum: 100, title: Visits per day }\n\
         \x20   loud: { type: boolean }\n\
         \x20   style: { type: string, enum: [formal, casual] }\n\
         \x20   api-key: { type: string, writeOnly: true, minLength: 8 }\n",
    );
    match description {
        Some(d) => text.replace(
            "description: Greets people and reads their names",
            &format!("description: '{d}'"),
        ),
        None => text,
    }
}

/// A server trusting one publisher (`key`), with tenants acme and globex and the greeter's
/// versions 1.0.0 and 2.0.0 installed.
async fn start_with_key(
    backend: Backend,
    key: &SigningKey,
    adjust: impl FnOnce(&mut tessera_core::config::Config),
) -> TestServer {
    let public = key.public_key();
    let server = TestServer::start_with(backend, |config| {
        config.packs.trusted_keys = vec![public];
        config.packs.poll_ms = 100;
        adjust(config);
    })
    .await;
    server.tenant("acme").await;
    server.tenant("globex").await;
    for version in ["1.0.0", "2.0.0"] {
        install(&server, key, &manifest(version, None)).await;
    }
    server
}

async fn start(
    backend: Backend,
    adjust: impl FnOnce(&mut tessera_core::config::Config),
) -> TestServer {
    let key = SigningKey::from_pkcs8(&SigningKey::generate()).unwrap();
    start_with_key(backend, &key, adjust).await
}

async fn install(server: &TestServer, key: &SigningKey, manifest: &str) {
    let built = test_packs::built();
    let wasm = if manifest.contains("version: 1.") {
        &built.greeter_v1
    } else {
        &built.greeter_v2
    };
    let mut archive = test_packs::archive(manifest, wasm);
    key.sign(&mut archive);
    let response = server
        .client
        .post(format!("{}/api/admin/packs", server.origin))
        .bearer_auth(server.token("acme", &["platform-admin"]))
        .header("content-type", "application/gzip")
        .body(archive.write())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

fn api(server: &TestServer, tenant: &str, rest: &str) -> String {
    format!("{}/api/admin/tenants/{tenant}/packs{rest}", server.origin)
}

fn greeter_permissions(version: &str) -> Value {
    let http: Vec<&str> = if version.starts_with('1') {
        vec![]
    } else {
        vec!["https://api.example.org"]
    };
    json!({
        "fhir": {"Patient": ["read", "search", "create"]},
        "http": http,
        "features": {"greet": {"description": "Be greeted", "roles": ["clinician"]}}
    })
}

/// Audit events of `tenant` matching `query`, as its org-admin reads them.
async fn audit(server: &TestServer, tenant: &str, query: &str) -> Vec<Value> {
    server.state().audit.flush().await;
    let reply = server
        .get(&format!(
            "{}/AuditEvent?{query}&_count=1000",
            server.fhir(tenant)
        ))
        .await
        .expect(200);
    reply.body["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e["resource"].clone())
        .collect()
}

/// What an audit event says about an action, without when, who and how.
fn audited(event: &Value) -> Value {
    json!({
        "type": event["type"]["code"],
        "subtype": event["subtype"][0]["code"],
        "action": event["action"],
        "outcome": event["outcome"],
        "entity": event["entity"][0]["what"]["reference"],
    })
}

// ---------------------------------------------------------------------------------------
// In a real browser.

async fn browser_admin(backend: Backend) {
    let Some(browser) = Browser::get("admin_ui::browser_admin") else {
        return;
    };
    let server = start(backend, |_| {}).await;
    let one_time = server
        .server
        .as_ref()
        .unwrap()
        .bootstrap_password
        .clone()
        .expect("first start creates the bootstrap admin");
    let secret = format!("s3cret-{}", uuid::Uuid::new_v4().simple());
    let new_password = "the admin's own password";

    // The main scenario: the bootstrap admin, from the one-time password to disable.
    let report = browser
        .run(
            "admin_packs",
            &server.origin,
            &[
                ("TESSERA_TENANT", "acme".into()),
                ("TESSERA_PACK", "greeter".into()),
                ("TESSERA_ADMIN_USER", "admin".into()),
                ("TESSERA_ONE_TIME_PASSWORD", one_time.clone()),
                ("TESSERA_NEW_PASSWORD", new_password.into()),
                ("TESSERA_SECRET", secret.clone()),
            ],
        )
        .await;
    assert!(report["steps"].as_array().unwrap().len() >= 18, "{report}");

    // What the pages did is what the API sees.
    let state = server
        .get(&api(&server, "acme", "/greeter"))
        .await
        .expect(200);
    let setting = &state.body["tenant"];
    assert_eq!(setting["enabled"], false, "{setting}");
    assert_eq!(setting["version"], "1.0.0", "rolled back: {setting}");
    assert_eq!(setting["pinned"], true, "{setting}");
    assert_eq!(setting["granted"], greeter_permissions("1.0.0"));
    assert_eq!(
        setting["config"],
        json!({"greeting": "Howdy", "visits": 12, "loud": true})
    );
    assert_eq!(setting["secrets_set"], json!(["api-key"]));
    assert_eq!(
        state.body["locations"],
        json!({}),
        "the override was deleted"
    );
    assert!(!state.body.to_string().contains(&secret));

    // The secret the page set is the one the pack reads.
    server
        .put(&api(&server, "acme", "/greeter"), &json!({"enabled": true}))
        .await
        .expect(200);
    let settings = server
        .client
        .get(format!("{}/t/acme/packs/greeter/settings", server.origin))
        .bearer_auth(server.token("acme", &["clinician"]))
        .send()
        .await
        .unwrap();
    let settings: Value = settings.json().await.unwrap();
    assert_eq!(settings["secret_length"], secret.len(), "{settings}");

    // The one-time password is gone; the new one works for tokens too.
    let token = |password: &str| {
        server
            .client
            .post(format!("{}/auth/local/token", server.origin))
            .form(&[
                ("username", "admin"),
                ("password", password),
                ("tenant", "acme"),
            ])
            .send()
    };
    assert_eq!(token(&one_time).await.unwrap().status(), 401);
    assert_eq!(token(new_password).await.unwrap().status(), 200);

    // Every action is in the trail, as the admin API would have recorded it.
    let events = audit(&server, "acme", "subtype=admin").await;
    let by_entity = |entity: &str, action: &str, outcome: &str| {
        events.iter().any(|e| {
            e["entity"][0]["what"]["reference"] == entity
                && e["action"] == action
                && e["outcome"] == outcome
                && e["entity"][0]["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("admin page, as"))
        })
    };
    assert!(by_entity("packs/greeter", "U", "0"), "enable: {events:#?}");
    assert!(by_entity("packs/greeter", "U", "4"), "refused enables");
    for action in ["pin", "upgrade", "rollback", "disable"] {
        assert!(
            by_entity(&format!("packs/greeter/{action}"), "C", "0"),
            "{action}"
        );
    }
    assert!(
        by_entity("packs/greeter/upgrade", "C", "4"),
        "refused upgrade"
    );
    assert!(
        by_entity("packs/greeter/locations/ward-1", "U", "0"),
        "override set"
    );
    assert!(
        by_entity("packs/greeter/locations/ward-1", "D", "0"),
        "override deleted"
    );
    let sign_ins = audit(&server, "acme", "type=110114").await;
    assert!(
        sign_ins
            .iter()
            .any(|e| e["subtype"][0]["code"] == "password-change" && e["outcome"] == "0"),
        "{sign_ins:#?}"
    );
    assert!(sign_ins
        .iter()
        .any(|e| e["subtype"][0]["code"] == "login" && e["outcome"] == "0"));
    assert!(sign_ins
        .iter()
        .any(|e| e["subtype"][0]["code"] == "login" && e["outcome"] == "4"));

    // Refusals, in the other tenant: a nurse, posts without the CSRF token.
    let nurse = server.local_user("nina", &["globex"], &["nurse"]).await;
    let admin = server
        .local_user("oscar", &["globex"], &["org-admin"])
        .await;
    server
        .put(
            &api(&server, "globex", "/greeter"),
            &json!({"version": "1.0.0", "pinned": false, "consent": greeter_permissions("1.0.0")}),
        )
        .await
        .expect(200);
    browser
        .run(
            "admin_refusals",
            &server.origin,
            &[
                ("TESSERA_TENANT", "globex".into()),
                ("TESSERA_PACK", "greeter".into()),
                ("TESSERA_USER", "nina".into()),
                ("TESSERA_USER_PASSWORD", nurse),
                ("TESSERA_ADMIN_USER", "oscar".into()),
                ("TESSERA_ADMIN_PASSWORD", admin),
            ],
        )
        .await;
    let state = server
        .get(&api(&server, "globex", "/greeter"))
        .await
        .expect(200);
    assert_eq!(
        state.body["tenant"]["enabled"], true,
        "the refused disable did nothing"
    );
    assert_eq!(state.body["tenant"]["pinned"], true, "the form's pin did");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_admin_sqlite() {
    browser_admin(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_admin_postgres() {
    browser_admin(Backend::Postgres).await;
}

/// Signing in through the organization's OpenID provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_provider_sign_in() {
    let Some(browser) = Browser::get("admin_ui::browser_provider_sign_in") else {
        return;
    };
    let provider = Provider::start();
    let issuer: tessera_core::auth::issuers::IssuerConfig = serde_yaml::from_str(&format!(
        "issuer: {}\ntenants: [acme]\nclient_id: tessera\nclient_secret: tessera-secret\n",
        provider.issuer("acme")
    ))
    .unwrap();
    let server = start(Backend::Sqlite, |c| c.auth.issuers = vec![issuer]).await;
    browser
        .run(
            "admin_oidc",
            &server.origin,
            &[
                ("TESSERA_TENANT", "acme".into()),
                ("TESSERA_OIDC_ADMIN", "carol".into()),
                ("TESSERA_OIDC_USER", "alice".into()),
                ("TESSERA_PROVIDER", provider.origin.clone()),
            ],
        )
        .await;
    let sign_ins = audit(&server, "acme", "type=110114").await;
    assert!(sign_ins
        .iter()
        .any(|e| e["agent"][0]["name"] == "carol" && e["outcome"] == "0"));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Over plain HTTP: what holds whatever the browser.

/// A cookie-keeping client that does not follow redirects, as a test of the answers.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the first hidden `name` input in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// Signs `username` in with the local sign-in form; returns the session's CSRF token.
async fn sign_in(
    server: &TestServer,
    http: &reqwest::Client,
    tenant: &str,
    username: &str,
    password: &str,
) -> String {
    let page = http
        .get(format!("{}/t/{tenant}/admin/sign-in", server.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let signed_in = http
        .post(format!("{}/t/{tenant}/admin/sign-in", server.origin))
        .form(&[
            ("_csrf", hidden(&page, "_csrf").as_str()),
            ("return_to", &format!("/t/{tenant}/admin/packs")),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_in.status(),
        303,
        "{}",
        signed_in.text().await.unwrap()
    );
    let packs = http
        .get(format!("{}/t/{tenant}/admin/packs", server.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(packs.status(), 200);
    hidden(&packs.text().await.unwrap(), "csrf")
}

async fn protections(backend: Backend) {
    let key = SigningKey::from_pkcs8(&SigningKey::generate()).unwrap();
    let server = start_with_key(backend, &key, |_| {}).await;
    let origin = &server.origin;
    let password = server.local_user("oscar", &["acme"], &["org-admin"]).await;
    let http = client();

    // The picker, and the way to sign in.
    let picker = http.get(format!("{origin}/admin")).send().await.unwrap();
    assert_eq!(picker.status(), 200);
    let csp = picker.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.starts_with("default-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(picker.headers()["x-frame-options"], "DENY");
    assert_eq!(picker.headers()["cache-control"], "no-store");
    let chosen = http
        .get(format!("{origin}/admin?tenant=acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), 303);
    assert_eq!(chosen.headers()["location"], "/t/acme/admin/packs");
    let bad = http
        .get(format!("{origin}/admin?tenant=%3Cscript%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = bad.text().await.unwrap();
    assert!(
        !bad.contains("<script>") && bad.contains("&lt;script&gt;"),
        "escaped: {bad}"
    );
    let away = http
        .get(format!("{origin}/t/acme/admin/packs/greeter"))
        .send()
        .await
        .unwrap();
    assert_eq!(away.status(), 303, "not signed in");
    assert_eq!(
        away.headers()["location"],
        "/t/acme/admin/sign-in?return_to=%2Ft%2Facme%2Fadmin%2Fpacks%2Fgreeter"
    );
    let bearer = http
        .get(format!("{origin}/t/acme/admin/packs"))
        .bearer_auth(server.token("acme", &["org-admin"]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        bearer.status(),
        401,
        "pages take sessions, not bearer tokens"
    );
    let elsewhere = http
        .get(format!(
            "{origin}/t/acme/admin/sign-in?return_to=https://evil.example/"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        hidden(&elsewhere, "return_to") == "/t/acme/admin/packs",
        "no open redirect"
    );

    // Signed in: the session's CSRF token is needed for every change, as a form field or
    // the header, and the refused post changes nothing.
    let csrf = sign_in(&server, &http, "acme", "oscar", &password).await;
    server
        .put(
            &api(&server, "acme", "/greeter"),
            &json!({"version": "1.0.0", "consent": greeter_permissions("1.0.0"), "pinned": false}),
        )
        .await
        .expect(200);
    let pin = |form: Vec<(&'static str, String)>| {
        http.post(format!("{origin}/t/acme/admin/packs/greeter/pin"))
            .form(&form)
            .send()
    };
    let refused = pin(vec![("pinned", "true".into())]).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("CSRF"));
    assert_eq!(
        pin(vec![("pinned", "true".into()), ("_csrf", "x".repeat(43))])
            .await
            .unwrap()
            .status(),
        403
    );
    let state = server
        .get(&api(&server, "acme", "/greeter"))
        .await
        .expect(200);
    assert_eq!(state.body["tenant"]["pinned"], false, "nothing changed");
    let pinned = pin(vec![("pinned", "true".into()), ("_csrf", csrf.clone())])
        .await
        .unwrap();
    assert_eq!(pinned.status(), 303, "POST-redirect-GET");
    assert_eq!(
        pinned.headers()["location"],
        "/t/acme/admin/packs/greeter?done=pinned"
    );
    let unpinned = http
        .post(format!("{origin}/t/acme/admin/packs/greeter/pin"))
        .header("x-csrf-token", &csrf)
        .form(&[("pinned", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(unpinned.status(), 303, "the header works as well");

    // Audited as the JSON API audits: the same type, subtype, action and entity.
    server
        .post(
            &api(&server, "acme", "/greeter/pin"),
            &json!({"pinned": true}),
        )
        .await
        .expect(200);
    let events = audit(&server, "acme", "entity=packs/greeter/pin").await;
    let (page, json_api): (Vec<&Value>, Vec<&Value>) = events.iter().partition(|e| {
        e["entity"][0]["description"]
            .as_str()
            .unwrap()
            .contains("admin page")
    });
    assert_eq!(page.len(), 4, "two refused, two done: {events:#?}");
    assert_eq!(json_api.len(), 1);
    let done: Vec<&&Value> = page.iter().filter(|e| e["outcome"] == "0").collect();
    assert_eq!(done.len(), 2);
    assert_eq!(audited(done[0]), audited(json_api[0]));
    assert_eq!(done[0]["agent"][0]["role"], json_api[0]["agent"][0]["role"]);
    assert!(page
        .iter()
        .filter(|e| e["outcome"] == "4")
        .all(|e| e["outcomeDesc"].as_str().unwrap().contains("CSRF")));

    // A secret set through the form never comes back, in any page.
    let secret = "never-ever-shown-0123";
    let saved = http
        .post(format!("{origin}/t/acme/admin/packs/greeter/configure"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("version", "1.0.0"),
            ("enabled", "yes"),
            ("config.greeting", "<b>Hi</b>"),
            ("secret.api-key", secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 303, "{}", saved.text().await.unwrap());
    for path in ["", "/configure", "/upgrade?version=2.0.0", "/remove"] {
        let page = http
            .get(format!("{origin}/t/acme/admin/packs/greeter{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let html = page.text().await.unwrap();
        assert!(!html.contains(secret), "{path} shows the secret");
        assert!(
            !html.contains("<b>Hi</b>"),
            "{path}: configuration is escaped"
        );
    }
    let page = http
        .get(format!("{origin}/t/acme/admin/packs/greeter"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("&lt;b&gt;Hi&lt;/b&gt;"), "escaped: {page}");

    // A schema error names its field; the form keeps the input (but never the secret).
    let refused = http
        .post(format!("{origin}/t/acme/admin/packs/greeter/configure"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("version", "1.0.0"),
            ("enabled", "yes"),
            ("config.greeting", "Hi"),
            ("config.visits", "500"),
            ("secret.api-key", "another-secret-value"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("href=\"#config-visits\""),
        "linked from the summary: {html}"
    );
    assert!(
        html.contains("id=\"config-visits-error\""),
        "beside the field"
    );
    assert!(html.contains("value=\"500\""), "input kept");
    assert!(!html.contains("another-secret-value"));
    let state = server
        .get(&api(&server, "acme", "/greeter"))
        .await
        .expect(200);
    assert_eq!(
        state.body["tenant"]["config"]["greeting"], "<b>Hi</b>",
        "unchanged"
    );

    // A non-admin is refused with a page, not let in.
    let nurse = server.local_user("nina", &["acme"], &["nurse"]).await;
    let other = client();
    let page = other
        .get(format!("{origin}/t/acme/admin/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let signed_in = other
        .post(format!("{origin}/t/acme/admin/sign-in"))
        .form(&[
            ("_csrf", hidden(&page, "_csrf").as_str()),
            ("username", "nina"),
            ("password", nurse.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let refused = other
        .get(format!("{origin}/t/acme/admin/packs"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("Only organization admins"));

    // Unknown addresses under the pages answer with a page.
    let missing = http
        .get(format!("{origin}/t/acme/admin/nothing/here"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));

    // A dependency refusal is shown in the error summary: a pack needing greeter 2 cannot be
    // enabled while acme runs greeter 1.
    let dependent = format!(
        "{}dependencies:\n  greeter: ^2.0.0\n",
        test_packs::hostile_manifest()
    );
    let mut archive = test_packs::archive(&dependent, &test_packs::built().hostile);
    key.sign(&mut archive);
    let installed = server
        .client
        .post(format!("{origin}/api/admin/packs"))
        .bearer_auth(server.token("acme", &["platform-admin"]))
        .header("content-type", "application/gzip")
        .body(archive.write())
        .send()
        .await
        .unwrap();
    assert_eq!(installed.status(), 201);
    let refused = http
        .post(format!("{origin}/t/acme/admin/packs/hostile/configure"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("version", "1.0.0"),
            ("enabled", "yes"),
            ("consent_shown", "yes"),
            ("consent", "fhir:Patient:read"),
            ("consent", "fhir:Patient:search"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("class=\"error-summary\"") && html.contains("needs greeter ^2.0.0"),
        "{html}"
    );
    let state = server
        .get(&api(&server, "acme", "/hostile"))
        .await
        .expect(200);
    assert_eq!(state.body["tenant"], Value::Null, "nothing enabled");

    // What a pack says about itself is text, never markup.
    let hostile = "<img src=x onerror=alert(1)>";
    install(&server, &key, &manifest("3.0.0-rc.1", Some(hostile))).await;
    let list = http
        .get(format!("{origin}/t/acme/admin/packs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains(hostile), "{list}");
    assert!(
        list.contains("&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;"),
        "{list}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protections_sqlite() {
    protections(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protections_postgres() {
    protections(Backend::Postgres).await;
}
