//! A verified caller: what the token's signature vouches for, mapped from the issuer's claim
//! shapes (Keycloak's and the local issuer's) into one form.

use serde_json::Value;

use super::issuers::IssuerConfig;

/// The verified identity behind a request.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Principal {
    pub issuer: String,
    pub subject: String,
    pub username: Option<String>,
    /// The client the token was issued to (`azp`).
    pub client: Option<String>,
    /// The tenants this token is good for.
    pub tenants: Vec<String>,
    /// Role names as the provider sent them (realm and client roles), before mapping.
    pub provider_roles: Vec<String>,
    /// The caller's own Patient id (from `fhirUser: Patient/{id}`), for patient-facing apps.
    pub patient: Option<String>,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

/// String claims may arrive as one string, a list, or (Keycloak's `organization` with
/// attributes) an object whose keys are the values.
fn strings_of(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        _ => vec![],
    }
}

/// Follows a dotted claim path such as `realm_access.roles`.
fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |v, key| v.get(key))
}

impl Principal {
    pub fn may_act_for(&self, tenant: &str) -> bool {
        self.tenants.iter().any(|t| t == tenant)
    }

    /// Builds the principal from verified claims, under `issuer`'s rules.
    pub fn from_claims(issuer: &IssuerConfig, claims: &Value) -> Result<Principal, String> {
        let subject = claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or("the token has no subject (sub)")?
            .to_string();
        let tenants = match &issuer.tenant_claim {
            Some(path) => {
                let named = strings_of(claim(claims, path));
                named
                    .into_iter()
                    .filter(|t| issuer.serves_tenant(t))
                    .collect()
            }
            None => issuer.tenants.clone(),
        };
        let mut provider_roles = strings_of(claim(claims, "realm_access.roles"));
        if let Some(client) = &issuer.client_id {
            provider_roles.extend(strings_of(
                claims
                    .get("resource_access")
                    .and_then(|r| r.get(client))
                    .and_then(|c| c.get("roles")),
            ));
        }
        for path in &issuer.role_claims {
            provider_roles.extend(strings_of(claim(claims, path)));
        }
        provider_roles.sort();
        provider_roles.dedup();
        let patient = claim(claims, &issuer.patient_claim)
            .and_then(Value::as_str)
            .and_then(|reference| {
                // `fhirUser` is a reference, relative or absolute: keep the Patient's id.
                let mut parts = reference.rsplit('/');
                let id = parts.next()?;
                (parts.next()? == "Patient" && !id.is_empty()).then(|| id.to_string())
            });
        Ok(Principal {
            issuer: issuer.issuer.clone(),
            subject,
            username: claims[issuer.username_claim.as_str()]
                .as_str()
                .map(str::to_string),
            client: claims["azp"].as_str().map(str::to_string),
            tenants,
            provider_roles,
            patient,
            expires_at: claims["exp"].as_i64().unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keycloak() -> IssuerConfig {
        serde_yaml::from_str(
            "issuer: https://kc/realms/shared\ntenants: ['*']\ntenant_claim: organization\nclient_id: tessera\n",
        )
        .unwrap()
    }

    #[test]
    fn keycloak_claims_map_to_a_principal() {
        let claims = json!({
            "sub": "u1", "preferred_username": "alice", "azp": "tessera", "exp": 10,
            "realm_access": {"roles": ["clinician", "offline_access"]},
            "resource_access": {"tessera": {"roles": ["org-admin"]}, "other": {"roles": ["x"]}},
            "organization": {"acme": {"id": "1"}},
            "fhirUser": "https://h/fhir/Patient/p-9"
        });
        let p = Principal::from_claims(&keycloak(), &claims).unwrap();
        assert_eq!(p.username.as_deref(), Some("alice"));
        assert_eq!(p.tenants, vec!["acme".to_string()]);
        assert_eq!(
            p.provider_roles,
            vec!["clinician", "offline_access", "org-admin"]
        );
        assert_eq!(p.patient.as_deref(), Some("p-9"));
    }

    #[test]
    fn a_realm_bound_issuer_ignores_tenant_claims() {
        let issuer: IssuerConfig = serde_yaml::from_str(
            "issuer: https://kc/realms/acme\ntenants: [acme]\nclient_id: tessera\n",
        )
        .unwrap();
        let claims = json!({"sub": "u", "organization": ["globex"], "exp": 1});
        let p = Principal::from_claims(&issuer, &claims).unwrap();
        assert_eq!(p.tenants, vec!["acme".to_string()]);
        assert!(Principal::from_claims(&issuer, &json!({"exp": 1})).is_err());
    }
}
