//! SQL for the pack registry (server-wide) and each tenant's pack settings and key-value
//! data (tenant-scoped: queried in a tenant transaction, under row-level security on
//! PostgreSQL). Schema: `migrations/*/0007_packs.sql`, `0010_packs.sql`.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tessera_plugins::manifest::{Manifest, RequestedPermissions};

use crate::db::Database;

/// An installed pack version (without its archive bytes).
#[derive(Clone, Debug)]
pub struct VersionRow {
    pub pack_id: String,
    pub version: semver::Version,
    pub manifest: Manifest,
    pub content_hash: String,
    pub trust: String,
    pub installed_at: String,
    pub installed_by: String,
}

/// A tenant's setting of one pack at one scope ('' = the whole tenant, else a Location id).
#[derive(Clone, Debug)]
pub struct SettingRow {
    pub pack_id: String,
    pub scope: String,
    pub enabled: bool,
    pub version: Option<String>,
    pub previous_version: Option<String>,
    pub pinned: bool,
    pub granted: Option<RequestedPermissions>,
    pub config: Value,
    pub secrets: Option<Vec<u8>>,
    pub updated_at: String,
    pub updated_by: String,
}

fn version_row(row: &AnyRow) -> Result<VersionRow, sqlx::Error> {
    let manifest: String = row.try_get("manifest")?;
    let version: String = row.try_get("version")?;
    Ok(VersionRow {
        pack_id: row.try_get("pack_id")?,
        version: semver::Version::parse(&version).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        manifest: serde_json::from_str(&manifest).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        content_hash: row.try_get("content_hash")?,
        trust: row.try_get("trust")?,
        installed_at: row.try_get("installed_at")?,
        installed_by: row.try_get("installed_by")?,
    })
}

const VERSION_COLUMNS: &str =
    "pack_id, version, manifest, content_hash, trust, installed_at, installed_by";

pub async fn insert_version(
    conn: &mut AnyConnection,
    row: &VersionRow,
    archive: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pack_version (pack_id, version, abi, kind, manifest, content_hash, archive, trust, installed_at, installed_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&row.pack_id)
    .bind(row.version.to_string())
    .bind(row.manifest.abi.to_string())
    .bind(serde_json::to_value(row.manifest.kind).unwrap().as_str().unwrap_or("").to_string())
    .bind(serde_json::to_string(&row.manifest).expect("a manifest serializes"))
    .bind(&row.content_hash)
    .bind(archive.to_vec())
    .bind(&row.trust)
    .bind(&row.installed_at)
    .bind(&row.installed_by)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn versions(db: &Database) -> Result<Vec<VersionRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM pack_version ORDER BY pack_id"
    ))
    .fetch_all(db.reader())
    .await?;
    let mut out: Vec<VersionRow> = rows.iter().map(version_row).collect::<Result<_, _>>()?;
    out.sort_by(|a, b| a.pack_id.cmp(&b.pack_id).then(a.version.cmp(&b.version)));
    Ok(out)
}

pub async fn version(
    db: &Database,
    pack: &str,
    version: &str,
) -> Result<Option<VersionRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM pack_version WHERE pack_id = $1 AND version = $2"
    ))
    .bind(pack)
    .bind(version)
    .fetch_optional(db.reader())
    .await?;
    row.as_ref().map(version_row).transpose()
}

pub async fn archive(
    db: &Database,
    pack: &str,
    version: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let row = sqlx::query("SELECT archive FROM pack_version WHERE pack_id = $1 AND version = $2")
        .bind(pack)
        .bind(version)
        .fetch_optional(db.reader())
        .await?;
    row.map(|r| r.try_get::<Vec<u8>, _>("archive")).transpose()
}

/// Deletes a version; fails with a foreign-key violation while a tenant still refers to it.
pub async fn delete_version(
    conn: &mut AnyConnection,
    pack: &str,
    version: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM pack_version WHERE pack_id = $1 AND version = $2")
        .bind(pack)
        .bind(version)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub fn is_still_referenced(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|c| c == "23503" || c == "787")
                || db.message().contains("FOREIGN KEY")
                || db.message().contains("foreign key")
        }
        _ => false,
    }
}

pub async fn log_registry(
    conn: &mut AnyConnection,
    actor: &str,
    action: &str,
    pack: &str,
    version: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pack_registry_log (at, actor, action, pack_id, version, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(crate::clock::format_instant(crate::clock::now_micros()))
    .bind(actor)
    .bind(action)
    .bind(pack)
    .bind(version)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn registry_log(db: &Database, limit: i64) -> Result<Vec<Value>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT at, actor, action, pack_id, version, detail FROM pack_registry_log ORDER BY at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(serde_json::json!({
                "at": r.try_get::<String, _>("at")?,
                "actor": r.try_get::<String, _>("actor")?,
                "action": r.try_get::<String, _>("action")?,
                "pack": r.try_get::<String, _>("pack_id")?,
                "version": r.try_get::<String, _>("version")?,
                "detail": r.try_get::<String, _>("detail")?,
            }))
        })
        .collect()
}

/// Every lifecycle change bumps this in its own transaction, so other servers notice.
pub async fn bump_generation(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE pack_generation SET value = value + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn generation(db: &Database) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT value FROM pack_generation WHERE id = 1")
        .fetch_one(db.reader())
        .await?
        .try_get::<i64, _>("value")
}

