//! FHIR search (issue #3): the search-parameter registry built from HL7's R4 definitions,
//! the FHIRPath subset their expressions need, index extraction, request parsing, the SQL
//! translation, execution with includes and paging snapshots, and result shaping.

pub mod execute;
pub mod extract;
pub mod fhirpath;
pub mod registry;
pub mod request;
pub mod shape;
pub mod snapshot;
pub mod sql;
