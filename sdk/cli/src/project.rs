//! A pack's source folder: `pack.yaml`, `Cargo.toml`, `src/`, and the declarative content
//! (`forms/`, `rules/`, `locales/`) that goes into its archive beside the component.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tessera_plugins::archive::CONTENT_DIRS;
use tessera_plugins::Manifest;

use crate::problem::{strip_yaml_location, Problem};

pub struct Project {
    pub root: PathBuf,
    pub manifest_text: String,
}

impl Project {
    /// The pack whose folder holds `start` (the folder itself or any parent).
    pub fn find(start: &Path) -> Result<Project> {
        let start = start
            .canonicalize()
            .with_context(|| format!("{} does not exist", start.display()))?;
        let root = start
            .ancestors()
            .find(|dir| dir.join("pack.yaml").is_file())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no pack.yaml in {} or any folder above it; run this inside a pack (create one with `tessera-pack new <name> --kind specialty`)",
                    start.display()
                )
            })?
            .to_path_buf();
        let manifest_text = std::fs::read_to_string(root.join("pack.yaml"))
            .with_context(|| format!("cannot read {}", root.join("pack.yaml").display()))?;
        Ok(Project {
            root,
            manifest_text,
        })
    }

    /// The manifest, or its problem with the line.
    pub fn manifest(&self) -> Result<Manifest, Problem> {
        Manifest::parse(&self.manifest_text)
            .map_err(|e| Problem::new("pack.yaml", e.line, strip_yaml_location(&e.message)))
    }

    /// Where built archives go: `dist/<id>-<version>.tpack`.
    pub fn archive_path(&self, manifest: &Manifest) -> PathBuf {
        self.root
            .join("dist")
            .join(format!("{}-{}.tpack", manifest.id, manifest.version))
    }

    /// Every file under `forms/`, `rules/` and `locales/`, by archive path (hidden files
    /// skipped).
    pub fn content(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut content = BTreeMap::new();
        for dir in CONTENT_DIRS {
            let folder = self.root.join(dir.trim_end_matches('/'));
            if folder.is_dir() {
                collect(&folder, dir.trim_end_matches('/'), &mut content)?;
            }
        }
        Ok(content)
    }

    /// The content files below `folder` (`forms`), by path relative to the pack.
    pub fn files_in(&self, folder: &str) -> Result<Vec<String>> {
        Ok(self
            .content()?
            .into_keys()
            .filter(|path| path.starts_with(&format!("{folder}/")))
            .collect())
    }

    pub fn read_text(&self, relative: &str) -> Result<String, Problem> {
        std::fs::read_to_string(self.root.join(relative))
            .map_err(|e| Problem::new(relative, None, format!("cannot read it as UTF-8 text: {e}")))
    }
}

fn collect(folder: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) -> Result<()> {
    for entry in
        std::fs::read_dir(folder).with_context(|| format!("cannot list {}", folder.display()))?
    {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = format!("{prefix}/{name}");
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            collect(&entry.path(), &path, out)?;
        } else if file_type.is_file() {
            out.insert(path, std::fs::read(entry.path())?);
        }
    }
    Ok(())
}
