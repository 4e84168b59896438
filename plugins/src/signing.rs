//! Ed25519 signatures over a pack's content hash, checked at install against keys the
//! operator trusts.
//!
//! A key is named by its fingerprint (the first 16 bytes of the SHA-256 of the raw public
//! key, in hex), so a signature cannot claim a trusted key's name with another key. The
//! signed message is `tessera-pack-signature-v1 NUL <content hash>`: a domain prefix, so a
//! pack signature can never be replayed as some other signed thing.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

use crate::archive::{hex, PackArchive};

const DOMAIN: &[u8] = b"tessera-pack-signature-v1\0";

/// `signature.json` in an archive.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Fingerprint of the signing key.
    pub key: String,
    /// The content hash that was signed.
    pub content_hash: String,
    /// Base64 signature.
    pub signature: String,
}

/// A publisher's signing key (PKCS#8).
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// A new key as PKCS#8 bytes, to be stored by the publisher.
    pub fn generate() -> Vec<u8> {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::generate_pkcs8(&rng)
            .expect("the system random source works")
            .as_ref()
            .to_vec()
    }

    pub fn from_pkcs8(bytes: &[u8]) -> Result<SigningKey, String> {
        Ed25519KeyPair::from_pkcs8(bytes)
            .map(|pair| SigningKey { pair })
            .map_err(|e| format!("not an Ed25519 PKCS#8 key: {e}"))
    }

    /// The public key, base64: what an operator adds to `packs.trusted_keys`.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.pair.public_key().as_ref())
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(self.pair.public_key().as_ref())
    }

    /// Signs the archive's current content hash.
    pub fn sign(&self, archive: &mut PackArchive) {
        let message = [DOMAIN, archive.content_hash.as_bytes()].concat();
        archive.signature = Some(Signature {
            algorithm: "ed25519".into(),
            key: self.fingerprint(),
            content_hash: archive.content_hash.clone(),
            signature: STANDARD.encode(self.pair.sign(&message).as_ref()),
        });
    }
}

fn fingerprint(public_key: &[u8]) -> String {
    hex(&ring::digest::digest(&ring::digest::SHA256, public_key).as_ref()[..16])
}

/// How an installed archive was vouched for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Trust {
    /// Signed by this trusted key (fingerprint).
    Signed(String),
    /// Unsigned, accepted because the operator allows unsigned packs.
    Unsigned,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignatureError {
    #[error("the pack is not signed, and this server only installs signed packs (set packs.allow_unsigned to accept unsigned ones)")]
    Unsigned,
    #[error("the pack is signed by key {0}, which this server does not trust (add its public key to packs.trusted_keys)")]
    UntrustedKey(String),
    #[error(
        "the signature does not match the pack's contents: the archive was changed after signing"
    )]
    Tampered,
    #[error("signature.json is malformed: {0}")]
    Malformed(String),
}

/// The public keys an operator trusts, by fingerprint.
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys {
    keys: BTreeMap<String, Vec<u8>>,
}

impl TrustedKeys {
    /// From base64 raw Ed25519 public keys.
    pub fn from_base64(keys: &[String]) -> Result<TrustedKeys, String> {
        let mut trusted = TrustedKeys::default();
        for key in keys {
            let raw = STANDARD
                .decode(key.trim())
                .map_err(|e| format!("trusted key {key:?} is not base64: {e}"))?;
            if raw.len() != 32 {
                return Err(format!(
                    "trusted key {key:?} is not a raw Ed25519 public key (32 bytes)"
                ));
            }
            trusted.keys.insert(fingerprint(&raw), raw);
        }
        Ok(trusted)
    }

    /// Checks an archive's signature; `allow_unsigned` admits archives with none.
    pub fn verify(
        &self,
        archive: &PackArchive,
        allow_unsigned: bool,
    ) -> Result<Trust, SignatureError> {
        let Some(signature) = &archive.signature else {
            return if allow_unsigned {
                Ok(Trust::Unsigned)
            } else {
                Err(SignatureError::Unsigned)
            };
        };
        if signature.algorithm != "ed25519" {
            return Err(SignatureError::Malformed(format!(
                "algorithm {:?} is not supported (ed25519)",
                signature.algorithm
            )));
        }
        let public = self
            .keys
            .get(&signature.key)
            .ok_or_else(|| SignatureError::UntrustedKey(signature.key.clone()))?;
        let raw = STANDARD
            .decode(&signature.signature)
            .map_err(|e| SignatureError::Malformed(e.to_string()))?;
        // The hash actually recomputed from the files is what is checked, never the one the
        // signature file claims.
        let message = [DOMAIN, archive.content_hash.as_bytes()].concat();
        UnparsedPublicKey::new(&ED25519, public)
            .verify(&message, &raw)
            .map_err(|_| SignatureError::Tampered)?;
        Ok(Trust::Signed(signature.key.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn archive() -> PackArchive {
        PackArchive::from_parts(
            "id: demo\nversion: 1.0.0\nkind: specialty\npublisher: Us\nabi: 0.1.0\n".into(),
            b"\0asm".to_vec(),
            BTreeMap::new(),
        )
        .unwrap()
    }

    #[test]
    fn signed_tampered_untrusted_and_unsigned() {
        let key = SigningKey::from_pkcs8(&SigningKey::generate()).unwrap();
        let trusted = TrustedKeys::from_base64(&[key.public_key()]).unwrap();
        let mut pack = archive();
        assert_eq!(trusted.verify(&pack, false), Err(SignatureError::Unsigned));
        assert_eq!(trusted.verify(&pack, true), Ok(Trust::Unsigned));
        key.sign(&mut pack);
        let read = PackArchive::read(&pack.write()).unwrap();
        assert_eq!(
            trusted.verify(&read, false),
            Ok(Trust::Signed(key.fingerprint()))
        );

        let mut tampered = read.clone();
        tampered.component.push(0);
        let tampered = PackArchive::read(&tampered.write()).unwrap();
        assert_eq!(
            trusted.verify(&tampered, true),
            Err(SignatureError::Tampered)
        );

        let stranger = SigningKey::from_pkcs8(&SigningKey::generate()).unwrap();
        let mut other = archive();
        stranger.sign(&mut other);
        assert!(matches!(
            trusted.verify(&other, true),
            Err(SignatureError::UntrustedKey(_))
        ));
        // A signature that claims the trusted key's name but was made with another key.
        let mut forged = archive();
        stranger.sign(&mut forged);
        forged.signature.as_mut().unwrap().key = key.fingerprint();
        assert_eq!(trusted.verify(&forged, true), Err(SignatureError::Tampered));
    }
}
