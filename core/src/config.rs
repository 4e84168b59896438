//! Server configuration: built-in defaults, then an optional YAML file, then `TESSERA_*`
//! environment variables (the last one wins), so a container can override any file setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite database and other local state.
    pub data_dir: PathBuf,
    /// Public base URL (scheme and host, no trailing slash) used in `Location` headers and
    /// Bundle links. When unset the request's `Host` header is used.
    pub base_url: Option<String>,
    /// Largest request body accepted, in bytes; larger bodies get a 413 OperationOutcome.
    pub max_body_bytes: usize,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub packs: PacksConfig,
    pub forms: FormsConfig,
}

/// Forms (docs/forms.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FormsConfig {
    /// The clinic's offset from UTC (`+05:30`): the date form logic calls today, and the zone
    /// of a response's `authored` time.
    pub utc_offset: String,
    /// The language of a form page when neither the request nor the user's browser names one.
    pub default_locale: String,
}

impl Default for FormsConfig {
    fn default() -> Self {
        FormsConfig {
            utc_offset: "+00:00".into(),
            default_locale: "en".into(),
        }
    }
}

/// The pack host (docs/packs.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PacksConfig {
    /// Per-call limits: memory, deadline, concurrency, response and host-call budgets.
    pub limits: tessera_plugins::Limits,
    /// Publishers' Ed25519 public keys (base64) whose signed packs may be installed.
    pub trusted_keys: Vec<String>,
    /// Accept unsigned packs (development only).
    pub allow_unsigned: bool,
    /// How often a server checks whether another process changed pack state, in ms.
    pub poll_ms: u64,
    /// The key that seals pack secrets at rest: base64 of 32 bytes. When unset, a key file
    /// in the data directory is used (created at first start). Servers sharing a PostgreSQL
    /// database must share this key (`TESSERA_PACK_SECRET_KEY`).
    pub secret_key: Option<String>,
    /// Delivery of resource events to packs (docs/events.md).
    pub events: EventsConfig,
    /// Install the packs bundled in this server (`packs/`) at start, where their version is
    /// not installed yet (`TESSERA_PACKS_BUNDLED`).
    pub bundled: bool,
}

impl Default for PacksConfig {
    fn default() -> Self {
        PacksConfig {
            limits: tessera_plugins::Limits::default(),
            trusted_keys: vec![],
            allow_unsigned: false,
            poll_ms: 1000,
            secret_key: None,
            events: EventsConfig::default(),
            bundled: true,
        }
    }
}

/// How the event dispatcher delivers the transactional outbox (docs/events.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Whether this server delivers events (every server records them). Turn it off on
    /// servers that should only serve requests.
    pub deliver: bool,
    /// How often each server looks for due events besides being woken by its own commits
    /// (other servers' writes, retries), in ms.
    pub sweep_ms: u64,
    /// Deliveries running at once per server.
    pub concurrency: usize,
    /// Attempts before an event is kept as failed for the admin.
    pub max_attempts: i64,
    /// The first retry waits this long; each next one twice as long, up to `backoff_max_ms`.
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            deliver: true,
            sweep_ms: 1000,
            concurrency: 4,
            max_attempts: 6,
            backoff_ms: 1000,
            backoff_max_ms: 300_000,
        }
    }
}

impl EventsConfig {
    pub fn check(&self) -> Result<(), String> {
        if self.sweep_ms == 0 || self.concurrency == 0 || self.max_attempts < 1 {
            return Err(
                "packs.events: sweep_ms, concurrency and max_attempts must be at least 1".into(),
            );
        }
        if self.backoff_ms == 0 || self.backoff_max_ms < self.backoff_ms {
            return Err("packs.events: backoff_ms must be at least 1 and backoff_max_ms at least backoff_ms".into());
        }
        Ok(())
    }
}

/// Sign-on and token verification (docs/security.md, docs/admin-guide.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The server's own issuer (key in `data_dir`), used by `tessera token` and local users.
    pub local_issuer: bool,
    /// Tolerated clock difference for `exp`/`nbf`, in seconds.
    pub clock_skew_seconds: u64,
    /// Signing keys are re-fetched after this long even without a rotation.
    pub jwks_max_age_seconds: u64,
    /// An unknown `kid` re-fetches the keys at most this often per issuer.
    pub jwks_min_refetch_seconds: u64,
    /// External OpenID Connect providers (Keycloak realms and compatible).
    pub issuers: Vec<crate::auth::issuers::IssuerConfig>,
    /// How long a browser session lasts after sign-in (roles are those of sign-in time).
    pub session_hours: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            local_issuer: true,
            clock_skew_seconds: 60,
            jwks_max_age_seconds: 3600,
            jwks_min_refetch_seconds: 10,
            issuers: vec![],
            session_hours: 8,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://owner@host/db` for PostgreSQL; unset means embedded SQLite in `data_dir`.
    /// The URL's user owns the schema and runs migrations; the server's queries run as
    /// `app_role`, which does not own the tables, so row-level security binds it.
    pub url: Option<String>,
    /// The non-owner PostgreSQL role the server's queries run as.
    pub app_role: String,
    /// Password for `app_role`; set it whenever PostgreSQL does not use trust authentication.
    pub app_password: Option<String>,
    pub max_connections: u32,
    /// SQLite `synchronous` pragma: FULL (default) survives power loss; NORMAL is faster.
    pub sqlite_synchronous: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (default, one object per line) or `pretty`.
    pub format: String,
    /// A tracing filter such as `info,tessera_core=debug`.
    pub filter: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./data"),
            base_url: None,
            max_body_bytes: 32 * 1024 * 1024,
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            packs: PacksConfig::default(),
            forms: FormsConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            app_role: "tessera_app".into(),
            app_password: None,
            max_connections: 16,
            sqlite_synchronous: "FULL".into(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "json".into(),
            filter: "info".into(),
        }
    }
}

