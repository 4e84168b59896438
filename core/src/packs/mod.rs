//! Packs in the server: the registry of installed versions, each tenant's settings and
//! lifecycle, and running pack calls with the server's services. The sandbox itself
//! (engine, capabilities, archives, signatures) is the `tessera-plugins` crate; this module
//! decides which tenant runs which version with which grant and configuration.
//!
//! State lives in the database (`store`), so every server process sharing it agrees. Each
//! server caches a tenant's settings and the loaded pack versions; every lifecycle change
//! bumps a generation counter in the same transaction, and servers poll it (`packs.poll_ms`)
//! to drop their caches: a change takes effect everywhere without a restart.

pub mod bundled;
pub mod contributions;
pub mod dispatch;
pub mod lifecycle;
pub mod overview;
pub mod search_params;
pub mod secrets;
pub mod services;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::Result;
use tessera_plugins::signing::TrustedKeys;
use tessera_plugins::{LoadedPack, PackArchive, PackRuntime};

use crate::auth::rbac::Grant;
use crate::config::{Config, PacksConfig};
use crate::db::{Access, Database};
use crate::fhir::extensions::TenantExtensions;
use crate::fhir::outcome::{FhirError, FhirResult};
use crate::fhir::search::registry::SearchRegistry;
use secrets::SecretSealer;
use store::SettingRow;

/// One tenant's settings of one pack: the tenant-wide row and per-Location overrides.
#[derive(Clone, Debug, Default)]
pub struct TenantPack {
    pub wide: Option<SettingRow>,
    pub locations: BTreeMap<String, SettingRow>,
}

/// A tenant's settings of every pack it has touched.
#[derive(Clone, Debug, Default)]
pub struct TenantPacks {
    pub packs: BTreeMap<String, TenantPack>,
}

impl TenantPacks {
    fn from_rows(rows: Vec<SettingRow>) -> TenantPacks {
        let mut packs: BTreeMap<String, TenantPack> = BTreeMap::new();
        for row in rows {
            let entry = packs.entry(row.pack_id.clone()).or_default();
            if row.scope.is_empty() {
                entry.wide = Some(row);
            } else {
                entry.locations.insert(row.scope.clone(), row);
            }
        }
        TenantPacks { packs }
    }

    /// The (pack, version) of every pack enabled tenant-wide.
    pub fn enabled_versions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.packs.iter().filter_map(|(pack, settings)| {
            let wide = settings.wide.as_ref().filter(|w| w.enabled)?;
            Some((pack.as_str(), wide.version.as_deref()?))
        })
    }

    /// The tenant-wide setting of an enabled pack.
    pub fn enabled(&self, pack: &str) -> Option<&SettingRow> {
        self.packs
            .get(pack)
            .and_then(|p| p.wide.as_ref())
            .filter(|w| w.enabled)
    }
}

/// (pack, version) pairs, in order.
type PackVersions = Vec<(String, String)>;

pub struct Packs {
    config: PacksConfig,
    data_dir: std::path::PathBuf,
    db: Database,
    trusted: TrustedKeys,
    sealer: SecretSealer,
    /// Created on first use: servers that never run a pack reserve no instance pool.
    runtime: tokio::sync::OnceCell<PackRuntime>,
    loaded: Mutex<HashMap<(String, String), Arc<LoadedPack>>>,
    tenants: Mutex<HashMap<String, Arc<TenantPacks>>>,
    /// What calls of each tenant's packs run with (`dispatch`).
    call_bases: Mutex<dispatch::CallBases>,
    /// What each tenant's packs contribute to FHIR processing (`contributions`).
    contributions: Mutex<HashMap<String, Arc<TenantExtensions>>>,
    /// Each tenant's forms (`crate::forms::catalog`).
    pub(crate) tenant_forms: Mutex<HashMap<String, Arc<crate::forms::catalog::TenantForms>>>,
    /// Search registries by the pack versions whose parameters they add.
    registries: Mutex<HashMap<PackVersions, Arc<SearchRegistry>>>,
    /// Moves whenever cached settings are dropped, so a computation that raced a change is
    /// not cached.
    epoch: AtomicU64,
    /// Woken when a commit recorded events (`crate::events`).
    pub events_waiting: Arc<tokio::sync::Notify>,
    shut_down: std::sync::atomic::AtomicBool,
    generation: AtomicI64,
    /// The server's own router, through which packs' FHIR requests go (set at start,
    /// cleared at shutdown to break the cycle router → state → packs → router).
    router: Mutex<Option<axum::Router>>,
}

impl Packs {
    pub fn new(config: &Config, db: Database) -> Result<Arc<Packs>> {
        let packs_config = config.packs.clone();
        packs_config.limits.check().map_err(anyhow::Error::msg)?;
        packs_config.events.check().map_err(anyhow::Error::msg)?;
        let trusted = TrustedKeys::from_base64(&packs_config.trusted_keys)
            .map_err(|e| anyhow::anyhow!("packs.trusted_keys: {e}"))?;
        let sealer = SecretSealer::open(packs_config.secret_key.as_deref(), &config.data_dir)?;
        Ok(Arc::new(Packs {
            config: packs_config,
            data_dir: config.data_dir.clone(),
            db,
            trusted,
            sealer,
            runtime: tokio::sync::OnceCell::new(),
            loaded: Mutex::new(HashMap::new()),
            tenants: Mutex::new(HashMap::new()),
            call_bases: Mutex::new(HashMap::new()),
            contributions: Mutex::new(HashMap::new()),
            tenant_forms: Mutex::new(HashMap::new()),
            registries: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            events_waiting: Arc::new(tokio::sync::Notify::new()),
            shut_down: std::sync::atomic::AtomicBool::new(false),
            generation: AtomicI64::new(i64::MIN),
            router: Mutex::new(None),
        }))
    }

