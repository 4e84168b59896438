//! Running the real `tessera-pack` and `tessera` binaries, and a real `tessera serve`.
//!
//! Packs built by the tests share one cargo target folder (`target/tmp/pack-builds`), so
//! their wasm dependencies compile once per run rather than once per pack; each test uses
//! its own pack name, so their components never overwrite each other's.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("rust-toolchain.toml").exists())
        .expect("the workspace root")
        .to_path_buf()
}

/// The cargo target folder the tests' packs share.
pub fn pack_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("pack-builds")
}

/// `tessera-pack`, with the shared target folder.
pub fn tessera_pack(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera-pack"));
    command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", pack_target_dir())
        .env("NO_COLOR", "1");
    command
}

/// A `tessera` command: the server's own command line, run by `tessera-pack tessera`, which
/// links the same server this build of `tessera-pack` tests with (no second build of the
/// server, and never a stale one).
pub fn tessera_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tessera-command");
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("tessera");
        let text = format!(
            "#!/bin/sh\nexec '{}' tessera \"$@\"\n",
            env!("CARGO_BIN_EXE_tessera-pack")
        );
        // Written whole then renamed, so tests in parallel never run a half-written script.
        let partial = dir.join(format!("tessera.{}", std::process::id()));
        std::fs::write(&partial, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::rename(&partial, &script).unwrap();
        script
    })
}

/// `tessera` (the server and operator CLI) in `dir`.
pub fn tessera(dir: &Path) -> Command {
    let mut command = Command::new(tessera_binary());
    command.current_dir(dir).env("TESSERA_LOG", "warn");
    command
}

/// Runs a command; (success, stdout, stderr).
pub fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().expect("the command starts");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs a command that must succeed; its stdout.
#[track_caller]
pub fn ok(command: &mut Command) -> String {
    let (ok, out, err) = run(command);
    assert!(ok, "{command:?} failed\nstdout:\n{out}\nstderr:\n{err}");
    out
}

/// Runs a command that must fail; its stderr.
#[track_caller]
pub fn fails(command: &mut Command) -> String {
    let (ok, out, err) = run(command);
    assert!(
        !ok,
        "{command:?} should have failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    err
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tessera serve` in `dir`, stopped when dropped.
pub struct Server {
    child: Child,
    pub origin: String,
}

impl Server {
    /// Starts `tessera serve` in `dir` (its tessera.yaml and ./data) on a free port, and
    /// waits until `/healthz` answers.
    pub fn start(dir: &Path) -> Server {
        let port = free_port();
        let child = tessera(dir)
            .arg("serve")
            .env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tessera serve starts");
        let server = Server {
            child,
            origin: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if http(&format!("{}/healthz", server.origin), "GET", None, None)
                .is_ok_and(|(s, _)| s == 200)
            {
                return server;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("tessera serve did not answer /healthz within a minute");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking HTTP request: (status, body).
pub fn http(
    url: &str,
    method: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Result<(u16, String), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut request = client.request(method.parse().unwrap(), url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        Ok((status, response.text().await.map_err(|e| e.to_string())?))
    })
}

/// A token from the server's local issuer in `dir`.
pub fn token(dir: &Path, tenant: &str, roles: &str) -> String {
    ok(tessera(dir).args([
        "token", "--tenant", tenant, "--sub", "tester", "--roles", roles,
    ]))
    .trim()
    .to_string()
}
