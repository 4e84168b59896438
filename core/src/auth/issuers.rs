//! The token issuers a server trusts, as configured (`auth.issuers` in tessera.yaml).
//! One realm per organization (`tenants: [acme]`) and one shared realm whose tokens name
//! the organization in a claim (`tenants: ['*']`, `tenant_claim: organization`) both fit.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Exactly the tokens' `iss`, e.g. `https://sso.example.org/realms/acme`.
    pub issuer: String,
    /// The tenants that accept this issuer's tokens; `'*'` means any tenant the token's
    /// `tenant_claim` names.
    pub tenants: Vec<String>,
    /// Where the token names its tenant(s) (a dotted path: `organization`, `tenant`). Unset:
    /// the issuer is bound to the tenants listed (one realm per organization).
    #[serde(default)]
    pub tenant_claim: Option<String>,
    /// The OAuth client Tessera is, at this provider: accepted as `azp`, its
    /// `resource_access.<client_id>.roles` count as roles, and browser sign-on uses it.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Secret of `client_id` for the browser sign-on code flow. Prefer `client_secret_env`.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Environment variable holding the client secret (keeps it out of the file).
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Accepted `aud` values besides `client_id` (a token is accepted when its `aud` holds
    /// one of these or `client_id`, or its `azp` is `client_id`).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Extra claims holding role or group names (dotted paths, e.g. `groups`), besides
    /// Keycloak's `realm_access.roles` and `resource_access.<client_id>.roles`.
    #[serde(default)]
    pub role_claims: Vec<String>,
    /// Provider role or group → Tessera roles. A provider role with the name of a Tessera
    /// role needs no entry.
    #[serde(default)]
    pub role_map: BTreeMap<String, Vec<String>>,
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// The claim holding the user's own record (`Patient/{id}`), for the `patient` role.
    #[serde(default = "default_patient_claim")]
    pub patient_claim: String,
    /// The key set's URL; by default read from the issuer's discovery document.
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

fn default_username_claim() -> String {
    "preferred_username".into()
}

fn default_patient_claim() -> String {
    "fhirUser".into()
}

impl IssuerConfig {
    pub fn serves_tenant(&self, tenant: &str) -> bool {
        self.tenants.iter().any(|t| t == "*" || t == tenant)
    }

    /// Does the token's audience fit this issuer's client?
    pub fn accepts_audience(&self, aud: &[String], azp: Option<&str>) -> bool {
        let client = self.client_id.as_deref();
        aud.iter()
            .any(|a| Some(a.as_str()) == client || self.audiences.contains(a))
            || (client.is_some() && azp == client)
    }

    /// The client secret from the environment or the file.
    pub fn secret(&self) -> Option<String> {
        self.client_secret_env
            .as_ref()
            .and_then(|var| std::env::var(var).ok())
            .or_else(|| self.client_secret.clone())
    }

    /// Configuration mistakes, said so an operator can fix them.
    pub fn check(&self) -> Result<(), String> {
        let url = url::Url::parse(&self.issuer)
            .map_err(|e| format!("issuer {:?} is not a URL: {e}", self.issuer))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!("issuer {:?} must be an http(s) URL", self.issuer));
        }
        if self.tenants.is_empty() {
            return Err(format!(
                "issuer {:?} lists no tenants: name the tenant(s) it signs in to, or '*' with a tenant_claim",
                self.issuer
            ));
        }
        if self.tenants.iter().any(|t| t == "*") && self.tenant_claim.is_none() {
            return Err(format!(
                "issuer {:?} serves every tenant ('*') but has no tenant_claim to say which one a token is for",
                self.issuer
            ));
        }
        if self.client_id.is_none() && self.audiences.is_empty() {
            return Err(format!(
                "issuer {:?} needs a client_id (or audiences) so tokens meant for other clients are refused",
                self.issuer
            ));
        }
        Ok(())
    }
}
