//! Providers' OpenID discovery documents, cached: SMART discovery and browser sign-on read
//! endpoints from them, and anonymous callers must not be able to make the server fetch
//! them on every request.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::issuers::IssuerConfig;

const CACHE_FOR: Duration = Duration::from_secs(600);

fn cache() -> &'static Mutex<HashMap<String, (Instant, Value)>> {
    static CACHE: OnceLock<Mutex<HashMap<String, (Instant, Value)>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The discovery document of `issuer`; it must name the same issuer.
pub async fn document(issuer: &str) -> Result<Value, String> {
    if let Some((at, doc)) = cache().lock().expect("cache").get(issuer) {
        if at.elapsed() < CACHE_FOR {
            return Ok(doc.clone());
        }
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: Value = http()
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .error_for_status()
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if doc["issuer"].as_str() != Some(issuer) {
        return Err(format!(
            "{url} names issuer {}, not {issuer}",
            doc["issuer"]
        ));
    }
    cache()
        .lock()
        .expect("cache")
        .insert(issuer.to_string(), (Instant::now(), doc.clone()));
    Ok(doc)
}

/// The HTTP client for talking to providers: no redirects (following them would let a
/// provider's answer point the server anywhere), short timeouts.
pub fn http() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client builds")
        })
        .clone()
}

/// The issuer that signs users in to `tenant`: one bound to it by name wins over a shared
/// one (`'*'`).
pub fn issuer_for_tenant<'a>(
    issuers: &'a [IssuerConfig],
    tenant: &str,
) -> Option<&'a IssuerConfig> {
    issuers
        .iter()
        .find(|i| i.tenants.iter().any(|t| t == tenant))
        .or_else(|| issuers.iter().find(|i| i.serves_tenant(tenant)))
}
