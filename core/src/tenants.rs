//! The tenant registry. A tenant's id is its URL slug (`/t/{slug}/...`); it never changes,
//! because it is the first column of every key in the store.

use std::collections::HashSet;
use std::sync::RwLock;

use serde::Serialize;

use crate::clock;
use crate::db::Database;

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("tenant slug {0:?} is invalid: use 2-63 lowercase letters, digits and '-', starting with a letter or digit")]
    InvalidSlug(String),
    #[error("tenant {0:?} already exists")]
    Exists(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub fn validate_slug(slug: &str) -> Result<(), TenantError> {
    let ok = (2..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(TenantError::InvalidSlug(slug.to_string()))
    }
}

/// Tenant lookups sit on every request, so known tenants are cached; tenants are never
/// deleted through this registry, so a cached "exists" cannot go stale.
pub struct Tenants {
    db: Database,
    known: RwLock<HashSet<String>>,
}

impl Tenants {
    pub fn new(db: Database) -> Tenants {
        Tenants {
            db,
            known: RwLock::new(HashSet::new()),
        }
    }

    pub async fn create(&self, slug: &str, name: Option<&str>) -> Result<Tenant, TenantError> {
        validate_slug(slug)?;
        let created = clock::now_micros();
        let name = name.unwrap_or(slug);
        let mut tx = self.db.global_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(slug)
        .bind(name)
        .bind(created)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(TenantError::Exists(slug.to_string()));
        }
        tx.commit().await?;
        self.known
            .write()
            .expect("tenant cache lock")
            .insert(slug.to_string());
        Ok(Tenant {
            id: slug.into(),
            name: name.into(),
            created_at: clock::format_instant(created),
        })
    }

    pub async fn list(&self) -> Result<Vec<Tenant>, sqlx::Error> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT id, name, created_at FROM tenants ORDER BY id")
                .fetch_all(self.db.reader())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created)| Tenant {
                id,
                name,
                created_at: clock::format_instant(created),
            })
            .collect())
    }

    pub async fn exists(&self, slug: &str) -> Result<bool, sqlx::Error> {
        if self.known.read().expect("tenant cache lock").contains(slug) {
            return Ok(true);
        }
        let found: Option<(String,)> = sqlx::query_as("SELECT id FROM tenants WHERE id = $1")
            .bind(slug)
            .fetch_optional(self.db.reader())
            .await?;
        if found.is_some() {
            self.known
                .write()
                .expect("tenant cache lock")
                .insert(slug.to_string());
        }
        Ok(found.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(validate_slug("acme-clinic").is_ok());
        assert!(validate_slug("a").is_err());
        assert!(validate_slug("Acme").is_err());
        assert!(validate_slug("-x").is_err());
        assert!(validate_slug("a/b").is_err());
    }
}
