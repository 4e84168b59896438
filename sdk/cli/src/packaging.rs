//! Assembling a pack's archive from its manifest, component and content, with the host's own
//! archive format (`tessera_plugins::archive`), and checking it the way a server will at
//! install: the component loads, links against its ABI, and registers what fits its manifest.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tessera_plugins::{PackArchive, PackRuntime};

use crate::project::Project;

/// Assembles the archive from the project's files and `component`.
pub fn assemble(project: &Project, component: Vec<u8>) -> Result<PackArchive> {
    let content = project.content()?;
    PackArchive::from_parts(project.manifest_text.clone(), component, content)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Writes the archive to `path`, creating its folder.
pub fn write(archive: &PackArchive, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, archive.write())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// What a loaded pack registers.
pub struct Registered {
    /// In a line: `2 routes, 1 form, 1 rule`.
    pub summary: String,
    /// Each route's methods and path pattern.
    pub routes: Vec<(Vec<String>, String)>,
}

/// Loads the component into a pack runtime, as a server does at install.
pub async fn verify(archive: &PackArchive) -> Result<Registered> {
    let runtime = PackRuntime::new(tessera_plugins::Limits::default(), None)
        .context("starting a pack runtime")?;
    let loaded = runtime
        .load(archive)
        .await
        .map_err(|e| anyhow::anyhow!("the server would refuse this pack: {e:#}"))?;
    let r = &loaded.registration;
    let count = |n: usize, noun: &str| format!("{n} {noun}{}", if n == 1 { "" } else { "s" });
    let mut parts = vec![
        count(r.routes.len(), "route"),
        count(r.forms.len(), "form"),
        count(r.rules.len(), "rule"),
    ];
    for (n, noun) in [
        (r.webhooks.len(), "webhook"),
        (r.subscriptions.len(), "subscription"),
        (r.identifier_systems.len(), "identifier system"),
        (r.outbound.len(), "outbound endpoint"),
        (r.search_parameters.len(), "search parameter"),
    ] {
        if n > 0 {
            parts.push(count(n, noun));
        }
    }
    Ok(Registered {
        summary: parts.join(", "),
        routes: r
            .routes
            .iter()
            .map(|route| (route.methods.clone(), route.path.clone()))
            .collect(),
    })
}

/// A fingerprint of which forms and rules exist, so cargo rebuilds when one is added or
/// removed (the SDK reads it through `option_env!`).
pub fn content_fingerprint(project: &Project) -> Result<String> {
    let mut names = project.files_in("forms")?;
    names.extend(project.files_in("rules")?);
    let digest = ring::digest::digest(&ring::digest::SHA256, names.join("\n").as_bytes());
    Ok(tessera_plugins::archive::hex(&digest.as_ref()[..8]))
}

/// `path` relative to the current folder when it is below it, for friendlier messages.
pub fn display(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}
