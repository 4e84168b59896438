//! The one wasmtime [`Engine`] every pack runs in, and the limits each call gets.
//!
//! Instances come from the pooling allocator (slots reserved once, reused with copy-on-write
//! memory images), so a call costs an instantiation into a warm slot rather than fresh
//! mappings. Deadlines use epoch interruption: a thread advances the epoch every
//! [`EPOCH_TICK`], and a store whose deadline has passed traps at its next check, wherever
//! the guest is looping.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the resolution of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Limits on pack calls; `packs.limits` in the server's configuration.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Linear memory one call may use, in MiB.
    pub memory_mib: u32,
    /// Wall-clock time one call may take, host calls included, in milliseconds.
    pub deadline_ms: u64,
    /// Calls one tenant may have running at once, across all its packs.
    pub tenant_concurrency: u32,
    /// Instances the server keeps slots for (calls running at once, all tenants).
    pub max_instances: u32,
    /// Instances made ahead of calls, at most one per pack version (0: none; each holds
    /// one of the `max_instances` slots until a call takes it).
    pub ready_instances: u32,
    /// The largest response body a pack handler may return.
    pub response_bytes: usize,
    /// Host calls (FHIR, HTTP, key-value) one call may make.
    pub host_calls: u32,
    /// Log lines one call may write; later lines are counted, not written.
    pub log_lines: u32,
    /// Timeout of one outbound HTTP request, in milliseconds.
    pub outbound_timeout_ms: u64,
    /// The largest outbound HTTP response body handed to a pack.
    pub outbound_response_bytes: usize,
    /// Key-value store: largest key, largest value and most keys per pack and tenant.
    pub kv_key_bytes: usize,
    pub kv_value_bytes: usize,
    pub kv_keys: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 64,
            deadline_ms: 2_000,
            tenant_concurrency: 16,
            max_instances: 128,
            ready_instances: 8,
            response_bytes: 4 << 20,
            host_calls: 1_000,
            log_lines: 200,
            outbound_timeout_ms: 10_000,
            outbound_response_bytes: 4 << 20,
            kv_key_bytes: 256,
            kv_value_bytes: 64 << 10,
            kv_keys: 10_000,
        }
    }
}

impl Limits {
    pub fn memory_bytes(&self) -> usize {
        (self.memory_mib as usize) << 20
    }

    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }

    /// Epoch ticks a call may run for.
    pub fn deadline_ticks(&self) -> u64 {
        (self.deadline_ms / EPOCH_TICK.as_millis() as u64).max(1)
    }

    pub fn check(&self) -> Result<(), String> {
        if self.memory_mib == 0 || self.memory_mib > 4096 {
            return Err("packs.limits.memory_mib must be between 1 and 4096".into());
        }
        if self.deadline_ms == 0 {
            return Err("packs.limits.deadline_ms must be above 0".into());
        }
        if self.tenant_concurrency == 0 || self.max_instances == 0 {
            return Err("packs.limits.tenant_concurrency and max_instances must be above 0".into());
        }
        if self.ready_instances >= self.max_instances {
            return Err("packs.limits.ready_instances must be below max_instances".into());
        }
        Ok(())
    }
}

/// The engine and the thread that advances its epoch.
pub struct PackEngine {
    engine: Engine,
    stop: Arc<AtomicBool>,
}

impl PackEngine {
    pub fn new(limits: &Limits) -> anyhow::Result<PackEngine> {
        limits.check().map_err(anyhow::Error::msg)?;
        let mut pool = PoolingAllocationConfig::default();
        let slots = limits.max_instances;
        pool.total_component_instances(slots)
            // A Rust component holds its main module plus a few small shims.
            .max_core_instances_per_component(16)
            .total_core_instances(slots * 8)
            .max_memories_per_component(2)
            .total_memories(slots * 2)
            .max_tables_per_component(4)
            .total_tables(slots * 4)
            .total_stacks(slots)
            .max_memory_size(limits.memory_bytes())
            // By default a slot returned to the pool has its pages `madvise`d away, so the
            // next call faults them in again, and on a multi-threaded server each `madvise`
            // interrupts the other cores to flush their TLBs. Resetting small regions in place
            // (only dirty pages, where the kernel can say which) and giving back the rest in
            // batches took instantiate + call from 26 to 10-17 µs p50 (docs/performance.md).
            .linear_memory_keep_resident(4 << 20)
            .table_keep_resident(64 << 10)
            .async_stack_keep_resident(512 << 10)
            .decommit_batch_size(32)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .wasm_component_model(true);
        let engine = Engine::new(&config)?;
        let stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), stop.clone());
        Ok(PackEngine { engine, stop })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Drop for PackEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("pack-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawn the pack epoch thread");
}
