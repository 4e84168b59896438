//! Compiling a pack to a `wasm32-wasip2` component with cargo, showing progress.
//!
//! Cargo runs with `--message-format json`: each compiled crate is a `compiler-artifact`
//! line on stdout, which moves the bar; its total is the number of packages in the resolved
//! dependency graph (`cargo metadata`), close to the number of crates compiled. Compiler
//! diagnostics are printed as rustc renders them; cargo's own status lines on stderr
//! (`Compiling x`, `Downloaded y`) become the bar's message, and anything else it says
//! (errors, warnings) is printed.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

pub const TARGET: &str = "wasm32-wasip2";

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// What cargo knows about the pack's crate before building it.
pub struct CrateInfo {
    /// The package's name.
    pub name: String,
    /// The library target's name: the component is `<lib_name>.wasm`.
    pub lib_name: String,
    /// How many packages the build compiles, roughly (the progress bar's length).
    pub packages: u64,
    /// Where cargo builds (`CARGO_TARGET_DIR`, or the pack's `target/`).
    pub target_dir: PathBuf,
}

/// Asks `cargo metadata` about the crate at `manifest`; checks it builds a component.
pub fn crate_info(manifest: &Path) -> Result<CrateInfo> {
    let output = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            TARGET,
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .context("cannot run cargo; is Rust installed (https://rustup.rs)?")?;
    if !output.status.success() {
        bail!(
            "cargo cannot read {}:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata's output")?;
    let canonical = manifest
        .canonicalize()
        .unwrap_or_else(|_| manifest.to_path_buf());
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(canonical.as_path()))
        .context("cargo metadata does not list the pack's own crate")?;
    let lib = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "Cargo.toml: the crate builds no component; add [lib] crate-type = [\"cdylib\"]"
            )
        })?;
    Ok(CrateInfo {
        name: package["name"].as_str().unwrap_or_default().to_string(),
        lib_name: lib["name"].as_str().unwrap_or_default().replace('-', "_"),
        target_dir: PathBuf::from(metadata["target_directory"].as_str().unwrap_or("target")),
        packages: metadata["resolve"]["nodes"]
            .as_array()
            .map_or(0, |n| n.len() as u64),
    })
}

/// Builds the crate at `root` in release mode for `wasm32-wasip2`; the component's path.
/// `content_fingerprint` tells the SDK's `include_content!` when forms or rules were added or
/// removed.
pub fn build_component(root: &Path, content_fingerprint: &str) -> Result<PathBuf> {
    let manifest = root.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{} does not exist; a pack's code is a Rust crate beside pack.yaml (see `tessera-pack new`)", manifest.display());
    }
    let info = crate_info(&manifest)?;
    claim_output(&info, &manifest)?;
    let terminal = std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(Some(info.packages), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner:.green} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} {wide_msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message("resolving dependencies");

    let format = if terminal {
        "json-diagnostic-rendered-ansi"
    } else {
        "json"
    };
    let mut child = cargo()
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--message-format",
            format,
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("TESSERA_PACK_CONTENT", content_fingerprint)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo; is Rust installed (https://rustup.rs)?")?;

    let stderr = child.stderr.take().expect("piped");
    let status_bar = bar.clone();
    let stderr_lines = std::thread::spawn(move || {
        let mut other = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let trimmed = line.trim_start();
            let status = [
                "Compiling",
                "Downloaded",
                "Downloading",
                "Updating",
                "Locking",
                "Adding",
                "Blocking",
                "Fresh",
                "Finished",
                "Checking",
            ]
            .iter()
            .any(|word| trimmed.starts_with(word));
            if status {
                status_bar.set_message(trimmed.to_string());
            } else if !trimmed.is_empty() {
                status_bar.suspend(|| eprintln!("{line}"));
                other.push(line);
            }
        }
        other
    });

    let mut component = None;
    let mut errors = 0;
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.context("reading cargo's output")?;
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match message["reason"].as_str() {
            Some("compiler-artifact") => {
                let name = message["target"]["name"].as_str().unwrap_or("");
                let kinds = message["target"]["kind"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if !kinds.iter().any(|k| k == "custom-build") {
                    // Crates that proc macros need compile for the host as well as for
                    // wasm, so there can be more than the graph's packages: grow the bar
                    // rather than run past its end.
                    if bar.length().is_some_and(|len| bar.position() + 1 >= len) {
                        bar.inc_length(1);
                    }
                    bar.inc(1);
                    bar.set_message(format!("compiled {name}"));
                }
                if name.replace('-', "_") == info.lib_name {
                    component = message["filenames"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .find(|f| f.ends_with(".wasm"))
                        .map(PathBuf::from);
                }
            }
            Some("compiler-message") => {
                let level = message["message"]["level"].as_str().unwrap_or("");
                if level == "error" {
                    errors += 1;
                }
                if let Some(rendered) = message["message"]["rendered"].as_str() {
                    bar.suspend(|| eprint!("{rendered}"));
                }
            }
            _ => {}
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    let other = stderr_lines.join().unwrap_or_default();
    bar.finish_and_clear();
    if !status.success() {
        let hint = if other.iter().any(|l| {
            l.contains("may not be installed") || l.contains("can't find crate for `core`")
        }) {
            format!("\nthe {TARGET} target is missing: run `rustup target add {TARGET}`")
        } else if errors > 0 {
            format!("\n{errors} compile error(s) above")
        } else {
            String::new()
        };
        bail!("cargo build failed for {}{hint}", manifest.display());
    }
    component.ok_or_else(|| anyhow::anyhow!("cargo built no {}.wasm", info.lib_name))
}

/// A component's file name carries no hash (`<lib>.wasm`), so two packs with the same crate
/// name building into one shared target folder (`CARGO_TARGET_DIR`) write the same file, and
/// cargo would then call the second pack's build fresh and hand over the first one's
/// component. A record of which pack last built each name makes a pack that finds another's
/// output there clean its own crate first, so cargo rebuilds it.
fn claim_output(info: &CrateInfo, manifest: &Path) -> Result<()> {
    let record_path = info
        .target_dir
        .join(TARGET)
        .join("release")
        .join(format!(".{}.tessera-pack-owner", info.lib_name));
    let owner = manifest
        .canonicalize()
        .unwrap_or_else(|_| manifest.to_path_buf());
    let owner = owner.display().to_string();
    let previous = std::fs::read_to_string(&record_path).ok();
    let output = record_path.with_file_name(format!("{}.wasm", info.lib_name));
    // No record but an output: a build from before records were kept, whoever's it was.
    let someone_else = match &previous {
        Some(previous) => *previous != owner,
        None => output.exists(),
    };
    if someone_else {
        let status = cargo()
            .args([
                "clean",
                "--release",
                "--target",
                TARGET,
                "-p",
                &info.name,
                "--manifest-path",
            ])
            .arg(manifest)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running cargo clean")?;
        if !status.success() {
            bail!(
                "cargo clean -p {} failed in {}",
                info.name,
                info.target_dir.display()
            );
        }
    }
    if previous.as_deref() != Some(owner.as_str()) {
        if let Some(parent) = record_path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&record_path, owner)?;
    }
    Ok(())
}
