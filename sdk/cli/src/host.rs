//! A real Tessera server in this process (`tessera_core::server::start`) on SQLite in a
//! folder of its own, for `tessera-pack test` and `tessera-pack run`. Everything goes through
//! its HTTP API as a client would: install as a platform admin, enable as the organization's
//! admin with consent to exactly what the pack requests, call routes with a user's token from
//! the server's local issuer.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use reqwest::Method;
use serde_json::{json, Value};
use tessera_core::auth::local::TokenRequest;
use tessera_core::config::Config;
use tessera_core::server::RunningServer;
use tessera_plugins::Manifest;

pub struct LocalHost {
    server: Option<RunningServer>,
    pub origin: String,
    client: reqwest::Client,
    /// Removed when the host is dropped, unless the caller chose the folder.
    _scratch: Option<tempfile::TempDir>,
}

/// An HTTP answer: status, headers and body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The server's explanation in an OperationOutcome, or the body as text.
    pub fn reason(&self) -> String {
        let body = self.json();
        let issues: Vec<&str> = body["issue"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["diagnostics"].as_str())
            .collect();
        if issues.is_empty() {
            self.text()
        } else {
            issues.join("; ")
        }
    }
}

impl LocalHost {
    /// Starts a server listening on `listen`, keeping its data in `data_dir` (a scratch folder
    /// removed afterwards when `None`). Unsigned packs are accepted: this is a developer's
    /// server.
    pub async fn start(listen: SocketAddr, data_dir: Option<PathBuf>) -> Result<LocalHost> {
        let (data_dir, scratch) = match data_dir {
            Some(dir) => (dir, None),
            None => {
                let scratch = tempfile::Builder::new()
                    .prefix("tessera-pack-host-")
                    .tempdir()
                    .context("cannot create a scratch folder for the local server")?;
                (scratch.path().join("data"), Some(scratch))
            }
        };
        let mut config = Config {
            listen,
            data_dir,
            ..Config::default()
        };
        config.packs.allow_unsigned = true;
        config.packs.poll_ms = 100;
        // The pack under test alone: the server's own bundled packs would add contributions
        // the author did not ask for, and clash with a pack of the same id and version.
        config.packs.bundled = false;
        let server = tessera_core::server::start(config)
            .await
            .context("starting the local Tessera server")?;
        let origin = format!("http://{}", server.addr);
        Ok(LocalHost {
            server: Some(server),
            origin,
            client: reqwest::Client::new(),
            _scratch: scratch,
        })
    }

    fn server(&self) -> &RunningServer {
        self.server
            .as_ref()
            .expect("the server runs until shutdown")
    }

    /// A bearer token from the server's local issuer.
    pub fn token(&self, tenant: &str, roles: &[String]) -> Result<String> {
        let issuer = self
            .server()
            .state
            .auth
            .local
            .as_ref()
            .context("the local issuer is off")?;
        issuer
            .issue(&TokenRequest {
                tenant: tenant.to_string(),
                subject: format!("tessera-pack-{}", roles.join("-")),
                username: Some(format!("Test {}", roles.join(" "))),
                roles: roles.to_vec(),
                patient: None,
                lifetime_seconds: 24 * 3600,
            })
            .map_err(|e| anyhow::anyhow!("issuing a token for roles {roles:?}: {e}"))
    }

