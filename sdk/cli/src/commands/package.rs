//! `tessera-pack package --component <file>`: an archive from a component built elsewhere
//! (another toolchain, a CI artifact) and the pack's manifest and content, without building.

use anyhow::{Context, Result};

use crate::cli::PackageArgs;
use crate::packaging;
use crate::problem;
use crate::project::Project;

pub async fn run(args: &PackageArgs) -> Result<()> {
    let project = Project::find(&args.pack.path)?;
    let manifest = project
        .manifest()
        .map_err(|p| problem::into_error(&[p], "pack.yaml"))?;
    let component = std::fs::read(&args.component)
        .with_context(|| format!("cannot read the component {}", args.component.display()))?;
    let archive = packaging::assemble(&project, component)?;
    let registered = packaging::verify(&archive).await?;
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| project.archive_path(&manifest));
    packaging::write(&archive, &path)?;
    println!(
        "packaged {} ({} {}): registers {}",
        packaging::display(&path).display(),
        manifest.id,
        manifest.version,
        registered.summary
    );
    Ok(())
}
