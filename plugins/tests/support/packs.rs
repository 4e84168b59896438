//! Test packs built from source (`plugins/tests/packs/`) to wasm32-wasip2, once per test
//! process, into the workspace's target folder; and archives made from them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tessera_plugins::PackArchive;

pub struct BuiltPacks {
    pub greeter_v1: PathBuf,
    pub greeter_v2: PathBuf,
    pub hostile: PathBuf,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("rust-toolchain.toml").exists())
        .expect("the workspace root")
        .to_path_buf()
}

/// Builds the test packs (cargo skips the work when nothing changed).
pub fn built() -> &'static BuiltPacks {
    static BUILT: OnceLock<BuiltPacks> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let target = if target.is_relative() { root.join(target) } else { target };
        eprintln!("building the test packs (wasm32-wasip2) into {}", target.display());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--release", "--locked", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(root.join("plugins/tests/packs/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo to build the test packs");
        assert!(status.success(), "building the test packs failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)");
        let out = target.join("wasm32-wasip2/release");
        BuiltPacks {
            greeter_v1: out.join("greeter.wasm"),
            greeter_v2: out.join("greeter2.wasm"),
            hostile: out.join("hostile.wasm"),
        }
    })
}

/// The greeter's manifest at a version; `http` adds granted origins.
pub fn greeter_manifest(version: &str, http: &[&str]) -> String {
    let origins: Vec<String> = http.iter().map(|o| format!("    - {o}\n")).collect();
    format!(
        "id: greeter
version: {version}
kind: specialty
publisher: Tessera tests
description: Greets people and reads their names
abi: 0.1.0
permissions:
  fhir:
    Patient: [read, search, create]
  http:
{}  features:
    greet:
      description: Be greeted
      roles: [clinician]
config_schema:
  type: object
  additionalProperties: false
  properties:
    greeting: {{ type: string, maxLength: 40 }}
    api-key: {{ type: string, writeOnly: true, minLength: 8 }}
locales: [en]
",
        if origins.is_empty() {
            "    []\n".to_string()
        } else {
            origins.concat()
        }
    )
    .replace("  http:\n    []\n", "  http: []\n")
}

pub fn hostile_manifest() -> String {
    "id: hostile
version: 1.0.0
kind: specialty
publisher: Somebody else
abi: 0.1.0
permissions:
  fhir:
    Patient: [read, search]
"
    .to_string()
}

/// A clinic visit form (`<pack>-visit`): prefill from the patient's record, a required and
/// ranged quantity, a follow-up question shown by enableWhen, a calculated BMI, free text,
/// and answers extracted as Observations.
pub fn visit_form(pack: &str) -> String {
    format!(
        "id: {pack}-visit
version: 1.0.0
title: {{en: Clinic visit, hi: क्लिनिक जाँच}}
items:
  - linkId: age
    type: integer
    text: Age (years)
    prefill: {{var: patient.age}}
  - linkId: weight
    type: quantity
    text: {{en: Weight, hi: वजन}}
    units: [kg]
    min: 2
    max: 300
    required: true
    prefill: {{observation: [http://loinc.org, 29463-7]}}
    observation: {{system: http://loinc.org, code: 29463-7, display: Body weight}}
  - linkId: height
    type: decimal
    text: Height (m)
    min: 0.3
    max: 2.5
    observation: {{system: http://loinc.org, code: 8302-2, display: Body height}}
  - linkId: bmi
    type: decimal
    text: Body mass index
    calculated:
      if:
        - {{missing: [weight, height]}}
        - null
        - {{round: [{{\"/\": [{{var: weight}}, {{\"*\": [{{var: height}}, {{var: height}}]}}]}}, 1]}}
    observation: {{system: http://loinc.org, code: 39156-5, display: Body mass index}}
  - linkId: smoker
    type: boolean
    text: Smokes tobacco
  - linkId: cigarettes
    type: integer
    text: Cigarettes a day
    min: 1
    max: 100
    required: true
    enableWhen:
      - {{question: smoker, operator: \"=\", answer: true}}
  - linkId: notes
    type: text
    text: Notes
    maxLength: 500
"
    )
}

pub fn archive(manifest: &str, wasm: &Path) -> PackArchive {
    let component = std::fs::read(wasm).expect("the built pack");
    let pack = manifest
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("the manifest names the pack")
        .trim();
    let mut content = std::collections::BTreeMap::new();
    content.insert(
        "forms/visit.yaml".to_string(),
        visit_form(pack).into_bytes(),
    );
    content.insert(
        "rules/heavy.yaml".to_string(),
        b"id: heavy\ndescription: Weighs over 100 kg\nlogic: {\">\": [{observation: [http://loinc.org, 29463-7]}, 100]}\n".to_vec(),
    );
    PackArchive::from_parts(manifest.to_string(), component, content).expect("a valid archive")
}
