//! The `tessera` binary as an operator uses it: tenant create/list, migrate, import, serve,
//! and pack install/list/enable.

use std::process::{Command, Stdio};
use std::time::Duration;

fn tessera(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.current_dir(dir)
        .env_remove("TESSERA_DATABASE_URL")
        .env("TESSERA_LOG", "warn");
    cmd
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn tenants_import_and_serve_on_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, _) =
        run(tessera(dir.path()).args(["tenant", "create", "clinic-a", "--name", "Clinic A"]));
    assert!(ok && out.contains("clinic-a"), "{out}");
    assert!(
        dir.path().join("data/tessera.db").exists(),
        "SQLite lives under ./data by default"
    );
    let (ok, _, err) = run(tessera(dir.path()).args(["tenant", "create", "clinic-a"]));
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(tessera(dir.path()).args(["tenant", "create", "Bad Slug"]));
    assert!(!ok && err.contains("invalid"), "{err}");
    let (ok, out, _) = run(tessera(dir.path()).args(["tenant", "list"]));
    assert!(ok && out.contains("clinic-a\tClinic A"), "{out}");
    let (ok, out, _) = run(tessera(dir.path()).arg("migrate"));
    assert!(ok && out.contains("sqlite"), "{out}");

    // Import: one good bundle, one broken file; the broken one is reported and stores nothing.
    let synthea =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/synthea");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(
        synthea.join("hospitalInformation1559319163815.json"),
        input.join("hospitalInformation1.json"),
    )
    .unwrap();
    std::fs::write(input.join("broken.json"), r#"{"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"method": "POST", "url": "Patient"}, "resource": {"resourceType": "Patient", "gender": "robot"}}]}"#).unwrap();
    let (ok, out, err) = run(tessera(dir.path())
        .args(["import"])
        .arg(&input)
        .args(["--tenant", "clinic-a"]));
    assert!(!ok, "an import with a failed file exits non-zero");
    assert!(out.contains("imported 102 resources from 2 files"), "{out}");
    assert!(
        err.contains("broken.json") && err.contains("1 of 2 files failed"),
        "{err}"
    );
    let (ok, _, err) = run(tessera(dir.path())
        .args(["import"])
        .arg(&input)
        .args(["--tenant", "nobody"]));
    assert!(!ok && err.contains("tessera tenant create nobody"), "{err}");

    // `tessera token` prints a token of the server's local issuer; bad roles are refused.
    let (ok, _, err) = run(tessera(dir.path()).args([
        "token",
        "--tenant",
        "clinic-a",
        "--sub",
        "ops",
        "--roles",
        "superuser",
    ]));
    assert!(!ok && err.contains("not a Tessera role"), "{err}");
    let (ok, token, err) = run(tessera(dir.path()).args([
        "token",
        "--tenant",
        "clinic-a",
        "--sub",
        "ops",
        "--roles",
        "org-admin",
    ]));
    assert!(ok, "{err}");
    let token = token.trim().to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");

    // Serve from the same directory: the imported data is there; SIGTERM stops it cleanly.
    let port = free_port();
    let mut server = tessera(dir.path())
        .arg("serve")
        .env("TESSERA_LOG", "info")
        .env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/t/clinic-a/fhir/Organization/_history?_count=1000");
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok((_, resp)) = reqwest::blocking_get(&url, None) {
            body = resp;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Without a token: 401 and no data.
    let history: serde_json::Value = serde_json::from_str(&body).expect("server answered");
    assert_eq!(history["resourceType"], "OperationOutcome", "{body}");
    let (status, body) = reqwest::blocking_get(&url, Some(&token)).unwrap();
    assert_eq!(status, 200, "{body}");
    let history: serde_json::Value = serde_json::from_str(&body).expect("server answered");
    assert_eq!(history["entry"].as_array().unwrap().len(), 102);
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0");
    let mut log = String::new();
    std::io::Read::read_to_string(server.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(log.contains("shutting down"), "{log}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A tiny blocking GET so this test needs no async runtime.
mod reqwest {
    pub fn blocking_get(url: &str, token: Option<&str>) -> Result<(u16, String), ()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut request = ::reqwest::Client::new().get(url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let r = request.send().await.map_err(|_| ())?;
            let status = r.status().as_u16();
            Ok((status, r.text().await.map_err(|_| ())?))
        })
    }
}

#[path = "../../plugins/tests/support/packs.rs"]
mod test_packs;

#[test]
fn packs_install_list_and_enable_from_the_command_line() {
    let built = test_packs::built();
    let dir = tempfile::tempdir().unwrap();
    let archive = test_packs::archive(
        &test_packs::greeter_manifest("1.2.0", &[]),
        &built.greeter_v1,
    );
    let file = dir.path().join("greeter.tpack");
    std::fs::write(&file, archive.write()).unwrap();
    run(tessera(dir.path()).args(["tenant", "create", "clinic-a"]));

    let (ok, _, err) = run(tessera(dir.path()).args(["pack", "install"]).arg(&file));
    assert!(
        !ok && err.contains("not signed"),
        "unsigned packs are refused by default: {err}"
    );
    let (ok, out, err) = run(tessera(dir.path())
        .env("TESSERA_PACKS_ALLOW_UNSIGNED", "true")
        .args(["pack", "install"])
        .arg(&file));
    assert!(
        ok && out.contains("installed greeter 1.2.0 (signed by unsigned)"),
        "{out}{err}"
    );
    let (ok, out, _) = run(tessera(dir.path()).args(["pack", "list"]));
    assert!(ok && out.contains("greeter\t1.2.0"), "{out}");

    let (ok, out, err) = run(tessera(dir.path()).args(["pack", "enable", "clinic-a", "greeter"]));
    assert!(
        !ok && out.contains("requests:") && err.contains("consent"),
        "{out}{err}"
    );
    let (ok, _, err) = run(tessera(dir.path()).args([
        "pack",
        "enable",
        "clinic-a",
        "greeter@9.9.9",
        "--accept-permissions",
    ]));
    assert!(!ok && err.contains("not installed"), "{err}");
    let (ok, _, err) = run(tessera(dir.path()).args([
        "pack",
        "enable",
        "clinic-a",
        "greeter",
        "--accept-permissions",
        "--pack-config",
        r#"{"greeting": 3}"#,
    ]));
    assert!(
        !ok && err.contains("/greeting"),
        "the schema names the field: {err}"
    );
    let (ok, out, err) = run(tessera(dir.path()).args([
        "pack",
        "enable",
        "clinic-a",
        "greeter@1.2.0",
        "--accept-permissions",
        "--pack-config",
        r#"{"greeting": "Hi"}"#,
    ]));
    assert!(
        ok && out.contains("enabled greeter 1.2.0 for clinic-a"),
        "{out}{err}"
    );
}
