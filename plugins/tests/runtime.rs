//! The pack host on its own: real packs compiled from source, run in the real engine, with
//! an in-memory stand-in for the server's services (the server's own are tested in
//! `core/tests/packs.rs`).

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::packs;
use tessera_plugins::capabilities::{FhirReply, FhirRequest, PackGrant};
use tessera_plugins::runtime::{Caller, RouteRequest};
use tessera_plugins::{CallContext, CallError, HostError, Limits, PackRuntime, PackServices};

/// Records what the pack asked the server for.
#[derive(Default)]
struct Recorder {
    fhir: Mutex<Vec<FhirRequest>>,
    kv: Mutex<BTreeMap<String, Vec<u8>>>,
}

#[async_trait::async_trait]
impl PackServices for Recorder {
    async fn fhir(&self, request: FhirRequest) -> Result<FhirReply, HostError> {
        let body = json!({"resourceType": "Patient", "id": request.path.rsplit('/').next(), "name": [{"family": "Chalmers"}]});
        self.fhir.lock().unwrap().push(request);
        Ok(FhirReply {
            status: 200,
            body: body.to_string(),
        })
    }
    async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, HostError> {
        Ok(self.kv.lock().unwrap().get(key).cloned())
    }
    async fn kv_set(&self, key: &str, value: &[u8], max_keys: u64) -> Result<(), HostError> {
        let mut kv = self.kv.lock().unwrap();
        if !kv.contains_key(key) && kv.len() as u64 >= max_keys {
            return Err(HostError::Limit(format!("at most {max_keys} keys")));
        }
        kv.insert(key.into(), value.to_vec());
        Ok(())
    }
    async fn kv_delete(&self, key: &str) -> Result<(), HostError> {
        self.kv.lock().unwrap().remove(key);
        Ok(())
    }
    async fn kv_list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, HostError> {
        Ok(self
            .kv
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect())
    }
}

fn limits() -> Limits {
    Limits {
        memory_mib: 32,
        deadline_ms: 500,
        kv_keys: 50,
        max_instances: 16,
        ..Limits::default()
    }
}

fn context(loaded: &tessera_plugins::LoadedPack, services: Arc<Recorder>) -> CallContext {
    CallContext {
        tenant: "acme".into(),
        pack_id: loaded.manifest.id.clone(),
        pack_version: loaded.manifest.version.to_string(),
        grant: Arc::new(PackGrant::from_manifest(&loaded.manifest)),
        config: Arc::from(json!({"greeting": "Howdy"}).to_string()),
        secrets: Arc::new(BTreeMap::from([(
            "api-key".to_string(),
            "s3cret-value".to_string(),
        )])),
        services,
    }
}

fn get(path: &str, query: &str) -> RouteRequest {
    RouteRequest {
        method: "GET".into(),
        path: path.into(),
        query: query.into(),
        caller: Caller {
            user: "u1".into(),
            roles: vec!["clinician".into()],
            ..Caller::default()
        },
        ..RouteRequest::default()
    }
}

