//! What a pack can reach, one module per capability (Spin's factors): each checks the grant
//! and the per-call budget, then does the work itself or asks the server through
//! [`PackServices`]. The ABI modules (`crate::abi`) only translate types.
//!
//! A call's [`HostState`] is built fresh for every call and dropped with its store, so
//! nothing a pack does in one call is visible in the next except through the FHIR store and
//! its key-value store.

pub mod config;
pub mod fhir;
pub mod http;
pub mod kv;
pub mod log;
pub mod wasi;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::engine::Limits;
use crate::manifest::{FhirInteraction, Manifest};

/// Why a host call failed, as the pack sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum HostError {
    Denied(String),
    NotFound(String),
    Invalid(String),
    Limit(String),
    Unavailable(String),
}

/// A FHIR interaction the server runs for a pack, relative to the tenant's FHIR base.
#[derive(Clone, Debug)]
pub struct FhirRequest {
    pub method: &'static str,
    /// `Patient/123`, `Patient`, or empty for a transaction at the base.
    pub path: String,
    pub query: String,
    pub body: Option<String>,
}

#[derive(Clone, Debug)]
pub struct FhirReply {
    pub status: u16,
    pub body: String,
}

/// What the server does for a pack call, already bound to the tenant, the pack and the
/// calling user: the FHIR service runs with the intersection of the user's grant and the
/// pack's, and the key-value store is this pack's in this tenant.
#[async_trait::async_trait]
pub trait PackServices: Send + Sync {
    async fn fhir(&self, request: FhirRequest) -> Result<FhirReply, HostError>;
    async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, HostError>;
    /// Stores a value; refuses a new key once `max_keys` exist.
    async fn kv_set(&self, key: &str, value: &[u8], max_keys: u64) -> Result<(), HostError>;
    async fn kv_delete(&self, key: &str) -> Result<(), HostError>;
    async fn kv_list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, HostError>;
}

/// For calls that run with no tenant at all (`register`).
pub struct NoServices;

#[async_trait::async_trait]
impl PackServices for NoServices {
    async fn fhir(&self, _: FhirRequest) -> Result<FhirReply, HostError> {
        Err(HostError::Denied("no FHIR access while registering".into()))
    }
    async fn kv_get(&self, _: &str) -> Result<Option<Vec<u8>>, HostError> {
        Err(HostError::Denied(
            "no key-value store while registering".into(),
        ))
    }
    async fn kv_set(&self, _: &str, _: &[u8], _: u64) -> Result<(), HostError> {
        Err(HostError::Denied(
            "no key-value store while registering".into(),
        ))
    }
    async fn kv_delete(&self, _: &str) -> Result<(), HostError> {
        Err(HostError::Denied(
            "no key-value store while registering".into(),
        ))
    }
    async fn kv_list(&self, _: &str, _: usize) -> Result<Vec<String>, HostError> {
        Err(HostError::Denied(
            "no key-value store while registering".into(),
        ))
    }
}

/// What the organization's admin granted a pack: its manifest's requests, consented to.
#[derive(Clone, Debug, Default)]
pub struct PackGrant {
    pub fhir: BTreeMap<String, BTreeSet<FhirInteraction>>,
    pub http: Vec<http::OriginPattern>,
}

impl PackGrant {
    pub fn from_manifest(manifest: &Manifest) -> PackGrant {
        PackGrant::from_permissions(&manifest.permissions)
    }

    /// From the permissions an admin consented to.
    pub fn from_permissions(permissions: &crate::manifest::RequestedPermissions) -> PackGrant {
        PackGrant {
            fhir: permissions
                .fhir
                .iter()
                .map(|(ty, i)| (ty.clone(), i.iter().copied().collect()))
                .collect(),
            http: permissions
                .http
                .iter()
                .filter_map(|o| http::OriginPattern::parse(o).ok())
                .collect(),
        }
    }

    pub fn allows_fhir(&self, ty: &str, interaction: FhirInteraction) -> bool {
        self.fhir.get(ty).is_some_and(|i| i.contains(&interaction))
    }
}

/// Everything one call runs with.
#[derive(Clone)]
pub struct CallContext {
    pub tenant: String,
    pub pack_id: String,
    pub pack_version: String,
    pub grant: Arc<PackGrant>,
    /// The configuration without secrets, at the caller's location, as the JSON text the
    /// pack is handed: written once per settings change, not once per call.
    pub config: Arc<str>,
    pub secrets: Arc<BTreeMap<String, String>>,
    pub services: Arc<dyn PackServices>,
}

impl CallContext {
    /// A context with nothing granted (for `register`).
    pub fn registering(manifest: &Manifest) -> CallContext {
        CallContext {
            tenant: String::new(),
            pack_id: manifest.id.clone(),
            pack_version: manifest.version.to_string(),
            grant: Arc::new(PackGrant::default()),
            config: Arc::from("{}"),
            secrets: Arc::new(BTreeMap::new()),
            services: Arc::new(NoServices),
        }
    }
}

/// Counters one call spends.
#[derive(Default)]
pub(crate) struct Budget {
    pub host_calls: u32,
    pub log_lines: u32,
    pub log_suppressed: u32,
}

/// The data of one call's store.
pub struct HostState {
    pub(crate) call: CallContext,
    pub(crate) limits: Arc<Limits>,
    pub(crate) budget: Budget,
    pub(crate) http: reqwest::Client,
    pub(crate) store_limits: StoreLimits,
    pub(crate) output: wasi::Output,
    /// Epoch ticks the guest has run for.
    pub(crate) ticks: u64,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    pub(crate) fn new(call: CallContext, limits: Arc<Limits>, http: reqwest::Client) -> HostState {
        let output = wasi::Output::new();
        let wasi = wasi::empty_context(&output);
        let store_limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes())
            .instances(64)
            .tables(64)
            .memories(4)
            .trap_on_grow_failure(true)
            .build();
        HostState {
            call,
            limits,
            budget: Budget::default(),
            http,
            store_limits,
            output,
            ticks: 0,
            wasi,
            table: ResourceTable::new(),
        }
    }

    /// Puts a call's own context in place in a store made ahead of it (`crate::ready`),
    /// with a fresh budget and deadline count.
    pub(crate) fn begin(&mut self, call: CallContext) {
        self.call = call;
        self.budget = Budget::default();
        self.ticks = 0;
    }

    /// Counts one host call against the budget.
    pub(crate) fn spend_call(&mut self) -> Result<(), HostError> {
        self.budget.host_calls += 1;
        if self.budget.host_calls > self.limits.host_calls {
            return Err(HostError::Limit(format!(
                "a call may make at most {} host calls",
                self.limits.host_calls
            )));
        }
        Ok(())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
