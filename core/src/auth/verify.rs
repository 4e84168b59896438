//! Bearer token verification: the only way a request gets an identity.
//!
//! Order matters. The algorithm is checked against the allowlist before any key is looked
//! at, so `alg: none` and every HMAC algorithm (which would let a public key be used as a
//! shared secret) are refused outright. The unverified `iss` only chooses which issuer's
//! keys to try; nothing else in the token is believed before the signature checks.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use jsonwebtoken::Algorithm;
use ring::digest;
use serde_json::Value;

use super::issuers::IssuerConfig;
use super::jwks::{KeyError, KeySource};
use super::principal::Principal;

/// Asymmetric algorithms only.
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a token was refused. The message goes to the client (it names no secrets) and to
/// the audit trail.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm {0:?} is not accepted (only RS*, PS*, ES256/384 and EdDSA)")]
    Algorithm(String),
    #[error("the token's issuer {0:?} is not trusted by this server")]
    UnknownIssuer(String),
    #[error("{0}")]
    Key(String),
    #[error("the token's signature is not valid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token was not issued for this server (aud/azp)")]
    Audience,
    #[error("the token is a {0:?} token, not an access token")]
    NotAccessToken(String),
    #[error("the token is not acceptable: {0}")]
    Claims(String),
}

struct TrustedIssuer {
    config: IssuerConfig,
    keys: KeySource,
}

/// Verified tokens remembered until they expire, keyed by the SHA-256 of the whole token, so
/// a client sending the same token on every request pays for the signature once.
struct VerifiedCache {
    entries: Mutex<HashMap<[u8; 32], Principal>>,
}

const CACHE_CAPACITY: usize = 10_000;

impl VerifiedCache {
    fn get(&self, digest: &[u8; 32], now: i64) -> Option<Principal> {
        let entries = self.entries.lock().expect("cache lock");
        entries.get(digest).filter(|p| p.expires_at > now).cloned()
    }

    fn put(&self, digest: [u8; 32], principal: Principal, now: i64) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= CACHE_CAPACITY {
            entries.retain(|_, p| p.expires_at > now);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(digest, principal);
    }
}

pub struct Verifier {
    issuers: HashMap<String, TrustedIssuer>,
    leeway_seconds: u64,
    cache: VerifiedCache,
}

fn sha256(token: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn now_seconds() -> i64 {
    crate::clock::now_micros() / 1_000_000
}

/// A base64url JSON part of a JWT.
fn decode_part(part: &str) -> Result<Value, TokenError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// The header's `alg` (read as text first, so `none` and unknown names get a clear refusal)
/// and `kid`.
fn header_algorithm(header: &str) -> Result<(Algorithm, Option<String>), TokenError> {
    let header = decode_part(header)?;
    let name = header["alg"].as_str().ok_or(TokenError::Malformed)?;
    let alg: Algorithm = name
        .parse()
        .map_err(|_| TokenError::Algorithm(name.to_string()))?;
    if ALLOWED.contains(&alg) {
        Ok((alg, header["kid"].as_str().map(str::to_string)))
    } else {
        Err(TokenError::Algorithm(name.to_string()))
    }
}

impl Verifier {
    /// `exp` (required) and `nbf` (when present), with the configured leeway.
    fn check_times(&self, claims: &Value) -> Result<(), TokenError> {
        let now = now_seconds();
        let leeway = self.leeway_seconds as i64;
        let exp = claims["exp"]
            .as_f64()
            .ok_or_else(|| TokenError::Claims("no exp claim".into()))?;
        if (exp as i64) < now - leeway {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf
                .as_f64()
                .ok_or_else(|| TokenError::Claims("nbf is not a number".into()))?;
            if (nbf as i64) > now + leeway {
                return Err(TokenError::NotYetValid);
            }
        }
        Ok(())
    }

    pub fn new(leeway_seconds: u64) -> Verifier {
        Verifier {
            issuers: HashMap::new(),
            leeway_seconds,
            cache: VerifiedCache {
                entries: Mutex::new(HashMap::new()),
            },
        }
    }

    pub fn trust(&mut self, config: IssuerConfig, keys: KeySource) {
        self.issuers
            .insert(config.issuer.clone(), TrustedIssuer { config, keys });
    }

    pub fn issuer(&self, iss: &str) -> Option<&IssuerConfig> {
        self.issuers.get(iss).map(|t| &t.config)
    }

    pub fn issuers(&self) -> impl Iterator<Item = &IssuerConfig> {
        self.issuers.values().map(|t| &t.config)
    }

    /// Verifies `token` and returns who it speaks for.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let digest = sha256(token);
        let now = now_seconds();
        if let Some(principal) = self.cache.get(&digest, now) {
            return Ok(principal);
        }
        let principal = self.verify_uncached(token).await?;
        self.cache.put(digest, principal.clone(), now);
        Ok(principal)
    }

    /// The full check, without the cache (the benchmark measures both). Each part of the
    /// token is decoded once: the claims read to pick the issuer are the ones checked after
    /// the signature, which is verified over the token's own bytes.
    pub async fn verify_uncached(&self, token: &str) -> Result<Principal, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let (alg, kid) = header_algorithm(header)?;
        // Believed only to choose the issuer's keys until the signature is checked.
        let claims = decode_part(payload)?;
        let iss = claims["iss"]
            .as_str()
            .ok_or_else(|| TokenError::Claims("no issuer (iss)".into()))?
            .to_string();
        let trusted = self
            .issuers
            .get(&iss)
            .ok_or_else(|| TokenError::UnknownIssuer(iss.clone()))?;
        let key = trusted
            .keys
            .key(kid.as_deref())
            .await
            .map_err(|e| match e {
                KeyError::UnknownKey(_) => TokenError::Key(e.to_string()),
                KeyError::Fetch(_) => TokenError::Key(
                    "the issuer's signing keys cannot be fetched right now; try again".into(),
                ),
            })?;
        // The key decides the algorithm family; a JWK that names its algorithm decides it
        // exactly.
        if !key.family.fits(alg) || key.algorithm.is_some_and(|a| a != alg) {
            return Err(TokenError::Algorithm(format!("{alg:?}")));
        }
        let signed = &token[..header.len() + 1 + payload.len()];
        match jsonwebtoken::crypto::verify(signature, signed.as_bytes(), &key.key, alg) {
            Ok(true) => {}
            Ok(false) => return Err(TokenError::Signature),
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind as K;
                return Err(match e.kind() {
                    K::InvalidSignature | K::Base64(_) => TokenError::Signature,
                    K::InvalidAlgorithm => TokenError::Algorithm(format!("{alg:?}")),
                    _ => TokenError::Claims(e.to_string()),
                });
            }
        }
        self.check_times(&claims)?;
        if !claims["sub"].is_string() {
            return Err(TokenError::Claims("no sub claim".into()));
        }
        // Keycloak marks its ID and refresh tokens (`typ: ID`, `Refresh`); only access tokens
        // may call the API.
        if let Some(typ) = claims["typ"].as_str() {
            if !typ.eq_ignore_ascii_case("bearer") && !typ.eq_ignore_ascii_case("at+jwt") {
                return Err(TokenError::NotAccessToken(typ.to_string()));
            }
        }
        let aud: Vec<String> = match &claims["aud"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        };
        if !trusted
            .config
            .accepts_audience(&aud, claims["azp"].as_str())
        {
            return Err(TokenError::Audience);
        }
        Principal::from_claims(&trusted.config, &claims).map_err(TokenError::Claims)
    }
}
