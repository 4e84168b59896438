//! Helpers for tests that drive packs through a real server: a publisher that signs, a
//! server that trusts it, installing through the admin API, and calls as a user.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tessera_plugins::signing::SigningKey;
use tessera_plugins::PackArchive;

use super::{Backend, TestServer};

#[path = "../../../plugins/tests/support/packs.rs"]
pub mod test_packs;

pub struct Publisher {
    pub key: SigningKey,
}

impl Publisher {
    pub fn new() -> Publisher {
        Publisher {
            key: SigningKey::from_pkcs8(&SigningKey::generate()).unwrap(),
        }
    }

    pub fn sign(&self, mut archive: PackArchive) -> Vec<u8> {
        self.key.sign(&mut archive);
        archive.write()
    }
}

pub async fn server(backend: Backend, publisher: &Publisher) -> TestServer {
    server_with(backend, publisher, |_| {}).await
}

/// A server trusting `publisher`, with small pack limits, then `adjust` applied.
pub async fn server_with(
    backend: Backend,
    publisher: &Publisher,
    adjust: impl FnOnce(&mut tessera_core::config::Config),
) -> TestServer {
    let public = publisher.key.public_key();
    let server = TestServer::start_with(backend, |config| {
        config.packs.trusted_keys = vec![public];
        config.packs.limits.deadline_ms = 1_000;
        config.packs.limits.memory_mib = 32;
        config.packs.limits.max_instances = 16;
        config.packs.limits.kv_keys = 20;
        config.packs.poll_ms = 100;
        adjust(config);
    })
    .await;
    server.tenant("acme").await;
    server.tenant("globex").await;
    server
}

/// Installs an archive as a platform admin; the reply's status and body.
pub async fn install(server: &TestServer, bytes: Vec<u8>, roles: &[&str]) -> (u16, Value) {
    let token = server.token("acme", roles);
    let response = server
        .client
        .post(format!("{}/api/admin/packs", server.origin))
        .bearer_auth(token)
        .header("content-type", "application/gzip")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

pub fn admin_url(server: &TestServer, tenant: &str, rest: &str) -> String {
    format!("{}/api/admin/tenants/{tenant}/packs{rest}", server.origin)
}

pub fn pack_url(server: &TestServer, tenant: &str, rest: &str) -> String {
    format!("{}/t/{tenant}/packs{rest}", server.origin)
}

/// A call as a user with `roles` in `tenant`.
pub async fn call(
    server: &TestServer,
    tenant: &str,
    roles: &[&str],
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = server
        .client
        .request(method, url)
        .bearer_auth(server.token(tenant, roles));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

pub fn greeter_v(version: &str, built: &test_packs::BuiltPacks) -> PackArchive {
    let wasm = if version.starts_with('1') {
        &built.greeter_v1
    } else {
        &built.greeter_v2
    };
    test_packs::archive(&test_packs::greeter_manifest(version, &[]), wasm)
}

pub fn greeter_permissions() -> Value {
    json!({
        "fhir": {"Patient": ["read", "search", "create"]},
        "http": [],
        "features": {"greet": {"description": "Be greeted", "roles": ["clinician"]}}
    })
}

pub async fn wait_for<F, Fut>(probe: F, wanted: u16) -> Option<Duration>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if probe().await == wanted {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// A server with greeter 1.0.0 installed (signed) and enabled for acme, `adjust` applied to
/// its configuration.
pub async fn greeter_enabled(
    backend: Backend,
    adjust: impl FnOnce(&mut tessera_core::config::Config),
) -> TestServer {
    let publisher = Publisher::new();
    let server = server_with(backend, &publisher, adjust).await;
    let (status, body) = install(
        &server,
        publisher.sign(greeter_v("1.0.0", test_packs::built())),
        &["platform-admin"],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    enable_greeter(&server, "acme").await;
    server
}

/// Enables greeter (its current settings' version, or the latest) for `tenant`, with consent.
pub async fn enable_greeter(server: &TestServer, tenant: &str) {
    server
        .put(
            &admin_url(server, tenant, "/greeter"),
            &json!({"consent": greeter_permissions()}),
        )
        .await
        .expect(200);
}
