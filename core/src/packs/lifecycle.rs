//! The pack lifecycle: install and uninstall (server-wide), and per tenant enable and
//! configure, disable, pin, upgrade, roll back, Location overrides and removal. Each change
//! is one transaction that also bumps the generation counter, so it is whole or absent, and
//! every server sees it at its next poll.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use tessera_plugins::manifest::{ConfigProblem, Manifest, RequestedPermissions};
use tessera_plugins::signing::Trust;
use tessera_plugins::PackArchive;

use super::store::{self, SettingRow, VersionRow};
use super::Packs;
use crate::auth::rbac::Grant;
use crate::db::Access;
use crate::fhir::outcome::{FhirError, FhirResult, Issue};

fn conflict(message: impl Into<String>) -> FhirError {
    FhirError::new(StatusCode::CONFLICT, Issue::error("conflict", message))
}

fn invalid(message: impl Into<String>) -> FhirError {
    FhirError::new(StatusCode::BAD_REQUEST, Issue::error("invalid", message))
}

fn invalid_at(expression: String, message: String) -> FhirError {
    FhirError::new(
        StatusCode::BAD_REQUEST,
        Issue::error("invalid", message).at(expression),
    )
}

/// How a schema error's message starts; a form shows the rest beside the field.
pub const SCHEMA_ERROR: &str = "the configuration does not fit the pack's schema: ";

/// A configuration that misses the schema: one issue per problem, pointing at `config.<field>`
/// or `secrets.<field>`, so callers (and the admin pages) can tell which field is at fault.
/// Messages can quote values: a secret's value never leaves.
fn schema_error<'a>(
    prefix: &str,
    problems: &[ConfigProblem],
    secret_fields: &[String],
    secrets: impl Iterator<Item = &'a String> + Clone,
) -> FhirError {
    let issues = problems
        .iter()
        .map(|problem| {
            let text = secrets
                .clone()
                .filter(|s| !s.is_empty())
                .fold(format!("{prefix}{problem}"), |text, secret| {
                    text.replace(secret.as_str(), "•••")
                });
            let issue = Issue::error("invalid", text);
            match &problem.field {
                Some(field) if secret_fields.contains(field) => {
                    issue.at(format!("secrets.{field}"))
                }
                Some(field) => issue.at(format!("config.{field}")),
                None => issue,
            }
        })
        .collect();
    FhirError {
        status: StatusCode::BAD_REQUEST,
        issues,
    }
}

/// A Location id as the admin API and pages take it: 1–64 letters, digits, `-` and `.`
/// (FHIR's id rule).
pub fn check_location_id(location: &str) -> FhirResult<()> {
    let ok = (1..=64).contains(&location.len())
        && location
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("{location:?} is not a Location id")))
    }
}

fn now() -> String {
    crate::clock::format_instant(crate::clock::now_micros())
}

/// What an admin sends to enable or reconfigure a pack for their tenant.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableRequest {
    /// A version to run; default: the latest installed (or the current one when enabled).
    pub version: Option<String>,
    /// Hold this version (an upgrade must name a version). Default: pinned when a version
    /// was named.
    pub pinned: Option<bool>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The configuration without secrets; default: keep the current one.
    pub config: Option<Value>,
    /// Secret fields to set (a string) or clear (null); others are kept.
    pub secrets: Option<Map<String, Value>>,
    /// The permissions the admin consents to: must equal what the version requests.
    pub consent: Option<RequestedPermissions>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    pub version: Option<String>,
    pub consent: Option<RequestedPermissions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationRequest {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Keys that override the tenant-wide configuration at this Location and below.
    #[serde(default)]
    pub config: Map<String, Value>,
}

impl Packs {
    /// Installs a pack version server-wide, after checking its signature, ABI, component
    /// and what it registers.
    pub async fn install(&self, bytes: &[u8], actor: &str) -> FhirResult<VersionRow> {
        let archive = PackArchive::read(bytes).map_err(|e| invalid(e.to_string()))?;
        let trust = self
            .trusted
            .verify(&archive, self.config.allow_unsigned)
            .map_err(|e| {
                FhirError::new(
                    StatusCode::BAD_REQUEST,
                    Issue::error("security", e.to_string()),
                )
            })?;
        let trust = match &trust {
            Trust::Signed(key) => key.clone(),
            Trust::Unsigned => "unsigned".into(),
        };
        self.install_trusted(&archive, bytes, trust, actor).await
    }

