//! A tenant's own access policy: roles it defines (beside the system ones) and its mapping
//! from the provider's role or group names to Tessera roles. Read on every request, so it is
//! cached per tenant; a change made through this server is seen at once, one made through
//! another server sharing the database within `CACHE_FOR`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Row;

use super::rbac::{RoleCatalog, RoleDefinition};
use crate::auth::rbac::Grant;
use crate::db::{Access, Database};

const CACHE_FOR: Duration = Duration::from_secs(30);

/// Everything a grant needs from the tenant.
#[derive(Debug, Clone, Default)]
pub struct TenantPolicy {
    /// System roles plus the tenant's.
    pub catalog: RoleCatalog,
    pub roles: BTreeMap<String, RoleDefinition>,
    /// Provider role → Tessera roles.
    pub role_map: BTreeMap<String, Vec<String>>,
}

#[derive(Default)]
pub struct TenantPolicies {
    cache: Mutex<HashMap<String, (Instant, Arc<TenantPolicy>)>>,
}

/// Role names tenants may use: lowercase letters, digits and `-`, not a system role's.
pub fn check_role_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 63
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "{name:?} is not a role name: use 1-63 lowercase letters, digits and -"
        ));
    }
    if RoleCatalog::is_system_role(name) {
        return Err(format!("{name:?} is a system role and cannot be redefined"));
    }
    Ok(())
}

impl TenantPolicies {
    pub async fn get(&self, db: &Database, tenant: &str) -> sqlx::Result<Arc<TenantPolicy>> {
        if let Some((at, policy)) = self.cache.lock().expect("cache").get(tenant) {
            if at.elapsed() < CACHE_FOR {
                return Ok(policy.clone());
            }
        }
        let policy = Arc::new(load(db, tenant).await?);
        self.cache
            .lock()
            .expect("cache")
            .insert(tenant.to_string(), (Instant::now(), policy.clone()));
        Ok(policy)
    }

    pub fn forget(&self, tenant: &str) {
        self.cache.lock().expect("cache").remove(tenant);
    }
}

async fn load(db: &Database, tenant: &str) -> sqlx::Result<TenantPolicy> {
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Read)
        .await?;
    let role_rows = sqlx::query("SELECT name, definition FROM tenant_roles WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_all(tx.conn())
        .await?;
    let map_rows =
        sqlx::query("SELECT provider_role, roles FROM tenant_role_map WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(tx.conn())
            .await?;
    tx.commit().await?;
    let mut policy = TenantPolicy {
        catalog: RoleCatalog::system().clone(),
        ..TenantPolicy::default()
    };
    for row in role_rows {
        let name: String = row.try_get("name")?;
        let text: String = row.try_get("definition")?;
        // Stored definitions were checked when written; one that no longer compiles (after
        // an upgrade) grants nothing rather than failing every request.
        match serde_json::from_str::<RoleDefinition>(&text) {
            Ok(def) => {
                if let Err(e) = policy.catalog.add(&name, &def) {
                    tracing::warn!(tenant, role = %name, error = %e, "tenant role ignored");
                    continue;
                }
                policy.roles.insert(name, def);
            }
            Err(e) => tracing::warn!(tenant, role = %name, error = %e, "tenant role ignored"),
        }
    }
    for row in map_rows {
        let provider: String = row.try_get("provider_role")?;
        let text: String = row.try_get("roles")?;
        if let Ok(roles) = serde_json::from_str::<Vec<String>>(&text) {
            policy.role_map.insert(provider, roles);
        }
    }
    Ok(policy)
}

pub async fn put_role(
    db: &Database,
    tenant: &str,
    name: &str,
    def: &RoleDefinition,
) -> Result<(), String> {
    check_role_name(name)?;
    def.compile()?;
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Write)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("DELETE FROM tenant_roles WHERE tenant_id = $1 AND name = $2")
        .bind(tenant)
        .bind(name)
        .execute(tx.conn())
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("INSERT INTO tenant_roles (tenant_id, name, definition) VALUES ($1, $2, $3)")
        .bind(tenant)
        .bind(name)
        .bind(serde_json::to_string(def).expect("serializable"))
        .execute(tx.conn())
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// Deletes a tenant role; true if it existed.
pub async fn delete_role(db: &Database, tenant: &str, name: &str) -> sqlx::Result<bool> {
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Write)
        .await?;
    let done = sqlx::query("DELETE FROM tenant_roles WHERE tenant_id = $1 AND name = $2")
        .bind(tenant)
        .bind(name)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// Replaces the whole mapping; every target must be a role the tenant has.
pub async fn put_role_map(
    db: &Database,
    tenant: &str,
    policy: &TenantPolicy,
    map: &BTreeMap<String, Vec<String>>,
) -> Result<(), String> {
    for (provider, roles) in map {
        if provider.is_empty() {
            return Err("a provider role name cannot be empty".into());
        }
        for role in roles {
            if !policy.catalog.contains(role) {
                return Err(format!(
                    "{provider:?} maps to {role:?}, which is neither a system role nor one of this tenant's"
                ));
            }
        }
    }
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Write)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("DELETE FROM tenant_role_map WHERE tenant_id = $1")
        .bind(tenant)
        .execute(tx.conn())
        .await
        .map_err(|e| e.to_string())?;
    for (provider, roles) in map {
        sqlx::query(
            "INSERT INTO tenant_role_map (tenant_id, provider_role, roles) VALUES ($1, $2, $3)",
        )
        .bind(tenant)
        .bind(provider)
        .bind(serde_json::to_string(roles).expect("serializable"))
        .execute(tx.conn())
        .await
        .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())
}
