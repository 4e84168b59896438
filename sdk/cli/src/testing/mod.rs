//! `tessera-pack test`: the pack's `tests/*.yaml` run against a real Tessera host.

pub mod format;
pub mod matching;
pub mod pack_log;
pub mod runner;
