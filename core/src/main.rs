use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = tessera_core::cli::Cli::parse();
    if let Err(err) = tessera_core::cli::run(cli).await {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
