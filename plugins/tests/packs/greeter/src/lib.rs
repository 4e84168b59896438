//! A well-behaved test pack: greets, reads the FHIR store within its grant, counts in its
//! key-value store, reads its configuration and secret, and calls a granted host.

wit_bindgen::generate!({ path: "../../../../sdk/wit", world: "tessera:pack/pack@0.1.0" });

use exports::tessera::pack::handlers::Guest;
use serde_json::{json, Value};
use tessera::pack::types::*;
use tessera::pack::{config, fhir, kv, log, outbound_http};

/// "2" when built as the `greeter2` crate.
const VERSION: &str = if env!("CARGO_PKG_NAME").len() == "greeter2".len() {
    "2"
} else {
    "1"
};

struct Greeter;

/// Calls this instance has served: always 1 when every call gets a fresh instance.
static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn reply(status: u16, body: Value) -> Response {
    json_reply(status, body.to_string().into_bytes())
}

/// A JSON answer whose bytes are already written.
fn json_reply(status: u16, body: Vec<u8>) -> Response {
    Response {
        status,
        headers: vec![Header {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body,
    }
}

/// `{"greeting", "location", "roles", "user", "version"}`, the bytes `json!` would write,
/// without building a `serde_json::Value` on the benchmark's route: a pack's copy of serde_json
/// is cold at the start of every call, and cost 5–15 µs a call there (docs/performance.md,
/// "Packs: the guest's own code"). The SDK offers the same as `json::JsonObject`; test packs
/// do not depend on the SDK, so this is a copy of its escaping.
fn hello_body(greeting: &str, name: &str, caller: &Caller) -> Vec<u8> {
    let mut body = String::with_capacity(160);
    body.push_str("{\"greeting\":");
    json_string(&mut body, &[greeting, ", ", name, "!"].concat());
    body.push_str(",\"location\":");
    match &caller.location {
        Some(location) => json_string(&mut body, location),
        None => body.push_str("null"),
    }
    body.push_str(",\"roles\":[");
    for (i, role) in caller.roles.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        json_string(&mut body, role);
    }
    body.push_str("],\"user\":");
    json_string(&mut body, &caller.user);
    body.push_str(",\"version\":");
    json_string(&mut body, VERSION);
    body.push('}');
    body.into_bytes()
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => {
                let code = c as u8;
                out.push_str("\\u00");
                out.push(char::from(b"0123456789abcdef"[usize::from(code >> 4)]));
                out.push(char::from(b"0123456789abcdef"[usize::from(code & 15)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn host_error(err: HostError) -> Response {
    let (status, kind, message) = match err {
        HostError::Denied(m) => (403, "denied", m),
        HostError::NotFound(m) => (404, "not-found", m),
        HostError::Invalid(m) => (400, "invalid", m),
        HostError::Limit(m) => (429, "limit", m),
        HostError::Unavailable(m) => (503, "unavailable", m),
    };
    reply(status, json!({"error": kind, "message": message}))
}

fn param<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn query_value(request: &Request, name: &str) -> Option<String> {
    request.query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.replace("%3A", ":").replace("%2F", "/"))
    })
}

fn route(methods: &[&str], path: &str, permission: Option<(&str, &str)>) -> Route {
    Route {
        methods: methods.iter().map(|m| m.to_string()).collect(),
        path: path.into(),
        permission: permission.map(|(target, action)| Permission {
            target: target.into(),
            action: action.into(),
        }),
    }
}

impl Guest for Greeter {
    fn register() -> Registration {
        Registration {
            routes: vec![
                route(&["GET"], "/hello/{name}", Some(("feature:greeter.greet", "read"))),
                route(&["GET"], "/patients/{id}/summary", Some(("Patient", "read"))),
                route(&["POST"], "/counter", None),
                route(&["GET"], "/settings", None),
                route(&["GET"], "/fetch", None),
                route(&["POST"], "/patients", Some(("Patient", "create"))),
                route(&["GET"], "/events", None),
            ],
            forms: vec![Form {
                id: "greeting-survey".into(),
                definition: "id: greeting-survey\nversion: 1.0.0\ntitle: How was the greeting?\nitems:\n  - linkId: rating\n    type: integer\n    text: From 1 to 5\n    min: 1\n    max: 5\n".into(),
            }],
            rules: vec![Rule {
                id: "adult".into(),
                description: "The patient is an adult".into(),
                logic: r#"{">=": [{"var": "age"}, 18]}"#.into(),
            }],
            outbound: vec![],
            webhooks: vec![Webhook {
                name: "ping".into(),
                methods: vec!["POST".into()],
            }],
            subscriptions: vec![Subscription {
                resource_type: "Patient".into(),
                interactions: vec!["create".into(), "update".into(), "delete".into()],
            }],
            search_parameters: vec![json!({
                "resourceType": "SearchParameter",
                "url": "urn:tessera:test:SearchParameter/patient-nickname",
                "name": "nickname",
                "status": "active",
                "code": "nickname",
                "base": ["Patient"],
                "type": "string",
                "expression": "Patient.name.where(use='nickname').given",
                "description": "A patient's nickname"
            })
            .to_string()],
            identifier_systems: vec![IdentifierSystem {
                system: "urn:tessera:test:even".into(),
                description: "Even numbers".into(),
            }],
        }
    }

    fn handle_route(request: Request) -> Result<Response, String> {
        let path = request.path.clone();
        log::log(
            log::Level::Info,
            &["greeter v", VERSION, " ", &request.method, " ", &path].concat(),
        );
        if path.starts_with("/hello/") {
            let config: Value = serde_json::from_str(&config::get_config()).unwrap_or(Value::Null);
            let greeting = config["greeting"].as_str().unwrap_or("Hello");
            return Ok(json_reply(
                200,
                hello_body(greeting, param(&request, "name"), &request.caller),
            ));
        }
        if path.ends_with("/summary") {
            let id = param(&request, "id");
            let patient = match fhir::read("Patient", id) {
                Ok(p) => p,
                Err(e) => return Ok(host_error(e)),
            };
            let patient: Value = serde_json::from_str(&patient).map_err(|e| e.to_string())?;
            return Ok(reply(
                200,
                json!({"id": patient["id"], "family": patient["name"][0]["family"]}),
            ));
        }
        if path == "/counter" {
            let current = match kv::get("count") {
                Ok(v) => v
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0),
                Err(e) => return Ok(host_error(e)),
            };
            let next = current + 1;
            if let Err(e) = kv::set("count", next.to_string().as_bytes()) {
                return Ok(host_error(e));
            }
            return Ok(reply(200, json!({"count": next})));
        }
        if path == "/settings" {
            let config: Value = serde_json::from_str(&config::get_config()).unwrap_or(Value::Null);
            let secret = config::get_secret("api-key");
            return Ok(reply(
                200,
                json!({
                    "config": config,
                    "has_secret": secret.is_some(),
                    "secret_length": secret.map(|s| s.len()),
                    "undeclared_secret": config::get_secret("greeting").is_some(),
                    "calls_in_this_instance": CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                }),
            ));
        }
        if path == "/fetch" {
            let url = query_value(&request, "url").unwrap_or_default();
            let sent = outbound_http::send(&outbound_http::OutboundRequest {
                method: "GET".into(),
                url,
                headers: vec![],
                body: vec![],
            });
            return Ok(match sent {
                Ok(r) => reply(
                    200,
                    json!({"status": r.status, "body": String::from_utf8_lossy(&r.body)}),
                ),
                Err(e) => host_error(e),
            });
        }
        if path == "/events" {
            let mut heard = Vec::new();
            for key in kv::list_keys("event/").map_err(|e| format!("{e:?}"))? {
                if let Ok(Some(bytes)) = kv::get(&key) {
                    heard.push(serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null));
                }
            }
            return Ok(reply(200, json!({ "events": heard })));
        }
        if path == "/patients" {
            let body = String::from_utf8(request.body).map_err(|e| e.to_string())?;
            return Ok(match fhir::create(&body) {
                Ok(created) => reply(201, serde_json::from_str(&created).unwrap_or(Value::Null)),
                Err(e) => host_error(e),
            });
        }
        Ok(reply(404, json!({"error": "no such route"})))
    }

    /// Records each event it hears in its key-value store (`GET /events` lists them); a
    /// Patient named Fail makes delivery fail, one named Loop runs past the deadline.
    fn handle_event(event: Event) -> Result<(), String> {
        let family = serde_json::from_str::<Value>(&event.body)
            .ok()
            .and_then(|p| p["name"][0]["family"].as_str().map(str::to_string))
            .unwrap_or_default();
        match family.as_str() {
            "Fail" => return Err(format!("asked to fail by {}", event.id)),
            #[allow(clippy::empty_loop)]
            "Loop" => loop {},
            _ => {}
        }
        // One key per delivery (a random suffix from WASI), so concurrent deliveries never
        // overwrite each other and a repeated delivery shows as a second key.
        let nonce = {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        };
        let key = format!("event/{}/{}/{nonce:016x}", event.id, event.interaction);
        let value = json!({
            "type": event.resource_type, "id": event.id, "interaction": event.interaction,
            "family": family, "version": VERSION,
        });
        kv::set(&key, value.to_string().as_bytes()).map_err(|e| format!("{e:?}"))
    }

    fn handle_webhook(name: String, request: Request) -> Result<Response, String> {
        Ok(reply(
            200,
            json!({"hook": name, "bytes": request.body.len(), "version": VERSION}),
        ))
    }

    fn validate_identifier(_system: String, value: String) -> Result<(), String> {
        match value.parse::<u64>() {
            Ok(n) if n % 2 == 0 => Ok(()),
            Ok(_) => Err(format!("{value} is odd")),
            Err(_) => Err(format!("{value:?} is not a number")),
        }
    }
}

export!(Greeter);
