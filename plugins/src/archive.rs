//! The pack archive: a gzipped tar of `pack.yaml`, `pack.wasm`, `forms/`, `rules/`,
//! `locales/`, and `signature.json` when signed.
//!
//! The content hash is SHA-256 over every file but the signature, in path order, each as
//! `path NUL length NUL bytes`: the same files always hash the same whatever order or
//! timestamps the tar has. Reading is defensive, as archives come from outside: regular files
//! only, no absolute or `..` paths, bounded sizes and counts.

use std::collections::BTreeMap;
use std::io::Read;

use crate::manifest::{Manifest, ManifestError};
use crate::signing::Signature;

pub const MANIFEST: &str = "pack.yaml";
pub const COMPONENT: &str = "pack.wasm";
pub const SIGNATURE: &str = "signature.json";
/// Folders of declarative content an archive may hold.
pub const CONTENT_DIRS: &[&str] = &["forms/", "rules/", "locales/"];

const MAX_TOTAL_BYTES: u64 = 64 << 20;
const MAX_FILES: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("the archive is not a gzipped tar: {0}")]
    Format(String),
    #[error("the archive has no {0}")]
    Missing(&'static str),
    #[error("archive entry {path:?}: {problem}")]
    Entry { path: String, problem: String },
    #[error("the archive is larger than {} MiB unpacked", MAX_TOTAL_BYTES >> 20)]
    TooLarge,
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("signature.json: {0}")]
    Signature(String),
}

/// An archive's contents, checked for shape (not yet for signature or ABI).
#[derive(Clone, Debug)]
pub struct PackArchive {
    pub manifest: Manifest,
    pub manifest_text: String,
    pub component: Vec<u8>,
    /// Declarative content by path (`forms/intake.yaml`).
    pub content: BTreeMap<String, Vec<u8>>,
    pub signature: Option<Signature>,
    /// Lower-case hex SHA-256 (see the module docs).
    pub content_hash: String,
}

fn entry_error(path: &str, problem: impl Into<String>) -> ArchiveError {
    ArchiveError::Entry {
        path: path.to_string(),
        problem: problem.into(),
    }
}

fn clean_path(raw: &str) -> Result<String, ArchiveError> {
    let path = raw.trim_start_matches("./");
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path
            .split('/')
            .any(|s| s == ".." || s == "." || s.is_empty());
    if bad {
        return Err(entry_error(raw, "paths must be relative, without `..`"));
    }
    Ok(path.to_string())
}

impl PackArchive {
    /// Assembles an archive from its parts (what `tessera-pack package` does).
    pub fn from_parts(
        manifest_text: String,
        component: Vec<u8>,
        content: BTreeMap<String, Vec<u8>>,
    ) -> Result<PackArchive, ArchiveError> {
        let manifest = Manifest::parse(&manifest_text)?;
        for path in content.keys() {
            let clean = clean_path(path)?;
            if !CONTENT_DIRS.iter().any(|d| clean.starts_with(d)) || &clean != path {
                return Err(entry_error(
                    path,
                    "content belongs in forms/, rules/ or locales/",
                ));
            }
        }
        let content_hash = content_hash(&manifest_text, &component, &content);
        Ok(PackArchive {
            manifest,
            manifest_text,
            component,
            content,
            signature: None,
            content_hash,
        })
    }

