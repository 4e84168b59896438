//! `tessera bench --packs`: what a pack costs.
//!
//! - the added latency of a pack route over a native route answering the same body, both
//!   through the full HTTP stack (token check, RBAC, audit) on loopback, measured
//!   alternately so both see the same machine;
//! - the time to instantiate a pack and make a trivial call (fresh store per call);
//! - compiling a component, and loading it from the disk cache;
//! - memory with 1,000 tenants each enabling 5 packs.
//!
//! It builds the test packs from `plugins/tests/packs` with cargo, so run it from the source
//! tree.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use axum::extract::Path as UrlPath;
use axum::routing::get;
use serde_json::json;
use tessera_plugins::PackArchive;

use crate::config::Config;
use crate::http::TenantContext;
use crate::packs::lifecycle::EnableRequest;

#[derive(Debug)]
pub struct PacksReport {
    pub native_p50_us: f64,
    pub native_p99_us: f64,
    pub pack_p50_us: f64,
    pub pack_p99_us: f64,
    /// Each route measured back to back instead of alternating.
    pub native_alone_p50_us: f64,
    pub pack_alone_p50_us: f64,
    /// CPU time of the whole process per request, back to back.
    pub native_cpu_us: f64,
    pub pack_cpu_us: f64,
    /// Minor page faults of the whole process per request, back to back.
    pub native_faults: f64,
    pub pack_faults: f64,
    pub call_p50_us: f64,
    pub call_p99_us: f64,
    /// The same trivial call with an instance made ahead of it.
    pub ready_call_p50_us: f64,
    pub ready_call_p99_us: f64,
    pub direct_p50_us: f64,
    pub direct_p99_us: f64,
    pub compile_ms: f64,
    pub cache_load_ms: f64,
    pub component_bytes: usize,
    pub rss_start_mib: f64,
    pub rss_installed_mib: f64,
    pub enable_ms: f64,
    pub rss_enabled_mib: f64,
    pub rss_called_mib: f64,
    pub tenants: usize,
    pub packs_per_tenant: usize,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn build_test_packs() -> Result<PathBuf> {
    let root = workspace();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    eprintln!("building the test packs (wasm32-wasip2) ...");
    let status = std::process::Command::new("cargo")
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(root.join("plugins/tests/packs/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .context(
            "running cargo to build the test packs (run the benchmark from the source tree)",
        )?;
    anyhow::ensure!(status.success(), "building the test packs failed");
    Ok(target.join("wasm32-wasip2/release"))
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// This process's counters from `/proc/self/stat`.
#[derive(Clone, Copy, Default)]
struct ProcessCounters {
    /// CPU time (user + system) in microseconds; clock ticks, usually 10 ms, so use over
    /// thousands of requests.
    cpu_us: f64,
    /// Page faults served without I/O: each is a trip into the kernel.
    minor_faults: f64,
}

fn process_counters() -> ProcessCounters {
    let ticks_per_s = 100.0; // USER_HZ on Linux
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) start after its `)`.
            let rest = &s[s.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let field = |i: usize| fields.get(i)?.parse::<f64>().ok();
            Some(ProcessCounters {
                cpu_us: (field(11)? + field(12)?) / ticks_per_s * 1e6,
                minor_faults: field(7)?,
            })
        })
        .unwrap_or(ProcessCounters {
            cpu_us: f64::NAN,
            minor_faults: f64::NAN,
        })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn greeter_manifest(id: &str) -> String {
    format!(
        "id: {id}\nversion: 1.0.0\nkind: specialty\npublisher: Bench\nabi: 0.1.0\npermissions:\n  fhir:\n    Patient: [read, search, create]\n  features:\n    greet:\n      roles: [clinician]\n"
    )
}

fn plain_manifest(id: &str) -> String {
    format!("id: {id}\nversion: 1.0.0\nkind: country\npublisher: Bench\nabi: 0.1.0\npermissions:\n  fhir:\n    Patient: [read, search]\n")
}

/// The native twin of the greeter's `/hello/{name}`: same checks before it, same body, and
/// the same log line the greeter writes on every call (through the pack log capability), so
/// that the difference measured is the pack machinery, not a line of logging.
async fn native_hello(
    ctx: TenantContext,
    UrlPath((tenant, name)): UrlPath<(String, String)>,
) -> axum::response::Response {
    tracing::info!(target: "pack", pack = "greeter", version = "1.0.0", tenant = %tenant, "greeter v1 GET /hello/{name}");
    // The greeter's key order; the workspace's serde_json keeps insertion order.
    let body = json!({
        "greeting": format!("Hello, {name}!"),
        "location": null,
        "roles": ctx.grant.roles,
        "user": match &ctx.grant.who { crate::auth::rbac::Who::User { subject, .. } => subject.clone(), _ => String::new() },
        "version": "1",
    });
    axum::response::IntoResponse::into_response((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    ))
}

pub async fn run(calls: usize, tenants: usize, ready_instances: u32) -> Result<PacksReport> {
    let wasm = build_test_packs()?;
    let dir = std::env::temp_dir().join(format!("tessera-bench-packs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = Config {
        data_dir: dir.join("data"),
        ..Config::default()
    };
    // The benchmark's own archives are unsigned.
    config.packs.allow_unsigned = true;
    config.packs.limits.tenant_concurrency = 64;
    config.packs.limits.ready_instances = ready_instances;
    let rss_start = rss_mib();
    let state = crate::server::app_state(config).await?;
    state.tenants.create("acme", None).await?;
    let greeter = std::fs::read(wasm.join("greeter.wasm"))?;
    let hostile = std::fs::read(wasm.join("hostile.wasm"))?;
    let archive = PackArchive::from_parts(
        greeter_manifest("greeter"),
        greeter.clone(),
        Default::default(),
    )?;

    // Compile, then load from the disk cache in a fresh runtime.
    let cache = dir.join("cache-probe");
    let started = Instant::now();
    let runtime = tessera_plugins::PackRuntime::new(Default::default(), Some(cache.clone()))?;
    runtime.load(&archive).await?;
    let compile_ms = started.elapsed().as_secs_f64() * 1e3;
    drop(runtime);
    let runtime = tessera_plugins::PackRuntime::new(Default::default(), Some(cache))?;
    let started = Instant::now();
    let loaded = runtime.load(&archive).await?;
    let cache_load_ms = started.elapsed().as_secs_f64() * 1e3;

    // Instantiate and call: a fresh store and instance per call, instantiated in line (a
    // runtime that makes no instances ahead of calls). Calls are 200 µs apart here and in
    // the next loop, as requests are: back to back, everything stays in the CPU's caches
    // and the numbers say little about a server.
    let inline = tessera_plugins::PackRuntime::new(
        tessera_plugins::Limits {
            ready_instances: 0,
            ..Default::default()
        },
        None,
    )?;
    let loaded_inline = inline.load(&archive).await?;
    let (call_p50_us, call_p99_us) = trivial_calls(&inline, &loaded_inline, calls).await?;
    drop(inline);
    // The same call taking an instance made ahead of it (the pause gives the background
    // task time to make the next one, as the gaps between requests do).
    let (ready_call_p50_us, ready_call_p99_us) = trivial_calls(&runtime, &loaded, calls).await?;

    // A pack route against its native twin over HTTP.
    state
        .packs
        .install(&archive.write(), "bench")
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    let consent = archive.manifest.permissions.clone();
    state
        .packs
        .enable(
            "acme",
            "greeter",
            EnableRequest {
                consent: Some(consent),
                enabled: true,
                ..Default::default()
            },
            "bench",
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    // The same route without HTTP: settings, grant, instantiation, the guest's work.
    let user = std::sync::Arc::new(crate::auth::rbac::Grant::for_roles(
        "acme",
        crate::auth::rbac::Who::User {
            issuer: "bench".into(),
            subject: "bench".into(),
            username: None,
        },
        vec!["clinician".into()],
        None,
        crate::auth::rbac::RoleCatalog::system(),
    ));
    let mut direct = Vec::with_capacity(calls);
    for i in 0..calls + 100 {
        let started = Instant::now();
        let (loaded, context) = state
            .packs
            .prepare(crate::packs::dispatch::CallSite {
                tenant: "acme",
                pack: "greeter",
                locations: &[],
                user: Some(&user),
                fhir_base: String::new(),
                host: "localhost".into(),
            })
            .await
            .map_err(|e| anyhow::anyhow!(e.message()))?;
        let request = tessera_plugins::runtime::RouteRequest {
            method: "GET".into(),
            path: "/hello/Ann".into(),
            params: vec![("name".into(), "Ann".into())],
            ..Default::default()
        };
        let runtime = state
            .packs
            .runtime()
            .await
            .map_err(|e| anyhow::anyhow!(e.message()))?;
        runtime.call_route(&loaded, context, request).await?;
        if i >= 100 {
            direct.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    direct.sort_by(f64::total_cmp);
    let (direct_p50_us, direct_p99_us) = (percentile(&direct, 0.5), percentile(&direct, 0.99));
    let native = axum::Router::new().route("/t/{tenant}/native/hello/{name}", get(native_hello));
    let app = crate::http::router_with(state.clone(), native);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let token = state
        .auth
        .local
        .as_ref()
        .context("the local issuer")?
        .issue(&crate::auth::local::TokenRequest {
            tenant: "acme".into(),
            subject: "bench".into(),
            username: None,
            roles: vec!["clinician".into()],
            patient: None,
            lifetime_seconds: 3600,
        })?;
    let client = reqwest::Client::new();
    let native_url = format!("http://{addr}/t/acme/native/hello/Ann");
    let pack_url = format!("http://{addr}/t/acme/packs/greeter/hello/Ann");
    // The comparison means something only while both routes answer the same bytes.
    let mut bodies = Vec::new();
    for url in [&native_url, &pack_url] {
        let response = client.get(url.as_str()).bearer_auth(&token).send().await?;
        anyhow::ensure!(response.status() == 200, "{url}: {}", response.status());
        bodies.push(response.bytes().await?);
    }
    anyhow::ensure!(
        bodies[0] == bodies[1],
        "the native twin and the greeter answer different bodies: {:?} against {:?}; make them the same again",
        String::from_utf8_lossy(&bodies[0]),
        String::from_utf8_lossy(&bodies[1])
    );
    let (mut native_times, mut pack_times) = (Vec::new(), Vec::new());
    eprintln!("the native and the pack route, alternating ...");
    for i in 0..calls + 100 {
        for (url, into) in [
            (&native_url, &mut native_times),
            (&pack_url, &mut pack_times),
        ] {
            let started = Instant::now();
            let response = client.get(url.as_str()).bearer_auth(&token).send().await?;
            anyhow::ensure!(response.status() == 200, "{url}: {}", response.status());
            response.bytes().await?;
            if i >= 100 {
                into.push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    native_times.sort_by(f64::total_cmp);
    pack_times.sort_by(f64::total_cmp);
    // Each route again on its own, back to back: what alternating costs each (caches, the
    // instance slot's pages) shows as the difference.
    eprintln!("the native route back to back ...");
    let (native_alone, native_counters) = get_times(&client, &native_url, &token, calls).await?;
    eprintln!("the pack route back to back ...");
    let (pack_alone, pack_counters) = get_times(&client, &pack_url, &token, calls).await?;
    server.abort();

    // 1,000 tenants with 5 packs each.
    for n in 0..5 {
        let id = format!("bench-{n}");
        let archive =
            PackArchive::from_parts(plain_manifest(&id), hostile.clone(), Default::default())?;
        state
            .packs
            .install(&archive.write(), "bench")
            .await
            .map_err(|e| anyhow::anyhow!(e.message()))?;
    }
    let rss_installed = rss_mib();
    let enabling = Instant::now();
    eprintln!("enabling 5 packs for each of {tenants} tenants ...");
    let consent: tessera_plugins::manifest::RequestedPermissions =
        serde_json::from_value(json!({"fhir": {"Patient": ["read", "search"]}}))?;
    for t in 0..tenants {
        let tenant = format!("t{t:04}");
        state.tenants.create(&tenant, None).await?;
        for n in 0..5 {
            state
                .packs
                .enable(
                    &tenant,
                    &format!("bench-{n}"),
                    EnableRequest {
                        consent: Some(consent.clone()),
                        enabled: true,
                        ..Default::default()
                    },
                    "bench",
                )
                .await
                .map_err(|e| anyhow::anyhow!(e.message()))?;
        }
    }
    let rss_enabled = rss_mib();
    let enable_ms = enabling.elapsed().as_secs_f64() * 1e3 / (tenants * 5) as f64;
    // Every tenant's settings cached and every pack prepared for a call.
    for t in 0..tenants {
        let tenant = format!("t{t:04}");
        for n in 0..5 {
            let site = crate::packs::dispatch::CallSite {
                tenant: &tenant,
                pack: &format!("bench-{n}"),
                locations: &[],
                user: None,
                fhir_base: String::new(),
                host: "localhost".into(),
            };
            state
                .packs
                .prepare(site)
                .await
                .map_err(|e| anyhow::anyhow!(e.message()))?;
        }
    }
    let rss_called = rss_mib();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(PacksReport {
        native_p50_us: percentile(&native_times, 0.5),
        native_p99_us: percentile(&native_times, 0.99),
        pack_p50_us: percentile(&pack_times, 0.5),
        pack_p99_us: percentile(&pack_times, 0.99),
        native_alone_p50_us: percentile(&native_alone, 0.5),
        pack_alone_p50_us: percentile(&pack_alone, 0.5),
        native_cpu_us: native_counters.cpu_us,
        pack_cpu_us: pack_counters.cpu_us,
        native_faults: native_counters.minor_faults,
        pack_faults: pack_counters.minor_faults,
        call_p50_us,
        call_p99_us,
        ready_call_p50_us,
        ready_call_p99_us,
        direct_p50_us,
        direct_p99_us,
        compile_ms,
        cache_load_ms,
        component_bytes: greeter.len(),
        rss_start_mib: rss_start,
        rss_installed_mib: rss_installed,
        enable_ms,
        rss_enabled_mib: rss_enabled,
        rss_called_mib: rss_called,
        tenants,
        packs_per_tenant: 5,
    })
}

/// `calls` identifier checks by the greeter, 200 µs apart, after 100 warm-up ones: their
/// p50 and p99 in microseconds.
async fn trivial_calls(
    runtime: &tessera_plugins::PackRuntime,
    loaded: &std::sync::Arc<tessera_plugins::LoadedPack>,
    calls: usize,
) -> Result<(f64, f64)> {
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls + 100 {
        tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        let context = tessera_plugins::CallContext::registering(&loaded.manifest);
        let started = Instant::now();
        let verdict = runtime
            .validate_identifier(
                loaded,
                context,
                "urn:tessera:test:even".into(),
                (i * 2).to_string(),
            )
            .await?;
        if i >= 100 {
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
        anyhow::ensure!(verdict.is_ok(), "the greeter refused an even number");
    }
    times.sort_by(f64::total_cmp);
    Ok((percentile(&times, 0.5), percentile(&times, 0.99)))
}

/// `calls` GETs of `url` after 100 warm-up ones: their times in microseconds, sorted, and
/// the process's counters per request (client and server together).
async fn get_times(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    calls: usize,
) -> Result<(Vec<f64>, ProcessCounters)> {
    let mut times = Vec::with_capacity(calls);
    let mut started_with = ProcessCounters::default();
    for i in 0..calls + 100 {
        if i == 100 {
            started_with = process_counters();
        }
        let started = Instant::now();
        let response = client.get(url).bearer_auth(token).send().await?;
        anyhow::ensure!(response.status() == 200, "{url}: {}", response.status());
        response.bytes().await?;
        if i >= 100 {
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    let ended_with = process_counters();
    let per_request = ProcessCounters {
        cpu_us: (ended_with.cpu_us - started_with.cpu_us) / calls as f64,
        minor_faults: (ended_with.minor_faults - started_with.minor_faults) / calls as f64,
    };
    times.sort_by(f64::total_cmp);
    Ok((times, per_request))
}

pub fn print(report: &PacksReport) {
    let r = report;
    println!("\npacks (loopback HTTP, token + RBAC + audit on both sides)");
    println!(
        "  native route   p50 {:7.1} µs   p99 {:7.1} µs",
        r.native_p50_us, r.native_p99_us
    );
    println!(
        "  pack route     p50 {:7.1} µs   p99 {:7.1} µs",
        r.pack_p50_us, r.pack_p99_us
    );
    println!(
        "  the route without HTTP (prepare + instantiate + guest)  p50 {:.1} µs   p99 {:.1} µs",
        r.direct_p50_us, r.direct_p99_us
    );
    println!(
        "  added by pack  p50 {:7.1} µs",
        r.pack_p50_us - r.native_p50_us
    );
    println!(
        "  back to back, not alternating: native p50 {:.1} µs, pack p50 {:.1} µs, added {:.1} µs",
        r.native_alone_p50_us,
        r.pack_alone_p50_us,
        r.pack_alone_p50_us - r.native_alone_p50_us
    );
    println!(
        "  CPU per request (process, back to back): native {:.1} µs, pack {:.1} µs, added {:.1} µs",
        r.native_cpu_us,
        r.pack_cpu_us,
        r.pack_cpu_us - r.native_cpu_us
    );
    println!(
        "  minor page faults per request (process, back to back): native {:.1}, pack {:.1}",
        r.native_faults, r.pack_faults
    );
    println!(
        "  instantiate + trivial call  p50 {:.1} µs   p99 {:.1} µs",
        r.call_p50_us, r.call_p99_us
    );
    println!(
        "  trivial call with an instance made ahead  p50 {:.1} µs   p99 {:.1} µs",
        r.ready_call_p50_us, r.ready_call_p99_us
    );
    println!(
        "  compile {:.0} ms, load from disk cache {:.1} ms, component {} KiB",
        r.compile_ms,
        r.cache_load_ms,
        r.component_bytes / 1024
    );
    println!(
        "  memory (RSS): {:.0} MiB at start, {:.0} MiB with the engine, 6 packs installed and the HTTP phase done, {:.0} MiB with {} tenants × {} packs enabled, {:.0} MiB with every one prepared for a call; {:.2} ms per enable",
        r.rss_start_mib, r.rss_installed_mib, r.rss_enabled_mib, r.tenants, r.packs_per_tenant, r.rss_called_mib, r.enable_ms
    );
}
