//! Calls the greeter test pack's `GET /hello/{name}` through `PackRuntime`, with instances made
//! ahead, for counting what one call costs under valgrind (`docs/performance.md`, "How the
//! numbers were reached"): instructions and cache misses repeat from run to run, where timings
//! on a shared VM do not.
//!
//! ```sh
//! cargo build --release -p tessera-plugins --example callcost
//! valgrind --tool=callgrind --cache-sim=yes --I1=32768,8,64 --D1=49152,12,64 \
//!   --toggle-collect='tessera_plugins::runtime::PackRuntime::call_route*' \
//!   ./target/release/examples/callcost
//! ```
//!
//! It builds the test packs first, as the tests do (`tests/support/packs.rs`). `CALLS` sets the
//! number of calls (default 40); `FLUSH_MB` touches that many MiB between calls, as other
//! requests would, to see what the call costs with cold caches.

use std::time::Duration;

use tessera_plugins::runtime::{Caller, RouteRequest};
use tessera_plugins::{CallContext, Limits, PackRuntime};

#[path = "../tests/support/packs.rs"]
mod packs;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes one byte per cache line of `buffer`, evicting what the last call left in the caches.
#[inline(never)]
fn touch(buffer: &mut [u8], round: u8) {
    for i in (0..buffer.len()).step_by(64) {
        buffer[i] = buffer[i].wrapping_add(round);
    }
}

fn hello_request() -> RouteRequest {
    RouteRequest {
        method: "GET".into(),
        path: "/hello/Ann".into(),
        params: vec![("name".into(), "Ann".into())],
        headers: vec![
            ("accept".into(), "*/*".into()),
            ("host".into(), "127.0.0.1:8080".into()),
        ],
        caller: Caller {
            user: "bench".into(),
            roles: vec!["clinician".into()],
            ..Caller::default()
        },
        ..RouteRequest::default()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let archive = packs::archive(
        &packs::greeter_manifest("1.0.0", &[]),
        &packs::built().greeter_v1,
    );
    // Valgrind cannot reserve the default pool's address space; three slots are enough for
    // one call, the instance made ahead and the store being dropped.
    let limits = Limits {
        max_instances: 3,
        ready_instances: 1,
        ..Default::default()
    };
    let runtime = PackRuntime::new(limits, None)?;
    let loaded = runtime.load(&archive).await?;
    let mut buffer = vec![0u8; env_number("FLUSH_MB", 0) << 20];
    let calls = env_number("CALLS", 40);
    for i in 0..calls {
        // Time for the background thread to make the next instance, as between requests.
        tokio::time::sleep(Duration::from_millis(2)).await;
        touch(&mut buffer, i as u8);
        let context = CallContext {
            tenant: "acme".into(),
            ..CallContext::registering(&loaded.manifest)
        };
        let answer = runtime
            .call_route(&loaded, context, hello_request())
            .await?;
        anyhow::ensure!(
            answer.status == 200,
            "the greeter answered {}",
            answer.status
        );
    }
    eprintln!("{calls} calls of GET /hello/Ann answered");
    Ok(())
}
