//! The test OpenID provider (`core/tests/oidc/server.js`, npm `oidc-provider` serving
//! Keycloak-shaped realms), started per test as a child process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::{json, Value};

pub struct Provider {
    pub origin: String,
    child: Child,
    /// Closing stdin stops the provider; kept open for the provider's lifetime.
    _stdin: ChildStdin,
    http: reqwest::Client,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const CLIENT: &str = "tessera";

/// Installs the provider's npm packages (exact versions from package-lock.json) the first
/// time a test needs them, so `cargo test` alone works on a fresh clone.
fn install(dir: &std::path::Path) {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if dir.join("node_modules/oidc-provider").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm runs (Node 20+ and npm are needed for the OIDC tests)");
    assert!(status.success(), "`npm ci` failed in {}", dir.display());
}
pub const SECRET: &str = "tessera-secret";

impl Provider {
    pub fn start() -> Provider {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        install(&dir);
        let mut child = Command::new("node")
            .arg("server.js")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (Node 20+ is needed for the OIDC tests)");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).expect("provider prints its origin");
        Provider {
            origin: ready["origin"].as_str().unwrap().to_string(),
            child,
            _stdin: stdin,
            http: reqwest::Client::new(),
        }
    }

    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.origin)
    }

    /// An access token from Keycloak's direct access grant (password grant).
    pub async fn password_token(&self, realm: &str, username: &str) -> String {
        let response = self
            .http
            .post(format!(
                "{}/protocol/openid-connect/token",
                self.issuer(realm)
            ))
            .basic_auth(CLIENT, Some(SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=password&username={username}&password=pw&scope=openid"
            ))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A token of exactly `claims`, signed with the realm's key (`key = "realm"`) or with a
    /// key in no key set (`"other"`); `header` overrides header fields.
    pub async fn sign(&self, realm: &str, claims: Value, header: Value, key: &str) -> String {
        self.http
            .post(format!("{}/test/realms/{realm}/sign", self.origin))
            .json(&json!({"claims": claims, "header": header, "key": key}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn public_key_pem(&self, realm: &str) -> String {
        self.http
            .get(format!(
                "{}/test/realms/{realm}/public-key.pem",
                self.origin
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn rotate(&self, realm: &str) -> String {
        let body: Value = self
            .http
            .post(format!("{}/test/realms/{realm}/rotate", self.origin))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["kid"].as_str().unwrap().to_string()
    }

    /// How often the realm's key set has been fetched.
    pub async fn jwks_requests(&self, realm: &str) -> u64 {
        let body: Value = self
            .http
            .get(format!("{}/test/stats", self.origin))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["jwks_requests"][realm].as_u64().unwrap_or(0)
    }
}
