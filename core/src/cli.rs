//! The `tessera` command line.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::db::Database;
use crate::tenants::Tenants;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: a multi-tenant EMR core speaking FHIR R4"
)]
pub struct Cli {
    /// Configuration file (YAML); defaults to ./tessera.yaml when it exists.
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (listens on 127.0.0.1:8080 with SQLite under ./data by default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants (organizations).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Load FHIR Bundles (transaction or batch) or single resources from a file or directory.
    Import {
        /// A JSON file, or a directory of them.
        path: PathBuf,
        /// The tenant to load into.
        #[arg(long)]
        tenant: String,
    },
    /// Measure create, read and ingest speed on both backends beside the raw INSERT rate.
    Bench(crate::bench::BenchArgs),
    /// Print a bearer token from the server's local issuer (an operator tool: it reads the
    /// signing key in the data directory).
    Token {
        #[arg(long)]
        tenant: String,
        /// The subject (user id) the token speaks for.
        #[arg(long)]
        sub: String,
        /// Tessera roles, comma-separated (org-admin, clinician, nurse, front-desk, billing, patient).
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// The user's own Patient id (for the patient role).
        #[arg(long)]
        patient: Option<String>,
        /// Display name (preferred_username).
        #[arg(long)]
        username: Option<String>,
        /// Lifetime in seconds (at most a day).
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
    /// Manage local user accounts (the embedded default's sign-in).
    #[command(subcommand)]
    User(UserCommand),
    /// Install, list and enable packs (the admin API does the same: docs/packs.md).
    #[command(subcommand)]
    Pack(PackCommand),
    /// Rebuild the search index from the stored resources (after search parameters change).
    Reindex {
        /// Only this tenant (default: every tenant).
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum PackCommand {
    /// Install a pack archive server-wide (its signature is checked against
    /// packs.trusted_keys).
    Install { file: PathBuf },
    /// List installed pack versions.
    List,
    /// Enable a pack for a tenant: `<pack>` or `<pack>@<version>` (which pins it).
    Enable {
        tenant: String,
        pack: String,
        /// Consent to the permissions the pack requests (they are printed either way).
        #[arg(long)]
        accept_permissions: bool,
        /// The pack's configuration as JSON (secrets through the admin API).
        #[arg(long)]
        pack_config: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a local user; prints a one-time password to replace at first sign-in.
    Add {
        username: String,
        /// Tenants the user may sign in to, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        tenants: Vec<String>,
        /// Tessera roles, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// The user's own Patient id (for the patient role).
        #[arg(long)]
        patient: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; its slug appears in URLs as /t/{slug}/.
    Create {
        slug: String,
        /// Display name (defaults to the slug).
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants.
    List,
}

/// The database with tenants' pack contributions attached, so that indexing by a command
/// covers packs' search parameters as the server's does.
async fn open_with_packs(
    config: &Config,
) -> Result<(Database, std::sync::Arc<crate::packs::Packs>)> {
    let db = Database::open(config).await?;
    let packs = crate::packs::Packs::new(config, db.clone())?;
    packs.attach_to_database();
    Ok((db, packs))
}

pub async fn run(cli: Cli) -> Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    crate::telemetry::init(&config.log);
    match cli.command {
        Command::Serve => crate::server::serve(config).await,
        Command::Migrate => {
            let (db, _packs) = open_with_packs(&config).await?;
            crate::reindex::ensure_current(&db).await?;
            println!("migrations applied ({})", db.backend().name());
            Ok(())
        }
        Command::Tenant(TenantCommand::Create { slug, name }) => {
            let tenants = Tenants::new(Database::open(&config).await?);
            let tenant = tenants.create(&slug, name.as_deref()).await?;
            println!(
                "created tenant {} ({}); FHIR base: /t/{}/fhir",
                tenant.id, tenant.name, tenant.id
            );
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => {
            let tenants = Tenants::new(Database::open(&config).await?);
            for t in tenants.list().await? {
                println!("{}\t{}\t{}", t.id, t.name, t.created_at);
            }
            Ok(())
        }
        Command::Import { path, tenant } => {
            let state = crate::server::app_state(config).await?;
            let report = crate::import::import(&state, &tenant, &path, true).await?;
            println!(
                "imported {} resources from {} files in {:.1}s ({:.0} resources/s)",
                report.resources,
                report.files,
                report.elapsed.as_secs_f64(),
                report.resources_per_second()
            );
            if report.failures.is_empty() {
                Ok(())
            } else {
                for (file, err) in &report.failures {
                    eprintln!("  {}: {err}", file.display());
                }
                anyhow::bail!(
                    "{} of {} files failed: a failed transaction stored nothing; in a failed batch only the entries reported failed were not stored",
                    report.failures.len(),
                    report.files
                )
            }
        }
        Command::User(UserCommand::Add {
            username,
            tenants,
            roles,
            patient,
        }) => {
            anyhow::ensure!(
                !username.is_empty()
                    && username.len() <= 64
                    && username
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c)),
                "a username is 1-64 letters, digits and . _ @ -"
            );
            check_roles(&roles)?;
            for t in &tenants {
                crate::tenants::validate_slug(t)?;
            }
            let db = Database::open(&config).await?;
            let users = crate::auth::users::LocalUsers::new(db);
            let password = users
                .add(&crate::auth::users::LocalUser {
                    username: username.clone(),
                    tenants,
                    roles,
                    patient,
                })
                .await
                .map_err(|e| anyhow::anyhow!("cannot add {username:?}: {e}"))?;
            println!("added {username}; one-time password: {password}");
            println!("the user sets their own at POST /auth/local/password before signing in");
            Ok(())
        }
        Command::Token {
            tenant,
            sub,
            roles,
            patient,
            username,
            ttl,
        } => {
            crate::tenants::validate_slug(&tenant)?;
            check_roles(&roles)?;
            anyhow::ensure!(
                config.auth.local_issuer,
                "auth.local_issuer is off in this configuration, so the server would not accept a local token"
            );
            let issuer = crate::auth::local::LocalIssuer::open(
                &config.data_dir,
                crate::auth::local_issuer_id(&config),
            )?;
            let token = issuer.issue(&crate::auth::local::TokenRequest {
                tenant,
                subject: sub,
                username,
                roles,
                patient,
                lifetime_seconds: ttl,
            })?;
            println!("{token}");
            Ok(())
        }
        Command::Pack(command) => run_pack(config, command).await,
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Reindex { tenant } => {
            let (db, _packs) = open_with_packs(&config).await?;
            let report = crate::reindex::reindex(&db, tenant.as_deref(), true).await?;
            println!(
                "re-indexed {} resources of {} tenants ({} index rows) in {:.1}s",
                report.resources, report.tenants, report.rows, report.seconds
            );
            Ok(())
        }
    }
}

fn check_roles(roles: &[String]) -> Result<()> {
    for role in roles {
        anyhow::ensure!(
            crate::auth::rbac::RoleCatalog::is_system_role(role),
            "{role:?} is not a Tessera role; use one of {}",
            crate::auth::rbac::RoleCatalog::system()
                .names()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

async fn run_pack(config: Config, command: PackCommand) -> Result<()> {
    let db = Database::open(&config).await?;
    let packs = crate::packs::Packs::new(&config, db.clone())?;
    let fail = |e: crate::fhir::outcome::FhirError| anyhow::anyhow!("{}", e.message());
    match command {
        PackCommand::Install { file } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            eprintln!("checking and compiling {} ...", file.display());
            let row = packs.install(&bytes, "cli").await.map_err(fail)?;
            println!(
                "installed {} {} (signed by {})",
                row.pack_id, row.version, row.trust
            );
        }
        PackCommand::List => {
            for row in crate::packs::store::versions(&db).await? {
                println!(
                    "{}\t{}\t{:?}\tabi {}\t{}",
                    row.pack_id, row.version, row.manifest.kind, row.manifest.abi, row.trust
                );
            }
        }
        PackCommand::Enable {
            tenant,
            pack,
            accept_permissions,
            pack_config,
        } => {
            let (id, version) = match pack.split_once('@') {
                Some((id, version)) => (id.to_string(), Some(version.to_string())),
                None => (pack.clone(), None),
            };
            let installed = crate::packs::store::versions(&db).await?;
            let target = installed
                .iter()
                .filter(|v| v.pack_id == id)
                .filter(|v| {
                    version
                        .as_deref()
                        .is_none_or(|w| v.version.to_string() == w)
                })
                .max_by(|a, b| a.version.cmp(&b.version))
                .ok_or_else(|| {
                    anyhow::anyhow!("{pack} is not installed; see `tessera pack list`")
                })?;
            println!(
                "{} {} requests: {}",
                target.pack_id,
                target.version,
                serde_json::to_string(&target.manifest.permissions)?
            );
            let request = crate::packs::lifecycle::EnableRequest {
                version: Some(target.version.to_string()),
                pinned: Some(version.is_some()),
                enabled: true,
                config: pack_config
                    .map(|c| serde_json::from_str(&c))
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("--pack-config is not JSON: {e}"))?,
                secrets: None,
                consent: accept_permissions.then(|| target.manifest.permissions.clone()),
            };
            packs
                .enable(&tenant, &id, request, "cli")
                .await
                .map_err(fail)?;
            println!("enabled {} {} for {tenant}", target.pack_id, target.version);
        }
    }
    Ok(())
}
