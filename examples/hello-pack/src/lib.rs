//! hello-pack: a Tessera specialty pack.

use serde::Deserialize;
use serde_json::json;
use tessera_pack_sdk::prelude::*;

/// The organization's configuration of the pack (`config_schema` in pack.yaml).
#[derive(Deserialize)]
struct Settings {
    #[serde(default = "default_greeting")]
    greeting: String,
}

fn default_greeting() -> String {
    "Hello".into()
}

/// What the pack contributes. Its forms (forms/) and rules (rules/) come with it.
fn pack() -> Pack {
    Pack::new()
        .route(
            Route::get("/hello/{name}").requires(Permission::feature("greet", Action::Read)),
            hello,
        )
        .route(
            Route::post("/visits/{name}").requires(Permission::feature("greet", Action::Update)),
            count_visit,
        )
}

/// `GET /hello/{name}`: greets `name` with the organization's greeting.
fn hello(request: &Request) -> Result<Response> {
    let settings: Settings = config::get()?;
    let name = request.param("name").unwrap_or("there");
    Response::json(&json!({ "message": format!("{}, {name}!", settings.greeting) }))
}

/// `POST /visits/{name}`: counts `name`'s visits in the pack's key-value store.
fn count_visit(request: &Request) -> Result<Response> {
    let name = request.param("name").unwrap_or("there");
    let key = format!("visits/{name}");
    let visits = kv::get_json::<u64>(&key)?.unwrap_or(0) + 1;
    kv::set_json(&key, &visits)?;
    log::info(format!("{name} has visited {visits} times"));
    Response::json(&json!({ "name": name, "visits": visits }))
}

export_pack!(pack);
