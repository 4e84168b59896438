//! Local user accounts for the embedded default: argon2id password hashes, a one-time
//! password that must be replaced at first use, and a lockout after repeated failures.
//! A signed-in local user gets a token from the local issuer, which then passes the same
//! verification as any external token.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use ring::rand::SecureRandom;
use sqlx::Row;

use crate::db::Database;

/// Failed passwords in a row before the account locks.
const MAX_FAILURES: i64 = 5;
const LOCK_MICROS: i64 = 5 * 60 * 1_000_000;
pub const MIN_PASSWORD: usize = 12;
/// The account created at first start.
pub const BOOTSTRAP_ADMIN: &str = "admin";

#[derive(Debug, Clone)]
pub struct LocalUser {
    pub username: String,
    pub tenants: Vec<String>,
    pub roles: Vec<String>,
    pub patient: Option<String>,
}

/// Why a sign-in failed. Unknown user and wrong password read the same.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoginError {
    #[error("wrong username or password")]
    BadCredentials,
    #[error("the account is locked after too many failed sign-ins; try again in a few minutes")]
    Locked,
    #[error("this is a one-time password: set a new password first")]
    MustChangePassword,
    #[error("the new password must have at least {MIN_PASSWORD} characters")]
    WeakPassword,
    #[error("the account store failed: {0}")]
    Store(String),
}

impl From<sqlx::Error> for LoginError {
    fn from(e: sqlx::Error) -> Self {
        LoginError::Store(e.to_string())
    }
}

fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .expect("system randomness");
    let salt = SaltString::encode_b64(&salt).expect("16-byte salt encodes");
    // Argon2::default() is argon2id v19, m = 19 MiB, t = 2, p = 1 (OWASP's recommendation).
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashes")
        .to_string()
}

fn matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A real hash of nothing in particular, checked against for unknown usernames.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no such user"))
}

/// A random password of 20 characters (about 120 bits).
pub fn generate_password() -> String {
    super::sessions::random_token()[..20].to_string()
}

pub struct LocalUsers {
    db: Database,
}

impl LocalUsers {
    pub fn new(db: Database) -> LocalUsers {
        LocalUsers { db }
    }

    /// Adds a user with a one-time password, which is returned (and nowhere stored in clear).
    pub async fn add(&self, user: &LocalUser) -> Result<String, LoginError> {
        let password = generate_password();
        let hash = tokio::task::spawn_blocking({
            let p = password.clone();
            move || hash_password(&p)
        })
        .await
        .map_err(|e| LoginError::Store(e.to_string()))?;
        let mut tx = self.db.global_tx().await?;
        sqlx::query(
            "INSERT INTO local_users (username, password_hash, tenants, roles, patient, must_change, created) \
             VALUES ($1, $2, $3, $4, $5, 1, $6)",
        )
        .bind(&user.username)
        .bind(hash)
        .bind(serde_json::to_string(&user.tenants).expect("serializable"))
        .bind(serde_json::to_string(&user.roles).expect("serializable"))
        .bind(user.patient.clone())
        .bind(crate::clock::now_micros())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(password)
    }

    /// At first start (no local user yet): the bootstrap admin, with a one-time password to
    /// print. It may administer every tenant (`org-admin` on `*`) and the platform.
    pub async fn ensure_bootstrap_admin(&self) -> Result<Option<String>, LoginError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM local_users")
            .fetch_one(self.db.reader())
            .await?;
        if count > 0 {
            return Ok(None);
        }
        let user = LocalUser {
            username: BOOTSTRAP_ADMIN.into(),
            tenants: vec!["*".into()],
            roles: vec!["platform-admin".into(), "org-admin".into()],
            patient: None,
        };
        match self.add(&user).await {
            Ok(password) => Ok(Some(password)),
            // Another server on the same database created it first.
            Err(LoginError::Store(e)) if e.contains("UNIQUE") || e.contains("duplicate") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Checks a password; counts failures and locks the account after too many.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<LocalUser, LoginError> {
        let row = sqlx::query(
            "SELECT password_hash, tenants, roles, patient, must_change, failed_attempts, locked_until \
             FROM local_users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(self.db.reader())
        .await?;
        let Some(row) = row else {
            // Spend the same time as a real check, so timing does not reveal usernames.
            let p = password.to_string();
            let _ = tokio::task::spawn_blocking(move || matches(&p, dummy_hash())).await;
            return Err(LoginError::BadCredentials);
        };
        let now = crate::clock::now_micros();
        let locked_until: i64 = row.try_get("locked_until")?;
        if locked_until > now {
            return Err(LoginError::Locked);
        }
        let phc: String = row.try_get("password_hash")?;
        let p = password.to_string();
        let ok = tokio::task::spawn_blocking(move || matches(&p, &phc))
            .await
            .map_err(|e| LoginError::Store(e.to_string()))?;
        if !ok {
            let failures: i64 = row.try_get::<i64, _>("failed_attempts")? + 1;
            let lock = if failures >= MAX_FAILURES {
                now + LOCK_MICROS
            } else {
                0
            };
            let mut tx = self.db.global_tx().await?;
            sqlx::query(
                "UPDATE local_users SET failed_attempts = $2, locked_until = $3 WHERE username = $1",
            )
            .bind(username)
            .bind(if lock > 0 { 0 } else { failures })
            .bind(lock)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Err(if lock > 0 {
                LoginError::Locked
            } else {
                LoginError::BadCredentials
            });
        }
        let must_change: i64 = row.try_get("must_change")?;
        if must_change != 0 {
            return Err(LoginError::MustChangePassword);
        }
        let mut tx = self.db.global_tx().await?;
        sqlx::query("UPDATE local_users SET failed_attempts = 0 WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let list = |column: &str| -> Result<Vec<String>, LoginError> {
            let text: String = row.try_get(column)?;
            serde_json::from_str(&text).map_err(|e| LoginError::Store(e.to_string()))
        };
        Ok(LocalUser {
            username: username.to_string(),
            tenants: list("tenants")?,
            roles: list("roles")?,
            patient: row.try_get("patient")?,
        })
    }

    /// Replaces the password (the current one, one-time or not, must be right).
    pub async fn change_password(
        &self,
        username: &str,
        current: &str,
        new: &str,
    ) -> Result<(), LoginError> {
        if new.chars().count() < MIN_PASSWORD {
            return Err(LoginError::WeakPassword);
        }
        match self.sign_in(username, current).await {
            Ok(_) | Err(LoginError::MustChangePassword) => {}
            Err(e) => return Err(e),
        }
        let new = new.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&new))
            .await
            .map_err(|e| LoginError::Store(e.to_string()))?;
        let mut tx = self.db.global_tx().await?;
        sqlx::query(
            "UPDATE local_users SET password_hash = $2, must_change = 0, failed_attempts = 0 WHERE username = $1",
        )
        .bind(username)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_argon2id_and_salted() {
        let a = hash_password("correct horse battery");
        let b = hash_password("correct horse battery");
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(matches("correct horse battery", &a));
        assert!(!matches("correct horse batterY", &a));
    }
}
