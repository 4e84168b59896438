//! `tessera-pack`: the pack author's tool. Creates packs, builds them to WebAssembly
//! components, checks their manifest, forms, rules and tests, runs the tests against a real
//! Tessera server in this process, signs archives, and serves a pack locally.

mod cargo;
mod check;
mod cli;
mod commands;
mod host;
mod packaging;
mod problem;
mod project;
mod testing;
mod ui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