    /// Installs an archive whose origin is settled: `trust` is the signing key's fingerprint,
    /// `unsigned`, or `bundled` (compiled into this server, `bundled.rs`).
    pub(super) async fn install_trusted(
        &self,
        archive: &PackArchive,
        bytes: &[u8],
        trust: String,
        actor: &str,
    ) -> FhirResult<VersionRow> {
        let manifest = &archive.manifest;
        if !tessera_plugins::abi::supported().contains(&manifest.abi) {
            return Err(invalid(format!(
                "pack.yaml: abi {} is not served by this server (it serves {}); rebuild the pack with a supported SDK",
                manifest.abi,
                tessera_plugins::abi::supported()
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if store::version(&self.db, &manifest.id, &manifest.version.to_string())
            .await?
            .is_some()
        {
            return Err(conflict(format!(
                "{} {} is already installed; publish a new version",
                manifest.id, manifest.version
            )));
        }
        // Compiling and registering proves the component runs before anyone can enable it.
        let loaded = self
            .runtime()
            .await?
            .load(archive)
            .await
            .map_err(|e| invalid(format!("{e:#}")))?;
        super::search_params::parse(&loaded.registration.search_parameters)
            .map_err(|e| invalid(format!("what the pack registers: {e}")))?;
        crate::forms::catalog::pack_forms(&loaded).map_err(|issues| {
            invalid(format!(
                "the pack's forms: {}",
                crate::forms::catalog::describe(&issues)
            ))
        })?;
        crate::rules::pack_rules(&loaded).map_err(|issues| {
            invalid(format!(
                "the pack's rules: {}",
                crate::forms::catalog::describe(&issues)
            ))
        })?;
        crate::forms::catalog::pack_translations(&loaded).map_err(|issues| {
            invalid(format!(
                "the pack's locales: {}",
                crate::forms::catalog::describe(&issues)
            ))
        })?;
        let row = VersionRow {
            pack_id: manifest.id.clone(),
            version: manifest.version.clone(),
            manifest: manifest.clone(),
            content_hash: archive.content_hash.clone(),
            trust,
            installed_at: now(),
            installed_by: actor.to_string(),
        };
        let mut tx = self.db.global_tx().await?;
        store::insert_version(&mut tx, &row, bytes)
            .await
            .map_err(|e| {
                if crate::db::is_write_conflict(&e)
                    || e.to_string().contains("UNIQUE")
                    || e.to_string().contains("duplicate")
                {
                    conflict(format!(
                        "{} {} is already installed",
                        row.pack_id, row.version
                    ))
                } else {
                    FhirError::from(e)
                }
            })?;
        store::log_registry(
            &mut tx,
            actor,
            "install",
            &row.pack_id,
            &row.version.to_string(),
            &row.trust,
        )
        .await?;
        store::bump_generation(&mut tx).await?;
        tx.commit().await?;
        tracing::info!(pack = %row.pack_id, version = %row.version, trust = %row.trust, actor, "pack installed");
        Ok(row)
    }

    /// Removes an installed version, once no tenant runs it, pins it or keeps it to roll
    /// back to (the database's foreign keys decide, so a concurrent enable cannot slip in).
    pub async fn uninstall(&self, pack: &str, version: &str, actor: &str) -> FhirResult<()> {
        let mut tx = self.db.global_tx().await?;
        let deleted = match store::delete_version(&mut tx, pack, version).await {
            Ok(deleted) => deleted,
            Err(err) if store::is_still_referenced(&err) => {
                return Err(conflict(format!(
                    "{pack} {version} is still used by a tenant (enabled, disabled but kept, or kept to roll back to); each tenant must upgrade or remove it first"
                )))
            }
            Err(err) => return Err(err.into()),
        };
        if !deleted {
            return Err(FhirError::not_found(format!(
                "{pack} {version} is not installed"
            )));
        }
        store::log_registry(&mut tx, actor, "uninstall", pack, version, "").await?;
        store::bump_generation(&mut tx).await?;
        tx.commit().await?;
        self.loaded
            .lock()
            .unwrap()
            .remove(&(pack.to_string(), version.to_string()));
        tracing::info!(pack, version, actor, "pack uninstalled");
        Ok(())
    }

    /// A named installed version, or the latest release (pre-releases only when named),
    /// from the registry as read once for the change.
    fn pick_version(
        all: &[VersionRow],
        pack: &str,
        wanted: Option<&str>,
    ) -> FhirResult<VersionRow> {
        let installed: Vec<&VersionRow> = all.iter().filter(|v| v.pack_id == pack).collect();
        if installed.is_empty() {
            return Err(FhirError::not_found(format!(
                "no pack {pack:?} is installed"
            )));
        }
        let found = match wanted {
            Some(wanted) => installed
                .into_iter()
                .find(|v| v.version.to_string() == wanted),
            None => installed
                .iter()
                .filter(|v| v.version.pre.is_empty())
                .max_by(|a, b| a.version.cmp(&b.version))
                .or_else(|| installed.iter().max_by(|a, b| a.version.cmp(&b.version)))
                .copied(),
        };
        found.cloned().ok_or_else(|| {
            FhirError::not_found(match wanted {
                Some(wanted) => format!("{pack} {wanted} is not installed"),
                None => format!("no release of {pack} is installed"),
            })
        })
    }

    /// The version a change would move to: `wanted`, or the latest release installed.
    pub async fn version_to_run(&self, pack: &str, wanted: Option<&str>) -> FhirResult<VersionRow> {
        let all = store::versions(&self.db).await?;
        Self::pick_version(&all, pack, wanted)
    }

    /// Runs `change` on the tenant's current settings in one transaction that also bumps
    /// the generation; `change` returns the rows to write and the rows (pack, scope) to drop.
    async fn change_tenant<T>(
        &self,
        tenant: &str,
        change: impl FnOnce(
            &super::TenantPacks,
        ) -> FhirResult<(Vec<SettingRow>, Vec<(String, Option<String>)>, T)>,
    ) -> FhirResult<T> {
        let mut tx = self
            .db
            .tenant_tx_core(&Grant::system(tenant), Access::Write)
            .await?;
        let current = super::TenantPacks::from_rows(store::settings(tx.conn(), tenant).await?);
        let (writes, drops, value) = change(&current)?;
        for (pack, scope) in &drops {
            store::delete_settings(tx.conn(), tenant, pack, scope.as_deref()).await?;
        }
        for row in &writes {
            store::put_setting(tx.conn(), tenant, row).await?;
        }
        store::bump_generation(tx.conn()).await?;
        tx.commit().await?;
        self.forget_cached_settings();
        Ok(value)
    }

    /// Enables a pack for a tenant, or changes its version or configuration.
    pub async fn enable(
        &self,
        tenant: &str,
        pack: &str,
        request: EnableRequest,
        actor: &str,
    ) -> FhirResult<()> {
        let current = self.tenant(tenant).await?;
        let existing = current.packs.get(pack).and_then(|p| p.wide.clone());
        let wanted = request
            .version
            .clone()
            .or_else(|| existing.as_ref().and_then(|e| e.version.clone()));
        let all = store::versions(&self.db).await?;
        let target = Self::pick_version(&all, pack, wanted.as_deref())?;
        // Loading proves the ABI and component still work on this server.
        let loaded = self.loaded(pack, &target.version.to_string()).await?;
        if request.enabled {
            self.check_search_parameter_conflicts(&current, pack, &loaded)
                .await?;
        }
        let manifest = &target.manifest;
        let granted = consent(
            manifest,
            existing.as_ref().and_then(|e| e.granted.as_ref()),
            request.consent.as_ref(),
            tenant,
        )?;
        let (config, secrets) = self.configure(
            tenant,
            manifest,
            existing.as_ref(),
            request.config.clone(),
            request.secrets.clone(),
        )?;
        let version = target.version.to_string();
        self.change_tenant(tenant, |state| {
            let existing = state.packs.get(pack).and_then(|p| p.wide.clone());
            if request.enabled {
                check_dependencies(manifest, state)?;
            } else {
                check_dependents(pack, state, &all)?;
            }
            let previous_version = match &existing {
                Some(e) if e.version.as_deref() != Some(version.as_str()) => e.version.clone(),
                Some(e) => e.previous_version.clone(),
                None => None,
            };
            let pinned = request.pinned.unwrap_or(
                request.version.is_some() || existing.as_ref().is_some_and(|e| e.pinned),
            );
            let row = SettingRow {
                pack_id: pack.to_string(),
                scope: String::new(),
                enabled: request.enabled,
                version: Some(version.clone()),
                previous_version,
                pinned,
                granted: Some(granted),
                config,
                secrets,
                updated_at: now(),
                updated_by: actor.to_string(),
            };
            Ok((vec![row], vec![], ()))
        })
        .await
    }

    /// Config and sealed secrets after a change, checked against the pack's schema.
    fn configure(
        &self,
        tenant: &str,
        manifest: &Manifest,
        existing: Option<&SettingRow>,
        config: Option<Value>,
        secrets: Option<Map<String, Value>>,
    ) -> FhirResult<(Value, Option<Vec<u8>>)> {
        let secret_fields = manifest.secret_fields();
        let config = config
            .or_else(|| existing.map(|e| e.config.clone()))
            .unwrap_or_else(|| Value::Object(Map::new()));
        let Value::Object(config_map) = &config else {
            return Err(invalid("config must be a JSON object"));
        };
        for key in config_map.keys() {
            if secret_fields.contains(key) {
                return Err(invalid_at(
                    format!("config.{key}"),
                    format!("config.{key} is a secret: send it in `secrets`, never in `config`"),
                ));
            }
        }
        let mut current: BTreeMap<String, String> = match existing.and_then(|e| e.secrets.as_ref())
        {
            Some(sealed) => self.open_secrets(tenant, &manifest.id, sealed)?,
            None => BTreeMap::new(),
        };
        for (name, value) in secrets.unwrap_or_default() {
            if !secret_fields.contains(&name) {
                return Err(invalid_at(
                    format!("secrets.{name}"),
                    format!(
                        "secrets.{name}: the pack declares no such secret (its secrets: {})",
                        if secret_fields.is_empty() {
                            "none".to_string()
                        } else {
                            secret_fields.join(", ")
                        }
                    ),
                ));
            }
            match value {
                Value::Null => {
                    current.remove(&name);
                }
                Value::String(text) => {
                    current.insert(name, text);
                }
                _ => {
                    return Err(invalid_at(
                        format!("secrets.{name}"),
                        format!("secrets.{name} must be a string or null"),
                    ))
                }
            }
        }
        // Secrets a newer schema no longer declares are dropped.
        current.retain(|name, _| secret_fields.contains(name));
        let mut whole = config_map.clone();
        for (name, value) in &current {
            whole.insert(name.clone(), Value::String(value.clone()));
        }
        let problems = manifest.config_problems(&Value::Object(whole));
        if !problems.is_empty() {
            return Err(schema_error(
                SCHEMA_ERROR,
                &problems,
                &secret_fields,
                current.values(),
            ));
        }
        let sealed = (!current.is_empty()).then(|| {
            self.sealer.seal(
                tenant,
                &manifest.id,
                &serde_json::to_vec(&current).expect("secrets serialize"),
            )
        });
        Ok((config, sealed))
    }

    pub(crate) fn open_secrets(
        &self,
        tenant: &str,
        pack: &str,
        sealed: &[u8],
    ) -> FhirResult<BTreeMap<String, String>> {
        let plain = self.sealer.open_sealed(tenant, pack, sealed).map_err(|e| {
            tracing::error!(tenant, pack, error = %e, "cannot open pack secrets");
            FhirError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Issue::error(
                    "exception",
                    "the pack's secrets cannot be opened; see the server log",
                ),
            )
        })?;
        serde_json::from_slice(&plain).map_err(|_| {
            FhirError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Issue::error("exception", "the pack's secrets are corrupt"),
            )
        })
    }

    fn wide_row(state: &super::TenantPacks, pack: &str) -> FhirResult<SettingRow> {
        state
            .packs
            .get(pack)
            .and_then(|p| p.wide.clone())
            .ok_or_else(|| {
                FhirError::not_found(format!(
                    "pack {pack} has never been enabled for this tenant"
                ))
            })
    }

    pub async fn disable(&self, tenant: &str, pack: &str, actor: &str) -> FhirResult<()> {
        let all = store::versions(&self.db).await?;
        self.change_tenant(tenant, |state| {
            let mut row = Self::wide_row(state, pack)?;
            check_dependents(pack, state, &all)?;
            row.enabled = false;
            row.updated_at = now();
            row.updated_by = actor.to_string();
            Ok((vec![row], vec![], ()))
        })
        .await
    }

    pub async fn pin(&self, tenant: &str, pack: &str, pinned: bool, actor: &str) -> FhirResult<()> {
        self.change_tenant(tenant, |state| {
            let mut row = Self::wide_row(state, pack)?;
            row.pinned = pinned;
            row.updated_at = now();
            row.updated_by = actor.to_string();
            Ok((vec![row], vec![], ()))
        })
        .await
    }

    /// Moves to a newer (or named) version; a pinned pack moves only to a named version.
    pub async fn upgrade(
        &self,
        tenant: &str,
        pack: &str,
        request: UpgradeRequest,
        actor: &str,
    ) -> FhirResult<String> {
        let state = self.tenant(tenant).await?;
        let row = Self::wide_row(&state, pack)?;
        if row.pinned && request.version.is_none() {
            return Err(conflict(format!(
                "{pack} is pinned at {}; name the version to move to, or unpin it first",
                row.version.as_deref().unwrap_or("?")
            )));
        }
        let all = store::versions(&self.db).await?;
        let target = Self::pick_version(&all, pack, request.version.as_deref())?;
        let version = target.version.to_string();
        if row.version.as_deref() == Some(version.as_str()) {
            return Err(conflict(format!("{pack} already runs {version}")));
        }
        let loaded = self.loaded(pack, &version).await?;
        if row.enabled {
            self.check_search_parameter_conflicts(&state, pack, &loaded)
                .await?;
        }
        let granted = consent(
            &target.manifest,
            row.granted.as_ref(),
            request.consent.as_ref(),
            tenant,
        )?;
        // The configuration must still fit the new version's schema.
        let (config, secrets) = self.configure(tenant, &target.manifest, Some(&row), None, None)?;
        let explicit = request.version.is_some();
        self.change_tenant(tenant, |state| {
            let mut row = Self::wide_row(state, pack)?;
            if row.enabled {
                check_dependencies(&target.manifest, state)?;
            }
            check_dependents_with(pack, &target.version, state, &all)?;
            row.previous_version = row.version.take();
            row.version = Some(version.clone());
            row.pinned = row.pinned && explicit;
            row.granted = Some(granted);
            row.config = config;
            row.secrets = secrets;
            row.updated_at = now();
            row.updated_by = actor.to_string();
            Ok((vec![row], vec![], version.clone()))
        })
        .await
    }

    /// Goes back to the version enabled before the last change of version, and pins it there.
    pub async fn rollback(&self, tenant: &str, pack: &str, actor: &str) -> FhirResult<String> {
        let state = self.tenant(tenant).await?;
        let row = Self::wide_row(&state, pack)?;
        let previous = row
            .previous_version
            .clone()
            .ok_or_else(|| conflict(format!("{pack} has no earlier version to roll back to")))?;
        let all = store::versions(&self.db).await?;
        let target = Self::pick_version(&all, pack, Some(&previous))?;
        let loaded = self.loaded(pack, &previous).await?;
        if row.enabled {
            self.check_search_parameter_conflicts(&state, pack, &loaded)
                .await?;
        }
        let (config, secrets) = self.configure(tenant, &target.manifest, Some(&row), None, None)?;
        self.change_tenant(tenant, |state| {
            let mut row = Self::wide_row(state, pack)?;
            if row.enabled {
                check_dependencies(&target.manifest, state)?;
            }
            check_dependents_with(pack, &target.version, state, &all)?;
            row.previous_version = row.version.take();
            row.version = Some(previous.clone());
            row.pinned = true;
            // That version's permissions were consented to when it ran before.
            row.granted = Some(target.manifest.permissions.clone());
            row.config = config;
            row.secrets = secrets;
            row.updated_at = now();
            row.updated_by = actor.to_string();
            Ok((vec![row], vec![], previous.clone()))
        })
        .await
    }

    /// Enables or disables the pack at a Location (and the Locations under it), with
    /// configuration overrides there.
    pub async fn set_location(
        &self,
        tenant: &str,
        pack: &str,
        location: &str,
        request: LocationRequest,
        actor: &str,
    ) -> FhirResult<()> {
        let state = self.tenant(tenant).await?;
        let wide = Self::wide_row(&state, pack)?;
        let version = wide.version.clone().unwrap_or_default();
        let all = store::versions(&self.db).await?;
        let target = Self::pick_version(&all, pack, Some(&version))?;
        let secret_fields = target.manifest.secret_fields();
        if let Some(key) = request.config.keys().find(|k| secret_fields.contains(k)) {
            return Err(invalid_at(
                format!("config.{key}"),
                format!("config.{key} is a secret; secrets are set for the whole tenant"),
            ));
        }
        // The merged configuration must fit the schema too.
        let mut merged = wide.config.as_object().cloned().unwrap_or_default();
        merged.extend(request.config.clone());
        let mut whole = merged.clone();
        if let Some(sealed) = &wide.secrets {
            for (name, value) in self.open_secrets(tenant, pack, sealed)? {
                whole.insert(name, Value::String(value));
            }
        }
        let problems = target
            .manifest
            .config_problems(&Value::Object(whole.clone()));
        if !problems.is_empty() {
            let secret_texts: Vec<String> = secret_fields
                .iter()
                .filter_map(|f| whole.get(f).and_then(Value::as_str).map(str::to_string))
                .collect();
            return Err(schema_error(
                &format!("the configuration at {location} does not fit the pack's schema: "),
                &problems,
                &secret_fields,
                secret_texts.iter(),
            ));
        }
        self.change_tenant(tenant, |_| {
            let row = SettingRow {
                pack_id: pack.to_string(),
                scope: location.to_string(),
                enabled: request.enabled,
                version: None,
                previous_version: None,
                pinned: false,
                granted: None,
                config: Value::Object(request.config.clone()),
                secrets: None,
                updated_at: now(),
                updated_by: actor.to_string(),
            };
            Ok((vec![row], vec![], ()))
        })
        .await
    }

    pub async fn clear_location(&self, tenant: &str, pack: &str, location: &str) -> FhirResult<()> {
        self.change_tenant(tenant, |state| {
            let known = state
                .packs
                .get(pack)
                .is_some_and(|p| p.locations.contains_key(location));
            if !known {
                return Err(FhirError::not_found(format!(
                    "{pack} has no setting at Location {location}"
                )));
            }
            Ok((
                vec![],
                vec![(pack.to_string(), Some(location.to_string()))],
                (),
            ))
        })
        .await
    }

    /// Removes every setting of the pack in the tenant, and its key-value data.
    pub async fn remove(&self, tenant: &str, pack: &str) -> FhirResult<()> {
        let all = store::versions(&self.db).await?;
        self.change_tenant(tenant, |state| {
            if !state.packs.contains_key(pack) {
                return Err(FhirError::not_found(format!(
                    "pack {pack} has no settings in this tenant"
                )));
            }
            check_dependents(pack, state, &all)?;
            Ok((vec![], vec![(pack.to_string(), None)], ()))
        })
        .await
    }
}

impl Packs {
    /// Another enabled pack defining one of this version's search parameters or form ids
    /// would make a tenant's searches or forms depend on which was enabled last: refused.
    async fn check_search_parameter_conflicts(
        &self,
        state: &super::TenantPacks,
        pack: &str,
        loaded: &tessera_plugins::LoadedPack,
    ) -> FhirResult<()> {
        let new = &loaded.registration.search_parameters;
        let new_forms: Vec<String> = crate::forms::catalog::pack_forms(loaded)
            .unwrap_or_default()
            .iter()
            .map(|f| f.id().to_string())
            .collect();
        if new.is_empty() && new_forms.is_empty() {
            return Ok(());
        }
        let mut others = Vec::new();
        for (other, version) in state.enabled_versions().filter(|(p, _)| *p != pack) {
            let other_loaded = self.loaded(other, version).await?;
            let other_forms = crate::forms::catalog::pack_forms(&other_loaded).unwrap_or_default();
            if let Some(clash) = other_forms
                .iter()
                .find(|f| new_forms.iter().any(|n| n == f.id()))
            {
                return Err(conflict(format!(
                    "{pack} offers the form {:?}, which the enabled pack {other} offers too; disable one of them first",
                    clash.id()
                )));
            }
            others.push((
                other.to_string(),
                other_loaded.registration.search_parameters.clone(),
            ));
        }
        super::search_params::check_conflicts(pack, new, &others).map_err(conflict)
    }
}

/// The grant after a change: what the admin consents to now, or what they consented to
/// before when the version asks for no more.
fn consent(
    manifest: &Manifest,
    already: Option<&RequestedPermissions>,
    given: Option<&RequestedPermissions>,
    tenant: &str,
) -> FhirResult<RequestedPermissions> {
    let requested = &manifest.permissions;
    if given == Some(requested)
        || already == Some(requested)
        || *requested == RequestedPermissions::default()
    {
        return Ok(requested.clone());
    }
    let shown = serde_json::to_string(requested).expect("permissions serialize");
    Err(FhirError::new(
        StatusCode::FORBIDDEN,
        Issue::error(
            "security",
            format!(
                "{} {} needs the organization's consent to its permissions: send `consent` equal to {shown} (see GET /api/admin/tenants/{tenant}/packs/{})",
                manifest.id, manifest.version, manifest.id
            ),
        )
        .at("consent"),
    ))
}

fn manifest_of<'a>(all: &'a [VersionRow], pack: &str, version: &str) -> Option<&'a Manifest> {
    all.iter()
        .find(|v| v.pack_id == pack && v.version.to_string() == version)
        .map(|v| &v.manifest)
}

