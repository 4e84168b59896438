//! `tessera-pack build`: compile the component, package the archive, and check it loads the
//! way a server will load it at install.

use anyhow::Result;
use tessera_plugins::{Manifest, PackArchive};

use crate::cli::PackArgs;
use crate::packaging;
use crate::problem;
use crate::project::Project;

pub struct Built {
    pub project: Project,
    pub manifest: Manifest,
    pub archive: PackArchive,
    pub registered: Option<packaging::Registered>,
}

pub async fn run(args: &PackArgs) -> Result<Built> {
    let project = Project::find(&args.path)?;
    let manifest = project
        .manifest()
        .map_err(|p| problem::into_error(&[p], "pack.yaml"))?;
    eprintln!(
        "building {} {} for {}",
        manifest.id,
        manifest.version,
        crate::cargo::TARGET
    );
    let started = std::time::Instant::now();
    let fingerprint = packaging::content_fingerprint(&project)?;
    let wasm = crate::cargo::build_component(&project.root, &fingerprint)?;
    let component =
        std::fs::read(&wasm).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", wasm.display()))?;
    let size = component.len();
    let archive = packaging::assemble(&project, component)?;
    let registered = packaging::verify(&archive).await?;
    let path = project.archive_path(&manifest);
    packaging::write(&archive, &path)?;
    println!(
        "built {} in {:.1}s: component {} KiB, registers {}",
        packaging::display(&path).display(),
        started.elapsed().as_secs_f64(),
        size.div_ceil(1024),
        registered.summary
    );
    Ok(Built {
        project,
        manifest,
        archive,
        registered: Some(registered),
    })
}

/// The archive `build` wrote earlier, for commands run with `--no-build`.
pub fn existing(args: &PackArgs) -> Result<Built> {
    let project = Project::find(&args.path)?;
    let manifest = project
        .manifest()
        .map_err(|p| problem::into_error(&[p], "pack.yaml"))?;
    let path = project.archive_path(&manifest);
    let bytes = std::fs::read(&path).map_err(|_| {
        anyhow::anyhow!(
            "{} does not exist; run `tessera-pack build` first",
            path.display()
        )
    })?;
    let archive =
        PackArchive::read(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Built {
        project,
        manifest,
        archive,
        registered: None,
    })
}
