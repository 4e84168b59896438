//! The server's own token issuer, for the embedded default and operator tools: an Ed25519
//! key kept in the data directory, tokens shaped like Keycloak's (so one claim mapping serves
//! both), verified by the same code path as any external issuer's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};

use super::issuers::IssuerConfig;
use super::jwks::{keys_of, KeySource};

/// The `aud` and `azp` of local tokens.
pub const LOCAL_CLIENT: &str = "tessera";
/// The claim naming a local token's tenant.
pub const LOCAL_TENANT_CLAIM: &str = "tenant";

pub struct LocalIssuer {
    pub issuer: String,
    kid: String,
    encoding: EncodingKey,
    public_jwk: Jwk,
}

/// What a local token says.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub tenant: String,
    pub subject: String,
    pub username: Option<String>,
    pub roles: Vec<String>,
    /// `Patient/{id}` of the user's own record, for the `patient` role.
    pub patient: Option<String>,
    pub lifetime_seconds: i64,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl LocalIssuer {
    /// The key file inside the data directory.
    pub fn key_path(data_dir: &Path) -> PathBuf {
        data_dir.join("local-issuer-ed25519.pk8")
    }

    /// Loads the key from the data directory, creating it (readable by the owner only) on
    /// first use.
    pub fn open(data_dir: &Path, issuer: String) -> Result<LocalIssuer> {
        let path = Self::key_path(data_dir);
        let pkcs8 = if path.exists() {
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
        } else {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create {}", data_dir.display()))?;
            let rng = ring::rand::SystemRandom::new();
            let doc = Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| anyhow::anyhow!("cannot generate the local signing key"))?;
            write_private(&path, doc.as_ref())?;
            doc.as_ref().to_vec()
        };
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| {
            anyhow::anyhow!(
                "{} is not an Ed25519 PKCS#8 key; move it away and restart to make a new one (tokens it signed stop working)",
                path.display()
            )
        })?;
        let public = pair.public_key().as_ref();
        let kid = b64(&ring::digest::digest(&ring::digest::SHA256, public).as_ref()[..12]);
        let public_jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                key_id: Some(kid.clone()),
                ..Default::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: b64(public),
            }),
        };
        Ok(LocalIssuer {
            issuer,
            kid,
            encoding: EncodingKey::from_ed_der(&pkcs8),
            public_jwk,
        })
    }

    /// The public key set, as `/auth/local/jwks` serves it.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.public_jwk.clone()],
        }
    }

    /// How the verifier trusts this issuer: the same rules shape as an external one.
    pub fn trust(&self) -> (IssuerConfig, KeySource) {
        let config = IssuerConfig {
            issuer: self.issuer.clone(),
            tenants: vec!["*".into()],
            tenant_claim: Some(LOCAL_TENANT_CLAIM.into()),
            client_id: Some(LOCAL_CLIENT.into()),
            client_secret: None,
            client_secret_env: None,
            audiences: vec![],
            role_claims: vec![],
            role_map: Default::default(),
            username_claim: "preferred_username".into(),
            patient_claim: "fhirUser".into(),
            jwks_uri: None,
        };
        let keys: HashMap<_, _> = keys_of(&self.jwks());
        (config, KeySource::Static(keys))
    }

    /// Signs a token for `request`.
    pub fn issue(&self, request: &TokenRequest) -> Result<String> {
        anyhow::ensure!(
            request.lifetime_seconds > 0 && request.lifetime_seconds <= 86_400,
            "a token lives between 1 second and 24 hours"
        );
        let now = crate::clock::now_micros() / 1_000_000;
        let mut claims = json!({
            "iss": self.issuer,
            "sub": request.subject,
            "aud": LOCAL_CLIENT,
            "azp": LOCAL_CLIENT,
            "iat": now,
            "nbf": now,
            "exp": now + request.lifetime_seconds,
            "jti": uuid::Uuid::new_v4().to_string(),
            LOCAL_TENANT_CLAIM: request.tenant,
            "realm_access": {"roles": request.roles},
        });
        if let Some(username) = &request.username {
            claims["preferred_username"] = Value::String(username.clone());
        }
        if let Some(patient) = &request.patient {
            claims["fhirUser"] = Value::String(format!("Patient/{patient}"));
        }
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }
}

/// Writes a secret file that only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
