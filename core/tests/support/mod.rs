//! Test harness: a real server on an ephemeral port over a real database — a temporary SQLite
//! file, or a fresh PostgreSQL database on 127.0.0.1:5432 (override with
//! TESSERA_TEST_POSTGRES_URL) that is dropped afterwards.
#![allow(dead_code)]

pub mod browser;
pub mod oidc;
pub mod packs;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::{Connection, Executor};
use tessera_core::config::Config;
use tessera_core::server::{self, RunningServer};

pub use tessera_core::auth::local::TokenRequest;
pub use tessera_core::db::Backend;

/// The tenant of a `/t/{tenant}/...` or `/api/admin/tenants/{tenant}/...` URL.
fn tenant_of(url: &str) -> Option<String> {
    let path = url::Url::parse(url).ok()?.path().to_string();
    let rest = path
        .strip_prefix("/t/")
        .or_else(|| path.strip_prefix("/api/admin/tenants/"))?;
    rest.split('/').next().map(str::to_string)
}

pub fn postgres_admin_url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestServer {
    pub backend: Backend,
    pub origin: String,
    pub client: reqwest::Client,
    pub server: Option<RunningServer>,
    pub config: Config,
    dir: tempfile::TempDir,
    pg_database: Option<String>,
    tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// A response: status, headers and the body parsed as JSON (Null when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// The id from a `Location: .../Type/id/_history/n` header.
    pub fn location_id(&self) -> String {
        let location = self.header("location").expect("Location header");
        location.split('/').rev().nth(2).unwrap().to_string()
    }

    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts an OperationOutcome with at least one issue.
    pub fn outcome(&self) -> &Value {
        assert_eq!(
            self.body["resourceType"], "OperationOutcome",
            "body: {}",
            self.body
        );
        assert!(
            self.body["issue"].as_array().is_some_and(|i| !i.is_empty()),
            "body: {}",
            self.body
        );
        &self.body
    }

    /// All issue expressions, flattened.
    pub fn expressions(&self) -> Vec<String> {
        self.outcome()["issue"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["expression"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect()
    }
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        // Compiling the bundled packs at every test server's start would cost seconds each;
        // `bundled_packs.rs` turns them on.
        config.packs.bundled = false;
        let mut pg_database = None;
        if backend == Backend::Postgres {
            let name = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
                .await
                .expect("PostgreSQL is running");
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
            let mut url = url::Url::parse(&postgres_admin_url()).unwrap();
            url.set_path(&format!("/{name}"));
            config.database.url = Some(url.to_string());
            config.database.max_connections = 8;
            pg_database = Some(name);
        }
        adjust(&mut config);
        let server = server::start(config.clone()).await.expect("server starts");
        let origin = format!("http://{}", server.addr);
        TestServer {
            backend,
            origin,
            client: reqwest::Client::new(),
            server: Some(server),
            config,
            dir,
            pg_database,
            tokens: Default::default(),
        }
    }

    /// Stops the server and starts it again on the same data (database and data directory),
    /// with `adjust` applied to its configuration: a restart, or an upgrade of settings.
    pub async fn restart(&mut self, adjust: impl FnOnce(&mut Config)) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
        adjust(&mut self.config);
        self.config.listen = "127.0.0.1:0".parse().unwrap();
        let server = server::start(self.config.clone())
            .await
            .expect("server restarts");
        self.origin = format!("http://{}", server.addr);
        self.server = Some(server);
    }

    /// A local account with a password of its own (the one-time password replaced), for
    /// browser sign-in; returns the password.
    pub async fn local_user(&self, username: &str, tenants: &[&str], roles: &[&str]) -> String {
        use tessera_core::auth::users::{LocalUser, LocalUsers};
        let users = LocalUsers::new(self.state().db.clone());
        let one_time = users
            .add(&LocalUser {
                username: username.into(),
                tenants: tenants.iter().map(|t| t.to_string()).collect(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                patient: None,
            })
            .await
            .unwrap();
        let password = format!("{username}-password-123");
        users
            .change_password(username, &one_time, &password)
            .await
            .unwrap();
        password
    }

    /// PostgreSQL: refreshes the planner's statistics (as the owner), as autovacuum would
    /// after a bulk load. Nothing to do on SQLite.
    pub async fn analyze(&self) {
        if let (Backend::Postgres, Some(url)) = (self.backend, &self.config.database.url) {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            conn.execute("ANALYZE").await.unwrap();
        }
    }

    pub fn state(&self) -> &tessera_core::http::AppState {
        &self.server.as_ref().unwrap().state
    }

    pub fn fhir(&self, tenant: &str) -> String {
        format!("{}/t/{tenant}/fhir", self.origin)
    }

    pub async fn tenant(&self, slug: &str) {
        self.state()
            .tenants
            .create(slug, None)
            .await
            .expect("tenant created");
    }

    pub async fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.client.request(method, url);
        // Requests sign in as the tenant's org-admin through the server's local issuer,
        // unless the test passes its own `authorization` header (an empty one sends none).
        let explicit = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"));
        if explicit.is_none() {
            if let Some(tenant) = tenant_of(url) {
                req = req.bearer_auth(self.token(&tenant, &["org-admin"]));
            }
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/fhir+json")
                .body(body.to_string());
        }
        for (k, v) in headers {
            if !(k.eq_ignore_ascii_case("authorization") && v.is_empty()) {
                req = req.header(*k, *v);
            }
        }
        let response = req.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A token from the server's local issuer for `tenant` with `roles`.
    /// Cached per tenant and roles, as a client keeps its token.
    pub fn token(&self, tenant: &str, roles: &[&str]) -> String {
        let key = format!("{tenant}:{}", roles.join(","));
        if let Some(t) = self.tokens.lock().unwrap().get(&key) {
            return t.clone();
        }
        let token = self.token_for(TokenRequest {
            tenant: tenant.into(),
            subject: format!("test-{}", roles.join("-")),
            username: Some(format!("test {}", roles.join(" "))),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            patient: None,
            lifetime_seconds: 3600,
        });
        self.tokens.lock().unwrap().insert(key, token.clone());
        token
    }

    pub fn token_for(&self, request: TokenRequest) -> String {
        self.state()
            .auth
            .local
            .as_ref()
            .expect("the local issuer is on in tests")
            .issue(&request)
            .expect("token issued")
    }

    /// A request with `token` as its bearer token (`None`: no Authorization header).
    pub async fn as_user(
        &self,
        token: Option<&str>,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}")).unwrap_or_default();
        self.request(method, url, body, &[("authorization", &auth)])
            .await
    }

    /// A raw request builder signed in as the URL tenant's org-admin.
    pub fn authed(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let req = self.client.request(method, url);
        match tenant_of(url) {
            Some(tenant) => req.bearer_auth(self.token(&tenant, &["org-admin"])),
            None => req,
        }
    }

    pub async fn get(&self, url: &str) -> Reply {
        self.request(Method::GET, url, None, &[]).await
    }

    pub async fn post(&self, url: &str, body: &Value) -> Reply {
        self.request(Method::POST, url, Some(body), &[]).await
    }

    pub async fn put(&self, url: &str, body: &Value) -> Reply {
        self.request(Method::PUT, url, Some(body), &[]).await
    }

    pub async fn delete(&self, url: &str) -> Reply {
        self.request(Method::DELETE, url, None, &[]).await
    }

    /// Number of versions of `ty` ever stored in `tenant` (type history).
    pub async fn version_count(&self, tenant: &str, ty: &str) -> usize {
        let reply = self
            .get(&format!("{}/{ty}/_history?_count=1000", self.fhir(tenant)))
            .await
            .expect(200);
        reply.body["entry"].as_array().map_or(0, Vec::len)
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
        if let Some(name) = self.pg_database.take() {
            let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
                .await
                .unwrap();
            admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await
                .unwrap();
        }
    }
}

/// Runs an async test body against both backends: `both_backends!(name, body_fn)` makes the
/// tests `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = support::TestServer::start(support::Backend::Sqlite).await;
                $body(&server).await;
                server.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let server = support::TestServer::start(support::Backend::Postgres).await;
                $body(&server).await;
                server.stop().await;
            }
        }
    };
}

/// Runs async test functions taking a `Backend` on each backend: `each_backend!(a, b)` makes
/// the tests `a::sqlite`, `a::postgres`, `b::sqlite`, ...
#[macro_export]
macro_rules! each_backend {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::Backend::Postgres).await
            }
        })*
    };
}
