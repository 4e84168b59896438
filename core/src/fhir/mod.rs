//! FHIR R4: validation, versioned storage, interactions, Bundles and the CapabilityStatement.

pub mod access;
pub mod bundle;
pub mod capability;
pub mod criteria;
pub mod engine;
pub mod extensions;
pub mod group_commit;
pub mod index;
pub mod outcome;
pub mod schema;
pub mod search;
pub mod store;
pub mod validate;
