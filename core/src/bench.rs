//! `tessera bench`: create throughput (1 and 8 clients), read-by-id latency and Synthea
//! ingest, on SQLite and PostgreSQL, each beside the backend's raw single-row INSERT rate
//! measured in the same run on the same machine. Prints a Markdown report for
//! `docs/performance.md`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::json;
use sqlx::{Connection, Executor};

use crate::config::Config;
use crate::server;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// PostgreSQL server URL (as the owner); a scratch database is created and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
    /// Only this backend; both by default.
    #[arg(long, value_enum)]
    pub only: Option<BackendChoice>,
    /// Synthea bundles to ingest.
    #[arg(long, default_value = "../shared/data/synthea")]
    pub synthea: PathBuf,
    /// Creates per measurement.
    #[arg(long, default_value_t = 2000)]
    pub creates: usize,
    /// Reads for the latency measurement.
    #[arg(long, default_value_t = 5000)]
    pub reads: usize,
    /// Rounds of the throughput measurements (raw floor and creates interleaved, so both see
    /// the same machine conditions); medians are reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Runs of each search query per measurement (0 skips the search benchmark).
    #[arg(long, default_value_t = 200)]
    pub searches: usize,
    /// The data for the second search measurement, as a multiple of the Synthea set.
    #[arg(long, default_value_t = 10)]
    pub search_scale: usize,
    /// Only the identity-and-access benchmark (token verification and permission check).
    #[arg(long)]
    pub auth: bool,
    /// Only the pack benchmark (route overhead, instantiation, memory with many tenants).
    #[arg(long)]
    pub packs: bool,
    /// Tenants for the pack memory measurement (each enables 5 packs).
    #[arg(long, default_value_t = 1000)]
    pub pack_tenants: usize,
    /// Requests per route in the pack latency phases (more gives a profiler time to look).
    #[arg(long, default_value_t = 2000)]
    pub pack_calls: usize,
    /// Instances made ahead of calls in the server's pack runtime (`packs.limits.
    /// ready_instances`; 0 to compare with instantiating in line).
    #[arg(long, default_value_t = 8)]
    pub pack_ready_instances: u32,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    Sqlite,
    Postgres,
}

#[derive(Debug)]
struct BackendReport {
    backend: &'static str,
    raw_insert_1: f64,
    raw_insert_8: f64,
    create_1: f64,
    create_8: f64,
    /// creates(8) / raw(8) of each round.
    ratios: Vec<f64>,
    read_p50_ms: f64,
    read_p99_ms: f64,
    ingest_per_s: f64,
    ingested: usize,
    /// Search latencies on the Synthea data, then at `search_scale` times as much.
    search: Vec<crate::bench_search::QueryLatency>,
    search_scaled: Vec<crate::bench_search::QueryLatency>,
}

