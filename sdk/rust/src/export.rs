//! The bridge between the ABI's exports and a [`Pack`]: what `export_pack!` calls.
//!
//! Every call runs in a fresh instance, so the pack's definition function runs once per call;
//! building a `Pack` is a handful of allocations.

use crate::bindings::tessera::pack::types as abi;
use crate::error::Error;
use crate::pack::{Event, Interaction, Pack};
use crate::request::{Method, Request};
use crate::response::Response;
use crate::routing;

/// A pack's declarative content, embedded at compile time by `include_content!` from
/// `pack.yaml` (its id), `forms/` and `rules/`.
#[derive(Clone, Copy, Debug)]
pub struct Content {
    /// The pack's id from `pack.yaml`.
    pub pack_id: &'static str,
    /// (id, definition text) of each form.
    pub forms: &'static [(&'static str, &'static str)],
    /// (id, description, JSON Logic as JSON text) of each rule.
    pub rules: &'static [(&'static str, &'static str, &'static str)],
}

fn methods(methods: &[Method]) -> Vec<String> {
    methods.iter().map(|m| m.as_str().to_string()).collect()
}

/// What the pack contributes.
pub fn register(pack: Pack, content: &Content) -> abi::Registration {
    abi::Registration {
        routes: pack
            .routes
            .iter()
            .map(|entry| abi::Route {
                methods: methods(&entry.route.methods),
                path: entry.route.path.clone(),
                permission: entry.route.permission.as_ref().map(|p| abi::Permission {
                    target: p.target(content.pack_id),
                    action: p.action().as_str().to_string(),
                }),
            })
            .collect(),
        forms: content
            .forms
            .iter()
            .map(|(id, definition)| abi::Form {
                id: id.to_string(),
                definition: definition.to_string(),
            })
            .collect(),
        rules: content
            .rules
            .iter()
            .map(|(id, description, logic)| abi::Rule {
                id: id.to_string(),
                description: description.to_string(),
                logic: logic.to_string(),
            })
            .collect(),
        outbound: pack
            .outbound
            .iter()
            .map(|(name, url)| abi::OutboundEndpoint {
                name: name.clone(),
                url: url.clone(),
            })
            .collect(),
        webhooks: pack
            .webhooks
            .iter()
            .map(|hook| abi::Webhook {
                name: hook.name.clone(),
                methods: methods(&hook.methods),
            })
            .collect(),
        subscriptions: pack
            .subscriptions
            .iter()
            .map(|s| abi::Subscription {
                resource_type: s.resource_type.clone(),
                interactions: s
                    .interactions
                    .iter()
                    .map(|i| i.as_str().to_string())
                    .collect(),
            })
            .collect(),
        search_parameters: pack
            .search_parameters
            .iter()
            .map(|p| p.to_string())
            .collect(),
        identifier_systems: pack
            .identifier_systems
            .iter()
            .map(|s| abi::IdentifierSystem {
                system: s.system.clone(),
                description: s.description.clone(),
            })
            .collect(),
    }
}

/// Answers a route: the handler's response, or its error as a JSON error response.
pub fn handle_route(pack: Pack, request: abi::Request) -> Result<abi::Response, String> {
    let request = Request::from_host(request);
    let response = match routing::find(&pack.routes, request.method(), request.path()) {
        Some(entry) => (entry.handler)(&request).unwrap_or_else(Response::from),
        // The host only routes requests to registered routes; this answers a host that
        // disagrees about matching rather than failing the call.
        None => Response::from(Error::not_found(format!(
            "no route answers {} {}",
            request.method(),
            request.path()
        ))),
    };
    Ok(response.into_host())
}

/// Answers a webhook.
pub fn handle_webhook(
    pack: Pack,
    name: String,
    request: abi::Request,
) -> Result<abi::Response, String> {
    let request = Request::from_host(request);
    let response = match pack.webhooks.iter().find(|hook| hook.name == name) {
        Some(hook) => (hook.handler)(&request).unwrap_or_else(Response::from),
        None => Response::from(Error::not_found(format!("no webhook named {name}"))),
    };
    Ok(response.into_host())
}

