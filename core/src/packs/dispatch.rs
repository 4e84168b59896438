//! Preparing a pack call: which version runs for this tenant, with which configuration at
//! the caller's Location, which secrets and which grant.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use tessera_plugins::capabilities::PackGrant;
use tessera_plugins::manifest::{FhirInteraction, RequestedPermissions};
use tessera_plugins::{CallContext, LoadedPack};

use super::services::CoreServices;
use super::Packs;
use crate::auth::rbac::{Action, Grant};
use crate::fhir::outcome::{FhirError, FhirResult};

/// The FHIR part of a pack's grant, as RBAC actions.
pub fn fhir_limit(granted: &RequestedPermissions) -> BTreeMap<String, Vec<Action>> {
    granted
        .fhir
        .iter()
        .map(|(ty, interactions)| {
            let actions = interactions
                .iter()
                .map(|i| match i {
                    FhirInteraction::Read => Action::Read,
                    FhirInteraction::Search => Action::Search,
                    FhirInteraction::Create => Action::Create,
                    FhirInteraction::Update => Action::Update,
                    FhirInteraction::Delete => Action::Delete,
                })
                .collect();
            (ty.clone(), actions)
        })
        .collect()
}

fn not_enabled(pack: &str) -> FhirError {
    FhirError::not_found(format!(
        "no pack {pack:?} is enabled for this organization here"
    ))
}

/// Who calls, where, and how the server is reached.
pub struct CallSite<'a> {
    pub tenant: &'a str,
    pub pack: &'a str,
    /// The caller's Location and its `partOf` ancestors, most specific first.
    pub locations: &'a [String],
    /// The user's grant; None for webhooks (the pack acts alone).
    pub user: Option<&'a Arc<Grant>>,
    pub fhir_base: String,
    pub host: String,
}

impl Packs {
    /// The loaded version and call context for a call, or 404 when the pack is not enabled
    /// for the tenant at this Location.
    pub async fn prepare(
        self: &Arc<Self>,
        site: CallSite<'_>,
    ) -> FhirResult<(Arc<LoadedPack>, CallContext)> {
        let state = self.tenant(site.tenant).await?;
        let settings = state
            .packs
            .get(site.pack)
            .ok_or_else(|| not_enabled(site.pack))?;
        let wide = settings
            .wide
            .as_ref()
            .ok_or_else(|| not_enabled(site.pack))?;
        let mut enabled = wide.enabled;
        let mut config: Map<String, Value> = wide.config.as_object().cloned().unwrap_or_default();
        // From the least specific Location to the most: the most specific wins.
        for location in site.locations.iter().rev() {
            if let Some(row) = settings.locations.get(location) {
                enabled = row.enabled;
                if let Some(overrides) = row.config.as_object() {
                    config.extend(overrides.clone());
                }
            }
        }
        if !enabled {
            return Err(not_enabled(site.pack));
        }
        let version = wide.version.clone().ok_or_else(|| not_enabled(site.pack))?;
        let loaded = self.loaded(site.pack, &version).await?;
        let granted = wide.granted.clone().unwrap_or_default();
        let secrets = match &wide.secrets {
            Some(sealed) => self.open_secrets(site.tenant, site.pack, sealed)?,
            None => BTreeMap::new(),
        };
        let limit = fhir_limit(&granted);
        let grant = match site.user {
            Some(user) => user.restricted_to(site.pack, &limit),
            None => Grant::for_pack(site.tenant, site.pack, &limit),
        };
        let services = CoreServices {
            packs: self.clone(),
            tenant: site.tenant.to_string(),
            pack: site.pack.to_string(),
            grant: Arc::new(grant),
            fhir_base: site.fhir_base,
            host: site.host,
        };
        let context = CallContext {
            tenant: site.tenant.to_string(),
            pack_id: site.pack.to_string(),
            pack_version: version,
            grant: Arc::new(PackGrant::from_permissions(&granted)),
            config: Arc::new(Value::Object(config)),
            secrets: Arc::new(secrets),
            services: Arc::new(services),
        };
        Ok((loaded, context))
    }
}