fn body(response: &tessera_plugins::runtime::PackResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

/// The greeter's `/settings` answer: what configuration and secrets the call saw.
/// The greeter, version 1.0.0, loaded into `runtime`.
async fn load_greeter_v1(runtime: &PackRuntime) -> Arc<tessera_plugins::LoadedPack> {
    let built = packs::built();
    let archive = packs::archive(&packs::greeter_manifest("1.0.0", &[]), &built.greeter_v1);
    runtime.load(&archive).await.unwrap()
}

async fn call_settings(
    runtime: &PackRuntime,
    loaded: &Arc<tessera_plugins::LoadedPack>,
    services: &Arc<Recorder>,
) -> Value {
    let response = runtime
        .call_route(
            loaded,
            context(loaded, services.clone()),
            get("/settings", ""),
        )
        .await
        .unwrap();
    body(&response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_behaved_pack_registers_and_answers() {
    let runtime = PackRuntime::new(limits(), None).unwrap();
    let loaded = load_greeter_v1(&runtime).await;
    let paths: Vec<&str> = loaded
        .registration
        .routes
        .iter()
        .map(|r| r.path.as_str())
        .collect();
    assert!(paths.contains(&"/hello/{name}"), "{paths:?}");
    assert_eq!(loaded.registration.forms[0].id, "greeting-survey");
    assert_eq!(
        loaded.registration.rules[0].logic,
        json!({">=": [{"var": "age"}, 18]})
    );

    let services = Arc::new(Recorder::default());
    let route = match loaded.registration.find_route("GET", "/hello/Ann") {
        tessera_plugins::registration::RouteMatch::Found(route, params) => (route.clone(), params),
        _ => panic!("no route"),
    };
    let mut request = get("/hello/Ann", "");
    request.params = route.1;
    let response = runtime
        .call_route(&loaded, context(&loaded, services.clone()), request)
        .await
        .unwrap();
    assert_eq!(body(&response)["greeting"], "Howdy, Ann!");

    // The greeter writes this body by hand (the benchmark's route): it must be the bytes
    // serde_json would write, whatever the name and the caller hold.
    let awkward = "\"quoted\" back\\slash\nnew line\u{1}\u{8}\u{c}\t ünï 🩺 \u{2028}";
    let mut request = get("/hello/x", "");
    request.params = vec![("name".into(), awkward.into())];
    request.caller.user = awkward.into();
    request.caller.roles = vec![awkward.into(), "clinician".into()];
    request.caller.location = Some(awkward.into());
    let response = runtime
        .call_route(&loaded, context(&loaded, services.clone()), request)
        .await
        .unwrap();
    let expected = json!({
        "greeting": format!("Howdy, {awkward}!"),
        "location": awkward,
        "roles": [awkward, "clinician"],
        "user": awkward,
        "version": "1",
    });
    assert_eq!(
        String::from_utf8(response.body).unwrap(),
        expected.to_string()
    );

    let settings = call_settings(&runtime, &loaded, &services).await;
    assert_eq!(settings["has_secret"], true);
    assert_eq!(settings["secret_length"], 12);
    assert_eq!(settings["undeclared_secret"], false);

    for expected in 1..=3 {
        let mut post = get("/counter", "");
        post.method = "POST".into();
        let response = runtime
            .call_route(&loaded, context(&loaded, services.clone()), post)
            .await
            .unwrap();
        assert_eq!(body(&response)["count"], expected);
    }

    let mut request = get("/patients/p1/summary", "");
    request.params = vec![("id".into(), "p1".into())];
    let response = runtime
        .call_route(&loaded, context(&loaded, services.clone()), request)
        .await
        .unwrap();
    assert_eq!(body(&response)["family"], "Chalmers");
    let asked = services.fhir.lock().unwrap();
    assert_eq!(asked.last().unwrap().path, "Patient/p1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_calls_end_with_clear_errors_and_the_host_carries_on() {
    let built = packs::built();
    let runtime = PackRuntime::new(limits(), None).unwrap();
    let hostile = runtime
        .load(&packs::archive(&packs::hostile_manifest(), &built.hostile))
        .await
        .unwrap();
    let greeter = load_greeter_v1(&runtime).await;
    let services = Arc::new(Recorder::default());
    let call = |path: &'static str| {
        let ctx = context(&hostile, services.clone());
        let runtime = &runtime;
        let hostile = &hostile;
        async move { runtime.call_route(hostile, ctx, get(path, "")).await }
    };

    let started = Instant::now();
    assert_eq!(call("/loop").await.unwrap_err(), CallError::Timeout(500));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stopped near its deadline"
    );
    assert_eq!(call("/bomb").await.unwrap_err(), CallError::OutOfMemory(32));
    match call("/panic").await.unwrap_err() {
        CallError::Trap(message) => assert!(message.contains("panics on purpose"), "{message}"),
        other => panic!("{other:?}"),
    }
    // 40 MiB does not fit in 32 MiB of memory; the headers flood is over the response limit
    // (or, on a machine busy enough that building 100,000 headers takes 500 ms, over the
    // deadline: stopped either way, with a clear error).
    assert_eq!(call("/huge").await.unwrap_err(), CallError::OutOfMemory(32));
    let flood = call("/headers-flood").await.unwrap_err();
    assert!(
        matches!(
            flood,
            CallError::ResponseTooLarge(_) | CallError::OutOfMemory(_) | CallError::Timeout(_)
        ),
        "{flood:?}"
    );

    let denied = body(&call("/read-ungranted").await.unwrap());
    for key in ["observation", "search", "create"] {
        assert!(
            denied[key]["error"].as_str().unwrap().contains("Denied"),
            "{key}: {denied}"
        );
    }
    let fetched = body(&call("/fetch-ungranted").await.unwrap());
    assert!(
        fetched["fetch"]["error"]
            .as_str()
            .unwrap()
            .contains("not granted outbound HTTP"),
        "{fetched}"
    );
    let escape = body(&call("/other-tenant").await.unwrap());
    assert!(
        escape["traversal"]["error"]
            .as_str()
            .unwrap()
            .contains("Invalid"),
        "{escape}"
    );
    assert!(
        escape["type_traversal"]["error"]
            .as_str()
            .unwrap()
            .contains("Invalid"),
        "{escape}"
    );
    assert!(
        escape["absolute"]["error"]
            .as_str()
            .unwrap()
            .contains("Invalid"),
        "{escape}"
    );
    // Every request that reached the server stayed relative to the tenant's base.
    for request in services.fhir.lock().unwrap().iter() {
        assert!(!request.path.contains(".."), "{request:?}");
        assert!(
            !request.path.contains('/') || request.path.starts_with("Patient/"),
            "{request:?}"
        );
    }
    let flood = body(&call("/kv-flood").await.unwrap());
    assert!(
        flood[0]["error"].as_str().unwrap().contains("Limit"),
        "{flood}"
    );
    assert!(
        flood[1]["error"].as_str().unwrap().contains("Invalid"),
        "{flood}"
    );
    assert_eq!(flood[2]["stopped_after"], 50, "{flood}");
    // Nothing ambient: no environment, arguments, files or sockets; the clock works.
    let ambient = body(&call("/ambient").await.unwrap());
    assert_eq!(ambient["env"], json!([]), "{ambient}");
    assert!(ambient["args"].as_array().unwrap().len() <= 1, "{ambient}");
    for key in ["root", "passwd", "cwd", "socket"] {
        assert!(
            ambient[key].as_str().unwrap().starts_with("Err"),
            "{key}: {ambient}"
        );
    }
    assert!(
        ambient["clock"].as_u64().unwrap() > 1_700_000_000,
        "{ambient}"
    );
    // The log flood ends (lines past the limit are dropped) or hits the deadline.
    let _ = call("/log-flood").await;

    // The well-behaved pack is unaffected.
    let response = runtime
        .call_route(
            &greeter,
            context(&greeter, services.clone()),
            get("/settings", ""),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_concurrency_limit_holds() {
    let built = packs::built();
    let runtime = Arc::new(
        PackRuntime::new(
            Limits {
                tenant_concurrency: 2,
                deadline_ms: 1500,
                ..limits()
            },
            None,
        )
        .unwrap(),
    );
    let hostile = runtime
        .load(&packs::archive(&packs::hostile_manifest(), &built.hostile))
        .await
        .unwrap();
    let services = Arc::new(Recorder::default());
    let mut running = Vec::new();
    for _ in 0..2 {
        let (runtime, hostile, ctx) = (
            runtime.clone(),
            hostile.clone(),
            context(&hostile, services.clone()),
        );
        running.push(tokio::spawn(async move {
            runtime.call_route(&hostile, ctx, get("/loop", "")).await
        }));
    }
    // Time for both calls to take their permits, even on a loaded machine.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let third = runtime
        .call_route(
            &hostile,
            context(&hostile, services.clone()),
            get("/loop", ""),
        )
        .await;
    assert_eq!(third.unwrap_err(), CallError::Busy);
    for call in running {
        assert_eq!(call.await.unwrap().unwrap_err(), CallError::Timeout(1500));
    }
}

/// The scheduling policy (`/proc/.../stat` field 41) of each of this process's threads
/// named `name`.
#[cfg(target_os = "linux")]
fn thread_policies(name: &str) -> Vec<u32> {
    let mut policies = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap();
        // Fields after the name (which may hold spaces) start after its `)`, at field 3.
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let policy = after_name.split_whitespace().nth(41 - 3).unwrap();
        policies.push(policy.parse().unwrap());
    }
    policies
}

async fn until_one_is_made_ahead(runtime: &PackRuntime) {
    let waited = std::time::Instant::now();
    while runtime.ready_instances() == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "no instance made ahead"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Instances made ahead of calls (`ready`) serve one call each, with that call's own
/// configuration and secrets, and give their slots back when the pool runs short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_made_ahead_serve_one_call_each_in_the_calls_own_context() {
    let built = packs::built();
    let runtime = PackRuntime::new(limits(), None).unwrap();
    let loaded = load_greeter_v1(&runtime).await;
    let services = Arc::new(Recorder::default());
    for call in 0..5 {
        if call > 0 {
            // The previous call's background job makes the next instance.
            until_one_is_made_ahead(&runtime).await;
        }
        let settings = call_settings(&runtime, &loaded, &services).await;
        // Made with nothing granted, run with the call's context.
        assert_eq!(settings["config"]["greeting"], "Howdy", "call {call}");
        assert_eq!(settings["has_secret"], true, "call {call}");
        assert_eq!(settings["calls_in_this_instance"], 1, "call {call}");
    }
    // That work runs on a thread that gets a CPU only when no request wants it.
    #[cfg(target_os = "linux")]
    {
        let policies = thread_policies("pack-ready");
        assert!(!policies.is_empty(), "no pack-ready thread");
        const SCHED_IDLE: u32 = 5;
        assert!(policies.iter().all(|p| *p == SCHED_IDLE), "{policies:?}");
    }

    // Two slots: one held by the greeter's instance made ahead, one by a running call. A
    // third call still gets a slot, the waiting instance's.
    let small = Arc::new(
        PackRuntime::new(
            Limits {
                max_instances: 2,
                ready_instances: 1,
                deadline_ms: 1500,
                ..limits()
            },
            None,
        )
        .unwrap(),
    );
    let greeter = load_greeter_v1(&small).await;
    let hostile = small
        .load(&packs::archive(&packs::hostile_manifest(), &built.hostile))
        .await
        .unwrap();
    call_settings(&small, &greeter, &services).await;
    until_one_is_made_ahead(&small).await;
    let looping = {
        let (small, hostile, ctx) = (
            small.clone(),
            hostile.clone(),
            context(&hostile, services.clone()),
        );
        tokio::spawn(async move { small.call_route(&hostile, ctx, get("/loop", "")).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = small
        .call_route(
            &hostile,
            context(&hostile, services.clone()),
            get("/ambient", ""),
        )
        .await;
    assert!(response.is_ok(), "{response:?}");
    assert_eq!(
        looping.await.unwrap().unwrap_err(),
        CallError::Timeout(1500)
    );
}

/// On a single-threaded runtime too (compiling cannot use `block_in_place` there).
#[tokio::test]
async fn compiled_components_are_cached_on_disk() {
    let built = packs::built();
    let dir = tempfile::tempdir().unwrap();
    let archive = packs::archive(&packs::greeter_manifest("1.0.0", &[]), &built.greeter_v1);
    let first = PackRuntime::new(limits(), Some(dir.path().to_path_buf())).unwrap();
    let started = Instant::now();
    first.load(&archive).await.unwrap();
    let compiled = started.elapsed();
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "one compiled artefact");
    let second = PackRuntime::new(limits(), Some(dir.path().to_path_buf())).unwrap();
    let started = Instant::now();
    second.load(&archive).await.unwrap();
    eprintln!("compile {compiled:?}, from cache {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abi_the_host_lacks_is_refused() {
    let built = packs::built();
    let runtime = PackRuntime::new(limits(), None).unwrap();
    let manifest = packs::greeter_manifest("1.0.0", &[]).replace("abi: 0.1.0", "abi: 0.9.0");
    let err = runtime
        .load(&packs::archive(&manifest, &built.greeter_v1))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("does not serve pack ABI 0.9.0"),
        "{err:#}"
    );
    let bogus = tessera_plugins::PackArchive::from_parts(
        packs::hostile_manifest(),
        b"this is not wasm".to_vec(),
        Default::default(),
    )
    .unwrap();
    let err = runtime.load(&bogus).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("not a valid component"),
        "{err:#}"
    );
}

/// A one-shot HTTP server on loopback answering every connection with `response`.
async fn tiny_server(response: &'static str) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_http_reaches_granted_origins_only_and_follows_no_redirect() {
    let built = packs::built();
    let ok =
        tiny_server("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello").await;
    let redirect = tiny_server("HTTP/1.1 302 Found\r\nlocation: http://example.org/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
    let runtime = PackRuntime::new(limits(), None).unwrap();
    let manifest = packs::greeter_manifest("1.0.0", &["http://127.0.0.1:*"]);
    let loaded = runtime
        .load(&packs::archive(&manifest, &built.greeter_v1))
        .await
        .unwrap();
    let services = Arc::new(Recorder::default());
    let fetch = |url: String| {
        let ctx = context(&loaded, services.clone());
        let runtime = &runtime;
        let loaded = &loaded;
        async move {
            body(
                &runtime
                    .call_route(loaded, ctx, get("/fetch", &format!("url={url}")))
                    .await
                    .unwrap(),
            )
        }
    };
    let answer = fetch(format!("http://{ok}/x")).await;
    assert_eq!(
        (answer["status"].clone(), answer["body"].clone()),
        (json!(200), json!("hello")),
        "{answer}"
    );
    let answer = fetch(format!("http://{redirect}/x")).await;
    assert_eq!(
        answer["status"], 302,
        "the redirect is handed back, not followed: {answer}"
    );
    let answer = fetch(format!("http://localhost:{}/x", ok.port())).await;
    assert_eq!(
        answer["error"], "denied",
        "localhost is another host than 127.0.0.1: {answer}"
    );
    let answer = fetch("https://example.org/".into()).await;
    assert_eq!(answer["error"], "denied", "{answer}");
}
