//! {{name}}: a Tessera specialty pack.

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
    Pack::new().route(
        Route::get("/hello/{name}").requires(Permission::feature("greet", Action::Read)),
        hello,
    )
}

/// `GET /hello/{name}`: greets `name` with the organization's greeting.
fn hello(request: &Request) -> Result<Response> {
    let settings: Settings = config::get()?;
    let name = request.param("name").unwrap_or("there");
    Response::json(&json!({ "message": format!("{}, {name}!", settings.greeting) }))
}

export_pack!(pack);
