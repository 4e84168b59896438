//! Runs the write-path validation over every resource file in a directory (e.g. HL7's official R4 examples from
//! `npm pack hl7.fhir.r4.examples@4.0.1`) and prints each rejection, to find where the
//! validator is stricter than the specification's own examples.
//!
//! cargo run --release --example validate_examples -- path/to/package
fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: validate_examples <dir>");
    let schema = tessera_core::fhir::schema::SchemaValidator::load();
    let (mut total, mut rejected) = (0, 0);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let Some(ty) = value["resourceType"].as_str() else {
            continue;
        };
        if !schema.is_resource_type(ty) {
            continue;
        }
        total += 1;
        if let Err(issues) = schema.validate(&value) {
            rejected += 1;
            println!(
                "{}: {}",
                path.file_name().unwrap().to_string_lossy(),
                issues
                    .iter()
                    .map(|i| i.diagnostics.as_str())
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
    }
    println!("{total} resources, {rejected} rejected");
}
