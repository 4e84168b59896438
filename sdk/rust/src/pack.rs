//! Declaring what a pack contributes: routes with their permissions and handlers, webhooks,
//! event subscriptions, identifier systems, outbound endpoints and SearchParameters.
//!
//! A pack is one function returning a [`Pack`], exported with [`crate::export_pack!`]. Its
//! forms (`forms/`) and rules (`rules/`) are embedded at compile time and registered with it;
//! nothing here needs to list them.

use serde_json::Value;

use crate::error::Result;
use crate::request::{Method, Request};
use crate::response::Response;

/// What a caller must be allowed to do to use a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    target: Target,
    action: Action,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    ResourceType(String),
    /// A feature of this pack, by its name under `permissions.features` in `pack.yaml`.
    Feature(String),
}

/// An action a permission grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read one resource (or use a read-like feature).
    Read,
    /// Search.
    Search,
    /// Create.
    Create,
    /// Update.
    Update,
    /// Delete.
    Delete,
    /// Administer.
    Admin,
}

impl Action {
    /// The action's name as the host spells it (`read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Search => "search",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Admin => "admin",
        }
    }
}

impl Permission {
    /// An action on a FHIR resource type: `Permission::fhir("Patient", Action::Read)` lets in
    /// users whose roles may read Patients.
    pub fn fhir(resource_type: impl Into<String>, action: Action) -> Permission {
        Permission {
            target: Target::ResourceType(resource_type.into()),
            action,
        }
    }

    /// An action on one of the pack's own features (`permissions.features.<name>` in
    /// `pack.yaml`): users holding a role the feature lists, or a tenant role granting
    /// `feature:<pack>.<name>`.
    pub fn feature(name: impl Into<String>, action: Action) -> Permission {
        Permission {
            target: Target::Feature(name.into()),
            action,
        }
    }

    /// The target as the host names it: a FHIR type or `feature:<pack>.<name>`.
    pub fn target(&self, pack_id: &str) -> String {
        match &self.target {
            Target::ResourceType(ty) => ty.clone(),
            Target::Feature(name) => format!("feature:{pack_id}.{name}"),
        }
    }

    /// The action.
    pub fn action(&self) -> Action {
        self.action
    }
}

/// A route: methods, a path pattern and, optionally, the permission a caller needs. Without
/// one, any signed-in user of the organization may call it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub(crate) methods: Vec<Method>,
    pub(crate) path: String,
    pub(crate) permission: Option<Permission>,
}

impl Route {
    /// A route answering `methods` at `path`, a pattern below `/t/{tenant}/packs/{pack}`
    /// such as `/patients/{id}/summary` (`{name}` binds one segment).
    pub fn new(methods: impl IntoIterator<Item = Method>, path: impl Into<String>) -> Route {
        Route {
            methods: methods.into_iter().collect(),
            path: path.into(),
            permission: None,
        }
    }

    /// `GET path`.
    pub fn get(path: impl Into<String>) -> Route {
        Route::new([Method::Get], path)
    }

    /// `POST path`.
    pub fn post(path: impl Into<String>) -> Route {
        Route::new([Method::Post], path)
    }

    /// `PUT path`.
    pub fn put(path: impl Into<String>) -> Route {
        Route::new([Method::Put], path)
    }

    /// `PATCH path`.
    pub fn patch(path: impl Into<String>) -> Route {
        Route::new([Method::Patch], path)
    }

    /// `DELETE path`.
    pub fn delete(path: impl Into<String>) -> Route {
        Route::new([Method::Delete], path)
    }

    /// The permission a caller needs.
    pub fn requires(mut self, permission: Permission) -> Route {
        self.permission = Some(permission);
        self
    }

    /// The path pattern.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// A resource change the pack subscribed to.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The resource's type.
    pub resource_type: String,
    /// The resource's id.
    pub id: String,
    /// What happened to it.
    pub interaction: Interaction,
    /// The resource as stored (`None` for a delete).
    pub resource: Option<Value>,
}

/// A change to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interaction {
    /// Created.
    Create,
    /// Updated.
    Update,
    /// Deleted.
    Delete,
}

