//! Loading pack versions and running their handlers.
//!
//! A pack version is compiled (or loaded from the disk cache), linked against its ABI into an
//! `InstancePre`, and asked once what it registers. Each call then gets a fresh store and
//! instance from the pooling allocator, with the memory cap, the epoch deadline and a
//! wall-clock timeout, and a permit from its tenant's concurrency limit. Whatever the guest
//! does (trap, loop, exhaust memory, answer too much) ends that call with a [`CallError`];
//! the store is dropped and the slot returns to the pool.
//!
//! Instantiating and tearing down are kept off the caller's path where a runtime allows it
//! ([`crate::ready`]): a call takes an instance made for its pack version beforehand, and its
//! used store is dropped, and the next instance made, by a background task. Each instance still
//! serves exactly one call.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::{Store, UpdateDeadline};

use crate::abi::{Bindings, Instance, Linkers};
use crate::archive::PackArchive;
use crate::cache::ComponentCache;
use crate::capabilities::{self, CallContext, HostState};
use crate::engine::{Limits, PackEngine};
use crate::manifest::Manifest;
use crate::ready::{Prepared, ReadyPool};
use crate::registration::Registration;

/// The user a call runs for, as the pack sees them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Caller {
    pub user: String,
    pub username: Option<String>,
    pub roles: Vec<String>,
    pub patient: Option<String>,
    pub location: Option<String>,
}

/// A request to a pack route or webhook.
#[derive(Clone, Debug, Default)]
pub struct RouteRequest {
    pub method: String,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub caller: Caller,
}

#[derive(Clone, Debug)]
pub struct PackResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct PackEvent {
    pub resource_type: String,
    pub id: String,
    pub interaction: String,
    pub body: String,
}

/// How a call ended when it did not answer normally.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum CallError {
    #[error("the pack ran past its deadline of {0} ms and was stopped")]
    Timeout(u64),
    #[error("the pack exceeded its memory limit of {0} MiB and was stopped")]
    OutOfMemory(u32),
    #[error("the pack failed: {0}")]
    Trap(String),
    #[error("the pack answered with an error: {0}")]
    Failed(String),
    #[error("the pack's response is larger than the limit of {0} bytes")]
    ResponseTooLarge(usize),
    #[error("the pack's response is malformed: {0}")]
    BadResponse(String),
    #[error("too many pack calls are running for this organization; try again shortly")]
    Busy,
    #[error("the pack could not be started: {0}")]
    Unavailable(String),
}

impl CallError {
    /// A short word for logs, metrics and audit.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout(_) => "timeout",
            CallError::OutOfMemory(_) => "memory",
            CallError::Trap(_) => "trap",
            CallError::Failed(_) => "failed",
            CallError::ResponseTooLarge(_) => "response-too-large",
            CallError::BadResponse(_) => "bad-response",
            CallError::Busy => "busy",
            CallError::Unavailable(_) => "unavailable",
        }
    }
}

/// A pack version ready to run.
pub struct LoadedPack {
    pub manifest: Manifest,
    pub content_hash: String,
    pub registration: Registration,
    /// The archive's declarative content by path (`forms/`, `rules/`, `locales/`).
    pub content: std::collections::BTreeMap<String, Vec<u8>>,
    pub(crate) bindings: Bindings,
}

impl std::fmt::Debug for LoadedPack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LoadedPack({}@{})",
            self.manifest.id, self.manifest.version
        )
    }
}

