//! The packs Tessera ships (`packs/`), built from source and embedded by `core/build.rs`.
//! The server installs each at start unless that version is installed already; they are
//! trusted because they were compiled into this server (`trust: bundled`), and, like any
//! pack, do nothing until an organization's admin enables them.

use std::collections::BTreeMap;

use tessera_plugins::PackArchive;

use super::{store, Packs};
use crate::fhir::outcome::FhirResult;

/// One pack's parts, as `build.rs` embedded them.
pub struct BundledPack {
    /// The folder under `packs/`, e.g. `specialty/obstetrics`.
    pub path: &'static str,
    pub manifest: &'static str,
    pub component: &'static [u8],
    /// `forms/`, `rules/` and `locales/` files by path within the pack.
    pub content: &'static [(&'static str, &'static [u8])],
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

impl BundledPack {
    /// The pack as an (unsigned) archive.
    pub fn archive(&self) -> anyhow::Result<PackArchive> {
        let content: BTreeMap<String, Vec<u8>> = self
            .content
            .iter()
            .map(|(path, bytes)| (path.to_string(), bytes.to_vec()))
            .collect();
        PackArchive::from_parts(self.manifest.to_string(), self.component.to_vec(), content)
            .map_err(|e| anyhow::anyhow!("bundled pack {}: {e}", self.path))
    }
}

/// What happened to one bundled pack at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Installed(String, String),
    AlreadyInstalled(String, String),
}

impl Packs {
    /// Installs every bundled pack whose version is not installed yet.
    pub async fn install_bundled(&self) -> FhirResult<Vec<Outcome>> {
        let mut outcomes = Vec::new();
        for bundled in BUNDLED {
            let archive = bundled
                .archive()
                .map_err(|e| crate::fhir::outcome::FhirError::internal(format!("{e:#}")))?;
            let (id, version) = (
                archive.manifest.id.clone(),
                archive.manifest.version.to_string(),
            );
            if let Some(installed) = store::version(self.db(), &id, &version).await? {
                if installed.content_hash != archive.content_hash {
                    tracing::warn!(pack = %id, version = %version, "the installed pack differs from the one bundled in this server under the same version; give a changed pack a new version");
                }
                outcomes.push(Outcome::AlreadyInstalled(id, version));
                continue;
            }
            let bytes = archive.write();
            self.install_trusted(&archive, &bytes, "bundled".into(), "tessera (bundled)")
                .await?;
            tracing::info!(pack = %id, version = %version, "bundled pack installed");
            outcomes.push(Outcome::Installed(id, version));
        }
        Ok(outcomes)
    }
}
