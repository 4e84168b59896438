//! Browser tests: scenarios in `tests/browser/*.js` drive a real headless Chromium
//! (playwright-core over the system's `/usr/bin/chromium`) against a server the Rust test
//! started. A scenario gets the base URL and credentials in environment variables and
//! reports one JSON line on stdout (`tests/browser/harness.js`); `run` asserts it passed and
//! returns the report for further checks.
//!
//! Without Chromium the tests skip with a loud message, unless `TESSERA_REQUIRE_BROWSER` is
//! set (CI sets it), which turns the skip into a failure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

pub struct Browser {
    dir: PathBuf,
    chromium: PathBuf,
}

fn chromium_path() -> PathBuf {
    std::env::var_os("TESSERA_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Installs playwright-core (exact version from package-lock.json) the first time a test
/// needs it, so `cargo test` alone works on a fresh clone.
fn install(dir: &Path) {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if dir.join("node_modules/playwright-core").exists() {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm runs (Node 20+ and npm are needed for the browser tests)");
    assert!(status.success(), "`npm ci` failed in {}", dir.display());
}

impl Browser {
    /// The browser, or None (after saying so loudly) when Chromium is not installed and
    /// `TESSERA_REQUIRE_BROWSER` is not set.
    pub fn get(test: &str) -> Option<Browser> {
        let chromium = chromium_path();
        if !chromium.exists() {
            let message = format!(
                "{} is missing: install it with `apt-get install -y chromium chromium-driver` (or set TESSERA_CHROMIUM)",
                chromium.display()
            );
            if std::env::var_os("TESSERA_REQUIRE_BROWSER").is_some() {
                panic!("{message}; TESSERA_REQUIRE_BROWSER is set, so this is a failure");
            }
            eprintln!("\n!!!!!!!!!! SKIPPED browser test {test}: {message} !!!!!!!!!!\n");
            return None;
        }
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
        install(&dir);
        Some(Browser { dir, chromium })
    }

    /// Runs `tests/browser/<scenario>.js` with `env` (plus `TESSERA_BASE_URL` = `base`) and
    /// returns its report; panics with the report when the scenario failed.
    pub async fn run(&self, scenario: &str, base: &str, env: &[(&str, String)]) -> Value {
        let mut command = tokio::process::Command::new("node");
        command
            .arg(format!("{scenario}.js"))
            .current_dir(&self.dir)
            .env("TESSERA_BASE_URL", base)
            .env("TESSERA_CHROMIUM", &self.chromium)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let output = tokio::time::timeout(std::time::Duration::from_secs(300), command.output())
            .await
            .unwrap_or_else(|_| panic!("browser scenario {scenario} ran for over 5 minutes"))
            .expect("node runs (Node 20+ is needed for the browser tests)");
        // The harness logs its steps to stderr: shown with a failing test's output.
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let report: Value = stdout
            .lines()
            .last()
            .and_then(|line| serde_json::from_str(line).ok())
            .unwrap_or_else(|| {
                panic!(
                    "browser scenario {scenario} did not report (exit {:?}); stdout: {stdout}",
                    output.status.code()
                )
            });
        assert!(
            output.status.success() && report["ok"] == true,
            "browser scenario {scenario} failed at step {}: {}\nurl: {} (status {})\nsteps passed: {}\npage: {}",
            report["failed_step"],
            report["error"].as_str().unwrap_or_default(),
            report["url"],
            report["status"],
            report["steps"],
            report["html"].as_str().unwrap_or_default(),
        );
        report
    }
}
