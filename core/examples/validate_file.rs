//! Validates every resource of every Bundle in a directory against the R4 schema and reports
//! failures and the time taken. Useful when refreshing the vendored schema.
//!
//! cargo run --release --example validate_file -- ../shared/data/synthea
use std::time::Instant;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: validate_file <dir-or-file>");
    let schema = tessera_core::fhir::schema::SchemaValidator::load();
    let files =
        tessera_core::import::files_to_import(std::path::Path::new(&dir)).expect("readable path");
    let (mut count, mut failed) = (0, 0);
    let started = Instant::now();
    for file in files {
        let bundle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        for entry in bundle["entry"].as_array().into_iter().flatten() {
            count += 1;
            if let Err(issues) = schema.validate(&entry["resource"]) {
                failed += 1;
                eprintln!(
                    "{}: {:?}",
                    file.display(),
                    issues.iter().map(|i| &i.diagnostics).collect::<Vec<_>>()
                );
            }
        }
    }
    println!(
        "{count} resources, {failed} invalid, {:?}",
        started.elapsed()
    );
}
