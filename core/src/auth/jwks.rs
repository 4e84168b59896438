//! Issuers' signing keys: discovered, fetched, cached, and refreshed when a token names a key
//! we do not have (key rotation) — at most once per `min_refetch`, so a flood of tokens with
//! made-up `kid`s cannot become a flood of requests to the provider.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};

/// One usable verification key.
#[derive(Clone)]
pub struct VerifyingKey {
    pub key: Arc<DecodingKey>,
    /// The algorithm the key is published for, when the JWK says.
    pub algorithm: Option<Algorithm>,
    pub family: KeyFamily,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFamily {
    Rsa,
    Ec,
    Okp,
}

impl KeyFamily {
    pub fn fits(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyFamily::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyFamily::Ec => matches!(alg, ES256 | ES384),
            KeyFamily::Okp => alg == EdDSA,
        }
    }
}

/// Turns a JWK set into keys by `kid`, skipping encryption keys and symmetric ones (a shared
/// secret in a public key set would let anyone forge tokens).
pub fn keys_of(set: &JwkSet) -> HashMap<String, VerifyingKey> {
    let mut keys = HashMap::new();
    for (index, jwk) in set.keys.iter().enumerate() {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let Some(key) = verifying_key(jwk) else {
            continue;
        };
        // Keys without a kid are addressable by position only when they are alone.
        let kid = jwk
            .common
            .key_id
            .clone()
            .unwrap_or_else(|| format!("#{index}"));
        keys.insert(kid, key);
    }
    keys
}

fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    let family = match &jwk.algorithm {
        P::RSA(_) => KeyFamily::Rsa,
        P::EllipticCurve(_) => KeyFamily::Ec,
        P::OctetKeyPair(_) => KeyFamily::Okp,
        P::OctetKey(_) => return None,
    };
    let algorithm = jwk
        .common
        .key_algorithm
        .and_then(|a| a.to_string().parse::<Algorithm>().ok());
    Some(VerifyingKey {
        key: Arc::new(DecodingKey::from_jwk(jwk).ok()?),
        algorithm,
        family,
    })
}

/// Where an issuer's keys come from.
pub enum KeySource {
    /// Fixed keys (the server's own local issuer).
    Static(HashMap<String, VerifyingKey>),
    /// A provider's JWKS over HTTP.
    Remote(RemoteKeys),
}

pub struct RemoteKeys {
    issuer: String,
    jwks_uri: Option<String>,
    http: reqwest::Client,
    cache: RwLock<Cached>,
    /// Serializes fetches so concurrent misses make one request.
    fetching: Mutex<()>,
    max_age: Duration,
    min_refetch: Duration,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, VerifyingKey>,
    fetched_at: Option<Instant>,
}

/// Why no key was found; said in the 401 and logged.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the token's key {0:?} is not in the issuer's key set")]
    UnknownKey(String),
    #[error("cannot fetch the issuer's keys: {0}")]
    Fetch(String),
}

impl RemoteKeys {
    pub fn new(
        issuer: &str,
        jwks_uri: Option<String>,
        http: reqwest::Client,
        max_age: Duration,
        min_refetch: Duration,
    ) -> RemoteKeys {
        RemoteKeys {
            issuer: issuer.to_string(),
            jwks_uri,
            http,
            cache: RwLock::new(Cached::default()),
            fetching: Mutex::new(()),
            max_age,
            min_refetch,
        }
    }

    /// The key named `kid` (or the only key, when the token names none).
    pub async fn key(&self, kid: Option<&str>) -> Result<VerifyingKey, KeyError> {
        {
            let cache = self.cache.read().await;
            let fresh = cache
                .fetched_at
                .is_some_and(|at| at.elapsed() < self.max_age);
            if let Some(key) = pick(&cache.keys, kid) {
                if fresh {
                    return Ok(key);
                }
            }
        }
        // A miss or stale keys: fetch, unless someone fetched very recently.
        let _guard = self.fetching.lock().await;
        let recently = {
            let cache = self.cache.read().await;
            if let Some(key) = pick(&cache.keys, kid) {
                if cache
                    .fetched_at
                    .is_some_and(|at| at.elapsed() < self.max_age)
                {
                    return Ok(key);
                }
            }
            cache
                .fetched_at
                .is_some_and(|at| at.elapsed() < self.min_refetch)
        };
        if !recently {
            match self.fetch().await {
                Ok(keys) => {
                    let mut cache = self.cache.write().await;
                    cache.keys = keys;
                    cache.fetched_at = Some(Instant::now());
                }
                Err(err) => {
                    tracing::warn!(issuer = %self.issuer, error = %err, "cannot refresh signing keys; keeping the cached ones");
                    let cache = self.cache.read().await;
                    if cache.keys.is_empty() {
                        return Err(err);
                    }
                }
            }
        }
        let cache = self.cache.read().await;
        pick(&cache.keys, kid).ok_or_else(|| KeyError::UnknownKey(kid.unwrap_or("").into()))
    }

    async fn fetch(&self) -> Result<HashMap<String, VerifyingKey>, KeyError> {
        let jwks_uri = match &self.jwks_uri {
            Some(uri) => uri.clone(),
            None => self.discover().await?,
        };
        let set: JwkSet = self
            .get_json(&jwks_uri)
            .await
            .and_then(|v| serde_json::from_value(v).map_err(|e| KeyError::Fetch(e.to_string())))?;
        tracing::info!(issuer = %self.issuer, keys = set.keys.len(), "fetched signing keys");
        Ok(keys_of(&set))
    }

    /// The `jwks_uri` from the issuer's discovery document (`discovery.rs` checks it names
    /// the same issuer).
    async fn discover(&self) -> Result<String, KeyError> {
        let doc = super::discovery::document(&self.issuer)
            .await
            .map_err(KeyError::Fetch)?;
        doc["jwks_uri"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| KeyError::Fetch(format!("{} publishes no jwks_uri", self.issuer)))
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value, KeyError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| KeyError::Fetch(format!("{url}: {e}")))?;
        if !response.status().is_success() {
            return Err(KeyError::Fetch(format!(
                "{url}: HTTP {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| KeyError::Fetch(format!("{url}: {e}")))
    }
}

fn pick(keys: &HashMap<String, VerifyingKey>, kid: Option<&str>) -> Option<VerifyingKey> {
    match kid {
        Some(kid) => keys.get(kid).cloned(),
        None if keys.len() == 1 => keys.values().next().cloned(),
        None => None,
    }
}

impl KeySource {
    pub async fn key(&self, kid: Option<&str>) -> Result<VerifyingKey, KeyError> {
        match self {
            KeySource::Static(keys) => {
                pick(keys, kid).ok_or_else(|| KeyError::UnknownKey(kid.unwrap_or("").into()))
            }
            KeySource::Remote(remote) => remote.key(kid).await,
        }
    }
}