impl Interaction {
    /// The name as the host spells it (`create`).
    pub fn as_str(self) -> &'static str {
        match self {
            Interaction::Create => "create",
            Interaction::Update => "update",
            Interaction::Delete => "delete",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Interaction> {
        match text {
            "create" => Some(Interaction::Create),
            "update" => Some(Interaction::Update),
            "delete" => Some(Interaction::Delete),
            _ => None,
        }
    }
}

pub(crate) type RouteHandler = Box<dyn Fn(&Request) -> Result<Response>>;
pub(crate) type EventHandler = Box<dyn Fn(&Event) -> Result<()>>;
pub(crate) type IdentifierCheck = Box<dyn Fn(&str) -> std::result::Result<(), String>>;

pub(crate) struct RouteEntry {
    pub route: Route,
    pub handler: RouteHandler,
}

pub(crate) struct WebhookEntry {
    pub name: String,
    pub methods: Vec<Method>,
    pub handler: RouteHandler,
}

pub(crate) struct SubscriptionEntry {
    pub resource_type: String,
    pub interactions: Vec<Interaction>,
    pub handler: EventHandler,
}

pub(crate) struct IdentifierEntry {
    pub system: String,
    pub description: String,
    pub check: IdentifierCheck,
}

/// Everything a pack contributes, with the code that answers for it.
///
/// ```
/// use tessera_pack_sdk::prelude::*;
///
/// fn pack() -> Pack {
///     Pack::new()
///         .route(
///             Route::get("/patients/{id}/summary").requires(Permission::fhir("Patient", Action::Read)),
///             summary,
///         )
///         .route(
///             Route::get("/chart").requires(Permission::feature("chart", Action::Read)),
///             |_request: &Request| Ok(Response::html("<h1>Antenatal chart</h1>")),
///         )
///         .webhook("lab-results", [Method::Post], |request: &Request| {
///             let _payload: serde_json::Value = request.json()?;
///             Ok(Response::no_content())
///         })
///         .on_event("Patient", [Interaction::Create], |event: &Event| {
///             log::info(format!("new patient {}", event.id));
///             Ok(())
///         })
///         .identifier_system("https://example.org/mrn", "Example MRN", |value: &str| {
///             if value.len() == 8 { Ok(()) } else { Err("an MRN has 8 characters".into()) }
///         })
/// }
///
/// fn summary(request: &Request) -> Result<Response> {
///     let patient = fhir::read("Patient", request.param("id").unwrap_or_default())?;
///     Response::json(&serde_json::json!({"name": patient["name"]}))
/// }
/// # let _ = pack;
/// ```
#[derive(Default)]
pub struct Pack {
    pub(crate) routes: Vec<RouteEntry>,
    pub(crate) webhooks: Vec<WebhookEntry>,
    pub(crate) subscriptions: Vec<SubscriptionEntry>,
    pub(crate) identifier_systems: Vec<IdentifierEntry>,
    pub(crate) outbound: Vec<(String, String)>,
    pub(crate) search_parameters: Vec<Value>,
}

impl Pack {
    /// A pack that contributes nothing yet (its forms and rules come with it anyway).
    pub fn new() -> Pack {
        Pack::default()
    }

    /// Serves `route` with `handler`. An `Err` from the handler reaches the caller as a JSON
    /// error with the error's status.
    pub fn route<H>(mut self, route: Route, handler: H) -> Pack
    where
        H: Fn(&Request) -> Result<Response> + 'static,
    {
        self.routes.push(RouteEntry {
            route,
            handler: Box::new(handler),
        });
        self
    }

    /// Serves a webhook at `/t/{tenant}/packs/{pack}/_hooks/{name}`. Other systems call it
    /// without a user token, so the handler must check who is calling (a shared secret from
    /// [`crate::config::secret`], a signature header); it runs with the pack's grant only.
    pub fn webhook<H>(
        mut self,
        name: impl Into<String>,
        methods: impl IntoIterator<Item = Method>,
        handler: H,
    ) -> Pack
    where
        H: Fn(&Request) -> Result<Response> + 'static,
    {
        self.webhooks.push(WebhookEntry {
            name: name.into(),
            methods: methods.into_iter().collect(),
            handler: Box::new(handler),
        });
        self
    }

    /// Hears about `interactions` on resources of `resource_type` (the pack must request
    /// `read` on that type in `pack.yaml`).
    pub fn on_event<H>(
        mut self,
        resource_type: impl Into<String>,
        interactions: impl IntoIterator<Item = Interaction>,
        handler: H,
    ) -> Pack
    where
        H: Fn(&Event) -> Result<()> + 'static,
    {
        self.subscriptions.push(SubscriptionEntry {
            resource_type: resource_type.into(),
            interactions: interactions.into_iter().collect(),
            handler: Box::new(handler),
        });
        self
    }

    /// Validates identifiers of `system` (an NHS number, an ABHA number): `check` returns
    /// why a value is not valid.
    pub fn identifier_system<C>(
        mut self,
        system: impl Into<String>,
        description: impl Into<String>,
        check: C,
    ) -> Pack
    where
        C: Fn(&str) -> std::result::Result<(), String> + 'static,
    {
        self.identifier_systems.push(IdentifierEntry {
            system: system.into(),
            description: description.into(),
            check: Box::new(check),
        });
        self
    }

    /// Declares an outbound endpoint for the admin's view; its origin must be among
    /// `permissions.http` in `pack.yaml`.
    pub fn outbound_endpoint(mut self, name: impl Into<String>, url: impl Into<String>) -> Pack {
        self.outbound.push((name.into(), url.into()));
        self
    }

    /// Contributes a FHIR SearchParameter resource.
    pub fn search_parameter(mut self, search_parameter: Value) -> Pack {
        self.search_parameters.push(search_parameter);
        self
    }
}
