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
    /// A fresh instance in `store`, not yet called.
    pub async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Instance> {
        match self {
            Bindings::V0_1(pre) => Ok(Instance::V0_1(v0_1::instantiate(pre, store).await?)),
        }
    }
}

/// One instance of a pack, of the ABI version it was built for.
pub enum Instance {
    V0_1(v0_1::Pack),
}

impl Instance {
    pub async fn register(&self, store: &mut Store<HostState>) -> wasmtime::Result<Registration> {
        match self {
            Instance::V0_1(pack) => v0_1::register(pack, store).await,
        }
    }

    pub async fn handle_route(
        &self,
        store: &mut Store<HostState>,
        request: RouteRequest,
    ) -> wasmtime::Result<Result<PackResponse, String>> {
        match self {
            Instance::V0_1(pack) => v0_1::handle_route(pack, store, request).await,
        }
    }

    pub async fn handle_webhook(
        &self,
        store: &mut Store<HostState>,
        name: &str,
        request: RouteRequest,
    ) -> wasmtime::Result<Result<PackResponse, String>> {
        match self {
            Instance::V0_1(pack) => v0_1::handle_webhook(pack, store, name, request).await,
        }
    }

    pub async fn handle_event(
        &self,
        store: &mut Store<HostState>,
        event: &PackEvent,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Instance::V0_1(pack) => v0_1::handle_event(pack, store, event).await,
        }
    }

    pub async fn validate_identifier(
        &self,
        store: &mut Store<HostState>,
        system: &str,
        value: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Instance::V0_1(pack) => v0_1::validate_identifier(pack, store, system, value).await,
        }
    }
}
