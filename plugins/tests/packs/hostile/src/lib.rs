//! A hostile test pack: every route tries to escape the sandbox or exhaust the host. The host
//! must stop each one, leak nothing, and stay healthy.

wit_bindgen::generate!({ path: "../../../../sdk/wit", world: "tessera:pack/pack@0.1.0" });

use exports::tessera::pack::handlers::Guest;
use serde_json::{json, Value};
use tessera::pack::types::*;
use tessera::pack::{fhir, kv, log, outbound_http};

struct Hostile;

fn reply(status: u16, body: Value) -> Response {
    Response {
        status,
        headers: vec![],
        body: body.to_string().into_bytes(),
    }
}

fn outcome<T: core::fmt::Debug>(result: Result<T, HostError>) -> Value {
    match result {
        Ok(v) => json!({"ok": format!("{v:?}")}),
        Err(e) => json!({"error": format!("{e:?}")}),
    }
}

fn route(path: &str) -> Route {
    Route {
        methods: vec!["GET".into()],
        path: path.into(),
        permission: None,
    }
}

impl Guest for Hostile {
    fn register() -> Registration {
        Registration {
            routes: [
                "/loop",
                "/bomb",
                "/read-ungranted",
                "/fetch-ungranted",
                "/other-tenant",
                "/huge",
                "/panic",
                "/kv-flood",
                "/log-flood",
                "/headers-flood",
                "/ambient",
            ]
            .into_iter()
            .map(route)
            .collect(),
            forms: vec![],
            rules: vec![],
            outbound: vec![],
            webhooks: vec![],
            subscriptions: vec![],
            search_parameters: vec![],
            identifier_systems: vec![IdentifierSystem {
                system: "urn:tessera:test:hostile".into(),
                description: "Checked by a pack that traps or loops".into(),
            }],
        }
    }

    fn handle_route(request: Request) -> Result<Response, String> {
        match request.path.as_str() {
            "/loop" => {
                let mut n: u64 = 0;
                loop {
                    n = core::hint::black_box(n.wrapping_add(1));
                }
            }
            "/bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    core::hint::black_box(&hoard);
                }
            }
            "/read-ungranted" => Ok(reply(
                200,
                json!({
                    "observation": outcome(fhir::read("Observation", "x")),
                    "search": outcome(fhir::search("Observation", "")),
                    "include": outcome(fhir::search("Patient", "_revinclude=Observation:subject")),
                    "chain": outcome(fhir::search("Patient", "_has:Observation:patient:code=1")),
                    "create": outcome(fhir::create(r#"{"resourceType":"Observation","status":"final","code":{"text":"x"}}"#)),
                    "transaction": outcome(fhir::transaction(r#"{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}}}]}"#)),
                }),
            )),
            "/fetch-ungranted" => {
                let query = request.query.clone();
                let url = query.strip_prefix("url=").unwrap_or("http://example.org/");
                Ok(reply(
                    200,
                    json!({"fetch": outcome(outbound_http::send(&outbound_http::OutboundRequest {
                        method: "GET".into(),
                        url: url.replace("%3A", ":").replace("%2F", "/"),
                        headers: vec![],
                        body: vec![],
                    }).map(|r| r.status))}),
                ))
            }
            "/other-tenant" => {
                let victim = request.query.strip_prefix("id=").unwrap_or("x").to_string();
                Ok(reply(
                    200,
                    json!({
                        "traversal": outcome(fhir::read("Patient", &format!("../../../other/fhir/Patient/{victim}"))),
                        "type_traversal": outcome(fhir::read(&format!("../other/fhir/Patient"), &victim)),
                        "plain": outcome(fhir::read("Patient", &victim)),
                        "search": outcome(fhir::search("Patient", &format!("_id={victim}"))),
                        "absolute": outcome(fhir::search("Patient", &format!("_id={victim}&_tenant=other#/t/other"))),
                        "transaction": outcome(fhir::transaction(&format!(r#"{{"resourceType":"Bundle","type":"batch","entry":[{{"request":{{"method":"GET","url":"http://localhost/t/other/fhir/Patient/{victim}"}}}}]}}"#))),
                    }),
                ))
            }
            "/huge" => Ok(Response {
                status: 200,
                headers: vec![],
                body: vec![b'x'; 40 << 20],
            }),
            "/headers-flood" => Ok(Response {
                status: 200,
                headers: (0..100_000)
                    .map(|i| Header {
                        name: format!("x-h{i}"),
                        value: "y".repeat(64),
                    })
                    .collect(),
                body: vec![],
            }),
            "/panic" => panic!("the hostile pack panics on purpose"),
            "/ambient" => {
                // Everything a program might take from its surroundings.
                let env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                let args: Vec<String> = std::env::args().collect();
                let root = std::fs::read_dir("/")
                    .map(|d| d.count())
                    .map_err(|e| e.to_string());
                let passwd = std::fs::read_to_string("/etc/passwd")
                    .map(|t| t.len())
                    .map_err(|e| e.to_string());
                let here = std::fs::read_dir(".")
                    .map(|d| d.count())
                    .map_err(|e| e.to_string());
                let socket = std::net::TcpStream::connect("127.0.0.1:5432")
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                Ok(reply(
                    200,
                    json!({
                        "env": env, "args": args,
                        "root": format!("{root:?}"), "passwd": format!("{passwd:?}"),
                        "cwd": format!("{here:?}"), "socket": format!("{socket:?}"),
                        "clock": now,
                    }),
                ))
            }
            "/kv-flood" => {
                let big = vec![1u8; 1 << 20];
                let mut results = Vec::new();
                results.push(outcome(kv::set("big", &big)));
                results.push(outcome(kv::set(&"k".repeat(10_000), b"v")));
                let mut stored = 0;
                for i in 0..100_000 {
                    match kv::set(&format!("key-{i}"), b"v") {
                        Ok(()) => stored += 1,
                        Err(e) => {
                            results
                                .push(json!({"stopped_after": stored, "error": format!("{e:?}")}));
                            break;
                        }
                    }
                }
                Ok(reply(200, json!(results)))
            }
            "/log-flood" => {
                let line = "z".repeat(100_000);
                for _ in 0..100_000 {
                    log::log(log::Level::Error, &line);
                }
                Ok(reply(200, json!({"logged": true})))
            }
            _ => Ok(reply(404, json!({}))),
        }
    }

    fn handle_event(_event: Event) -> Result<(), String> {
        Ok(())
    }

    fn handle_webhook(_name: String, _request: Request) -> Result<Response, String> {
        Err("no webhooks".into())
    }

    /// Never answers properly: loops past the deadline for "loop", traps otherwise.
    fn validate_identifier(_system: String, value: String) -> Result<(), String> {
        if value == "loop" {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        panic!("hostile identifier check of {value}")
    }
}

export!(Hostile);