/// Delivers an event to every subscription it matches; the first error fails the delivery.
pub fn handle_event(pack: Pack, event: abi::Event) -> Result<(), String> {
    let interaction = Interaction::parse(&event.interaction)
        .ok_or_else(|| format!("unknown interaction {:?}", event.interaction))?;
    let resource = if event.body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_str(&event.body)
                .map_err(|e| format!("the event's resource is not JSON: {e}"))?,
        )
    };
    let event = Event {
        resource_type: event.resource_type,
        id: event.id,
        interaction,
        resource,
    };
    for subscription in &pack.subscriptions {
        if subscription.resource_type == event.resource_type
            && subscription.interactions.contains(&event.interaction)
        {
            (subscription.handler)(&event).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Validates an identifier value of a registered system.
pub fn validate_identifier(pack: Pack, system: String, value: String) -> Result<(), String> {
    match pack.identifier_systems.iter().find(|s| s.system == system) {
        Some(entry) => (entry.check)(&value),
        None => Err(format!(
            "this pack does not validate identifiers of {system}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::{Action, Permission, Route};

    const CONTENT: Content = Content {
        pack_id: "demo",
        forms: &[("intake", "id: intake\n")],
        rules: &[("adult", "An adult", r#"{">=":[{"var":"age"},18]}"#)],
    };

    fn pack() -> Pack {
        Pack::new()
            .route(
                Route::get("/hello/{name}").requires(Permission::feature("greet", Action::Read)),
                |request| Response::json(&serde_json::json!({"hello": request.param("name")})),
            )
            .route(Route::get("/fails"), |_| Err(Error::bad_request("no")))
            .on_event("Patient", [Interaction::Create], |event| {
                if event.id == "bad" {
                    Err(Error::internal("cannot handle"))
                } else {
                    Ok(())
                }
            })
            .identifier_system("urn:even", "Even numbers", |v| {
                (v.parse::<u32>().map_err(|e| e.to_string())? % 2 == 0)
                    .then_some(())
                    .ok_or_else(|| format!("{v} is odd"))
            })
    }

    fn host_request(method: &str, path: &str, params: &[(&str, &str)]) -> abi::Request {
        abi::Request {
            method: method.into(),
            path: path.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            query: String::new(),
            headers: vec![],
            body: vec![],
            caller: abi::Caller {
                user: "u".into(),
                username: None,
                roles: vec![],
                patient: None,
                location: None,
            },
        }
    }

    #[test]
    fn registers_routes_with_feature_targets_and_the_embedded_content() {
        let registration = register(pack(), &CONTENT);
        let route = &registration.routes[0];
        assert_eq!(route.methods, ["GET"]);
        let permission = route.permission.as_ref().unwrap();
        assert_eq!(permission.target, "feature:demo.greet");
        assert_eq!(permission.action, "read");
        assert_eq!(registration.forms[0].id, "intake");
        assert_eq!(registration.rules[0].logic, r#"{">=":[{"var":"age"},18]}"#);
        assert_eq!(registration.subscriptions[0].interactions, ["create"]);
        assert_eq!(registration.identifier_systems[0].system, "urn:even");
    }

    #[test]
    fn handlers_answer_and_errors_become_responses() {
        let ok = handle_route(
            pack(),
            host_request("GET", "/hello/Ann", &[("name", "Ann")]),
        )
        .unwrap();
        assert_eq!(ok.status, 200);
        assert_eq!(ok.body, br#"{"hello":"Ann"}"#);
        let failed = handle_route(pack(), host_request("GET", "/fails", &[])).unwrap();
        assert_eq!(failed.status, 400);
        let missing = handle_route(pack(), host_request("GET", "/nowhere", &[])).unwrap();
        assert_eq!(missing.status, 404);
    }

    #[test]
    fn events_and_identifiers_reach_their_handlers() {
        let event = |id: &str| abi::Event {
            resource_type: "Patient".into(),
            id: id.into(),
            interaction: "create".into(),
            body: r#"{"resourceType":"Patient"}"#.into(),
        };
        assert_eq!(handle_event(pack(), event("p1")), Ok(()));
        assert!(handle_event(pack(), event("bad"))
            .unwrap_err()
            .contains("cannot handle"));
        assert_eq!(
            validate_identifier(pack(), "urn:even".into(), "42".into()),
            Ok(())
        );
        assert_eq!(
            validate_identifier(pack(), "urn:even".into(), "7".into()),
            Err("7 is odd".into())
        );
        assert!(validate_identifier(pack(), "urn:other".into(), "7".into()).is_err());
    }
}
