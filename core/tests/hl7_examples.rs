//! HL7's official R4 examples (npm package hl7.fhir.r4.examples@4.0.1), data this code was
//! not written against: each is stored through the REST API on both backends and read back
//! unchanged apart from server metadata. The package is fetched with npm into the target
//! directory on first use (or taken from TESSERA_HL7_EXAMPLES).

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use support::TestServer;

/// Upstream examples that break R4's own rules, with what the refusal must say.
const KNOWN_INVALID: &[(&str, &str)] = &[
    // Its id has 68 characters; R4 ids have at most 64.
    (
        "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json",
        "is not a valid FHIR id",
    ),
    // Codes with stray trailing no-break spaces ("CHEST\u{a0}"); codes may not end in whitespace.
    ("CodeSystem-v2-0550.json", "CodeSystem.concept[74].code"),
    (
        "Bundle-v2-valuesets.json",
        "Bundle.entry[814].resource.concept[74].code",
    ),
];

fn examples_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("TESSERA_HL7_EXAMPLES") {
        return PathBuf::from(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/hl7-examples");
    let package = root.join("package");
    if !package.join("Patient-example.json").exists() {
        std::fs::create_dir_all(&root).unwrap();
        let packed = Command::new("npm")
            .args(["pack", "hl7.fhir.r4.examples@4.0.1", "--silent"])
            .current_dir(&root)
            .output()
            .expect("npm is needed to fetch HL7's examples");
        assert!(
            packed.status.success(),
            "npm pack failed: {}",
            String::from_utf8_lossy(&packed.stderr)
        );
        let unpacked = Command::new("tar")
            .args(["xzf", "hl7.fhir.r4.examples-4.0.1.tgz"])
            .current_dir(&root)
            .status()
            .unwrap();
        assert!(unpacked.success());
    }
    package
}

fn without_meta(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("meta").and_then(Value::as_object_mut) {
        meta.remove("versionId");
        meta.remove("lastUpdated");
        if meta.is_empty() {
            v.as_object_mut().unwrap().remove("meta");
        }
    }
    v
}

async fn stores_official_examples(s: &TestServer) {
    s.tenant("hl7").await;
    let base = s.fhir("hl7");
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut stored, mut refused) = (0, Vec::new());
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let Ok(resource) = serde_json::from_slice::<Value>(&std::fs::read(&file).unwrap()) else {
            continue;
        };
        let (Some(ty), Some(id)) = (resource["resourceType"].as_str(), resource["id"].as_str())
        else {
            continue;
        };
        let reply = s.put(&format!("{base}/{ty}/{id}"), &resource).await;
        if ty == "AuditEvent" {
            // The audit trail is the server's own: no client writes AuditEvents.
            assert_eq!(reply.status.as_u16(), 405, "{name}: {}", reply.body);
            continue;
        }
        match KNOWN_INVALID.iter().find(|(n, _)| *n == name) {
            Some((_, says)) => {
                assert_eq!(reply.status.as_u16(), 400, "{name} should be refused");
                reply.outcome();
                assert!(
                    reply.body.to_string().contains(says),
                    "{name}: {}",
                    reply.body
                );
                refused.push(name);
            }
            None => {
                assert!(
                    reply.status.is_success(),
                    "{name} was refused: {}",
                    reply.body
                );
                let read = s.get(&format!("{base}/{ty}/{id}")).await.expect(200);
                assert_eq!(
                    without_meta(read.body),
                    without_meta(resource),
                    "{name} changed when stored"
                );
                stored += 1;
            }
        }
    }
    assert_eq!(refused.len(), KNOWN_INVALID.len());
    assert!(stored > 5000, "only {stored} examples found");
}
both_backends!(official_examples, stores_official_examples);
