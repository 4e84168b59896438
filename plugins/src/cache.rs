//! Compiled components, cached on disk by content hash and engine.
//!
//! Compiling a component takes Cranelift a second or more; loading a compiled artefact takes
//! milliseconds. Files are named by the archive's content hash and a fingerprint of the
//! engine's compatibility hash (wasmtime version and settings), so a new build or a changed
//! setting never loads a stale artefact. The directory is the server's own (under its data
//! directory): deserializing runs native code, so nothing else may write there.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use wasmtime::component::Component;
use wasmtime::Engine;

pub struct ComponentCache {
    dir: Option<PathBuf>,
    fingerprint: String,
}

impl ComponentCache {
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> ComponentCache {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ComponentCache {
            dir,
            fingerprint: format!("{:016x}", hasher.finish()),
        }
    }

    fn path(&self, content_hash: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{content_hash}-{}.cwasm", self.fingerprint)))
    }

    /// The compiled component for these bytes: from disk when cached, else compiled and
    /// stored. A cache that cannot be written only costs the next start a compile.
    pub fn load(
        &self,
        engine: &Engine,
        content_hash: &str,
        bytes: &[u8],
    ) -> anyhow::Result<Component> {
        if let Some(path) = self.path(content_hash) {
            if path.exists() {
                // SAFETY: the file was written by `serialize` below into the server's own
                // cache directory, under a name that pins the engine's compatibility hash.
                match unsafe { Component::deserialize_file(engine, &path) } {
                    Ok(component) => return Ok(component),
                    Err(err) => {
                        tracing::warn!(path = %path.display(), error = %err, "ignoring an unreadable compiled pack");
                    }
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Some(path) = self.path(content_hash) {
            if let Err(err) = self.store(&path, &component) {
                tracing::warn!(path = %path.display(), error = %err, "could not cache a compiled pack");
            }
        }
        Ok(component)
    }

    fn store(&self, path: &std::path::Path, component: &Component) -> anyhow::Result<()> {
        let bytes = component.serialize()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, path)?;
        Ok(())
    }
}
