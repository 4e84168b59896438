//! FHIR search (issue #3, in progress): the search-parameter registry built from HL7's R4
//! definitions and the FHIRPath subset their expressions need. Indexing and queries build on
//! these; today conditional interactions still use `fhir/criteria.rs`.

pub mod extract;
pub mod fhirpath;
pub mod registry;
pub mod request;
