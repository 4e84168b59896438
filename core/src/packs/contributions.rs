//! What a tenant's enabled packs contribute to FHIR processing (`TenantExtensions`): their
//! SearchParameters, identifier checks and event subscriptions, computed from the
//! registrations of the versions the tenant runs and cached until a pack changes anywhere.
//!
//! Contributions are tenant-wide: a write has no reliable Location, so a pack disabled at a
//! Location still checks identifiers and hears events of the whole organization.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use tessera_plugins::{CallContext, LoadedPack};

use super::search_params::{self, PackParameters};
use super::Packs;
use crate::fhir::extensions::{ExtensionSource, PackHooks, Subscriber, TenantExtensions};
use crate::fhir::outcome::{FhirError, FhirResult, Issue};

/// The `ExtensionSource` the server installs in its `Database`. Weak, so the database
/// (which `Packs` holds) does not keep `Packs` alive.
pub struct Contributions(pub Weak<Packs>);

#[async_trait::async_trait]
impl ExtensionSource for Contributions {
    async fn for_tenant(&self, tenant: &str) -> Result<Arc<TenantExtensions>, sqlx::Error> {
        match self.0.upgrade() {
            Some(packs) => packs.contributions(tenant).await,
            None => Ok(TenantExtensions::core()),
        }
    }
}

/// The calls the write path makes into packs.
struct Hooks(Weak<Packs>);

#[async_trait::async_trait]
impl PackHooks for Hooks {
    async fn validate_identifier(
        &self,
        tenant: &str,
        pack: &str,
        system: &str,
        value: &str,
    ) -> FhirResult<Result<(), String>> {
        let packs = self
            .0
            .upgrade()
            .ok_or_else(|| FhirError::internal("the server is shutting down; retry"))?;
        packs.validate_identifier(tenant, pack, system, value).await
    }

    fn events_committed(&self, _tenant: &str) {
        if let Some(packs) = self.0.upgrade() {
            packs.events_waiting.notify_one();
        }
    }
}

impl Packs {
    /// A tenant's contributions, cached until the next change of any pack state.
    pub async fn contributions(
        self: &Arc<Self>,
        tenant: &str,
    ) -> Result<Arc<TenantExtensions>, sqlx::Error> {
        if let Some(found) = self.contributions.lock().unwrap().get(tenant) {
            return Ok(found.clone());
        }
        // A change while this is computed must not be overwritten by what was read before it.
        let epoch = self.cache_epoch();
        let computed = self.compute_contributions(tenant).await?;
        if self.cache_epoch() == epoch {
            self.contributions
                .lock()
                .unwrap()
                .insert(tenant.to_string(), computed.clone());
        }
        Ok(computed)
    }

    async fn compute_contributions(
        self: &Arc<Self>,
        tenant: &str,
    ) -> Result<Arc<TenantExtensions>, sqlx::Error> {
        let state = self.tenant_settings(tenant).await?;
        let mut systems = BTreeMap::new();
        let mut subscribers = Vec::new();
        let mut parameters = PackParameters::default();
        for (pack, version) in state.enabled_versions() {
            let loaded = match self.loaded(pack, version).await {
                Ok(loaded) => loaded,
                Err(err) => {
                    // Its routes answer with the same error; its contributions cannot run.
                    tracing::error!(tenant, pack, version, error = %err.message(), "an enabled pack cannot be loaded; it contributes nothing until it can");
                    continue;
                }
            };
            let registration = &loaded.registration;
            for system in &registration.identifier_systems {
                systems.insert(system.system.clone(), pack.to_string());
            }
            for subscription in &registration.subscriptions {
                subscribers.push(Subscriber {
                    pack: pack.to_string(),
                    resource_type: subscription.resource_type.clone(),
                    interactions: subscription.interactions.clone(),
                });
            }
            if let Err(err) = parameters.add(pack, version, &registration.search_parameters) {
                tracing::error!(tenant, pack, version, error = %err, "a pack's search parameters are invalid; they are left out");
            }
        }
        let registry = self.registry_with(&parameters);
        let building = search_params::index_state(self, tenant, &parameters).await?;
        if systems.is_empty() && subscribers.is_empty() && parameters.is_empty() {
            return Ok(TenantExtensions::core());
        }
        Ok(Arc::new(
            TenantExtensions::new(
                registry,
                systems,
                subscribers,
                Arc::new(Hooks(Arc::downgrade(self))),
            )
            .with_building(building),
        ))
    }

    /// Asks a pack whether an identifier value is valid. The check runs with nothing granted:
    /// it sees the value and the pack's configuration, nothing of the organization's data.
    pub async fn validate_identifier(
        self: &Arc<Self>,
        tenant: &str,
        pack: &str,
        system: &str,
        value: &str,
    ) -> FhirResult<Result<(), String>> {
        let (loaded, context) = self.prepare_without_grant(tenant, pack).await?;
        self.runtime()
            .await?
            .validate_identifier(&loaded, context, system.to_string(), value.to_string())
            .await
            .map_err(|err| {
                tracing::warn!(tenant, pack, system, error = %err, "identifier check failed");
                FhirError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    Issue::error("transient", err.to_string()),
                )
            })
    }

    /// The enabled version of `pack` with a context that grants nothing.
    async fn prepare_without_grant(
        self: &Arc<Self>,
        tenant: &str,
        pack: &str,
    ) -> FhirResult<(Arc<LoadedPack>, CallContext)> {
        let state = self.tenant(tenant).await?;
        let wide = state.enabled(pack).ok_or_else(|| {
            FhirError::not_found(format!("pack {pack} is not enabled for this organization"))
        })?;
        let version = wide
            .version
            .clone()
            .ok_or_else(|| FhirError::not_found(format!("pack {pack} has no version")))?;
        let loaded = self.loaded(pack, &version).await?;
        let mut context = CallContext::registering(&loaded.manifest);
        context.tenant = tenant.to_string();
        context.config = Arc::from(wide.config.to_string());
        Ok((loaded, context))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contributions_hold_no_strong_reference() {
        let source = Contributions(Weak::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let core = rt.block_on(source.for_tenant("acme")).unwrap();
        assert!(core.identifier_systems().is_empty());
    }
}
