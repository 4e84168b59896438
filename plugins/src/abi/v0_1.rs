//! ABI `tessera:pack@0.1.0` (released; never changes). Translates between this version's
//! generated types and the host's own, and delegates every import to `crate::capabilities`.

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

use crate::capabilities::{self, http, HostState};
use crate::manifest::FhirInteraction;
use crate::registration as reg;
use crate::routes::RoutePattern;
use crate::runtime::{PackEvent, PackResponse, RouteRequest};

wasmtime::component::bindgen!({
    path: "../sdk/wit",
    world: "tessera:pack/pack@0.1.0",
    // Imports that never wait are plain functions: an async import is polled as a future
    // on the call's fiber, which costs every call that makes it more code than the import
    // itself (docs/performance.md, "Packs: less host code per call").
    imports: {
        "tessera:pack/config": trappable,
        "tessera:pack/log": trappable,
        default: async,
    },
    exports: { default: async },
});

use tessera::pack::types as abi;

pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    Pack::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
    Ok(linker)
}

pub fn prepare(
    linker: &Linker<HostState>,
    component: &Component,
) -> wasmtime::Result<PackPre<HostState>> {
    PackPre::new(linker.instantiate_pre(component)?)
}

fn host_error(err: capabilities::HostError) -> abi::HostError {
    use capabilities::HostError as E;
    match err {
        E::Denied(m) => abi::HostError::Denied(m),
        E::NotFound(m) => abi::HostError::NotFound(m),
        E::Invalid(m) => abi::HostError::Invalid(m),
        E::Limit(m) => abi::HostError::Limit(m),
        E::Unavailable(m) => abi::HostError::Unavailable(m),
    }
}

impl abi::Host for HostState {}

impl tessera::pack::fhir::Host for HostState {
    async fn read(&mut self, resource_type: String, id: String) -> Result<String, abi::HostError> {
        self.fhir_read(resource_type, id).await.map_err(host_error)
    }
    async fn search(
        &mut self,
        resource_type: String,
        query: String,
    ) -> Result<String, abi::HostError> {
        self.fhir_search(resource_type, query)
            .await
            .map_err(host_error)
    }
    async fn create(&mut self, body: String) -> Result<String, abi::HostError> {
        self.fhir_write(body, FhirInteraction::Create)
            .await
            .map_err(host_error)
    }
    async fn update(&mut self, body: String) -> Result<String, abi::HostError> {
        self.fhir_write(body, FhirInteraction::Update)
            .await
            .map_err(host_error)
    }
    async fn transaction(&mut self, bundle: String) -> Result<String, abi::HostError> {
        self.fhir_transaction(bundle).await.map_err(host_error)
    }
}

impl tessera::pack::outbound_http::Host for HostState {
    async fn send(
        &mut self,
        request: tessera::pack::outbound_http::OutboundRequest,
    ) -> Result<abi::Response, abi::HostError> {
        let outbound = http::Outbound {
            method: request.method,
            url: request.url,
            headers: request
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            body: request.body,
        };
        let inbound = self.http_send(outbound).await.map_err(host_error)?;
        Ok(abi::Response {
            status: inbound.status,
            headers: inbound
                .headers
                .into_iter()
                .map(|(name, value)| abi::Header { name, value })
                .collect(),
            body: inbound.body,
        })
    }
}

impl tessera::pack::kv::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, abi::HostError> {
        self.kv_get(key).await.map_err(host_error)
    }
    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), abi::HostError> {
        self.kv_set(key, value).await.map_err(host_error)
    }
    async fn delete(&mut self, key: String) -> Result<(), abi::HostError> {
        self.kv_delete(key).await.map_err(host_error)
    }
    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, abi::HostError> {
        self.kv_list(prefix).await.map_err(host_error)
    }
}

impl tessera::pack::config::Host for HostState {
    fn get_config(&mut self) -> wasmtime::Result<String> {
        Ok(self.config_json())
    }
    fn get_secret(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.secret(&name))
    }
}

impl tessera::pack::log::Host for HostState {
    fn log(&mut self, level: tessera::pack::log::Level, message: String) -> wasmtime::Result<()> {
        use capabilities::log::Level;
        use tessera::pack::log::Level as L;
        let level = match level {
            L::Trace => Level::Trace,
            L::Debug => Level::Debug,
            L::Info => Level::Info,
            L::Warn => Level::Warn,
            L::Error => Level::Error,
        };
        HostState::log(self, level, &message);
        Ok(())
    }
}

