//! Compile-time support for `tessera-pack-sdk`: `include_content!` embeds a pack's id (from
//! `pack.yaml`), its forms (`forms/`) and its rules (`rules/`) into the component, so what the
//! pack registers is exactly what ships in its archive. Used through `export_pack!`; a pack
//! never names this crate.
//!
//! The macro builds its output as Rust source text rather than with `syn`/`quote`: it takes a
//! single optional string literal and emits one expression, and packs compile faster without
//! a parser for all of Rust.

use std::path::{Path, PathBuf};

use proc_macro::TokenStream;

mod content;

/// `include_content!()` or `include_content!("root")`: a `Content` expression for the pack
/// whose `pack.yaml`, `forms/` and `rules/` are in `root` (relative to the crate's
/// `Cargo.toml`, `.` by default). A file that does not parse is a compile error naming it.
#[proc_macro]
pub fn include_content(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(code) => code.parse().expect("the generated code parses"),
        Err(message) => format!("::core::compile_error!({message:?})")
            .parse()
            .expect("a compile_error! parses"),
    }
}

fn expand(input: TokenStream) -> Result<String, String> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| "include_content! runs under cargo only (CARGO_MANIFEST_DIR is not set)")?;
    let root = pack_root(Path::new(&manifest_dir), input)?;
    let content = content::read(&root)?;
    Ok(content.to_rust())
}

fn pack_root(manifest_dir: &Path, input: TokenStream) -> Result<PathBuf, String> {
    let text = input.to_string();
    let text = text.trim();
    if text.is_empty() {
        return Ok(manifest_dir.to_path_buf());
    }
    let relative = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.contains('\\'))
        .ok_or_else(|| {
            format!("include_content! takes a plain string literal, the pack's folder relative to Cargo.toml; got {text}")
        })?;
    Ok(manifest_dir.join(relative))
}
