//! The `tessera-pack` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Where the SDK crate was when this CLI was built: new packs depend on it by path.
pub const BUILT_IN_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rust");

#[derive(Parser)]
#[command(
    name = "tessera-pack",
    version,
    about = "Create, build, check, test, sign and run Tessera packs",
    long_about = "Create, build, check, test, sign and run Tessera packs.\n\nA pack is a WebAssembly component plus forms, rules and locales, described by pack.yaml. The pack author guide (docs/pack-author-guide.md) walks through every command."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a pack that builds and passes its tests as it is.
    New(NewArgs),
    /// Compile the pack to a wasm32-wasip2 component and package dist/<id>-<version>.tpack.
    Build(PackArgs),
    /// Check pack.yaml, forms, rules and tests; every problem with its file and line.
    Check(PackArgs),
    /// Build, then run tests/*.yaml against a real Tessera server started for the run.
    Test(TestArgs),
    /// Create an Ed25519 signing key (the private key file is written 0600).
    Keygen(KeygenArgs),
    /// Sign an archive: adds signature.json, made with your private key.
    Sign(SignArgs),
    /// Package an already-built component with the pack's manifest and content.
    Package(PackageArgs),
    /// Build, then serve the pack from a local Tessera server for a demo organization.
    Run(RunArgs),
    /// The `tessera` command itself (`tessera-pack tessera serve`), from the server this CLI
    /// links. Its tests start `tessera serve` through it, so the server they install packs
    /// into is exactly the one `test` and `run` use, with no second build.
    #[command(hide = true)]
    Tessera {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    /// Forms, rules and routes for a clinical specialty (obstetrics, cardiology).
    Specialty,
    /// A country's identifiers and integrations (India's ABDM, the UK's NHS number).
    Country,
}

#[derive(Args)]
pub struct NewArgs {
    /// The pack's id and folder name: 2-40 lower-case letters, digits and dashes.
    pub name: String,
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// The tessera-pack-sdk crate to depend on (a folder).
    #[arg(long, default_value = BUILT_IN_SDK)]
    pub sdk: PathBuf,
    /// Who publishes the pack (pack.yaml's publisher).
    #[arg(long, default_value = "Your organization")]
    pub publisher: String,
}

#[derive(Args)]
pub struct PackArgs {
    /// The pack's folder (default: the one holding the current folder).
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
}

#[derive(Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Use the archive already in dist/ instead of building.
    #[arg(long)]
    pub no_build: bool,
    /// Only test files whose name contains this.
    pub filter: Option<String>,
}

#[derive(Args)]
pub struct KeygenArgs {
    /// Where to write the private key; the public key goes beside it with `.pub`.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct SignArgs {
    /// The archive to sign (default: the pack's dist/<id>-<version>.tpack).
    pub archive: Option<PathBuf>,
    /// The private key file from `tessera-pack keygen`.
    #[arg(long, env = "TESSERA_PACK_KEY")]
    pub key: PathBuf,
    /// Write the signed archive here instead of replacing the input.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub pack: PackArgs,
}

#[derive(Args)]
pub struct PackageArgs {
    /// The built component (a .wasm file targeting tessera:pack).
    #[arg(long)]
    pub component: PathBuf,
    /// Where to write the archive (default: dist/<id>-<version>.tpack).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub pack: PackArgs,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Where the server listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The demo organization's id.
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// Roles of the user whose token is printed, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "clinician")]
    pub roles: Vec<String>,
    /// The pack's configuration for the demo organization, as JSON.
    #[arg(long)]
    pub pack_config: Option<String>,
    /// Keep the server's data here (default: a scratch folder removed at exit).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Use the archive already in dist/ instead of building.
    #[arg(long)]
    pub no_build: bool,
}
