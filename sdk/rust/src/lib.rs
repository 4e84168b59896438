//! Write Tessera packs in Rust.
//!
//! A pack is a WebAssembly component that a Tessera server runs in a sandbox, with nothing
//! but what an organization's admin granted it (`docs/packs.md`). This crate is everything a
//! pack's code touches: it wraps the `tessera:pack@0.1.0` ABI so that a pack is one function
//! returning a [`Pack`] — its routes and handlers — exported with [`export_pack!`]. The pack's
//! id (from `pack.yaml`), forms (`forms/`) and rules (`rules/`) are embedded and registered
//! with it at compile time.
//!
//! ```
//! use serde_json::json;
//! use tessera_pack_sdk::prelude::*;
//!
//! fn pack() -> Pack {
//!     Pack::new().route(
//!         Route::get("/hello/{name}").requires(Permission::feature("greet", Action::Read)),
//!         hello,
//!     )
//! }
//!
//! fn hello(request: &Request) -> Result<Response> {
//!     let name = request.param("name").unwrap_or("there");
//!     Response::json(&json!({"greeting": format!("Hello, {name}!")}))
//! }
//!
//! # /*
//! export_pack!(pack);
//! # */
//! # export_pack!(pack, root = "tests/fixtures/demo-pack");
//! ```
//!
//! What a handler can reach, each limited to what the organization granted:
//!
//! | module | what |
//! |---|---|
//! | [`fhir`] | read, search ([`fhir::SearchParams`]), create, update, transactions ([`fhir::BundleBuilder`]) |
//! | [`config`] | the organization's configuration (typed through serde) and secrets |
//! | [`kv`] | a key-value store private to the pack in the organization |
//! | [`outbound`] | HTTP requests to granted origins |
//! | [`log`] | the server's log |
//!
//! Build packs for `wasm32-wasip2` with `tessera-pack build`; the pack author guide
//! (`docs/pack-author-guide.md`) goes from nothing to a signed pack in a running server. The
//! crate also builds for the host, so handlers' pure logic can be unit-tested with plain
//! `cargo test`; calls into the host (FHIR, kv, config, outbound HTTP, log) panic there.
#![deny(missing_docs)]

// The generated bindings and `export_pack!` name this crate by its absolute path, which must
// also resolve inside the crate itself.
extern crate self as tessera_pack_sdk;

#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings;

pub mod config;
mod error;
mod export;
pub mod fhir;
pub mod json;
pub mod kv;
pub mod log;
pub mod outbound;
mod pack;
pub mod query;
mod request;
mod response;
mod routing;

pub use error::{Error, ErrorKind, Result};
pub use pack::{Action, Event, Interaction, Pack, Permission, Route};
pub use query::Query;
pub use request::{Caller, Method, Request, RequestBuilder};
pub use response::Response;

/// What most packs need, in one `use tessera_pack_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        config, export_pack, fhir, kv, log, outbound, Action, Caller, Error, ErrorKind, Event,
        Interaction, Method, Pack, Permission, Query, Request, Response, Result, Route,
    };
}

/// Support for the code `export_pack!` generates; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::exports::tessera::pack::handlers::Guest;
    pub use crate::bindings::tessera::pack::types as abi;
    pub use crate::export::{
        handle_event, handle_route, handle_webhook, register, validate_identifier, Content,
    };
    pub use tessera_pack_sdk_macros::include_content;
    pub use wit_bindgen::rt as wit_bindgen_rt;
}

/// Exports a pack: `export_pack!(pack)` where `fn pack() -> Pack` declares what it
/// contributes. Use it once, in the crate's `lib.rs`.
///
/// It also embeds, at compile time, the pack's id from `pack.yaml`, every form in `forms/`
/// and every rule in `rules/` (YAML with `id`, `description` and `logic`), all beside the
/// crate's `Cargo.toml`; a file that does not parse is a compile error naming it.
/// `export_pack!(pack, root = "path")` reads them from `path` (relative to `Cargo.toml`)
/// instead.
///
/// Cargo rebuilds when an embedded file changes. It cannot see a file added to `forms/` or
/// `rules/`; `tessera-pack build` tells it, a bare `cargo build` needs a `cargo clean -p`.
#[macro_export]
macro_rules! export_pack {
    ($definition:path) => {
        $crate::export_pack!($definition, root = ".");
    };
    ($definition:path, root = $root:literal) => {
        #[doc(hidden)]
        pub struct __TesseraPackExports;

        const _: () = {
            use $crate::__private::abi;

            const CONTENT: $crate::__private::Content = $crate::__private::include_content!($root);

            impl $crate::__private::Guest for __TesseraPackExports {
                fn register() -> abi::Registration {
                    $crate::__private::register($definition(), &CONTENT)
                }

                fn handle_route(
                    request: abi::Request,
                ) -> ::core::result::Result<abi::Response, ::std::string::String> {
                    $crate::__private::handle_route($definition(), request)
                }

                fn handle_event(
                    event: abi::Event,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::handle_event($definition(), event)
                }

                fn handle_webhook(
                    name: ::std::string::String,
                    request: abi::Request,
                ) -> ::core::result::Result<abi::Response, ::std::string::String> {
                    $crate::__private::handle_webhook($definition(), name, request)
                }

                fn validate_identifier(
                    system: ::std::string::String,
                    value: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::validate_identifier($definition(), system, value)
                }
            }
        };

        $crate::bindings::__export_pack_bindings!(__TesseraPackExports);
    };
}