    pub fn config(&self) -> &PacksConfig {
        &self.config
    }

    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    pub async fn runtime(&self) -> FhirResult<&PackRuntime> {
        self.runtime
            .get_or_try_init(|| async {
                PackRuntime::new(
                    self.config.limits.clone(),
                    Some(self.data_dir.join("pack-cache")),
                )
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "the pack engine cannot start");
                FhirError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    crate::fhir::outcome::Issue::error(
                        "transient",
                        "the pack engine cannot start; see the server log",
                    ),
                )
            })
    }

    /// A pack version ready to run: loaded once per process from its stored archive.
    pub async fn loaded(&self, pack: &str, version: &str) -> FhirResult<Arc<LoadedPack>> {
        let key = (pack.to_string(), version.to_string());
        if let Some(found) = self.loaded.lock().unwrap().get(&key) {
            return Ok(found.clone());
        }
        let bytes = store::archive(&self.db, pack, version)
            .await?
            .ok_or_else(|| {
                FhirError::not_found(format!("pack {pack} {version} is not installed"))
            })?;
        let archive = PackArchive::read(&bytes).map_err(|e| {
            FhirError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                crate::fhir::outcome::Issue::error(
                    "exception",
                    format!("the stored archive of {pack} {version} is unreadable: {e}"),
                ),
            )
        })?;
        let loaded = self.runtime().await?.load(&archive).await.map_err(|e| {
            FhirError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                crate::fhir::outcome::Issue::error(
                    "exception",
                    format!("pack {pack} {version} cannot be loaded: {e:#}"),
                ),
            )
        })?;
        self.loaded.lock().unwrap().insert(key, loaded.clone());
        Ok(loaded)
    }

    /// A tenant's pack settings (cached until a change anywhere).
    pub async fn tenant(&self, tenant: &str) -> FhirResult<Arc<TenantPacks>> {
        Ok(self.tenant_settings(tenant).await?)
    }

    pub(crate) async fn tenant_settings(
        &self,
        tenant: &str,
    ) -> Result<Arc<TenantPacks>, sqlx::Error> {
        if let Some(found) = self.tenants.lock().unwrap().get(tenant) {
            return Ok(found.clone());
        }
        let epoch = self.cache_epoch();
        let mut tx = self
            .db
            .tenant_tx_core(&Grant::system(tenant), Access::Read)
            .await?;
        let rows = store::settings(tx.conn(), tenant).await?;
        tx.commit().await?;
        let state = Arc::new(TenantPacks::from_rows(rows));
        if self.cache_epoch() == epoch {
            self.tenants
                .lock()
                .unwrap()
                .insert(tenant.to_string(), state.clone());
        }
        Ok(state)
    }

    pub(crate) fn cache_epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Drops cached tenant settings and contributions (after a change here, or one seen from
    /// elsewhere).
    pub fn forget_cached_settings(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.tenants.lock().unwrap().clear();
        self.call_bases.lock().unwrap().clear();
        self.contributions.lock().unwrap().clear();
        self.tenant_forms.lock().unwrap().clear();
    }

    /// Starts watching the generation counter for changes made by other processes.
    pub fn watch(self: &Arc<Self>) {
        let weak: Weak<Packs> = Arc::downgrade(self);
        let every = Duration::from_millis(self.config.poll_ms.max(50));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(packs) = weak.upgrade() else { break };
                match store::generation(&packs.db).await {
                    Ok(now) => {
                        if packs.generation.swap(now, Ordering::Relaxed) != now {
                            // A version uninstalled elsewhere and installed again with other
                            // contents must not keep running here. Reloading is cheap: the
                            // runtime keeps compiled components by content hash. Cleared
                            // before the settings, so no call base cached from here on holds
                            // a version loaded before the change.
                            packs.loaded.lock().unwrap().clear();
                            packs.registries.lock().unwrap().clear();
                            packs.forget_cached_settings();
                        }
                    }
                    Err(err) if packs.router.lock().unwrap().is_none() => {
                        tracing::debug!(error = %err, "pack watcher stops");
                        break;
                    }
                    Err(err) => tracing::warn!(error = %err, "cannot read the pack generation"),
                }
            }
        });
    }

    pub fn set_router(&self, router: axum::Router) {
        *self.router.lock().unwrap() = Some(router);
    }

    pub(crate) fn router(&self) -> Option<axum::Router> {
        self.router.lock().unwrap().clone()
    }

    pub fn shutdown(&self) {
        self.shut_down.store(true, Ordering::Release);
        self.router.lock().unwrap().take();
        self.db.clear_extension_source();
        // Background work (event delivery) notices and stops.
        self.events_waiting.notify_one();
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Makes every tenant transaction of `db` carry its tenant's pack contributions.
    pub fn attach_to_database(self: &Arc<Self>) {
        self.db
            .set_extension_source(Arc::new(contributions::Contributions(Arc::downgrade(self))));
    }
}
