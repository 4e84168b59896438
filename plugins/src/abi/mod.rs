//! Every released pack ABI, each with its own bindings (Zed's extension host model): a pack
//! runs against the version its manifest declares, so packs built for an old ABI keep
//! working after the host moves on. Adding a version means a new `v*_*.rs` beside the old,
//! and an arm in [`Bindings`]; released ones do not change.

pub mod v0_1;

use semver::Version;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

use crate::capabilities::HostState;
use crate::registration::Registration;
use crate::runtime::{PackEvent, PackResponse, RouteRequest};

/// The ABI versions this host serves.
pub fn supported() -> Vec<Version> {
    vec![Version::new(0, 1, 0)]
}

/// A linker per ABI version, with WASI and that version's capabilities.
pub struct Linkers {
    v0_1: Linker<HostState>,
}

impl Linkers {
    pub fn new(engine: &Engine) -> wasmtime::Result<Linkers> {
        Ok(Linkers {
            v0_1: v0_1::linker(engine)?,
        })
    }

    /// Prepares a component for the ABI its manifest declares.
    pub fn prepare(&self, abi: &Version, component: &Component) -> wasmtime::Result<Bindings> {
        if *abi == Version::new(0, 1, 0) {
            return Ok(Bindings::V0_1(v0_1::prepare(&self.v0_1, component)?));
        }
        wasmtime::bail!(
            "this server does not serve pack ABI {abi}; it serves {}",
            supported()
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// A component prepared against one ABI version (an `InstancePre`).
pub enum Bindings {
    V0_1(v0_1::PackPre<HostState>),
}

impl Bindings {
    pub async fn register(&self, store: &mut Store<HostState>) -> wasmtime::Result<Registration> {
        match self {
            Bindings::V0_1(pre) => v0_1::register(pre, store).await,
        }
    }

    pub async fn handle_route(
        &self,
        store: &mut Store<HostState>,
        request: &RouteRequest,
    ) -> wasmtime::Result<Result<PackResponse, String>> {
        match self {
            Bindings::V0_1(pre) => v0_1::handle_route(pre, store, request).await,
        }
    }

    pub async fn handle_webhook(
        &self,
        store: &mut Store<HostState>,
        name: &str,
        request: &RouteRequest,
    ) -> wasmtime::Result<Result<PackResponse, String>> {
        match self {
            Bindings::V0_1(pre) => v0_1::handle_webhook(pre, store, name, request).await,
        }
    }

    pub async fn handle_event(
        &self,
        store: &mut Store<HostState>,
        event: &PackEvent,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Bindings::V0_1(pre) => v0_1::handle_event(pre, store, event).await,
        }
    }

    pub async fn validate_identifier(
        &self,
        store: &mut Store<HostState>,
        system: &str,
        value: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Bindings::V0_1(pre) => v0_1::validate_identifier(pre, store, system, value).await,
        }
    }
}
