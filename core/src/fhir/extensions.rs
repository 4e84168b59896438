//! What a tenant's enabled packs add to FHIR processing: their SearchParameters (layered over
//! HL7's), the identifier systems they check on every write, and the resource changes they
//! subscribed to (recorded in the transactional outbox, `crate::events`).
//!
//! Every `TenantTx` carries its tenant's `TenantExtensions` (`Database::tenant_tx` asks the
//! `ExtensionSource` the server installed, which caches them until a pack changes), so every
//! write path — REST, Bundles, group commit, import, packs' own requests — sees the same
//! contributions without each caller having to remember them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use serde_json::Value;

use super::outcome::{FhirError, FhirResult, Issue};
use super::search::registry::SearchRegistry;

/// A pack that wants to hear about changes to one resource type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriber {
    pub pack: String,
    pub resource_type: String,
    /// `create`, `update` and/or `delete`.
    pub interactions: Vec<String>,
}

/// The server side of the calls the write path makes into packs.
#[async_trait::async_trait]
pub trait PackHooks: Send + Sync {
    /// Asks `pack` whether `value` is a valid identifier of `system`: `Ok(Err(reason))` when
    /// it is not, `Err` when the pack could not answer.
    async fn validate_identifier(
        &self,
        tenant: &str,
        pack: &str,
        system: &str,
        value: &str,
    ) -> FhirResult<Result<(), String>>;

    /// A transaction that recorded events committed: deliver them soon.
    fn events_committed(&self, tenant: &str);
}

/// Where `Database::tenant_tx` gets a tenant's extensions from (the server's `Packs`).
#[async_trait::async_trait]
pub trait ExtensionSource: Send + Sync {
    async fn for_tenant(&self, tenant: &str) -> Result<Arc<TenantExtensions>, sqlx::Error>;
}

/// One tenant's contributions from its enabled packs.
pub struct TenantExtensions {
    registry: Arc<SearchRegistry>,
    /// Pack-defined parameters, by (type, code), whose index rows for resources stored
    /// before the pack was enabled are still being written.
    building: BTreeSet<(String, String)>,
    /// Identifier system → the pack that checks it.
    identifier_systems: BTreeMap<String, String>,
    subscribers: Vec<Subscriber>,
    hooks: Option<Arc<dyn PackHooks>>,
}

impl std::fmt::Debug for TenantExtensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantExtensions")
            .field("identifier_systems", &self.identifier_systems)
            .field("subscribers", &self.subscribers)
            .finish_non_exhaustive()
    }
}

impl TenantExtensions {
    /// The core alone: HL7's parameters, no identifier checks, no subscribers.
    pub fn core() -> Arc<TenantExtensions> {
        static CORE: OnceLock<Arc<TenantExtensions>> = OnceLock::new();
        CORE.get_or_init(|| {
            Arc::new(TenantExtensions {
                registry: SearchRegistry::shared(),
                building: BTreeSet::new(),
                identifier_systems: BTreeMap::new(),
                subscribers: Vec::new(),
                hooks: None,
            })
        })
        .clone()
    }

    pub fn new(
        registry: Arc<SearchRegistry>,
        identifier_systems: BTreeMap<String, String>,
        subscribers: Vec<Subscriber>,
        hooks: Arc<dyn PackHooks>,
    ) -> TenantExtensions {
        TenantExtensions {
            registry,
            building: BTreeSet::new(),
            identifier_systems,
            subscribers,
            hooks: Some(hooks),
        }
    }

    /// Marks pack-defined parameters whose index is still being built for older resources.
    pub fn with_building(mut self, building: BTreeSet<(String, String)>) -> TenantExtensions {
        self.building = building;
        self
    }

    /// The search parameters in force for this tenant.
    pub fn registry(&self) -> &Arc<SearchRegistry> {
        &self.registry
    }

    /// Is the index of `type.code` still being built for resources stored before its pack was
    /// enabled? Searches on it then say their results may be incomplete.
    pub fn is_building(&self, resource_type: &str, code: &str) -> bool {
        self.building
            .contains(&(resource_type.to_string(), code.to_string()))
    }

    pub fn identifier_systems(&self) -> &BTreeMap<String, String> {
        &self.identifier_systems
    }

    /// The packs to tell about `interaction` on `resource_type`, except `acting_pack`, which
    /// made the change itself (a pack never hears its own writes).
    pub fn subscribers_of<'a>(
        &'a self,
        resource_type: &'a str,
        interaction: &'a str,
        acting_pack: Option<&'a str>,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.subscribers
            .iter()
            .filter(move |s| {
                s.resource_type == resource_type
                    && s.interactions.iter().any(|i| i == interaction)
                    && Some(s.pack.as_str()) != acting_pack
            })
            .map(|s| s.pack.as_str())
    }

    /// Does any pack listen to changes of any of `types`?
    pub fn has_subscribers_for<'a>(&self, mut types: impl Iterator<Item = &'a str>) -> bool {
        !self.subscribers.is_empty()
            && types.any(|ty| self.subscribers.iter().any(|s| s.resource_type == ty))
    }

    pub(crate) fn events_committed(&self, tenant: &str) {
        if let Some(hooks) = &self.hooks {
            hooks.events_committed(tenant);
        }
    }

    /// Refuses `resource` when a pack that owns one of its identifiers' systems says the value
    /// is not valid (422, pointing at the identifier), or cannot answer (503: nothing
    /// unchecked is stored).
    pub async fn check_identifiers(
        &self,
        tenant: &str,
        ty: &str,
        resource: &Value,
    ) -> FhirResult<()> {
        if self.identifier_systems.is_empty() {
            return Ok(());
        }
        let Some(hooks) = &self.hooks else {
            return Ok(());
        };
        let identifiers: Vec<(String, &Value)> = match resource.get("identifier") {
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{ty}.identifier[{i}]"), v))
                .collect(),
            Some(single @ Value::Object(_)) => vec![(format!("{ty}.identifier"), single)],
            _ => return Ok(()),
        };
        for (path, identifier) in identifiers {
            let Some(system) = identifier.get("system").and_then(Value::as_str) else {
                continue;
            };
            let Some(pack) = self.identifier_systems.get(system) else {
                continue;
            };
            let value = identifier
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match hooks.validate_identifier(tenant, pack, system, value).await {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => {
                    return Err(FhirError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Issue::error(
                            "value",
                            format!("{value:?} is not a valid {system} identifier: {reason} (checked by pack {pack})"),
                        )
                        .at(format!("{path}.value")),
                    ))
                }
                Err(err) => {
                    return Err(FhirError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        Issue::error(
                            "transient",
                            format!(
                                "the {system} identifier could not be checked by pack {pack}, so nothing was stored: {}; try again, or ask an administrator to look at the pack",
                                err.message()
                            ),
                        )
                        .at(format!("{path}.value")),
                    ))
                }
            }
        }
        Ok(())
    }
}
