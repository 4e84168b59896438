//! `tessera-pack` end to end with real parts: a country pack created from the scaffold,
//! checked, compiled to wasm32-wasip2, tested against an in-process server, signed, installed
//! into a running `tessera serve` that trusts the key, enabled, and called over HTTP; a
//! tampered archive refused by that server.

mod support;

use support::{fails, http, ok, tessera, tessera_pack, token, Server};

#[test]
fn new_build_check_test_sign_install_and_call() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let out = ok(tessera_pack(work).args(["new", "national-id", "--kind", "country"]));
    assert!(out.contains("created country pack national-id"), "{out}");
    let pack = work.join("national-id");
    for file in [
        "pack.yaml",
        "src/lib.rs",
        "forms/registration.yaml",
        "rules/adult.yaml",
        "tests/national-id.yaml",
        "fixtures/patient.json",
        ".gitignore",
        "rust-toolchain.toml",
    ] {
        assert!(pack.join(file).is_file(), "the scaffold has {file}");
    }
    let err = fails(tessera_pack(work).args(["new", "national-id", "--kind", "country"]));
    assert!(err.contains("already exists"), "{err}");

    let out = ok(tessera_pack(&pack).arg("check"));
    assert!(out.contains("pack.yaml: national-id 0.1.0"), "{out}");
    assert!(
        out.contains("1 form")
            && out.contains("1 rule")
            && out.contains("1 test file with 4 cases"),
        "{out}"
    );

    let out = ok(tessera_pack(&pack).arg("build"));
    assert!(
        out.contains("dist/national-id-0.1.0.tpack") || out.contains("national-id-0.1.0.tpack"),
        "{out}"
    );
    assert!(
        out.contains("registers 1 route, 1 form, 1 rule, 1 identifier system"),
        "{out}"
    );
    let archive = pack.join("dist/national-id-0.1.0.tpack");
    assert!(archive.is_file());

    // The scaffold's own tests pass against a real host; a broken expectation fails with a
    // diff naming the field.
    let out = ok(tessera_pack(&pack).args(["test", "--no-build"]));
    assert!(out.contains("✓ reads a patient's national id"), "{out}");
    assert!(out.contains("✓ a wrong check digit is not"), "{out}");
    assert!(out.contains("4 passed"), "{out}");
    let tests = pack.join("tests/national-id.yaml");
    let good = std::fs::read_to_string(&tests).unwrap();
    std::fs::write(
        &tests,
        good.replace(
            "valid: true }\n  - name: a patient",
            "valid: false }\n  - name: a patient",
        ),
    )
    .unwrap();
    let (passed, out, err) = support::run(tessera_pack(&pack).args(["test", "--no-build"]));
    assert!(!passed, "{out}");
    assert!(out.contains("✗ reads a patient's national id"), "{out}");
    assert!(
        out.contains("body.valid: expected false, got true"),
        "{out}"
    );
    assert!(
        out.contains("\"valid\": true"),
        "the response body is shown: {out}"
    );
    assert!(
        out.contains("pack log:") && out.contains("DEBUG reading the national id of Patient/p1"),
        "what the pack logged is shown: {out}"
    );
    assert!(err.contains("1 of 4 cases failed"), "{err}");
    std::fs::write(&tests, good).unwrap();

    // A rule added after a build is embedded by the next one: `build` tells cargo the
    // content folders changed, which cargo cannot see by itself.
    std::fs::write(
        pack.join("rules/senior.yaml"),
        "id: senior\ndescription: 65 or older\nlogic: {\">=\": [{var: age}, 65]}\n",
    )
    .unwrap();
    let out = ok(tessera_pack(&pack).arg("build"));
    assert!(out.contains("1 form, 2 rules"), "{out}");
    std::fs::remove_file(pack.join("rules/senior.yaml")).unwrap();
    let out = ok(tessera_pack(&pack).arg("build"));
    assert!(out.contains("1 form, 1 rule"), "{out}");

    // `package` archives a component built elsewhere, here the one `build` made.
    let component = support::pack_target_dir().join("wasm32-wasip2/release/national_id.wasm");
    let repackaged = work.join("repackaged.tpack");
    let out = ok(tessera_pack(&pack)
        .args(["package", "--component"])
        .arg(&component)
        .arg("--out")
        .arg(&repackaged));
    assert!(
        out.contains("registers 1 route, 1 form, 1 rule, 1 identifier system"),
        "{out}"
    );
    let built = tessera_plugins::PackArchive::read(&std::fs::read(&archive).unwrap()).unwrap();
    let packaged =
        tessera_plugins::PackArchive::read(&std::fs::read(&repackaged).unwrap()).unwrap();
    assert_eq!(
        packaged.content_hash, built.content_hash,
        "the same files make the same archive"
    );
    let err = fails(
        tessera_pack(&pack)
            .args(["package", "--component"])
            .arg(pack.join("pack.yaml")),
    );
    assert!(
        err.contains("the server would refuse this pack") && err.contains("not a valid component"),
        "{err}"
    );

    // Keys: the private key is 0600 and never printed; keys are never overwritten.
    let key = work.join("keys/publisher.key");
    let out = ok(tessera_pack(work).args(["keygen", "--out"]).arg(&key));
    let private = std::fs::read_to_string(&key).unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
    let body: String = private
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!out.contains(&body), "the private key is not printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let public = std::fs::read_to_string(work.join("keys/publisher.key.pub")).unwrap();
    assert!(
        out.contains(public.trim()),
        "the public key is printed: {out}"
    );
    let err = fails(tessera_pack(work).args(["keygen", "--out"]).arg(&key));
    assert!(err.contains("already exists"), "{err}");

    let out = ok(tessera_pack(&pack).args(["sign", "--key"]).arg(&key));
    assert!(out.contains("signed national-id 0.1.0"), "{out}");
    let signed = std::fs::read(&archive).unwrap();
    let read = tessera_plugins::PackArchive::read(&signed).unwrap();
    assert!(read.signature.is_some());

    // A server that trusts the key.
    let server_dir = work.join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    std::fs::write(
        server_dir.join("tessera.yaml"),
        format!("packs:\n  trusted_keys:\n    - {}\n", public.trim()),
    )
    .unwrap();
    ok(tessera(&server_dir).args(["tenant", "create", "clinic"]));
    let server = Server::start(&server_dir);
    let admin = token(&server_dir, "clinic", "platform-admin");
    let install = |bytes: Vec<u8>| {
        http(
            &format!("{}/api/admin/packs", server.origin),
            "POST",
            Some(&admin),
            Some(("application/gzip", bytes)),
        )
        .unwrap()
    };

    // Tampered after signing: a file changed, the signature kept.
    let mut tampered = read.clone();
    tampered.content.insert(
        "rules/adult.yaml".into(),
        b"id: adult\ndescription: Anyone\nlogic: true\n".to_vec(),
    );
    let (status, body) = install(tampered.write());
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("signature does not match"), "{body}");

    let (status, body) = install(signed);
    assert_eq!(status, 201, "{body}");
    let out = ok(tessera(&server_dir).args([
        "pack",
        "enable",
        "clinic",
        "national-id",
        "--accept-permissions",
    ]));
    assert!(
        out.contains("enabled national-id 0.1.0 for clinic"),
        "{out}"
    );

    let clinician = token(&server_dir, "clinic", "clinician");
    let fhir = format!("{}/t/clinic/fhir/Patient/p9", server.origin);
    let patient = r#"{"resourceType":"Patient","id":"p9","identifier":[{"system":"https://example.org/national-id","value":"4539578763621486"}]}"#;
    let (status, body) = http(
        &fhir,
        "PUT",
        Some(&token(&server_dir, "clinic", "org-admin")),
        Some(("application/fhir+json", patient.into())),
    )
    .unwrap();
    assert!(status == 201 || status == 200, "{body}");
    let route = format!(
        "{}/t/clinic/packs/national-id/patients/p9/national-id",
        server.origin
    );
    // The server notices an enable made through its database within its poll interval.
    let mut answer = (0, String::new());
    for _ in 0..50 {
        answer = http(&route, "GET", Some(&clinician), None).unwrap();
        if answer.0 != 404 || answer.1.contains("has no national id") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(answer.0, 200, "{}", answer.1);
    let body: serde_json::Value = serde_json::from_str(&answer.1).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"value": "4539578763621486", "valid": true})
    );
    let (status, _) = http(&route, "GET", Some(&admin), None).unwrap();
    assert_eq!(
        status, 403,
        "a platform admin reads no clinical data, through a pack neither"
    );
}

/// Two packs with the same crate name in one shared target folder write the same
/// `<name>.wasm`; each build must still package its own component.
#[test]
fn packs_sharing_a_target_folder_keep_their_own_components() {
    let dir = tempfile::tempdir().unwrap();
    for twin in ["a", "b"] {
        let folder = dir.path().join(twin);
        std::fs::create_dir_all(&folder).unwrap();
        ok(tessera_pack(&folder).args(["new", "twin-pack", "--kind", "specialty"]));
    }
    let a = dir.path().join("a/twin-pack");
    let b = dir.path().join("b/twin-pack");
    let lib = b.join("src/lib.rs");
    let code = std::fs::read_to_string(&lib).unwrap();
    let code = code.replace(
        "    Pack::new().route(",
        "    Pack::new()\n        .route(Route::get(\"/b\"), |_: &Request| Ok(Response::text(\"b\")))\n        .route(",
    );
    std::fs::write(&lib, code).unwrap();
    for (pack, routes) in [
        (&a, "1 route,"),
        (&b, "2 routes,"),
        (&a, "1 route,"),
        (&a, "1 route,"),
    ] {
        let out = ok(tessera_pack(pack).arg("build"));
        assert!(out.contains(routes), "{}: {out}", pack.display());
    }
}
