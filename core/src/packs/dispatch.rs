//! Preparing a pack call: which version runs for this tenant, with which configuration at
//! the caller's Location, which secrets and which grant.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};
use tessera_plugins::capabilities::PackGrant;
use tessera_plugins::manifest::{FhirInteraction, RequestedPermissions};
use tessera_plugins::{CallContext, LoadedPack};

use super::services::CoreServices;
use super::{Packs, TenantPack};
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

/// What every call of a pack in a tenant (at a Location without overrides of its own) runs
/// with, whoever calls: worked out once per settings change, not per call.
pub(crate) struct CallBase {
    loaded: Arc<LoadedPack>,
    version: String,
    /// The FHIR part of the pack's grant, as RBAC actions, to cut the caller's grant with.
    limit: BTreeMap<String, Vec<Action>>,
    grant: Arc<PackGrant>,
    /// As JSON text, the form the pack is handed it in.
    config: Arc<str>,
    /// Decrypted for calls; kept in this process's memory only, like the settings cache.
    secrets: Arc<BTreeMap<String, String>>,
}

/// Call bases by tenant, then pack.
pub(crate) type CallBases = HashMap<String, HashMap<String, Arc<CallBase>>>;

impl Packs {
    /// The loaded version and call context for a call, or 404 when the pack is not enabled
    /// for the tenant at this Location.
    pub async fn prepare(
        self: &Arc<Self>,
        site: CallSite<'_>,
    ) -> FhirResult<(Arc<LoadedPack>, CallContext)> {
        let base = self.call_base(&site).await?;
        let grant = match site.user {
            Some(user) => user.restricted_to(site.pack, &base.limit),
            None => Grant::for_pack(site.tenant, site.pack, &base.limit),
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
            pack_version: base.version.clone(),
            grant: base.grant.clone(),
            config: base.config.clone(),
            secrets: base.secrets.clone(),
            services: Arc::new(services),
        };
        Ok((base.loaded.clone(), context))
    }

    /// The call base of the pack in the tenant at the caller's Location: cached, unless a
    /// Location on the caller's chain has settings of its own (those chains are as many as
    /// callers can name, so they are worked out per call).
    async fn call_base(&self, site: &CallSite<'_>) -> FhirResult<Arc<CallBase>> {
        let epoch = self.cache_epoch();
        let state = self.tenant(site.tenant).await?;
        let settings = state
            .packs
            .get(site.pack)
            .ok_or_else(|| not_enabled(site.pack))?;
        let overridden = site
            .locations
            .iter()
            .any(|l| settings.locations.contains_key(l));
        if !overridden {
            let bases = self.call_bases.lock().unwrap();
            if let Some(found) = bases.get(site.tenant).and_then(|t| t.get(site.pack)) {
                return Ok(found.clone());
            }
        }
        let base = Arc::new(self.work_out_call_base(site, settings).await?);
        // A base worked out while the settings changed is not kept.
        if !overridden && self.cache_epoch() == epoch {
            self.call_bases
                .lock()
                .unwrap()
                .entry(site.tenant.to_string())
                .or_default()
                .insert(site.pack.to_string(), base.clone());
        }
        Ok(base)
    }

    async fn work_out_call_base(
        &self,
        site: &CallSite<'_>,
        settings: &TenantPack,
    ) -> FhirResult<CallBase> {
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
        Ok(CallBase {
            loaded,
            version,
            limit: fhir_limit(&granted),
            grant: Arc::new(PackGrant::from_permissions(&granted)),
            config: Arc::from(Value::Object(config).to_string()),
            secrets: Arc::new(secrets),
        })
    }
}
