//! The organization's FHIR R4 store, as the calling user and within the pack's grant.
//!
//! Every call goes through the server's own FHIR API, so validation, search, the patient
//! compartment and the audit trail apply exactly as for any client. What the pack may touch
//! is what `pack.yaml` requested under `permissions.fhir` and the admin consented to, further
//! cut down to what the calling user may do.
//!
//! Resources are `serde_json::Value`s: read one, change what you need, send it back.
//!
//! ```no_run
//! use serde_json::json;
//! use tessera_pack_sdk::fhir::{self, Prefix, SearchParams};
//!
//! # fn example() -> tessera_pack_sdk::Result<()> {
//! let patient = fhir::read("Patient", "p1")?;
//! let weights = fhir::search(
//!     "Observation",
//!     &SearchParams::new()
//!         .reference("subject", "Patient/p1")
//!         .token("code", Some("http://loinc.org"), "29463-7")
//!         .date("date", Prefix::Ge, "2024-01-01"),
//! )?;
//! for observation in weights.matches() {
//!     println!("{}", observation["valueQuantity"]["value"]);
//! }
//! let created = fhir::create(&json!({
//!     "resourceType": "Observation",
//!     "status": "final",
//!     "code": {"text": "Note"},
//!     "subject": {"reference": format!("Patient/{}", patient["id"].as_str().unwrap())},
//! }))?;
//! # let _ = created; Ok(()) }
//! ```

mod bundle;
mod search;

pub use bundle::{new_urn_uuid, BundleBuilder, SearchSet};
pub use search::{Prefix, SearchParams};

use serde_json::Value;

use crate::bindings::tessera::pack::fhir as host;
use crate::error::{host_json, Result};

fn parse(what: &str, text: String) -> Result<Value> {
    serde_json::from_str(&text).map_err(|e| host_json(what, e))
}

/// Reads `type/id`. A missing or deleted resource is a `NotFound` error.
pub fn read(resource_type: &str, id: &str) -> Result<Value> {
    let text = host::read(resource_type, id)
        .map_err(|e| crate::Error::from(e).context(format_args!("reading {resource_type}/{id}")))?;
    parse("the resource read", text)
}

/// Searches `type` with typed parameters; the first page of matches.
pub fn search(resource_type: &str, params: &SearchParams) -> Result<SearchSet> {
    search_raw(resource_type, &params.to_query())
}

/// Searches `type` with a query string already in FHIR syntax and URL-encoded (for example a
/// [`SearchSet::next_page`]).
pub fn search_raw(resource_type: &str, query: &str) -> Result<SearchSet> {
    let text = host::search(resource_type, query).map_err(|e| {
        crate::Error::from(e).context(format_args!("searching {resource_type}?{query}"))
    })?;
    Ok(SearchSet::new(parse("the search result", text)?))
}

/// Creates a resource; the stored resource, with its id and `meta`.
pub fn create(resource: &Value) -> Result<Value> {
    let text = host::create(&resource.to_string()).map_err(|e| {
        crate::Error::from(e).context(format_args!("creating a {}", type_of(resource)))
    })?;
    parse("the created resource", text)
}

/// Updates a resource (it must carry its id), or creates it with that id; the stored
/// resource.
pub fn update(resource: &Value) -> Result<Value> {
    let text = host::update(&resource.to_string()).map_err(|e| {
        crate::Error::from(e).context(format_args!("updating a {}", type_of(resource)))
    })?;
    parse("the updated resource", text)
}

/// Runs a transaction or batch Bundle (see [`BundleBuilder`]); the response Bundle. A
/// transaction that fails stores nothing.
pub fn transaction(bundle: &Value) -> Result<Value> {
    let text = host::transaction(&bundle.to_string()).map_err(|e| {
        crate::Error::from(e).context(format_args!("running a {}", type_of(bundle)))
    })?;
    parse("the transaction response", text)
}

fn type_of(resource: &Value) -> &str {
    match resource["resourceType"].as_str() {
        Some("Bundle") => resource["type"].as_str().unwrap_or("Bundle"),
        Some(ty) => ty,
        None => "resource without a resourceType",
    }
}
