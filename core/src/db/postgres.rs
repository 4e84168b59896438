//! PostgreSQL: migrations run as the URL's user (the schema owner); the server's own queries
//! run as a separate role that owns nothing, so the row-level security policies of the
//! migrations bind every query it makes.

use std::str::FromStr;

use anyhow::{Context, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::ConnectOptions;
use url::Url;

use super::{Backend, Database};
use crate::config::DatabaseConfig;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

pub(super) async fn open(owner_url: &str, config: &DatabaseConfig) -> Result<Database> {
    // Statement logging off: ALTER ROLE ... PASSWORD must never reach the log.
    let owner_options = PgConnectOptions::from_str(owner_url)
        .context("TESSERA_DATABASE_URL is not a valid PostgreSQL URL")?
        .disable_statement_logging();
    let owner = PgPool::connect_with(owner_options).await.with_context(|| {
        format!(
            "cannot connect to PostgreSQL at {}; is it running and is the URL right?",
            redact(owner_url)
        )
    })?;
    MIGRATOR
        .run(&owner)
        .await
        .context("applying PostgreSQL migrations")?;
    ensure_app_role(&owner, config).await?;
    owner.close().await;

    let app_url = app_role_url(owner_url, config)?;
    let pool = AnyPoolOptions::new()
        .max_connections(config.max_connections)
        .connect_with(AnyConnectOptions::from_str(&app_url)?)
        .await
        .with_context(|| {
            format!(
                "cannot connect to PostgreSQL as the application role {:?}; set \
                 TESSERA_DATABASE_APP_PASSWORD if the server requires a password",
                config.app_role
            )
        })?;
    Ok(Database {
        backend: Backend::Postgres,
        reader: pool.clone(),
        writer: pool,
        owner_url: Some(owner_url.to_string()),
        extensions: Default::default(),
    })
}

/// Creates the application role if needed and grants it data access (never ownership).
/// An advisory lock serialises concurrent starts on one database; roles are cluster-wide,
/// so a concurrent creation from another database is tolerated.
async fn ensure_app_role(owner: &PgPool, config: &DatabaseConfig) -> Result<()> {
    let role = &config.app_role;
    anyhow::ensure!(
        !role.is_empty() && role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database.app_role must be letters, digits and underscores, not {role:?}"
    );
    let mut conn = owner.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock(7465737365726101)")
        .execute(&mut *conn)
        .await?;
    let result = async {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(role)
                .fetch_one(&mut *conn)
                .await?;
        if !exists {
            let created = sqlx::query(&format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"))
                .execute(&mut *conn)
                .await;
            match created {
                Ok(_) => {}
                // Advisory locks are per database; a server starting on another database
                // of the same cluster may have created the role a moment ago.
                Err(sqlx::Error::Database(e))
                    if matches!(e.code().as_deref(), Some("23505") | Some("42710")) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // A role that bypasses row-level security would silently void tenant isolation.
        let (superuser, bypass): (bool, bool) =
            sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1")
                .bind(role)
                .fetch_one(&mut *conn)
                .await?;
        anyhow::ensure!(
            !superuser && !bypass,
            "the application role {role:?} is a superuser or has BYPASSRLS, which would defeat \
             row-level security; use a plain role (database.app_role)"
        );
        if let Some(password) = &config.app_password {
            // Passwords cannot be bound as parameters in ALTER ROLE; quote as a literal.
            let literal = password.replace('\'', "''");
            sqlx::query(&format!("ALTER ROLE {role} PASSWORD '{literal}'"))
                .execute(&mut *conn)
                .await?;
        }
        for grant in [
            format!("GRANT USAGE ON SCHEMA public TO {role}"),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
            ),
            format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
            format!("REVOKE ALL ON _sqlx_migrations FROM {role}"),
            // The audit trail is append-only for the server (migrations/postgres/0006).
            format!("REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM {role}"),
            // So is the pack registry's log (migrations/postgres/0010).
            format!("REVOKE UPDATE, DELETE, TRUNCATE ON pack_registry_log FROM {role}"),
        ] {
            sqlx::query(&grant).execute(&mut *conn).await?;
        }
        anyhow::Ok(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock(7465737365726101)")
        .execute(&mut *conn)
        .await?;
    result.context("preparing the PostgreSQL application role")
}

/// The owner URL with the application role's credentials in place of the owner's.
fn app_role_url(owner_url: &str, config: &DatabaseConfig) -> Result<String> {
    let mut url = Url::parse(owner_url).context("TESSERA_DATABASE_URL is not a valid URL")?;
    url.set_username(&config.app_role)
        .map_err(|_| anyhow::anyhow!("cannot set role in URL"))?;
    url.set_password(config.app_password.as_deref())
        .map_err(|_| anyhow::anyhow!("cannot set password in URL"))?;
    Ok(url.to_string())
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<invalid URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_url_swaps_credentials_and_keeps_database() {
        let config = DatabaseConfig {
            app_password: Some("s3cret".into()),
            ..Default::default()
        };
        let url =
            app_role_url("postgres://postgres:owner@127.0.0.1:5432/tessera", &config).unwrap();
        assert_eq!(url, "postgres://tessera_app:s3cret@127.0.0.1:5432/tessera");
    }

    #[test]
    fn redact_hides_password() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    }
}