pub async fn run(args: BenchArgs) -> Result<()> {
    if args.packs {
        sqlx::any::install_default_drivers();
        let report = crate::bench_packs::run(
            args.pack_calls,
            args.pack_tenants,
            args.pack_ready_instances,
        )
        .await?;
        crate::bench_packs::print(&report);
        return Ok(());
    }
    let auth = crate::bench_auth::run(5000).await?;
    if args.auth {
        crate::bench_auth::print(&auth);
        return Ok(());
    }
    sqlx::any::install_default_drivers();
    let mut reports = Vec::new();
    let dir = tempfile_dir()?;
    let wants = |backend: BackendChoice| args.only.is_none_or(|only| only == backend);
    if wants(BackendChoice::Sqlite) {
        let floor = RawFloor::Sqlite(dir.join("raw.db"));
        reports.push(bench_backend("sqlite", sqlite_config(&dir), &args, floor).await?);
    }
    if wants(BackendChoice::Postgres) {
        let scratch = format!("tessera_bench_{}", std::process::id());
        let admin = args.postgres_url.clone();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .context("connecting to PostgreSQL for the benchmark")?;
        conn.execute(format!("DROP DATABASE IF EXISTS {scratch}").as_str())
            .await?;
        conn.execute(format!("CREATE DATABASE {scratch}").as_str())
            .await?;
        let url = replace_database(&admin, &scratch)?;
        let mut config = Config::default();
        config.database.url = Some(url.clone());
        config.data_dir = dir.clone();
        let report = bench_backend("postgres", config, &args, RawFloor::Postgres(url)).await;
        conn.execute(format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)").as_str())
            .await?;
        reports.push(report?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    print_report(&reports, &args);
    crate::bench_auth::print(&auth);
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("tessera-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn sqlite_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.join("sqlite"),
        ..Config::default()
    }
}

fn replace_database(url: &str, db: &str) -> Result<String> {
    let mut u = url::Url::parse(url)?;
    u.set_path(&format!("/{db}"));
    Ok(u.to_string())
}

enum RawFloor {
    Sqlite(PathBuf),
    Postgres(String),
}

/// Single-row autocommit INSERTs of a resource-sized row: the floor a FHIR create cannot beat.
async fn raw_insert_rate(floor: &RawFloor, clients: usize, total: usize) -> Result<f64> {
    let payload = Arc::new(sample_patient(0).to_string());
    let pool: sqlx::AnyPool = match floor {
        RawFloor::Sqlite(path) => {
            let url = format!("sqlite://{}?mode=rwc", path.display());
            // The server's settings, on every connection of the pool.
            sqlx::any::AnyPoolOptions::new()
                .max_connections(clients as u32)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000")
                            .await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await?
        }
        RawFloor::Postgres(url) => {
            sqlx::any::AnyPoolOptions::new()
                .max_connections(clients as u32)
                .connect(url)
                .await?
        }
    };
    pool.execute("DROP TABLE IF EXISTS bench_raw").await?;
    pool.execute("CREATE TABLE bench_raw (tenant_id TEXT NOT NULL, id TEXT NOT NULL, content TEXT, PRIMARY KEY (tenant_id, id))").await?;
    let started = Instant::now();
    let per_client = total / clients;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let pool = pool.clone();
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_client {
                sqlx::query("INSERT INTO bench_raw (tenant_id, id, content) VALUES ($1, $2, $3)")
                    .bind("bench")
                    .bind(format!("{c}-{i}"))
                    .bind(payload.as_str())
                    .execute(&pool)
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let rate = (per_client * clients) as f64 / started.elapsed().as_secs_f64();
    pool.execute("DROP TABLE bench_raw").await?;
    pool.close().await;
    Ok(rate)
}

fn sample_patient(n: usize) -> serde_json::Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{"system": "http://example.org/mrn", "value": format!("MRN-{n}")}],
        "active": true,
        "name": [{"use": "official", "family": format!("Family{n}"), "given": ["Given", "Middle"]}],
        "telecom": [{"system": "phone", "value": "555-0100", "use": "home"}],
        "gender": if n.is_multiple_of(2) { "female" } else { "male" },
        "birthDate": "1970-01-01",
        "address": [{"line": ["1 Main St"], "city": "Springfield", "state": "MA", "postalCode": "01101", "country": "US"}],
    })
}

async fn bench_backend(
    name: &'static str,
    mut config: Config,
    args: &BenchArgs,
    floor: RawFloor,
) -> Result<BackendReport> {
    config.listen = "127.0.0.1:0".parse()?;
    let server = server::start(config).await?;
    server.state.tenants.create("bench", None).await?;
    let base = format!("http://{}/t/bench/fhir", server.addr);
    let client = signed_in_client(&server, "bench")?;

    let (mut raw_1, mut raw_8, mut creates_1, mut creates_8, mut ratios) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut ids = Vec::new();
    for round in 1..=args.rounds.max(1) {
        eprintln!("== {name}: round {round}: raw INSERT floor, then creates");
        raw_1.push(raw_insert_rate(&floor, 1, args.creates).await?);
        raw_8.push(raw_insert_rate(&floor, 8, args.creates).await?);
        let (one, new_ids) = create_rate(&client, &base, 1, args.creates).await?;
        ids.extend(new_ids);
        let (eight, new_ids) = create_rate(&client, &base, 8, args.creates).await?;
        ids.extend(new_ids);
        creates_1.push(one);
        creates_8.push(eight);
        ratios.push(eight / raw_8.last().copied().unwrap_or(f64::NAN));
    }

    eprintln!("== {name}: reads");
    let mut latencies = Vec::with_capacity(args.reads);
    for i in 0..args.reads {
        let id = &ids[(i * 7919) % ids.len()];
        let started = Instant::now();
        let response = client.get(format!("{base}/Patient/{id}")).send().await?;
        anyhow::ensure!(
            response.status() == 200,
            "read failed: {}",
            response.status()
        );
        response.bytes().await?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };

    eprintln!("== {name}: Synthea ingest from {}", args.synthea.display());
    server.state.tenants.create("ingest", None).await?;
    let report = crate::import::import(&server.state, "ingest", &args.synthea, true).await?;
    anyhow::ensure!(
        report.failures.is_empty(),
        "ingest failures: {:?}",
        report.failures
    );

    let (search, search_scaled) = if args.searches > 0 {
        let ingest_base = format!("http://{}/t/ingest/fhir", server.addr);
        // The tenant comes from the token: the ingest tenant needs a token of its own.
        let client = signed_in_client(&server, "ingest")?;
        let subjects = crate::bench_search::subjects(&client, &ingest_base).await?;
        // Body height: every Synthea patient has it, several times.
        let code = "8302-2";
        eprintln!("== {name}: search on the Synthea data");
        let base_run =
            crate::bench_search::measure(&client, &ingest_base, &subjects, code, args.searches)
                .await?;
        eprintln!(
            "== {name}: loading {} more copies of the data",
            args.search_scale.saturating_sub(1)
        );
        crate::bench_search::grow(
            &server.state,
            &args.synthea,
            "ingest",
            args.search_scale.saturating_sub(1),
        )
        .await?;
        eprintln!("== {name}: search at {}x", args.search_scale);
        let scaled =
            crate::bench_search::measure(&client, &ingest_base, &subjects, code, args.searches)
                .await?;
        (base_run, scaled)
    } else {
        (Vec::new(), Vec::new())
    };

    let result = BackendReport {
        backend: name,
        raw_insert_1: median(&mut raw_1),
        raw_insert_8: median(&mut raw_8),
        create_1: median(&mut creates_1),
        create_8: median(&mut creates_8),
        ratios,
        read_p50_ms: pct(0.50),
        read_p99_ms: pct(0.99),
        ingest_per_s: report.resources_per_second(),
        ingested: report.resources,
        search,
        search_scaled,
    };
    server.shutdown().await?;
    Ok(result)
}