/// The request in this version's types. It is moved, not copied: the host has no use for it
/// once the guest has it, and a copy of every string would be another allocation per field.
fn request(request: RouteRequest) -> abi::Request {
    let caller = request.caller;
    abi::Request {
        method: request.method,
        path: request.path,
        params: request.params,
        query: request.query,
        headers: request
            .headers
            .into_iter()
            .map(|(name, value)| abi::Header { name, value })
            .collect(),
        body: request.body,
        caller: abi::Caller {
            user: caller.user,
            username: caller.username,
            roles: caller.roles,
            patient: caller.patient,
            location: caller.location,
        },
    }
}

fn response(response: abi::Response) -> PackResponse {
    PackResponse {
        status: response.status,
        headers: response
            .headers
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect(),
        body: response.body,
    }
}

pub async fn register(
    pack: &Pack,
    store: &mut Store<HostState>,
) -> wasmtime::Result<reg::Registration> {
    let got = pack
        .tessera_pack_handlers()
        .call_register(&mut *store)
        .await?;
    let mut routes = Vec::new();
    for route in got.routes {
        let pattern = RoutePattern::parse(&route.path).map_err(wasmtime::Error::msg)?;
        routes.push(reg::Route {
            methods: route.methods,
            path: route.path,
            permission: route.permission.map(|p| reg::Permission {
                target: p.target,
                action: p.action,
            }),
            pattern,
        });
    }
    let mut rules = Vec::new();
    for rule in got.rules {
        let logic = serde_json::from_str(&rule.logic)
            .map_err(|e| wasmtime::format_err!("rule {}: the logic is not JSON: {e}", rule.id))?;
        rules.push(reg::Rule {
            id: rule.id,
            description: rule.description,
            logic,
        });
    }
    let mut search_parameters = Vec::new();
    for parameter in got.search_parameters {
        search_parameters.push(
            serde_json::from_str(&parameter)
                .map_err(|e| wasmtime::format_err!("a search parameter is not JSON: {e}"))?,
        );
    }
    Ok(reg::Registration {
        routes,
        forms: got
            .forms
            .into_iter()
            .map(|f| reg::Form {
                id: f.id,
                definition: f.definition,
            })
            .collect(),
        rules,
        outbound: got
            .outbound
            .into_iter()
            .map(|e| reg::Endpoint {
                name: e.name,
                url: e.url,
            })
            .collect(),
        webhooks: got
            .webhooks
            .into_iter()
            .map(|w| reg::Webhook {
                name: w.name,
                methods: w.methods,
            })
            .collect(),
        subscriptions: got
            .subscriptions
            .into_iter()
            .map(|s| reg::Subscription {
                resource_type: s.resource_type,
                interactions: s.interactions,
            })
            .collect(),
        search_parameters,
        identifier_systems: got
            .identifier_systems
            .into_iter()
            .map(|s| reg::IdentifierSystem {
                system: s.system,
                description: s.description,
            })
            .collect(),
    })
}

/// A fresh instance of the pack, not yet called.
pub async fn instantiate(
    pre: &PackPre<HostState>,
    store: &mut Store<HostState>,
) -> wasmtime::Result<Pack> {
    pre.instantiate_async(&mut *store).await
}

pub async fn handle_route(
    pack: &Pack,
    store: &mut Store<HostState>,
    route_request: RouteRequest,
) -> wasmtime::Result<Result<PackResponse, String>> {
    let answer = pack
        .tessera_pack_handlers()
        .call_handle_route(&mut *store, &request(route_request))
        .await?;
    Ok(answer.map(response))
}

pub async fn handle_webhook(
    pack: &Pack,
    store: &mut Store<HostState>,
    name: &str,
    route_request: RouteRequest,
) -> wasmtime::Result<Result<PackResponse, String>> {
    let answer = pack
        .tessera_pack_handlers()
        .call_handle_webhook(&mut *store, name, &request(route_request))
        .await?;
    Ok(answer.map(response))
}

pub async fn handle_event(
    pack: &Pack,
    store: &mut Store<HostState>,
    event: &PackEvent,
) -> wasmtime::Result<Result<(), String>> {
    let event = abi::Event {
        resource_type: event.resource_type.clone(),
        id: event.id.clone(),
        interaction: event.interaction.clone(),
        body: event.body.clone(),
    };
    pack.tessera_pack_handlers()
        .call_handle_event(&mut *store, &event)
        .await
}

pub async fn validate_identifier(
    pack: &Pack,
    store: &mut Store<HostState>,
    system: &str,
    value: &str,
) -> wasmtime::Result<Result<(), String>> {
    pack.tessera_pack_handlers()
        .call_validate_identifier(&mut *store, system, value)
        .await
}
