//! What an organization admin sees of packs: every installed pack with its versions beside
//! the tenant's settings. The JSON API (`http/admin_packs.rs`) and the admin pages
//! (`http/admin_ui/`) both read it from here, so they always show the same thing.

use super::store::{self, SettingRow, VersionRow};
use super::{Packs, TenantPack};
use crate::fhir::outcome::{FhirError, FhirResult};

/// One installed pack as a tenant sees it.
#[derive(Clone, Debug)]
pub struct PackOverview {
    pub id: String,
    /// Installed versions, oldest first (never empty).
    pub versions: Vec<VersionRow>,
    /// The tenant's settings (tenant-wide and per Location), when it ever enabled the pack.
    pub setting: Option<TenantPack>,
}

impl PackOverview {
    /// The tenant-wide setting.
    pub fn wide(&self) -> Option<&SettingRow> {
        self.setting.as_ref().and_then(|s| s.wide.as_ref())
    }

    /// The highest version installed.
    pub fn latest(&self) -> &VersionRow {
        self.versions
            .last()
            .expect("an installed pack has a version")
    }

    pub fn version(&self, version: &str) -> Option<&VersionRow> {
        self.versions
            .iter()
            .find(|v| v.version.to_string() == version)
    }

    /// The version the tenant runs (or keeps, when disabled), else the latest installed:
    /// the one whose manifest and registration describe the pack to this tenant.
    pub fn current(&self) -> &VersionRow {
        self.wide()
            .and_then(|w| w.version.as_deref())
            .and_then(|v| self.version(v))
            .unwrap_or_else(|| self.latest())
    }
}

fn group(versions: Vec<VersionRow>, settings: &super::TenantPacks) -> Vec<PackOverview> {
    let mut packs: Vec<PackOverview> = Vec::new();
    // `store::versions` sorts by pack, then version.
    for version in versions {
        match packs.last_mut() {
            Some(last) if last.id == version.pack_id => last.versions.push(version),
            _ => packs.push(PackOverview {
                id: version.pack_id.clone(),
                setting: settings.packs.get(&version.pack_id).cloned(),
                versions: vec![version],
            }),
        }
    }
    packs
}

impl Packs {
    /// Every installed pack with this tenant's settings, by id.
    pub async fn overview(&self, tenant: &str) -> FhirResult<Vec<PackOverview>> {
        let versions = store::versions(&self.db).await?;
        let settings = self.tenant(tenant).await?;
        Ok(group(versions, &settings))
    }

    /// One installed pack with this tenant's settings; 404 when it is not installed.
    pub async fn overview_of(&self, tenant: &str, pack: &str) -> FhirResult<PackOverview> {
        let versions: Vec<VersionRow> = store::versions(&self.db)
            .await?
            .into_iter()
            .filter(|v| v.pack_id == pack)
            .collect();
        if versions.is_empty() {
            return Err(FhirError::not_found(format!(
                "no pack {pack:?} is installed"
            )));
        }
        let settings = self.tenant(tenant).await?;
        Ok(group(versions, &settings)
            .pop()
            .expect("one pack's versions make one group"))
    }

    /// The names of the secrets a setting holds; their values never leave the server.
    pub fn secrets_set(&self, tenant: &str, row: &SettingRow) -> Vec<String> {
        row.secrets
            .as_ref()
            .and_then(|sealed| self.open_secrets(tenant, &row.pack_id, sealed).ok())
            .map(|s| s.into_keys().collect())
            .unwrap_or_default()
    }
}