/// Every dependency must be enabled in the tenant at a version in range.
fn check_dependencies(manifest: &Manifest, state: &super::TenantPacks) -> FhirResult<()> {
    for (dependency, range) in &manifest.dependencies {
        let running = state
            .enabled(dependency)
            .and_then(|r| r.version.as_deref())
            .and_then(|v| semver::Version::parse(v).ok());
        match running {
            Some(version) if range.matches(&version) => {}
            Some(version) => {
                return Err(conflict(format!(
                    "{} needs {dependency} {range}, but this tenant runs {dependency} {version}; upgrade it first",
                    manifest.id
                )))
            }
            None => {
                return Err(conflict(format!(
                    "{} needs {dependency} {range} enabled first",
                    manifest.id
                )))
            }
        }
    }
    Ok(())
}

/// The enabled packs of the tenant (other than `pack`) that depend on `pack`, with the range
/// each accepts.
fn enabled_dependents<'a>(
    pack: &'a str,
    state: &'a super::TenantPacks,
    all: &'a [VersionRow],
) -> impl Iterator<Item = (&'a str, &'a semver::VersionReq)> + 'a {
    state.packs.iter().filter_map(move |(other, settings)| {
        let row = settings
            .wide
            .as_ref()
            .filter(|r| r.enabled && other != pack)?;
        let manifest = manifest_of(all, other, row.version.as_deref()?)?;
        manifest
            .dependencies
            .get(pack)
            .map(|range| (other.as_str(), range))
    })
}

/// No enabled pack may depend on `pack` (before disabling or removing it).
fn check_dependents(pack: &str, state: &super::TenantPacks, all: &[VersionRow]) -> FhirResult<()> {
    match enabled_dependents(pack, state, all).next() {
        Some((other, _)) => Err(conflict(format!(
            "{other} depends on {pack}; disable {other} first"
        ))),
        None => Ok(()),
    }
}

/// Enabled packs depending on `pack` must accept `version`.
fn check_dependents_with(
    pack: &str,
    version: &semver::Version,
    state: &super::TenantPacks,
    all: &[VersionRow],
) -> FhirResult<()> {
    for (other, range) in enabled_dependents(pack, state, all) {
        if !range.matches(version) {
            return Err(conflict(format!(
                "{other} needs {pack} {range}, which {version} is not"
            )));
        }
    }
    Ok(())
}
