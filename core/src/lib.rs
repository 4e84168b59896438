//! Tessera's core: configuration, storage with tenant isolation, the FHIR R4 REST API and the
//! operator commands. See `docs/architecture.md` for the map.

pub mod audit;
pub mod auth;
pub mod bench;
pub mod bench_auth;
pub mod bench_packs;
pub mod bench_search;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod events;
pub mod fhir;
pub mod forms;
pub mod http;
pub mod import;
pub mod packs;
pub mod reindex;
pub mod rules;
pub mod server;
pub mod telemetry;
pub mod tenants;
