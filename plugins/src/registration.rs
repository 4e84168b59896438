//! What a pack version contributes, as returned by its `register` export and checked
//! against its manifest: a route may only require a FHIR permission or one of the pack's own
//! features, and names must be unique.

use serde::Serialize;

use crate::manifest::{is_resource_type, Manifest};
use crate::routes::RoutePattern;

pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
pub const ACTIONS: &[&str] = &["read", "search", "create", "update", "delete", "admin"];

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Permission {
    /// A FHIR type or `feature:<pack>.<name>`.
    pub target: String,
    pub action: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Route {
    pub methods: Vec<String>,
    pub path: String,
    pub permission: Option<Permission>,
    #[serde(skip)]
    pub pattern: RoutePattern,
}

#[derive(Clone, Debug, Serialize)]
pub struct Form {
    pub id: String,
    pub definition: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub logic: serde_json::Value,
}

#[derive(Clone, Debug, Serialize)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Webhook {
    pub name: String,
    pub methods: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Subscription {
    pub resource_type: String,
    pub interactions: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct IdentifierSystem {
    pub system: String,
    pub description: String,
}

/// A pack version's contributions, checked.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Registration {
    pub routes: Vec<Route>,
    pub forms: Vec<Form>,
    pub rules: Vec<Rule>,
    pub outbound: Vec<Endpoint>,
    pub webhooks: Vec<Webhook>,
    pub subscriptions: Vec<Subscription>,
    pub search_parameters: Vec<serde_json::Value>,
    pub identifier_systems: Vec<IdentifierSystem>,
}

/// Where a request lands among a pack's routes.
pub enum RouteMatch<'a> {
    Found(&'a Route, Vec<(String, String)>),
    /// The path exists, but not for this method.
    MethodNotAllowed,
    NotFound,
}

fn check_methods(what: &str, methods: &[String]) -> Result<(), String> {
    if methods.is_empty() {
        return Err(format!("{what}: list at least one method"));
    }
    for method in methods {
        if !METHODS.contains(&method.as_str()) {
            return Err(format!(
                "{what}: method {method:?} is not one of {METHODS:?}"
            ));
        }
    }
    Ok(())
}

fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

impl Registration {
    /// Checks what a pack registered against its manifest.
    pub fn check(mut self, manifest: &Manifest) -> Result<Registration, String> {
        let feature_prefix = format!("feature:{}.", manifest.id);
        for route in &self.routes {
            let what = format!("route {}", route.path);
            check_methods(&what, &route.methods)?;
            if let Some(permission) = &route.permission {
                if !ACTIONS.contains(&permission.action.as_str()) {
                    return Err(format!(
                        "{what}: action {:?} is not one of {ACTIONS:?}",
                        permission.action
                    ));
                }
                if let Some(feature) = permission.target.strip_prefix(&feature_prefix) {
                    if !manifest.permissions.features.contains_key(feature) {
                        return Err(format!(
                            "{what}: feature {feature:?} is not declared in pack.yaml permissions.features"
                        ));
                    }
                } else if !is_resource_type(&permission.target) {
                    return Err(format!(
                        "{what}: permission target {:?} must be a FHIR type or {feature_prefix}<name>",
                        permission.target
                    ));
                }
            }
        }
        for (i, a) in self.routes.iter().enumerate() {
            for b in &self.routes[i + 1..] {
                if a.path == b.path && a.methods.iter().any(|m| b.methods.contains(m)) {
                    return Err(format!("route {} is registered twice", a.path));
                }
            }
        }
        // Most specific first, so literal segments win over parameters.
        self.routes.sort_by_key(|route| route.pattern.specificity());
        let unique = |kind: &str, names: Vec<&str>| -> Result<(), String> {
            let mut seen = std::collections::BTreeSet::new();
            for name in names {
                if !is_name(name) {
                    return Err(format!("{kind} {name:?}: names are letters, digits, - _ ."));
                }
                if !seen.insert(name) {
                    return Err(format!("{kind} {name:?} is registered twice"));
                }
            }
            Ok(())
        };
        unique("form", self.forms.iter().map(|f| f.id.as_str()).collect())?;
        unique("rule", self.rules.iter().map(|r| r.id.as_str()).collect())?;
        unique(
            "webhook",
            self.webhooks.iter().map(|w| w.name.as_str()).collect(),
        )?;
        unique(
            "endpoint",
            self.outbound.iter().map(|e| e.name.as_str()).collect(),
        )?;
        for hook in &self.webhooks {
            check_methods(&format!("webhook {}", hook.name), &hook.methods)?;
        }
        for endpoint in &self.outbound {
            let allowed = manifest
                .permissions
                .http
                .iter()
                .filter_map(|o| crate::capabilities::http::OriginPattern::parse(o).ok())
                .any(|o| {
                    url::Url::parse(&endpoint.url)
                        .map(|u| o.allows(&u))
                        .unwrap_or(false)
                });
            if !allowed {
                return Err(format!(
                    "endpoint {}: {} is not among pack.yaml permissions.http",
                    endpoint.name, endpoint.url
                ));
            }
        }
        for subscription in &self.subscriptions {
            if !is_resource_type(&subscription.resource_type) {
                return Err(format!(
                    "subscription: {:?} is not a FHIR type",
                    subscription.resource_type
                ));
            }
            let readable = manifest
                .permissions
                .fhir
                .get(&subscription.resource_type)
                .is_some_and(|i| i.contains(&crate::manifest::FhirInteraction::Read));
            if !readable {
                return Err(format!(
                    "subscription to {}: the pack must request read on it in pack.yaml",
                    subscription.resource_type
                ));
            }
        }
        for parameter in &self.search_parameters {
            if parameter.get("resourceType").and_then(|v| v.as_str()) != Some("SearchParameter") {
                return Err("search-parameters must be SearchParameter resources".into());
            }
        }
        Ok(self)
    }

    pub fn find_route(&self, method: &str, path: &str) -> RouteMatch<'_> {
        let mut path_exists = false;
        for route in &self.routes {
            if let Some(params) = route.pattern.matches(path) {
                if route.methods.iter().any(|m| m == method) {
                    return RouteMatch::Found(route, params);
                }
                path_exists = true;
            }
        }
        if path_exists {
            RouteMatch::MethodNotAllowed
        } else {
            RouteMatch::NotFound
        }
    }
}