    /// Reads and checks an archive.
    pub fn read(bytes: &[u8]) -> Result<PackArchive, ArchiveError> {
        let gz = flate2::read::GzDecoder::new(bytes);
        let mut tar = tar::Archive::new(gz.take(MAX_TOTAL_BYTES + 1));
        let mut manifest_text = None;
        let mut component = None;
        let mut signature = None;
        let mut content = BTreeMap::new();
        let mut total: u64 = 0;
        let mut count = 0;
        let entries = tar
            .entries()
            .map_err(|e| ArchiveError::Format(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| ArchiveError::Format(e.to_string()))?;
            let raw_path = entry
                .path()
                .map_err(|e| ArchiveError::Format(e.to_string()))?
                .to_string_lossy()
                .into_owned();
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                continue;
            }
            if !kind.is_file() {
                return Err(entry_error(&raw_path, "only regular files are allowed"));
            }
            count += 1;
            if count > MAX_FILES {
                return Err(ArchiveError::Format(format!("more than {MAX_FILES} files")));
            }
            let path = clean_path(&raw_path)?;
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(|e| ArchiveError::Format(e.to_string()))?;
            total += data.len() as u64;
            if total > MAX_TOTAL_BYTES {
                return Err(ArchiveError::TooLarge);
            }
            match path.as_str() {
                MANIFEST => {
                    let text = String::from_utf8(data)
                        .map_err(|_| entry_error(MANIFEST, "must be UTF-8 text"))?;
                    manifest_text = Some(text);
                }
                COMPONENT => component = Some(data),
                SIGNATURE => {
                    signature = Some(
                        serde_json::from_slice::<Signature>(&data)
                            .map_err(|e| ArchiveError::Signature(e.to_string()))?,
                    )
                }
                other if CONTENT_DIRS.iter().any(|d| other.starts_with(d)) => {
                    if content.insert(path.clone(), data).is_some() {
                        return Err(entry_error(&path, "appears twice"));
                    }
                }
                other => {
                    return Err(entry_error(
                        other,
                        "unexpected file: an archive holds pack.yaml, pack.wasm, signature.json, forms/, rules/ and locales/",
                    ))
                }
            }
        }
        let manifest_text = manifest_text.ok_or(ArchiveError::Missing(MANIFEST))?;
        let component = component.ok_or(ArchiveError::Missing(COMPONENT))?;
        let mut archive = PackArchive::from_parts(manifest_text, component, content)?;
        archive.signature = signature;
        Ok(archive)
    }

    /// The archive as bytes: sorted entries with fixed metadata, so the same pack always
    /// packs to the same bytes.
    pub fn write(&self) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mut files: Vec<(&str, Vec<u8>)> = vec![
            (MANIFEST, self.manifest_text.as_bytes().to_vec()),
            (COMPONENT, self.component.clone()),
        ];
        for (path, data) in &self.content {
            files.push((path, data.clone()));
        }
        if let Some(signature) = &self.signature {
            files.push((
                SIGNATURE,
                serde_json::to_vec_pretty(signature).expect("a signature serializes"),
            ));
        }
        for (path, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, path, data.as_slice())
                .expect("writing to memory cannot fail");
        }
        let gz = tar.into_inner().expect("writing to memory cannot fail");
        gz.finish().expect("writing to memory cannot fail")
    }
}

fn content_hash(manifest: &str, component: &[u8], content: &BTreeMap<String, Vec<u8>>) -> String {
    let mut files: Vec<(&str, &[u8])> =
        vec![(MANIFEST, manifest.as_bytes()), (COMPONENT, component)];
    files.extend(content.iter().map(|(p, d)| (p.as_str(), d.as_slice())));
    files.sort_by(|a, b| a.0.cmp(b.0));
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    for (path, data) in files {
        digest.update(path.as_bytes());
        digest.update(&[0]);
        digest.update(data.len().to_string().as_bytes());
        digest.update(&[0]);
        digest.update(data);
    }
    hex(digest.finish().as_ref())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST_TEXT: &str =
        "id: demo\nversion: 1.0.0\nkind: country\npublisher: Us\nabi: 0.1.0\n";

    fn sample() -> PackArchive {
        let mut content = BTreeMap::new();
        content.insert("forms/a.yaml".to_string(), b"id: a".to_vec());
        PackArchive::from_parts(MANIFEST_TEXT.into(), b"\0asm".to_vec(), content).unwrap()
    }

    #[test]
    fn round_trips_with_a_stable_hash() {
        let archive = sample();
        let bytes = archive.write();
        assert_eq!(bytes, sample().write(), "packing is deterministic");
        let back = PackArchive::read(&bytes).unwrap();
        assert_eq!(back.content_hash, archive.content_hash);
        assert_eq!(back.content["forms/a.yaml"], b"id: a");
        let mut changed = sample();
        changed.component.push(1);
        let changed = PackArchive::read(&changed.write()).unwrap();
        assert_ne!(changed.content_hash, archive.content_hash);
    }

    fn tar_with(path: &str, kind: tar::EntryType) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(if kind.is_file() { 1 } else { 0 });
        header.set_entry_type(kind);
        header.set_mode(0o644);
        // `append_data` refuses `..`; write the raw name as a hostile tool would.
        header.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        let data: &[u8] = if kind.is_file() { b"x" } else { b"" };
        tar.append(&header, data).unwrap();
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn refuses_hostile_archives() {
        assert!(matches!(
            PackArchive::read(b"not gzip"),
            Err(ArchiveError::Format(_))
        ));
        let err =
            PackArchive::read(&tar_with("../../etc/passwd", tar::EntryType::Regular)).unwrap_err();
        assert!(err.to_string().contains("relative"), "{err}");
        let err = PackArchive::read(&tar_with("forms/link", tar::EntryType::Symlink)).unwrap_err();
        assert!(err.to_string().contains("regular files"), "{err}");
        let err = PackArchive::read(&tar_with("bin/tool", tar::EntryType::Regular)).unwrap_err();
        assert!(err.to_string().contains("unexpected file"), "{err}");
        let err =
            PackArchive::read(&tar_with("forms/a.yaml", tar::EntryType::Regular)).unwrap_err();
        assert!(matches!(err, ArchiveError::Missing(MANIFEST)), "{err}");
    }
}