    pub async fn create_tenant(&self, slug: &str) -> Result<()> {
        self.server()
            .state
            .tenants
            .create(slug, None)
            .await
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("creating organization {slug}: {e}"))
    }

    /// Sends a request; `token` None sends none.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        headers: &[(String, String)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Answer> {
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("sending a request to {url}"))?;
        Ok(Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await?.to_vec(),
        })
    }

    /// Installs an archive server-wide, as a platform admin acting from `tenant`.
    pub async fn install(&self, tenant: &str, archive: Vec<u8>) -> Result<()> {
        let token = self.token(tenant, &["platform-admin".into()])?;
        let url = format!("{}/api/admin/packs", self.origin);
        let answer = self
            .send(
                Method::POST,
                &url,
                Some(&token),
                &[],
                Some(("application/gzip", archive)),
            )
            .await?;
        if answer.status != 201 {
            bail!(
                "the server refused to install the pack ({}): {}",
                answer.status,
                answer.reason()
            );
        }
        Ok(())
    }

    /// Enables the pack for `tenant` with consent to what its manifest requests.
    pub async fn enable(
        &self,
        tenant: &str,
        manifest: &Manifest,
        config: Option<&Value>,
        secrets: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        let token = self.token(tenant, &["org-admin".into()])?;
        let url = format!(
            "{}/api/admin/tenants/{tenant}/packs/{}",
            self.origin, manifest.id
        );
        let mut request = json!({
            "version": manifest.version.to_string(),
            "consent": manifest.permissions,
        });
        if let Some(config) = config {
            request["config"] = config.clone();
        }
        if !secrets.is_empty() {
            request["secrets"] = json!(secrets);
        }
        let answer = self
            .send(
                Method::PUT,
                &url,
                Some(&token),
                &[],
                Some(("application/json", request.to_string().into_bytes())),
            )
            .await?;
        if answer.status != 200 {
            bail!(
                "enabling the pack for {tenant} failed ({}): {}",
                answer.status,
                answer.reason()
            );
        }
        Ok(())
    }

    /// Stores a FHIR resource (PUT when it has an id, POST otherwise) or runs a Bundle, as
    /// the organization's admin.
    pub async fn store(&self, tenant: &str, resource: &Value) -> Result<()> {
        let token = self.token(tenant, &["org-admin".into()])?;
        let base = self.fhir_base(tenant);
        let ty = resource["resourceType"].as_str().unwrap_or_default();
        let (method, url) = match (ty, resource["id"].as_str()) {
            ("Bundle", _) => (Method::POST, base),
            (ty, Some(id)) => (Method::PUT, format!("{base}/{ty}/{id}")),
            (ty, None) => (Method::POST, format!("{base}/{ty}")),
        };
        let answer = self
            .send(
                method,
                &url,
                Some(&token),
                &[],
                Some(("application/fhir+json", resource.to_string().into_bytes())),
            )
            .await?;
        if !(200..300).contains(&answer.status) {
            bail!(
                "the server refused it ({}): {}",
                answer.status,
                answer.reason()
            );
        }
        if ty == "Bundle" {
            for (i, entry) in answer.json()["entry"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let status = entry["response"]["status"].as_str().unwrap_or("");
                if !(status.starts_with('2')) {
                    bail!(
                        "Bundle entry {i} failed: {status} {}",
                        entry["response"]["outcome"]
                    );
                }
            }
        }
        Ok(())
    }

    /// Reads `type/id` as the organization's admin.
    pub async fn read(&self, tenant: &str, resource_type: &str, id: &str) -> Result<Option<Value>> {
        let token = self.token(tenant, &["org-admin".into()])?;
        let url = format!("{}/{resource_type}/{id}", self.fhir_base(tenant));
        let answer = self
            .send(Method::GET, &url, Some(&token), &[], None)
            .await?;
        Ok((answer.status == 200).then(|| answer.json()))
    }

    pub fn fhir_base(&self, tenant: &str) -> String {
        format!("{}/t/{tenant}/fhir", self.origin)
    }

    pub fn pack_base(&self, tenant: &str, pack: &str) -> String {
        format!("{}/t/{tenant}/packs/{pack}", self.origin)
    }

    /// The server's state, for calls that have no HTTP route yet (events, identifiers).
    pub fn state(&self) -> &tessera_core::http::AppState {
        &self.server().state
    }

    pub fn addr(&self) -> SocketAddr {
        self.server().addr
    }

    /// Stops the server, letting in-flight requests finish.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(server) = self.server.take() {
            server.shutdown().await?;
        }
        Ok(())
    }
}
