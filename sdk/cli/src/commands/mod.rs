//! One module per `tessera-pack` command.

pub mod build;
pub mod check;
pub mod keys;
pub mod new;
pub mod package;
pub mod run;
pub mod test;

use anyhow::Result;

use crate::cli::Command;

pub async fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::New(args) => new::run(&args),
        Command::Build(args) => build::run(&args).await.map(|_| ()),
        Command::Check(args) => check::run(&args),
        Command::Test(args) => test::run(&args).await,
        Command::Keygen(args) => keys::keygen(&args),
        Command::Sign(args) => keys::sign(&args),
        Command::Package(args) => package::run(&args).await,
        Command::Tessera { args } => {
            let cli = <tessera_core::cli::Cli as clap::Parser>::try_parse_from(
                std::iter::once("tessera".to_string()).chain(args),
            )
            .unwrap_or_else(|e| e.exit());
            tessera_core::cli::run(cli).await
        }
        Command::Run(args) => {
            // The server's warnings and what the pack logs, on the terminal.
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
                        .unwrap_or_else(|_| "pack=info,warn".into()),
                )
                .with_writer(std::io::stderr)
                .init();
            run::run(&args).await
        }
    }
}
