//! The pack test format beyond routes — webhooks called without a user, events delivered with
//! the resource read from the store, secrets and inline fixtures — and `tessera-pack run`
//! serving a pack until Ctrl-C. The pack is the country scaffold with a webhook, an event
//! handler and a route added through the SDK.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use support::{free_port, http, ok, tessera_pack};

const EXTRA_ROUTES: &str = r#"
        .route(Route::get("/last-event"), |_: &Request| {
            let last: Option<String> = kv::get_json("last-event")?;
            Response::json(&json!({ "last": last }))
        })
        .webhook("ping", [Method::Post], |request: &Request| {
            if request.header("x-hook-secret") != config::secret("hook-secret").as_deref() {
                return Err(Error::denied("unknown sender"));
            }
            let body: serde_json::Value = request.json()?;
            Response::json(&json!({ "pong": body["n"], "user": request.caller().user }))
        })
        .on_event("Patient", [Interaction::Create], |event: &Event| {
            let family = event.resource.as_ref().and_then(|r| r["name"][0]["family"].as_str());
            match family {
                Some(family) => kv::set_json("last-event", &format!("{}:{family}", event.id)),
                None => Err(Error::bad_request(format!("Patient/{} has no family name", event.id))),
            }
        })
"#;

const HOOKS_TEST: &str = r#"secrets: { hook-secret: s3cret-value }
fixtures:
  - { resourceType: Patient, id: named, name: [{ family: Rao }] }
  - { resourceType: Patient, id: nameless, gender: female }
cases:
  - name: a webhook with the shared secret
    request:
      method: POST
      path: /_hooks/ping
      headers: { x-hook-secret: s3cret-value }
      body: { n: 7 }
    expect: { status: 200, body: { pong: 7, user: "" } }
  - name: a webhook without it
    request: { method: POST, path: /_hooks/ping, body: { n: 7 } }
    expect: { status: 403, body: { error: denied } }
  - name: an event for a patient with a name
    event: { resourceType: Patient, id: named, interaction: create }
    expect: { ok: true }
  - name: the event was handled
    request: { path: /last-event }
    expect: { status: 200, body: { last: "named:Rao" } }
  - name: an event the pack refuses
    event: { resourceType: Patient, id: nameless, interaction: create }
    expect: { ok: false, message_contains: has no family name }
  - name: an event it does not subscribe to is ignored
    event: { resourceType: Patient, id: named, interaction: delete }
    expect: { ok: true }
"#;

#[test]
fn webhooks_events_secrets_and_run() {
    let dir = tempfile::tempdir().unwrap();
    ok(tessera_pack(dir.path()).args(["new", "hook-pack", "--kind", "country"]));
    let pack = dir.path().join("hook-pack");
    let lib = pack.join("src/lib.rs");
    let code = std::fs::read_to_string(&lib).unwrap();
    let code = code.replacen(
        "        .identifier_system(",
        &format!(
            "{}        .identifier_system(",
            EXTRA_ROUTES.trim_start_matches('\n')
        ),
        1,
    );
    std::fs::write(&lib, code).unwrap();
    let manifest = std::fs::read_to_string(pack.join("pack.yaml")).unwrap()
        + "config_schema:\n  type: object\n  properties:\n    hook-secret: { type: string, writeOnly: true }\n";
    std::fs::write(pack.join("pack.yaml"), manifest).unwrap();
    std::fs::write(pack.join("tests/hooks.yaml"), HOOKS_TEST).unwrap();

    let out = ok(tessera_pack(&pack).args(["test", "hooks"]));
    for case in [
        "✓ a webhook with the shared secret",
        "✓ a webhook without it",
        "✓ an event for a patient with a name",
        "✓ the event was handled",
        "✓ an event the pack refuses",
        "✓ an event it does not subscribe to is ignored",
        "6 passed",
    ] {
        assert!(out.contains(case), "{case}: {out}");
    }
    assert!(
        !out.contains("national-id.yaml"),
        "the filter picks files: {out}"
    );

    // A wrong expectation on an event says what the pack answered.
    let broken = HOOKS_TEST.replace(
        "expect: { ok: false, message_contains: has no family name }",
        "expect: { ok: true }",
    );
    std::fs::write(pack.join("tests/hooks.yaml"), broken).unwrap();
    let (passed, out, _) = support::run(tessera_pack(&pack).args(["test", "--no-build", "hooks"]));
    assert!(!passed);
    assert!(
        out.contains("ok: expected the pack to handle the event")
            && out.contains("has no family name"),
        "{out}"
    );

    // `run` serves the pack for a demo organization until Ctrl-C.
    let port = free_port();
    let mut server = tessera_pack(&pack)
        .args(["run", "--no-build", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--roles", "clinician"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let token = loop {
        let line = lines.next().expect("run prints a token").unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(token) = line.trim().strip_prefix("export TOKEN=") {
            break token.to_string();
        }
    };
    let curl = lines.next().unwrap().unwrap();
    assert!(
        curl.contains(&format!("http://127.0.0.1:{port}/t/demo/packs/hook-pack/")),
        "the curl example names a route: {printed}{curl}"
    );
    let url = format!("http://127.0.0.1:{port}/t/demo/packs/hook-pack/last-event");
    let (status, body) = http(&url, "GET", Some(&token), None).unwrap();
    assert_eq!((status, body.as_str()), (200, r#"{"last":null}"#));
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    for _ in 0..100 {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "Ctrl-C stops run cleanly");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = server.kill();
    panic!("run did not stop on Ctrl-C");
}
