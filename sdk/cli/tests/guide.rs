//! The pack author guide, run as written: its marked code blocks, in order, in a scratch
//! folder, with `tessera-pack` and `tessera` from this build on the PATH. Then the pack it
//! leads to must equal `examples/hello-pack`.
//!
//! Markers in `docs/pack-author-guide.md` (HTML comments, invisible when rendered):
//!
//! - `<!-- guide:run -->` before a ```sh block: run it;
//! - `<!-- guide:file PATH -->` before a block: write its text to PATH;
//! - `<!-- guide:background -->` before a one-line ```sh block: start it and carry on (a
//!   server; it is stopped when the script ends);
//! - `<!-- guide:same-as FOLDER -->`: the current folder must equal FOLDER of the repository
//!   (build output, archives and `Cargo.lock` aside, and the SDK's path in `Cargo.toml`,
//!   which depends on where the pack is).
//!
//! Blocks without a marker (installing the tools, the interactive `run`) are not run. The
//! guide's `127.0.0.1:8080` becomes a free port, so the test never meets another server.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use support::{free_port, pack_target_dir, tessera_binary, workspace};

enum Step {
    Run(String),
    File(String, String),
    Background(String),
    SameAs(String),
}

/// The guide's marked steps, with the line each block starts on.
fn steps(guide: &str) -> Vec<(usize, Step)> {
    let lines: Vec<&str> = guide.lines().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let Some(marker) = line
            .strip_prefix("<!-- guide:")
            .and_then(|l| l.strip_suffix("-->"))
        else {
            i += 1;
            continue;
        };
        let (kind, argument) = marker.trim().split_once(' ').unwrap_or((marker.trim(), ""));
        let argument = argument.trim().to_string();
        if kind == "same-as" {
            steps.push((i + 1, Step::SameAs(argument)));
            i += 1;
            continue;
        }
        let open = i + 1;
        assert!(
            lines.get(open).is_some_and(|l| l.starts_with("```")),
            "guide line {}: a guide:{kind} marker must be followed by a fenced block",
            i + 1
        );
        let close = (open + 1..lines.len())
            .find(|&j| lines[j].starts_with("```"))
            .unwrap_or_else(|| panic!("guide line {}: the block is never closed", open + 1));
        let body = lines[open + 1..close].join("\n") + "\n";
        let step = match kind {
            "run" => Step::Run(body),
            "file" => Step::File(argument, body),
            "background" => Step::Background(body),
            other => panic!("guide line {}: unknown marker guide:{other}", i + 1),
        };
        steps.push((open + 1, step));
        i = close + 1;
    }
    steps
}

/// One bash script doing the steps; same-as folders are recorded in `$GUIDE_STATE/same-as`.
fn script(steps: &[(usize, Step)], port: u16) -> String {
    let mut script = String::from(
        "set -euo pipefail\n\
         trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT\n",
    );
    for (n, (line, step)) in steps.iter().enumerate() {
        script.push_str(&format!("echo '### guide line {line}' >&2\n"));
        match step {
            Step::Run(body) => script.push_str(body),
            Step::File(path, body) => script.push_str(&format!(
                "mkdir -p \"$(dirname '{path}')\"\ncat > '{path}' <<'GUIDE_EOF'\n{body}GUIDE_EOF\n"
            )),
            Step::Background(body) => {
                let command = body.trim();
                assert!(
                    !command.contains('\n'),
                    "guide line {line}: a background block is one command"
                );
                script.push_str(&format!(
                    "{command} > \"$GUIDE_STATE/background-{n}.log\" 2>&1 &\n"
                ));
            }
            Step::SameAs(folder) => script.push_str(&format!(
                "printf '%s\\t%s\\n' \"$PWD\" '{folder}' >> \"$GUIDE_STATE/same-as\"\n"
            )),
        }
    }
    script.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
}