pub struct PackRuntime {
    engine: PackEngine,
    linkers: Linkers,
    cache: ComponentCache,
    stores: StoreMaker,
    ready: Arc<ReadyPool>,
    /// By content hash: every version is compiled and registered once per process.
    loaded: Mutex<HashMap<String, Arc<LoadedPack>>>,
    tenants: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl PackRuntime {
    /// `cache_dir`: where compiled components are kept between starts.
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> anyhow::Result<PackRuntime> {
        let engine = PackEngine::new(&limits)?;
        let linkers = Linkers::new(engine.engine())?;
        let cache = ComponentCache::new(engine.engine(), cache_dir);
        let limits = Arc::new(limits);
        let stores = StoreMaker {
            engine: engine.engine().clone(),
            limits: limits.clone(),
            http: capabilities::http::client(),
        };
        Ok(PackRuntime {
            ready: Arc::new(ReadyPool::new(limits.ready_instances as usize)),
            engine,
            linkers,
            cache,
            stores,
            loaded: Mutex::new(HashMap::new()),
            tenants: Mutex::new(HashMap::new()),
        })
    }

    pub fn limits(&self) -> &Limits {
        self.stores.limits()
    }

    /// Instances made ahead of calls, waiting for one.
    pub fn ready_instances(&self) -> usize {
        self.ready.waiting()
    }

    /// Already loaded in this process?
    pub fn cached(&self, content_hash: &str) -> Option<Arc<LoadedPack>> {
        self.loaded.lock().unwrap().get(content_hash).cloned()
    }

    /// Compiles (or loads from cache), links and registers a pack version. Compilation is
    /// CPU-bound, so it runs off the async threads.
    pub async fn load(&self, archive: &PackArchive) -> anyhow::Result<Arc<LoadedPack>> {
        if let Some(loaded) = self.cached(&archive.content_hash) {
            return Ok(loaded);
        }
        let engine = self.engine.engine().clone();
        let bytes = archive.component.clone();
        let hash = archive.content_hash.clone();
        let compile = || self.cache.load(&engine, &hash, &bytes);
        // On a multi-threaded runtime `block_in_place` lets the other tasks move off this
        // thread while Cranelift works; a single-threaded runtime has nowhere to move them.
        let multi_threaded = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let component = if multi_threaded {
            tokio::task::block_in_place(compile)
        } else {
            compile()
        }
        .map_err(|e| anyhow::anyhow!("pack.wasm is not a valid component: {e:#}"))?;
        let bindings = self
            .linkers
            .prepare(&archive.manifest.abi, &component)
            .map_err(|e| {
                anyhow::anyhow!("pack.wasm does not fit ABI {}: {e:#}", archive.manifest.abi)
            })?;
        let context = CallContext::registering(&archive.manifest);
        let registration = self
            .run(
                context,
                Target::Registering(&bindings),
                |instance, store| Box::pin(async move { instance.register(store).await.map(Ok) }),
            )
            .await
            .map_err(|e| anyhow::anyhow!("register failed: {e}"))?;
        let registration = registration
            .check(&archive.manifest)
            .map_err(|e| anyhow::anyhow!("what the pack registers does not fit pack.yaml: {e}"))?;
        let loaded = Arc::new(LoadedPack {
            manifest: archive.manifest.clone(),
            content_hash: archive.content_hash.clone(),
            registration,
            content: archive.content.clone(),
            bindings,
        });
        self.loaded
            .lock()
            .unwrap()
            .insert(archive.content_hash.clone(), loaded.clone());
        Ok(loaded)
    }

    fn permit(&self, tenant: &str) -> Result<OwnedSemaphorePermit, CallError> {
        let semaphore = self
            .tenants
            .lock()
            .unwrap()
            .entry(tenant.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.limits().tenant_concurrency as usize)))
            .clone();
        semaphore.try_acquire_owned().map_err(|_| CallError::Busy)
    }

    /// Runs one export in a fresh instance with every limit applied. For a loaded pack, the
    /// instance is the one made ahead for its version if one waits, and the next is made
    /// after the call.
    async fn run<T, F>(
        &self,
        context: CallContext,
        target: Target<'_>,
        call: F,
    ) -> Result<T, CallError>
    where
        F: for<'a> FnOnce(
            &'a Instance,
            &'a mut Store<HostState>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = wasmtime::Result<Result<T, String>>> + Send + 'a>,
        >,
    {
        let started = Instant::now();
        let (bindings, reuse) = match target {
            Target::Registering(bindings) => (bindings, None),
            Target::Pack(pack) => (&pack.bindings, Some(pack)),
        };
        let (mut store, ready) = match reuse.and_then(|pack| self.ready.take(&pack.content_hash)) {
            Some(Prepared {
                mut store,
                instance,
            }) => {
                store.data_mut().begin(context);
                store.set_epoch_deadline(1);
                (store, Some(instance))
            }
            None => (self.stores.store(context), None),
        };
        // The timeout bounds the whole call, time spent waiting in host calls included.
        let outcome = tokio::time::timeout(self.limits().deadline(), async {
            let instance = match ready {
                Some(instance) => instance,
                None => self.instantiate_in_line(bindings, &mut store).await?,
            };
            call(&instance, &mut store).await
        })
        .await;
        let state = store.data_mut();
        state.flush_output();
        let result = match outcome {
            Err(_) => Err(CallError::Timeout(self.limits().deadline_ms)),
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(message))) => Err(CallError::Failed(capabilities::log::truncate(
                &message, 1000,
            ))),
            Ok(Err(err)) => Err(classify(self.limits(), &err, &state.output.stderr_text())),
        };
        if let Err(err) = &result {
            let call = &state.call;
            tracing::warn!(target: "pack", pack = %call.pack_id, version = %call.pack_version,
                tenant = %call.tenant, kind = err.kind(), elapsed_ms = started.elapsed().as_millis() as u64,
                "pack call stopped: {err}");
        }
        match reuse {
            Some(pack) => self.ready.after_call(store, &self.stores, pack),
            None => drop(store),
        }
        result
    }

    /// Instantiates in the call's own store; when every slot is taken, an instance made
    /// ahead gives its slot back and the call tries once more.
    async fn instantiate_in_line(
        &self,
        bindings: &Bindings,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Instance> {
        match bindings.instantiate(store).await {
            Err(err)
                if err.is::<wasmtime::PoolConcurrencyLimitError>() && self.ready.evict_one() =>
            {
                bindings.instantiate(store).await
            }
            made => made,
        }
    }

    fn check_response(&self, response: PackResponse) -> Result<PackResponse, CallError> {
        let header_bytes: usize = response
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum();
        let limit = self.limits().response_bytes;
        if response.body.len() + header_bytes > limit {
            return Err(CallError::ResponseTooLarge(limit));
        }
        if response.headers.len() > 100 {
            return Err(CallError::BadResponse("more than 100 headers".into()));
        }
        if !(100..=599).contains(&response.status) {
            return Err(CallError::BadResponse(format!(
                "{} is not an HTTP status",
                response.status
            )));
        }
        Ok(response)
    }

    /// Answers a request to one of the pack's routes.
    pub async fn call_route(
        &self,
        pack: &Arc<LoadedPack>,
        context: CallContext,
        request: RouteRequest,
    ) -> Result<PackResponse, CallError> {
        let _permit = self.permit(&context.tenant)?;
        let response = self
            .run(context, Target::Pack(pack), |instance, store| {
                Box::pin(async move { instance.handle_route(store, request).await })
            })
            .await?;
        self.check_response(response)
    }

    /// Answers a call to one of the pack's webhooks.
    pub async fn call_webhook(
        &self,
        pack: &Arc<LoadedPack>,
        context: CallContext,
        name: String,
        request: RouteRequest,
    ) -> Result<PackResponse, CallError> {
        let _permit = self.permit(&context.tenant)?;
        let response = self
            .run(context, Target::Pack(pack), |instance, store| {
                Box::pin(async move { instance.handle_webhook(store, &name, request).await })
            })
            .await?;
        self.check_response(response)
    }

    /// Delivers a resource change the pack subscribed to.
    pub async fn call_event(
        &self,
        pack: &Arc<LoadedPack>,
        context: CallContext,
        event: PackEvent,
    ) -> Result<(), CallError> {
        let _permit = self.permit(&context.tenant)?;
        self.run(context, Target::Pack(pack), |instance, store| {
            Box::pin(async move { instance.handle_event(store, &event).await })
        })
        .await
    }

    /// Asks the pack whether an identifier value is valid; `Ok(Err(reason))` when not.
    pub async fn validate_identifier(
        &self,
        pack: &Arc<LoadedPack>,
        context: CallContext,
        system: String,
        value: String,
    ) -> Result<Result<(), String>, CallError> {
        let _permit = self.permit(&context.tenant)?;
        let outcome = self
            .run(context, Target::Pack(pack), |instance, store| {
                Box::pin(async move {
                    instance
                        .validate_identifier(store, &system, &value)
                        .await
                        .map(Ok)
                })
            })
            .await?;
        Ok(outcome)
    }
}