async fn create_rate(
    client: &reqwest::Client,
    base: &str,
    clients: usize,
    total: usize,
) -> Result<(f64, Vec<String>)> {
    let per_client = total / clients;
    // Bodies are serialised before the clock starts: the load generator shares the machine's
    // two cores with the server, and its own JSON work is not the server's cost.
    let bodies: Vec<Vec<String>> = (0..clients)
        .map(|c| {
            (0..per_client)
                .map(|i| sample_patient(c * 1_000_000 + i).to_string())
                .collect()
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client_bodies in bodies {
        let client = client.clone();
        let url = format!("{base}/Patient");
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(per_client);
            for body in client_bodies {
                let response = client
                    .post(&url)
                    .header("content-type", "application/fhir+json")
                    .header("prefer", "return=minimal")
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status() == 201,
                    "create failed: {}",
                    response.status()
                );
                let location = response.headers()["location"].to_str()?.to_string();
                ids.push(
                    location
                        .split('/')
                        .rev()
                        .nth(2)
                        .unwrap_or_default()
                        .to_string(),
                );
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await??);
    }
    Ok((
        (per_client * clients) as f64 / started.elapsed().as_secs_f64(),
        ids,
    ))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn print_report(reports: &[BackendReport], args: &BenchArgs) {
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!(
        "Machine: {machine}, {cores} cores; {} creates per measurement, {} rounds (medians), {} reads",
        args.creates, args.rounds, args.reads
    );
    println!();
    println!("| backend | raw INSERT/s (1) | raw INSERT/s (8) | creates/s (1 client) | creates/s (8 clients) | creates(8) / raw(8), median (each round) | read p50 | read p99 | Synthea ingest |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in reports {
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} ({}) | {:.3} ms | {:.3} ms | {:.0} resources/s ({} resources) |",
            r.backend,
            r.raw_insert_1,
            r.raw_insert_8,
            r.create_1,
            r.create_8,
            median(&mut r.ratios.clone()),
            r.ratios.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(", "),
            r.read_p50_ms,
            r.read_p99_ms,
            r.ingest_per_s,
            r.ingested
        );
    }
    if reports.iter().all(|r| r.search.is_empty()) {
        return;
    }
    println!();
    println!(
        "Search latency over HTTP, {} runs per query (p50 / p99 in ms; mean matches per run):",
        args.searches
    );
    println!();
    println!(
        "| backend | query | Synthea: p50 | p99 | matches | {}x: p50 | p99 | matches |",
        args.search_scale
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in reports {
        for (a, b) in r.search.iter().zip(&r.search_scaled) {
            println!(
                "| {} | {} | {:.2} | {:.2} | {:.1} | {:.2} | {:.2} | {:.1} |",
                r.backend,
                a.name,
                a.p50_ms,
                a.p99_ms,
                a.mean_matches,
                b.p50_ms,
                b.p99_ms,
                b.mean_matches
            );
        }
    }
}

/// An HTTP client that signs in like any client: a token from the server's local issuer for
/// an org-admin of `tenant` (the tenant comes from the token, so one client per tenant).
fn signed_in_client(server: &server::RunningServer, tenant: &str) -> Result<reqwest::Client> {
    let token = server
        .state
        .auth
        .local
        .as_ref()
        .context("the benchmark needs the local issuer (auth.local_issuer)")?
        .issue(&crate::auth::local::TokenRequest {
            tenant: tenant.into(),
            subject: "bench".into(),
            username: Some("bench".into()),
            roles: vec!["org-admin".into()],
            patient: None,
            lifetime_seconds: 86_400,
        })?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse()?,
    );
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .default_headers(headers)
        .build()?)
}
