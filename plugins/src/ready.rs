//! Instances made ahead of calls, so that a call does not wait for instantiation or for its
//! used store to be torn down.
//!
//! Instantiating a component and resetting its slot are each a few microseconds when the
//! CPU's caches are warm, but several times that on a server whose cores go idle between
//! requests (docs/performance.md, 2026-12-02 afternoon). Both are work no caller needs to wait
//! for: after a call, the runtime's background thread (`crate::background`, lowest priority)
//! drops the used store and makes the next instance of that pack version, and the next call
//! takes it.
//!
//! What this does not change: each instance serves exactly one call and is then dropped, so
//! nothing a pack does in one call is seen by the next. An instance made ahead runs its
//! instantiation with nothing granted (no tenant, no configuration, no FHIR or key-value
//! access); the call's own context is put in place when a call takes it, before any guest
//! code of the call runs.
//!
//! At most one instance per pack version waits, and at most `packs.limits.ready_instances`
//! in all (each holds a slot of the instance pool). When the pool runs out of slots, instances
//! waiting here are the first to give theirs back.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use wasmtime::Store;

use crate::abi::Instance;
use crate::background::BackgroundWorker;
use crate::capabilities::{CallContext, HostState};
use crate::runtime::{classify, CallError, LoadedPack, StoreMaker};

/// A store with a pack instantiated in it that no call has used.
pub(crate) struct Prepared {
    pub store: Store<HostState>,
    pub instance: Instance,
}

struct Waiting {
    prepared: Prepared,
    made: Instant,
}

#[derive(Default)]
struct State {
    /// By content hash.
    waiting: HashMap<String, Waiting>,
    /// Pack versions the background thread is making an instance of now.
    making: HashSet<String>,
    /// Pack versions whose instantiation failed (a start function that traps or loops):
    /// not made ahead again, their calls instantiate as they come and fail as they did.
    failed: HashSet<String>,
}

impl State {
    /// The instance made longest ago, out of the waiting ones.
    fn remove_oldest(&mut self) -> Option<Waiting> {
        let oldest = self
            .waiting
            .iter()
            .min_by_key(|(_, w)| w.made)
            .map(|(hash, _)| hash.clone())?;
        self.waiting.remove(&oldest)
    }
}

/// Background jobs (a used store to drop, perhaps an instance to make) that may be pending at
/// once. Past it, calls drop their store in line: under load, when the background thread
/// gets no CPU, the work is done by the callers, not queued, so used stores cannot pile up
/// and hold the pool's slots.
const MAX_PENDING: usize = 4;

pub(crate) struct ReadyPool {
    capacity: usize,
    state: Mutex<State>,
    pending: Arc<AtomicUsize>,
    /// Started with the first call that has work to hand over.
    worker: OnceLock<Option<BackgroundWorker>>,
}

impl ReadyPool {
    /// `capacity` 0 turns the pool off: calls instantiate and tear down in line.
    pub fn new(capacity: usize) -> ReadyPool {
        ReadyPool {
            capacity,
            state: Mutex::new(State::default()),
            pending: Arc::new(AtomicUsize::new(0)),
            worker: OnceLock::new(),
        }
    }

    /// The instance made ahead for this pack version, if one is waiting.
    pub fn take(&self, content_hash: &str) -> Option<Prepared> {
        if self.capacity == 0 {
            return None;
        }
        self.state
            .lock()
            .unwrap()
            .waiting
            .remove(content_hash)
            .map(|w| w.prepared)
    }

    /// Gives one waiting instance's slot back to the pool; false when none waits.
    pub fn evict_one(&self) -> bool {
        let evicted = self.state.lock().unwrap().remove_oldest();
        // Dropped outside the lock: tearing down resets the slot's memory.
        evicted.is_some()
    }

