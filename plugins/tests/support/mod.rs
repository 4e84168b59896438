//! Shared test support.
pub mod packs;
