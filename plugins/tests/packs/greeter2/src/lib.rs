//! Version 2 of the greeter: the same source, built as another crate so both versions come
//! out of one build and tests can tell which version answered.
#[path = "../../greeter/src/lib.rs"]
mod greeter;
