//! `tessera-pack run`: the pack in a local Tessera server, enabled for a demo organization,
//! with a token and a curl command to try it. Ctrl-C stops the server.

use anyhow::{Context, Result};

use crate::cli::RunArgs;
use crate::commands::build;
use crate::host::LocalHost;
use crate::packaging::Registered;

pub async fn run(args: &RunArgs) -> Result<()> {
    let built = if args.no_build {
        build::existing(&args.pack)?
    } else {
        build::run(&args.pack).await?
    };
    let registered = match built.registered {
        Some(registered) => registered,
        None => crate::packaging::verify(&built.archive).await?,
    };
    let config = args
        .pack_config
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .context("--pack-config is not JSON (for example '{\"greeting\": \"Hi\"}')")?;
    let host = LocalHost::start(args.listen, args.data_dir.clone()).await?;
    host.create_tenant(&args.tenant).await?;
    host.install(&args.tenant, built.archive.write()).await?;
    host.enable(
        &args.tenant,
        &built.manifest,
        config.as_ref(),
        &Default::default(),
    )
    .await?;
    let token = host.token(&args.tenant, &args.roles)?;
    let base = host.pack_base(&args.tenant, &built.manifest.id);
    println!(
        "{} {} is running for organization {}",
        built.manifest.id, built.manifest.version, args.tenant
    );
    println!();
    println!("  pack routes: {base}/...");
    println!("  FHIR base:   {}", host.fhir_base(&args.tenant));
    println!();
    println!(
        "  # a token for a user with roles {}, valid for a day",
        args.roles.join(",")
    );
    println!("  export TOKEN={token}");
    println!(
        "  curl -H \"Authorization: Bearer $TOKEN\" {base}{}",
        example_path(&registered)
    );
    println!();
    println!("Ctrl-C stops the server.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("stopping");
    host.shutdown().await
}

/// A GET route to show in the curl example, with its `{parameters}` filled in.
fn example_path(registered: &Registered) -> String {
    let Some((_, path)) = registered
        .routes
        .iter()
        .find(|(methods, _)| methods.iter().any(|m| m == "GET"))
    else {
        return "/".to_string();
    };
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "example"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
