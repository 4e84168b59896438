//! Tessera's pack host.
//!
//! A pack is a signed archive ([`archive`]) holding a manifest ([`manifest`]), a WebAssembly
//! component and declarative content. The [`runtime`] loads components into one wasmtime
//! engine ([`engine`]), compiled once and cached on disk ([`cache`]), asks each pack version
//! what it contributes ([`registration`]), and runs its handlers in a fresh, limited instance
//! per call, made ahead of the call where it can be (`ready`). Everything a pack can reach goes through one capability module each
//! ([`capabilities`]), which enforces what the organization granted; the bindings for each
//! released ABI version live in [`abi`].
//!
//! This crate knows nothing about storage or HTTP serving: the server (`tessera-core`)
//! persists the registry, decides which tenant runs which version, and gives each call a
//! [`capabilities::PackServices`] bound to the tenant and the calling user.

pub mod abi;
pub mod archive;
mod background;
pub mod cache;
pub mod capabilities;
pub mod engine;
pub mod manifest;
mod ready;
pub mod registration;
pub mod routes;
pub mod runtime;
pub mod signing;

pub use archive::PackArchive;
pub use capabilities::{CallContext, HostError, PackServices};
pub use engine::Limits;
pub use manifest::Manifest;
pub use registration::Registration;
pub use runtime::{CallError, LoadedPack, PackRuntime};
