//! Pack secrets sealed at rest with AES-256-GCM.
//!
//! Each sealed value is `nonce (12 bytes) ‖ ciphertext ‖ tag`, with `tenant/pack` as the
//! associated data: a sealed blob copied to another tenant's or pack's row does not open.
//! The key comes from configuration (`packs.secret_key`, `TESSERA_PACK_SECRET_KEY`) or a
//! key file the server creates in its data directory (mode 0600).

use std::path::Path;

use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

pub struct SecretSealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

const KEY_FILE: &str = "pack-secrets.key";

impl SecretSealer {
    /// From the configured key, else the data directory's key file (created if missing).
    pub fn open(configured: Option<&str>, data_dir: &Path) -> Result<SecretSealer> {
        let raw = match configured {
            Some(text) => STANDARD
                .decode(text.trim())
                .context("packs.secret_key (TESSERA_PACK_SECRET_KEY) must be base64 of 32 bytes")?,
            None => load_or_create(&data_dir.join(KEY_FILE))?,
        };
        anyhow::ensure!(
            raw.len() == 32,
            "the pack secret key must be 32 bytes (base64 of 32 random bytes)"
        );
        let key = UnboundKey::new(&AES_256_GCM, &raw).expect("a 32-byte key");
        Ok(SecretSealer {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    pub fn seal(&self, tenant: &str, pack: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system random source works");
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(format!("{tenant}/{pack}")),
                &mut sealed,
            )
            .expect("sealing in memory cannot fail");
        [nonce.as_slice(), &sealed].concat()
    }

    pub fn open_sealed(&self, tenant: &str, pack: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        anyhow::ensure!(sealed.len() > NONCE_LEN, "the sealed secrets are truncated");
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).expect("12 bytes");
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(format!("{tenant}/{pack}")), &mut buffer)
            .map_err(|_| {
                anyhow::anyhow!(
                    "the pack's secrets cannot be opened: the secret key differs from the one that sealed them"
                )
            })?;
        Ok(plain.to_vec())
    }
}

fn load_or_create(path: &Path) -> Result<Vec<u8>> {
    if path.exists() {
        return std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    }
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| anyhow::anyhow!("no system random source"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_private(path, &key).with_context(|| format!("writing {}", path.display()))?;
    Ok(key.to_vec())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_where_they_were_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = SecretSealer::open(None, dir.path()).unwrap();
        let sealed = sealer.seal("acme", "greeter", b"{\"api-key\":\"s3cret\"}");
        assert!(
            !sealed.windows(6).any(|w| w == b"s3cret"),
            "not stored in the clear"
        );
        assert_eq!(
            sealer.open_sealed("acme", "greeter", &sealed).unwrap(),
            b"{\"api-key\":\"s3cret\"}"
        );
        assert!(sealer.open_sealed("globex", "greeter", &sealed).is_err());
        assert!(sealer.open_sealed("acme", "other", &sealed).is_err());
        // The key file is reused on the next start.
        let again = SecretSealer::open(None, dir.path()).unwrap();
        assert!(again.open_sealed("acme", "greeter", &sealed).is_ok());
        let other = SecretSealer::open(Some(&STANDARD.encode([7u8; 32])), dir.path()).unwrap();
        assert!(other.open_sealed("acme", "greeter", &sealed).is_err());
    }
}
