//! Identity and access: who is calling (verified tokens: `verify`, `jwks`, `issuers`,
//! `local`, `principal`) and what they may do (`rbac`). `http/context.rs` is where a request
//! passes through both; see docs/security.md for the model.

pub mod discovery;
pub mod issuers;
pub mod jwks;
pub mod local;
pub mod principal;
pub mod rbac;
pub mod sessions;
pub mod signon;
pub mod tenant_policy;
pub mod users;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::config::Config;
use crate::db::Database;
use issuers::IssuerConfig;
use jwks::{KeySource, RemoteKeys};
use local::LocalIssuer;
use principal::Principal;
use rbac::{Grant, Who};
use tenant_policy::{TenantPolicies, TenantPolicy};
use verify::{TokenError, Verifier};

/// Everything the server needs to turn a request's credentials into a [`Grant`].
pub struct Auth {
    pub verifier: Verifier,
    pub local: Option<Arc<LocalIssuer>>,
    /// Tenants' own roles and role mappings, cached.
    pub policies: TenantPolicies,
}

/// The local issuer's `iss`: under the public base URL when there is one.
pub fn local_issuer_id(config: &Config) -> String {
    match &config.base_url {
        Some(base) => format!("{base}/auth/local"),
        None => "urn:tessera:local".into(),
    }
}

impl Auth {
    /// Builds the verifier from the configuration; errors say which setting to fix.
    pub fn from_config(config: &Config) -> Result<Auth> {
        let auth = &config.auth;
        let mut verifier = Verifier::new(auth.clock_skew_seconds);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        for issuer in &auth.issuers {
            issuer
                .check()
                .map_err(|e| anyhow::anyhow!("auth.issuers: {e}"))?;
            let keys = RemoteKeys::new(
                &issuer.issuer,
                issuer.jwks_uri.clone(),
                http.clone(),
                Duration::from_secs(auth.jwks_max_age_seconds),
                Duration::from_secs(auth.jwks_min_refetch_seconds),
            );
            verifier.trust(issuer.clone(), KeySource::Remote(keys));
        }
        let local = if auth.local_issuer {
            let issuer = LocalIssuer::open(&config.data_dir, local_issuer_id(config))?;
            let (config, keys) = issuer.trust();
            verifier.trust(config, keys);
            Some(Arc::new(issuer))
        } else {
            None
        };
        Ok(Auth {
            verifier,
            local,
            policies: TenantPolicies::default(),
        })
    }

    pub async fn authenticate(&self, token: &str) -> Result<Principal, TokenError> {
        self.verifier.verify(token).await
    }

    /// The issuer rules a principal was verified under.
    pub fn issuer_of(&self, principal: &Principal) -> Option<&IssuerConfig> {
        self.verifier.issuer(&principal.issuer)
    }

    /// What `principal` may do in `tenant`, with the tenant's policy read from `db`.
    pub async fn grant_in(
        &self,
        db: &Database,
        principal: &Principal,
        tenant: &str,
    ) -> Result<Grant, sqlx::Error> {
        let policy = self.policies.get(db, tenant).await?;
        Ok(self.grant(principal, tenant, &policy))
    }

    /// What `principal` may do in `tenant`: each provider role becomes Tessera roles by the
    /// tenant's mapping, else the issuer's `role_map`, else by its own name when that names a
    /// role the tenant has; then the roles' permissions.
    pub fn grant(&self, principal: &Principal, tenant: &str, policy: &TenantPolicy) -> Grant {
        let catalog = &policy.catalog;
        let mut roles: Vec<String> = Vec::new();
        let role_map = self.issuer_of(principal).map(|i| &i.role_map);
        for provider_role in &principal.provider_roles {
            if let Some(mapped) = policy.role_map.get(provider_role) {
                roles.extend(mapped.iter().cloned());
                continue;
            }
            match role_map.and_then(|m| m.get(provider_role)) {
                Some(mapped) => roles.extend(mapped.iter().cloned()),
                None if catalog.contains(provider_role) => roles.push(provider_role.clone()),
                None => {}
            }
        }
        roles.sort();
        roles.dedup();
        Grant::for_roles(
            tenant,
            Who::User {
                issuer: principal.issuer.clone(),
                subject: principal.subject.clone(),
                username: principal.username.clone(),
            },
            roles,
            principal.patient.clone(),
            catalog,
        )
    }
}