impl Config {
    /// Loads the configuration: `file` if given, else `./tessera.yaml` if it exists, then the
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None if Path::new("tessera.yaml").exists() => {
                Self::from_file(Path::new("tessera.yaml"))?
            }
            None => Config::default(),
        };
        config.apply_env(|key| std::env::var(key).ok())?;
        config.base_url = config.base_url.map(|b| b.trim_end_matches('/').to_string());
        anyhow::ensure!(
            matches!(config.log.format.as_str(), "json" | "pretty"),
            "log.format (TESSERA_LOG_FORMAT) must be json or pretty, not {:?}",
            config.log.format
        );
        crate::forms::ClinicClock::parse(&config.forms.utc_offset).map_err(anyhow::Error::msg)?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        serde_yaml::from_str(&text).with_context(|| {
            format!(
                "config file {} is not valid (see docs/admin-guide.md for the keys)",
                path.display()
            )
        })
    }

    /// Overrides settings from environment variables; `lookup` is injectable for tests.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<()> {
        if let Some(v) = lookup("TESSERA_LISTEN") {
            self.listen = v.parse().with_context(|| {
                format!("TESSERA_LISTEN={v} is not an IP:port such as 127.0.0.1:8080")
            })?;
        }
        if let Some(v) = lookup("TESSERA_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = lookup("TESSERA_BASE_URL") {
            self.base_url = Some(v.trim_end_matches('/').to_string());
        }
        if let Some(v) = lookup("TESSERA_MAX_BODY_BYTES") {
            self.max_body_bytes = v
                .parse()
                .with_context(|| format!("TESSERA_MAX_BODY_BYTES={v} is not a number"))?;
        }
        if let Some(v) = lookup("TESSERA_DATABASE_URL") {
            self.database.url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = lookup("TESSERA_DATABASE_APP_ROLE") {
            self.database.app_role = v;
        }
        if let Some(v) = lookup("TESSERA_DATABASE_APP_PASSWORD") {
            self.database.app_password = Some(v);
        }
        if let Some(v) = lookup("TESSERA_DATABASE_MAX_CONNECTIONS") {
            self.database.max_connections = v
                .parse()
                .with_context(|| format!("TESSERA_DATABASE_MAX_CONNECTIONS={v} is not a number"))?;
        }
        if let Some(v) = lookup("TESSERA_SQLITE_SYNCHRONOUS") {
            self.database.sqlite_synchronous = v;
        }
        if let Some(v) = lookup("TESSERA_PACK_SECRET_KEY") {
            self.packs.secret_key = Some(v);
        }
        if let Some(v) = lookup("TESSERA_PACKS_BUNDLED") {
            self.packs.bundled = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = lookup("TESSERA_PACKS_ALLOW_UNSIGNED") {
            self.packs.allow_unsigned = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = lookup("TESSERA_FORMS_UTC_OFFSET") {
            self.forms.utc_offset = v;
        }
        if let Some(v) = lookup("TESSERA_LOG_FORMAT") {
            self.log.format = v;
        }
        if let Some(v) = lookup("TESSERA_LOG") {
            self.log.filter = v;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file_values() {
        let mut config: Config =
            serde_yaml::from_str("listen: 0.0.0.0:9000\nmax_body_bytes: 10\n").unwrap();
        config
            .apply_env(|k| match k {
                "TESSERA_MAX_BODY_BYTES" => Some("20".into()),
                "TESSERA_DATABASE_URL" => Some("postgres://x@h/db".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.max_body_bytes, 20);
        assert_eq!(config.database.url.as_deref(), Some("postgres://x@h/db"));
    }

    #[test]
    fn the_keycloak_example_configuration_is_valid() {
        let config: Config =
            serde_yaml::from_str(include_str!("../../examples/keycloak/tessera.yaml")).unwrap();
        assert_eq!(config.auth.issuers.len(), 1);
        config.auth.issuers[0].check().unwrap();
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(serde_yaml::from_str::<Config>("lisen: 1.2.3.4:1\n").is_err());
    }
}