fn setting_row(row: &AnyRow) -> Result<SettingRow, sqlx::Error> {
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    let granted: Option<String> = row.try_get("granted")?;
    let config: String = row.try_get("config")?;
    Ok(SettingRow {
        pack_id: row.try_get("pack_id")?,
        scope: row.try_get("scope")?,
        enabled: row.try_get::<i32, _>("enabled")? != 0,
        version: row.try_get("version")?,
        previous_version: row.try_get("previous_version")?,
        pinned: row.try_get::<i32, _>("pinned")? != 0,
        granted: granted
            .map(|g| serde_json::from_str(&g))
            .transpose()
            .map_err(decode)?,
        config: serde_json::from_str(&config).map_err(decode)?,
        secrets: row.try_get("secrets")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

/// All of a tenant's pack settings (every pack, every scope).
pub async fn settings(
    conn: &mut AnyConnection,
    tenant: &str,
) -> Result<Vec<SettingRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT pack_id, scope, enabled, version, previous_version, pinned, granted, config, secrets, updated_at, updated_by \
         FROM tenant_pack WHERE tenant_id = $1 ORDER BY pack_id, scope",
    )
    .bind(tenant)
    .fetch_all(conn)
    .await?;
    rows.iter().map(setting_row).collect()
}

pub async fn put_setting(
    conn: &mut AnyConnection,
    tenant: &str,
    row: &SettingRow,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM tenant_pack WHERE tenant_id = $1 AND pack_id = $2 AND scope = $3")
        .bind(tenant)
        .bind(&row.pack_id)
        .bind(&row.scope)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO tenant_pack (tenant_id, pack_id, scope, enabled, version, previous_version, pinned, granted, config, secrets, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant)
    .bind(&row.pack_id)
    .bind(&row.scope)
    .bind(row.enabled as i32)
    .bind(row.version.clone())
    .bind(row.previous_version.clone())
    .bind(row.pinned as i32)
    .bind(row.granted.as_ref().map(|g| serde_json::to_string(g).expect("serializes")))
    .bind(row.config.to_string())
    .bind(row.secrets.clone())
    .bind(&row.updated_at)
    .bind(&row.updated_by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes settings: one scope, or every scope of the pack (and then its key-value data).
pub async fn delete_settings(
    conn: &mut AnyConnection,
    tenant: &str,
    pack: &str,
    scope: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let done = match scope {
        Some(scope) => {
            sqlx::query(
                "DELETE FROM tenant_pack WHERE tenant_id = $1 AND pack_id = $2 AND scope = $3",
            )
            .bind(tenant)
            .bind(pack)
            .bind(scope)
            .execute(&mut *conn)
            .await?
        }
        None => {
            // Its data and its undelivered events go with its settings.
            sqlx::query("DELETE FROM event_outbox WHERE tenant_id = $1 AND pack_id = $2")
                .bind(tenant)
                .bind(pack)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM pack_kv WHERE tenant_id = $1 AND pack_id = $2")
                .bind(tenant)
                .bind(pack)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM tenant_pack WHERE tenant_id = $1 AND pack_id = $2")
                .bind(tenant)
                .bind(pack)
                .execute(&mut *conn)
                .await?
        }
    };
    Ok(done.rows_affected())
}

pub async fn kv_get(
    conn: &mut AnyConnection,
    tenant: &str,
    pack: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let row =
        sqlx::query("SELECT value FROM pack_kv WHERE tenant_id = $1 AND pack_id = $2 AND key = $3")
            .bind(tenant)
            .bind(pack)
            .bind(key)
            .fetch_optional(conn)
            .await?;
    row.map(|r| r.try_get::<Vec<u8>, _>("value")).transpose()
}

/// Stores a value; false when the key is new and the pack already has `max_keys`.
pub async fn kv_set(
    conn: &mut AnyConnection,
    tenant: &str,
    pack: &str,
    key: &str,
    value: &[u8],
    max_keys: u64,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE pack_kv SET value = $4 WHERE tenant_id = $1 AND pack_id = $2 AND key = $3",
    )
    .bind(tenant)
    .bind(pack)
    .bind(key)
    .bind(value.to_vec())
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() > 0 {
        return Ok(true);
    }
    let count: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM pack_kv WHERE tenant_id = $1 AND pack_id = $2")
            .bind(tenant)
            .bind(pack)
            .fetch_one(&mut *conn)
            .await?
            .try_get("n")?;
    if count as u64 >= max_keys {
        return Ok(false);
    }
    sqlx::query("INSERT INTO pack_kv (tenant_id, pack_id, key, value) VALUES ($1, $2, $3, $4)")
        .bind(tenant)
        .bind(pack)
        .bind(key)
        .bind(value.to_vec())
        .execute(conn)
        .await?;
    Ok(true)
}

pub async fn kv_delete(
    conn: &mut AnyConnection,
    tenant: &str,
    pack: &str,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM pack_kv WHERE tenant_id = $1 AND pack_id = $2 AND key = $3")
        .bind(tenant)
        .bind(pack)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn kv_list(
    conn: &mut AnyConnection,
    tenant: &str,
    pack: &str,
    prefix: &str,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT key FROM pack_kv WHERE tenant_id = $1 AND pack_id = $2 AND substr(key, 1, CAST($3 AS INTEGER)) = $4 ORDER BY key LIMIT $5",
    )
    .bind(tenant)
    .bind(pack)
    .bind(prefix.chars().count() as i64)
    .bind(prefix)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| r.try_get::<String, _>("key")).collect()
}
