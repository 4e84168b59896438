//! `tessera-pack new <name> --kind specialty|country`: a pack that builds, checks and passes
//! its tests as it is — a route, a form, a rule, pack.yaml and a test — to change from there.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::{Kind, NewArgs};

/// A file of the scaffold: where it goes and its template.
struct Template {
    path: &'static str,
    text: &'static str,
}

const COMMON: &[Template] = &[
    Template {
        path: "Cargo.toml",
        text: include_str!("../../templates/common/Cargo.toml"),
    },
    Template {
        path: "rust-toolchain.toml",
        text: include_str!("../../templates/common/rust-toolchain.toml"),
    },
    Template {
        path: ".gitignore",
        text: include_str!("../../templates/common/gitignore"),
    },
    Template {
        path: "README.md",
        text: include_str!("../../templates/common/README.md"),
    },
];

const SPECIALTY: &[Template] = &[
    Template {
        path: "pack.yaml",
        text: include_str!("../../templates/specialty/pack.yaml"),
    },
    Template {
        path: "src/lib.rs",
        text: include_str!("../../templates/specialty/lib.rs"),
    },
    Template {
        path: "forms/visit-note.yaml",
        text: include_str!("../../templates/specialty/visit-note.yaml"),
    },
    Template {
        path: "rules/adult.yaml",
        text: include_str!("../../templates/specialty/adult.yaml"),
    },
    Template {
        path: "tests/hello.yaml",
        text: include_str!("../../templates/specialty/hello.yaml"),
    },
];

const COUNTRY: &[Template] = &[
    Template {
        path: "pack.yaml",
        text: include_str!("../../templates/country/pack.yaml"),
    },
    Template {
        path: "src/lib.rs",
        text: include_str!("../../templates/country/lib.rs"),
    },
    Template {
        path: "forms/registration.yaml",
        text: include_str!("../../templates/country/registration.yaml"),
    },
    Template {
        path: "rules/adult.yaml",
        text: include_str!("../../templates/country/adult.yaml"),
    },
    Template {
        path: "tests/national-id.yaml",
        text: include_str!("../../templates/country/national-id.yaml"),
    },
    Template {
        path: "fixtures/patient.json",
        text: include_str!("../../templates/country/patient.json"),
    },
];

pub fn run(args: &NewArgs) -> Result<()> {
    if !tessera_plugins::manifest::is_pack_id(&args.name) {
        bail!(
            "{:?} cannot be a pack's name: use 2 to 40 lower-case letters, digits and dashes, starting with a letter (for example hello-pack)",
            args.name
        );
    }
    let folder = std::env::current_dir()?.join(&args.name);
    if folder.exists() {
        bail!(
            "{} already exists; choose another name or remove it",
            folder.display()
        );
    }
    let sdk = args
        .sdk
        .canonicalize()
        .ok()
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the SDK is not at {}; pass --sdk <folder of tessera-pack-sdk> (sdk/rust in Tessera's source)",
                args.sdk.display()
            )
        })?;
    let (kind, files) = match args.kind {
        Kind::Specialty => ("specialty", SPECIALTY),
        Kind::Country => ("country", COUNTRY),
    };
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let sdk_path = dependency_path(&folder, &sdk);
    for template in COMMON.iter().chain(files) {
        let text = template
            .text
            .replace("{{name}}", &args.name)
            .replace("{{kind}}", kind)
            .replace("{{publisher}}", &args.publisher)
            .replace("{{sdk}}", &sdk_path.display().to_string());
        let path = folder.join(template.path);
        std::fs::create_dir_all(path.parent().expect("templates are in folders"))?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("created {kind} pack {} in {}", args.name, folder.display());
    println!("next: cd {} && tessera-pack test", args.name);
    Ok(())
}

/// The SDK's path as the pack's Cargo.toml names it: relative when the two share a folder
/// other than the file system's root (so a pack inside a repository keeps working when the
/// repository moves), absolute otherwise.
fn dependency_path(pack: &Path, sdk: &Path) -> PathBuf {
    let pack: Vec<Component> = pack.components().collect();
    let sdk_parts: Vec<Component> = sdk.components().collect();
    let common = pack
        .iter()
        .zip(&sdk_parts)
        .take_while(|(a, b)| a == b)
        .count();
    // Only the root (`/`) in common: nothing gained by a relative path.
    if common <= 1 {
        return sdk.to_path_buf();
    }
    let mut relative = PathBuf::new();
    for _ in common..pack.len() {
        relative.push("..");
    }
    for part in &sdk_parts[common..] {
        relative.push(part);
    }
    relative
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_is_named_relatively_within_a_shared_folder() {
        assert_eq!(
            dependency_path(
                Path::new("/work/repo/examples/hello"),
                Path::new("/work/repo/sdk/rust")
            ),
            Path::new("../../sdk/rust")
        );
        assert_eq!(
            dependency_path(Path::new("/tmp/x/hello"), Path::new("/work/repo/sdk/rust")),
            Path::new("/work/repo/sdk/rust")
        );
    }
}