    /// After a call of `pack`: hands the used store to the background thread to drop, and
    /// the next instance to make, when few such jobs are pending (drops it in line
    /// otherwise, and makes no instance).
    pub fn after_call(
        self: &Arc<Self>,
        used: Store<HostState>,
        stores: &StoreMaker,
        pack: &Arc<LoadedPack>,
    ) {
        if self.capacity == 0 {
            return drop(used);
        }
        let Some(worker) = self.worker() else {
            return drop(used);
        };
        let Some(pending) = Pending::start(&self.pending) else {
            return drop(used);
        };
        let next = self
            .claim(&pack.content_hash)
            .map(|claim| (claim, stores.clone(), pack.clone()));
        worker.submit(Box::new(move |runtime| {
            drop(used);
            if let Some((claim, stores, pack)) = next {
                let pool = claim.pool.clone();
                runtime.block_on(pool.make(&stores, &pack, claim));
            }
            drop(pending);
        }));
    }

    fn worker(&self) -> Option<&BackgroundWorker> {
        self.worker
            .get_or_init(|| match BackgroundWorker::start("pack-ready") {
                Ok(worker) => Some(worker),
                Err(err) => {
                    tracing::warn!(error = %err, "no thread to make pack instances ahead of calls: calls make their own");
                    None
                }
            })
            .as_ref()
    }

    /// The right to make the next instance of this version, unless one waits, is being
    /// made, or cannot be made.
    fn claim(self: &Arc<Self>, content_hash: &str) -> Option<Claim> {
        let mut state = self.state.lock().unwrap();
        if state.waiting.contains_key(content_hash)
            || state.making.contains(content_hash)
            || state.failed.contains(content_hash)
        {
            return None;
        }
        state.making.insert(content_hash.to_string());
        Some(Claim {
            pool: self.clone(),
            content_hash: content_hash.to_string(),
        })
    }

    async fn make(&self, stores: &StoreMaker, pack: &Arc<LoadedPack>, claim: Claim) {
        let mut store = stores.store(CallContext::registering(&pack.manifest));
        let made = tokio::time::timeout(
            stores.limits().deadline(),
            pack.bindings.instantiate(&mut store),
        )
        .await;
        let instance = match made {
            Ok(Ok(instance)) => instance,
            Ok(Err(err)) => {
                let err = classify(stores.limits(), &err, &store.data().output.stderr_text());
                // Out of slots is a moment's state, not the pack's fault.
                if err != CallError::Busy {
                    self.failed(pack, &err.to_string());
                }
                return;
            }
            Err(_) => {
                self.failed(pack, "its instantiation ran past the call deadline");
                return;
            }
        };
        let prepared = Prepared { store, instance };
        let evicted = {
            let mut state = self.state.lock().unwrap();
            // Full: the instance made longest ago (most likely of a version no longer
            // called) makes room.
            let evicted = if state.waiting.len() >= self.capacity {
                state.remove_oldest()
            } else {
                None
            };
            state.waiting.insert(
                claim.content_hash.clone(),
                Waiting {
                    prepared,
                    made: Instant::now(),
                },
            );
            evicted
        };
        drop(evicted);
        drop(claim);
    }

    fn failed(&self, pack: &LoadedPack, why: &str) {
        tracing::warn!(target: "pack", pack = %pack.manifest.id, version = %pack.manifest.version,
            "instances of this pack version are not made ahead of calls: {why}");
        self.state
            .lock()
            .unwrap()
            .failed
            .insert(pack.content_hash.clone());
    }

    /// How many instances wait (tests and metrics).
    pub fn waiting(&self) -> usize {
        self.state.lock().unwrap().waiting.len()
    }
}

/// Marks a version as being made; released however the making ends (a runtime shutting
/// down drops the task half way).
struct Claim {
    pool: Arc<ReadyPool>,
    content_hash: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.pool
            .state
            .lock()
            .unwrap()
            .making
            .remove(&self.content_hash);
    }
}

/// One background job counted against [`MAX_PENDING`]; uncounted however the job ends.
struct Pending(Arc<AtomicUsize>);

impl Pending {
    fn start(count: &Arc<AtomicUsize>) -> Option<Pending> {
        if count.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING {
            count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Pending(count.clone()))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
