//! Structured logs: JSON lines by default (for log shippers), `pretty` for a terminal.

use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|err| {
        eprintln!(
            "warning: log filter {:?} (TESSERA_LOG) is invalid ({err}); logging at info",
            config.filter
        );
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.format == "pretty" {
        builder.try_init()
    } else {
        builder.json().try_init()
    };
}
