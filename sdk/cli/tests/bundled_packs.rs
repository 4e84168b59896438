//! The packs Tessera ships (`packs/`) pass `tessera-pack check` and their own tests
//! (`tests/*.yaml`), run by the CLI against a real in-process server, as any author's pack.

mod support;

use support::workspace;

fn run(pack: &str, command: &str) {
    let dir = workspace().join("packs").join(pack);
    // The folder `core/build.rs` builds these packs in: nothing compiles twice.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-pack"))
        .arg(command)
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", workspace().join("target/bundled-packs"))
        .env("NO_COLOR", "1")
        .output()
        .expect("tessera-pack runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tessera-pack {command} failed for packs/{pack}:\n{stdout}\n{stderr}"
    );
    if command == "test" {
        assert!(
            stdout.contains(" passed") && !stdout.contains('✗'),
            "{stdout}"
        );
    }
}

#[test]
fn obstetrics() {
    run("specialty/obstetrics", "check");
    run("specialty/obstetrics", "test");
}

#[test]
fn uk_core() {
    run("country/uk-core", "check");
    run("country/uk-core", "test");
}

#[test]
fn india_abdm() {
    run("country/india-abdm", "check");
    run("country/india-abdm", "test");
}
