//! Bad input to `tessera-pack`: each mistake gets an error naming the file (and line) and
//! saying what to fix. These need no build: `check` reads the sources.

mod support;

use std::path::{Path, PathBuf};

use support::{fails, ok, tessera_pack};

/// A fresh specialty scaffold in a scratch folder.
fn scaffold(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    ok(tessera_pack(dir.path()).args(["new", name, "--kind", "specialty"]));
    let pack = dir.path().join(name);
    (dir, pack)
}

fn edit(pack: &Path, file: &str, change: impl FnOnce(String) -> String) {
    let path = pack.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = change(text.clone());
    assert_ne!(changed, text, "the edit of {file} changed nothing");
    std::fs::write(path, changed).unwrap();
}

fn write(pack: &Path, file: &str, text: &str) {
    let path = pack.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `check` fails; its error output.
fn check_fails(pack: &Path) -> String {
    fails(tessera_pack(pack).arg("check"))
}

#[test]
fn the_scaffold_passes_check() {
    let (_dir, pack) = scaffold("clean-pack");
    let out = ok(tessera_pack(&pack).arg("check"));
    assert!(out.contains("✓ pack.yaml: clean-pack 0.1.0"), "{out}");
    assert!(out.contains("✓ 1 test file with 2 cases"), "{out}");
}

#[test]
fn a_malformed_manifest_names_its_line() {
    let (_dir, pack) = scaffold("broken-yaml");
    edit(&pack, "pack.yaml", |t| {
        t.replace("version: 0.1.0", "version: 0.1.0\ncolour: blue")
    });
    let err = check_fails(&pack);
    assert!(
        err.contains("pack.yaml line 5: unknown field `colour`, expected one of `id`"),
        "{err}"
    );
    edit(&pack, "pack.yaml", |t| {
        t.replace("colour: blue\n", "")
            .replace("version: 0.1.0", "version: one")
    });
    let err = check_fails(&pack);
    assert!(
        err.contains("pack.yaml line 4: version: unexpected character"),
        "{err}"
    );
    edit(&pack, "pack.yaml", |t| {
        t.replace("version: one", "version: 0.1.0")
            .replace("  features:\n", "  features\n")
    });
    let err = check_fails(&pack);
    assert!(err.contains("pack.yaml line"), "{err}");
    // Nothing else is said about a pack whose manifest does not parse, and the exit says so.
    assert!(err.contains("1 problem in"), "{err}");
    let err = fails(tessera_pack(&pack).arg("build"));
    assert!(
        err.contains("pack.yaml line"),
        "build refuses it before compiling: {err}"
    );
}

#[test]
fn unknown_permissions_resource_types_and_roles_are_named() {
    let (_dir, pack) = scaffold("bad-permissions");
    edit(&pack, "pack.yaml", |t| {
        t.replace(
            "permissions:\n",
            "permissions:\n  fhir:\n    Patient: [read, frobnicate]\n",
        )
    });
    let err = check_fails(&pack);
    assert!(err.contains("pack.yaml line 11:"), "{err}");
    assert!(
        err.contains("unknown variant `frobnicate`") && err.contains("`read`"),
        "{err}"
    );

    edit(&pack, "pack.yaml", |t| {
        t.replace("Patient: [read, frobnicate]", "Patiant: [read]")
    });
    let err = check_fails(&pack);
    assert!(
        err.contains("pack.yaml line 11: permissions.fhir: Patiant is not a FHIR R4 resource type; did you mean Patient?"),
        "{err}"
    );

    edit(&pack, "pack.yaml", |t| {
        t.replace("Patiant: [read]", "Patient: [read]")
            .replace("roles: [clinician, nurse]", "roles: [clinician, surgeon]")
    });
    let err = check_fails(&pack);
    assert!(err.contains("pack.yaml line 15: permissions.features.greet.roles: surgeon is not a Tessera role; use one of"), "{err}");

    edit(&pack, "pack.yaml", |t| {
        t.replace("  features:\n", "  files: [/etc]\n  features:\n")
    });
    let err = check_fails(&pack);
    assert!(
        err.contains("pack.yaml line 12:") && err.contains("unknown field `files`"),
        "{err}"
    );
}

#[test]
fn an_abi_the_host_lacks_lists_the_ones_it_serves() {
    let (_dir, pack) = scaffold("future-abi");
    edit(&pack, "pack.yaml", |t| {
        t.replace("abi: 0.1.0", "abi: 0.9.0")
    });
    let err = check_fails(&pack);
    assert!(
        err.contains(
            "pack.yaml line 8: abi 0.9.0 is not served by this Tessera, which serves 0.1.0"
        ),
        "{err}"
    );
}

#[test]
fn a_rule_with_invalid_json_logic_is_refused() {
    let (_dir, pack) = scaffold("bad-rule");
    write(&pack, "rules/broken.yaml", "id: broken\ndescription: Uses an operator JSON Logic lacks\nlogic:\n  frobnicate: [1, 2]\n");
    let err = check_fails(&pack);
    assert!(
        err.contains(
            "rules/broken.yaml line 4 (logic): invalid JSON Logic: unknown operator 'frobnicate'"
        ),
        "{err}"
    );
    write(
        &pack,
        "rules/broken.yaml",
        "id: broken\ndescription: No logic\n",
    );
    let err = check_fails(&pack);
    assert!(
        err.contains("rules/broken.yaml line 1 (logic): the rule file has no 'logic'"),
        "{err}"
    );
    write(
        &pack,
        "rules/broken.yaml",
        "id: adult\ndescription: Same id\nlogic: true\n",
    );
    let err = check_fails(&pack);
    assert!(
        err.contains("rules/broken.yaml line 1: id adult is already used by rules/adult.yaml"),
        "{err}"
    );
}

#[test]
fn a_form_that_references_a_missing_item_is_refused() {
    let (_dir, pack) = scaffold("bad-form");
    edit(&pack, "forms/visit-note.yaml", |t| {
        t + "  - linkId: follow-up\n    type: string\n    text: Follow-up plan\n    enableWhen:\n      - {question: weigth, operator: exists, answer: true}\n"
    });
    let err = check_fails(&pack);
    assert!(
        err.contains("forms/visit-note.yaml line 1"),
        "the line of the reference: {err}"
    );
    assert!(err.contains("(items[2] 'follow-up')"), "{err}");
    assert!(err.contains("'weigth'"), "{err}");

    // A locale entry for an item the form does not have.
    edit(&pack, "forms/visit-note.yaml", |t| {
        t.replace("question: weigth", "question: weight")
    });
    edit(&pack, "pack.yaml", |t| t + "locales: [hi]\n");
    write(
        &pack,
        "locales/hi.yaml",
        "forms:\n  visit-note:\n    items:\n      reasn: मुलाक़ात का कारण\n",
    );
    let err = check_fails(&pack);
    assert!(err.contains("locales/hi.yaml line 4"), "{err}");
    assert!(err.contains("reasn"), "{err}");
}

#[test]
fn a_malformed_test_file_names_its_line() {
    let (_dir, pack) = scaffold("bad-test");
    write(
        &pack,
        "tests/more.yaml",
        "cases:\n  - name: typo\n    reqest: { path: /hello/x }\n    expect: { status: 200 }\n",
    );
    let err = check_fails(&pack);
    assert!(err.contains("tests/more.yaml line 3: cases[0]: unknown field `reqest`, expected one of `name`, `request`"), "{err}");
    write(&pack, "tests/more.yaml", "fixtures: [fixtures/missing.json]\ncases:\n  - name: x\n    request: { path: /hello/x }\n    expect: { status: 200 }\n");
    let err = check_fails(&pack);
    assert!(
        err.contains("tests/more.yaml: fixture fixtures/missing.json does not exist"),
        "{err}"
    );
}

#[test]
fn bad_names_keys_and_archives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(tessera_pack(dir.path()).args(["new", "Hello Pack", "--kind", "specialty"]));
    assert!(
        err.contains("lower-case letters, digits and dashes"),
        "{err}"
    );
    let err = fails(tessera_pack(dir.path()).args([
        "new",
        "x-pack",
        "--kind",
        "specialty",
        "--sdk",
        "/nowhere",
    ]));
    assert!(err.contains("pass --sdk"), "{err}");
    let err = fails(tessera_pack(dir.path()).arg("check"));
    assert!(
        err.contains("no pack.yaml") && err.contains("tessera-pack new"),
        "{err}"
    );

    let (_dir, pack) = scaffold("unsigned-pack");
    let key = dir.path().join("k.key");
    ok(tessera_pack(dir.path()).args(["keygen", "--out"]).arg(&key));
    let err = fails(tessera_pack(&pack).args(["sign", "--key"]).arg(&key));
    assert!(err.contains("build the pack first"), "{err}");
    write(&pack, "dist/unsigned-pack-0.1.0.tpack", "not an archive");
    let err = fails(tessera_pack(&pack).args(["sign", "--key"]).arg(&key));
    assert!(
        err.contains("dist/unsigned-pack-0.1.0.tpack: the archive is not a gzipped tar"),
        "{err}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = fails(tessera_pack(&pack).args(["sign", "--key"]).arg(&key));
        assert!(
            err.contains("can be read by other users (mode 644); run `chmod 600"),
            "{err}"
        );
        let not_a_key = dir.path().join("plain.key");
        std::fs::write(&not_a_key, "hello").unwrap();
        std::fs::set_permissions(&not_a_key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = fails(tessera_pack(&pack).args(["sign", "--key"]).arg(&not_a_key));
        assert!(
            err.contains("is not a private key from `tessera-pack keygen`"),
            "{err}"
        );
    }
}
