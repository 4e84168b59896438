//! `tessera-pack keygen` and `tessera-pack sign`: Ed25519 keys and signatures, with the
//! host's own signing code (`tessera_plugins::signing`).
//!
//! The private key is a PKCS#8 PEM file written with mode 0600 and never printed; the public
//! key (base64 of its 32 raw bytes, what a server's `packs.trusted_keys` lists) goes beside it
//! in `<file>.pub`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tessera_plugins::signing::{SigningKey, TrustedKeys};
use tessera_plugins::PackArchive;

use crate::cli::{KeygenArgs, SignArgs};
use crate::packaging;
use crate::project::Project;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

fn public_path(private: &Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

pub fn keygen(args: &KeygenArgs) -> Result<()> {
    let public_file = public_path(&args.out);
    for path in [&args.out, &public_file] {
        if path.exists() {
            bail!(
                "{} already exists; keys are never overwritten (choose another --out, or move the old key away first)",
                path.display()
            );
        }
    }
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let pkcs8 = SigningKey::generate();
    let key = SigningKey::from_pkcs8(&pkcs8).map_err(|e| anyhow::anyhow!(e))?;
    let mut pem = format!("{PEM_BEGIN}\n");
    for chunk in STANDARD.encode(&pkcs8).as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    write_private(&args.out, pem.as_bytes())?;
    std::fs::write(&public_file, format!("{}\n", key.public_key()))
        .with_context(|| format!("cannot write {}", public_file.display()))?;
    println!(
        "private key: {} (mode 0600; keep it secret, never commit it)",
        args.out.display()
    );
    println!("public key:  {}", public_file.display());
    println!("fingerprint: {}", key.fingerprint());
    println!("a server trusts packs you sign once its tessera.yaml lists the public key:");
    println!("  packs:\n    trusted_keys:\n      - {}", key.public_key());
    Ok(())
}

/// Creates the file readable by its owner only, from the first byte.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn read_key(path: &Path) -> Result<SigningKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read the key {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} can be read by other users (mode {:o}); run `chmod 600 {}` and sign again",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key {}", path.display()))?;
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != PEM_BEGIN && *l != PEM_END)
        .collect();
    let der = STANDARD.decode(body).map_err(|_| {
        anyhow::anyhow!(
            "{} is not a private key from `tessera-pack keygen` (PKCS#8 PEM)",
            path.display()
        )
    })?;
    SigningKey::from_pkcs8(&der).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub fn sign(args: &SignArgs) -> Result<()> {
    let key = read_key(&args.key)?;
    let input = match &args.archive {
        Some(path) => path.clone(),
        None => {
            let project = Project::find(&args.pack.path)?;
            let manifest = project
                .manifest()
                .map_err(|p| crate::problem::into_error(&[p], "pack.yaml"))?;
            project.archive_path(&manifest)
        }
    };
    let bytes = std::fs::read(&input).with_context(|| {
        format!(
            "cannot read {}; build the pack first (`tessera-pack build`)",
            input.display()
        )
    })?;
    let mut archive =
        PackArchive::read(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    key.sign(&mut archive);
    // Check the signature the way a server that trusts this key will.
    TrustedKeys::from_base64(&[key.public_key()])
        .map_err(|e| anyhow::anyhow!(e))?
        .verify(
            &PackArchive::read(&archive.write()).map_err(|e| anyhow::anyhow!("{e}"))?,
            false,
        )
        .map_err(|e| anyhow::anyhow!("the signed archive does not verify: {e}"))?;
    let output = args.out.clone().unwrap_or(input);
    packaging::write(&archive, &output)?;
    println!(
        "signed {} {} with key {}: {}",
        archive.manifest.id,
        archive.manifest.version,
        key.fingerprint(),
        packaging::display(&output).display()
    );
    Ok(())
}