/// The files of a pack folder by relative path, without what builds and runs produce.
fn pack_files(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if ["target", "dist", "Cargo.lock"].contains(&relative.as_str()) {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                out.insert(relative, normalize_sdk_path(&text));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

/// `tessera-pack-sdk = { path = "..." }` names the SDK relative to wherever the pack is.
fn normalize_sdk_path(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.starts_with("tessera-pack-sdk = { path = ") {
                "tessera-pack-sdk = { path = \"<sdk>\" }".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_guide_runs_as_written_and_makes_the_example() {
    let root = workspace();
    let guide = std::fs::read_to_string(root.join("docs/pack-author-guide.md")).unwrap();
    let steps = steps(&guide);
    let port = free_port();
    let script = script(&steps, port);
    for essential in [
        "tessera-pack new hello-pack",
        "tessera-pack check",
        "tessera-pack build",
        "tessera-pack test",
        "tessera-pack keygen",
        "tessera-pack sign",
        "/api/admin/packs",
        "/packs/hello-pack/hello/World",
    ] {
        assert!(
            script.contains(essential),
            "the guide's runnable steps include {essential:?}"
        );
    }
    assert!(steps
        .iter()
        .any(|(_, s)| matches!(s, Step::Background(b) if b.contains("tessera serve"))));

    // The tools, as an author who installed them has them.
    let scratch = tempfile::tempdir().unwrap();
    let bin = scratch.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tessera-pack"), bin.join("tessera-pack"))
        .unwrap();
    std::os::unix::fs::symlink(tessera_binary(), bin.join("tessera")).unwrap();
    let state = scratch.path().join("state");
    let work = scratch.path().join("work");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env("GUIDE_STATE", &state)
        .env("CARGO_TARGET_DIR", pack_target_dir())
        .env("NO_COLOR", "1")
        .env("TESSERA_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let background: String = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("background-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        output.status.success(),
        "the guide's steps failed (the last `### guide line` says where)\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{background}"
    );

    // What the guide says each step prints.
    assert!(
        stdout.contains("created specialty pack hello-pack"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 passed") && stdout.contains("6 passed"),
        "both test runs: {stdout}"
    );
    assert!(stdout.contains("✓ the second visit counts two"), "{stdout}");
    assert!(
        stdout.contains("signed hello-pack 0.1.0 with key"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"id\":\"hello-pack\""),
        "the install answer: {stdout}"
    );
    assert!(
        stdout.contains(r#"{"message":"Welcome, World!"}"#),
        "the route answers: {stdout}"
    );

    // The pack the guide leads to is the example.
    let same_as =
        std::fs::read_to_string(state.join("same-as")).expect("the guide has a same-as marker");
    for line in same_as.lines() {
        let (made, example) = line.split_once('\t').unwrap();
        let made = pack_files(Path::new(made));
        let expected = pack_files(&root.join(example));
        let made_names: Vec<&String> = made.keys().collect();
        let expected_names: Vec<&String> = expected.keys().collect();
        assert_eq!(
            made_names, expected_names,
            "the files of the guide's pack and {example}"
        );
        for (file, text) in &expected {
            assert_eq!(
                &made[file], text,
                "{example}/{file} differs from what the guide makes"
            );
        }
    }
}

#[test]
fn markers_are_parsed_with_their_blocks() {
    let guide = "intro\n<!-- guide:run -->\n```sh\necho hi\n```\n<!-- guide:file a/b.txt -->\n```text\nx\n```\n<!-- guide:same-as examples/x -->\n```sh\nnot run\n```\n";
    let steps = steps(guide);
    assert_eq!(steps.len(), 3);
    assert!(matches!(&steps[0], (3, Step::Run(body)) if body == "echo hi\n"));
    assert!(matches!(&steps[1], (7, Step::File(path, body)) if path == "a/b.txt" && body == "x\n"));
    assert!(matches!(&steps[2], (_, Step::SameAs(folder)) if folder == "examples/x"));
    let script = script(&steps, 9999);
    assert!(
        script.contains("cat > 'a/b.txt' <<'GUIDE_EOF'\nx\nGUIDE_EOF\n"),
        "{script}"
    );
}