/// What a call runs: a version being registered (not loaded yet), or a loaded pack.
enum Target<'a> {
    Registering(&'a Bindings),
    Pack(&'a Arc<LoadedPack>),
}

/// Makes the store of one call: its host state, memory cap and epoch deadline.
#[derive(Clone)]
pub(crate) struct StoreMaker {
    engine: wasmtime::Engine,
    limits: Arc<Limits>,
    http: reqwest::Client,
}

impl StoreMaker {
    pub(crate) fn store(&self, context: CallContext) -> Store<HostState> {
        let state = HostState::new(context, self.limits.clone(), self.http.clone());
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.store_limits);
        // Every epoch tick the guest yields to the executor, so a busy pack never holds a
        // server thread for long; once it has run for its deadline it traps.
        let deadline_ticks = self.limits.deadline_ticks();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut context| {
            let state = context.data_mut();
            state.ticks += 1;
            Ok(if state.ticks >= deadline_ticks {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        store
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// What a failed call's error means for the caller.
pub(crate) fn classify(limits: &Limits, err: &wasmtime::Error, stderr: &str) -> CallError {
    let trap = err.downcast_ref::<wasmtime::Trap>();
    if trap == Some(&wasmtime::Trap::Interrupt) {
        return CallError::Timeout(limits.deadline_ms);
    }
    let text = format!("{err:#}");
    if text.contains("forcing trap when growing memory") || stderr.contains("memory allocation of")
    {
        return CallError::OutOfMemory(limits.memory_mib);
    }
    if text.contains("maximum concurrent") || text.contains("pooling allocator") {
        return CallError::Busy;
    }
    // A Rust panic prints `panicked at FILE:LINE:COL:` and then its message.
    let mut lines = stderr.lines();
    if let Some(at) = lines.by_ref().find(|l| l.contains("panicked at")) {
        let message = lines.next().unwrap_or("").trim();
        let place = at
            .split("panicked at")
            .nth(1)
            .unwrap_or("")
            .trim_end_matches(':')
            .trim();
        return CallError::Trap(format!(
            "panicked: {} (at {place})",
            capabilities::log::truncate(message, 300)
        ));
    }
    match trap {
        Some(trap) => CallError::Trap(trap.to_string()),
        None => CallError::Trap(capabilities::log::truncate(
            text.lines().next().unwrap_or("trap"),
            300,
        )),
    }
}
