//! Browser sessions and logins in progress, stored per tenant. The browser holds a random
//! 256-bit session id in an HttpOnly cookie; the database holds only its SHA-256, so a copy
//! of the table cannot be replayed as cookies. A tampered or unknown cookie finds nothing.

use base64::Engine as _;
use ring::rand::SecureRandom;
use sqlx::Row;

use super::principal::Principal;
use super::rbac::Grant;
use crate::db::{Access, Database};

/// The session cookie's name.
pub const COOKIE: &str = "tessera_session";
/// A login must come back from the provider within this long.
const LOGIN_MICROS: i64 = 10 * 60 * 1_000_000;

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("system randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash(secret: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// Compares secrets by their SHA-256, so the time a comparison takes says nothing about
/// how much of a guess was right.
pub fn same(a: &str, b: &str) -> bool {
    hash(a) == hash(b)
}

/// A login waiting for the provider's answer.
pub struct PendingLogin {
    pub issuer: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub return_to: String,
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub id_token: Option<String>,
    pub csrf: String,
}

pub async fn save_login(
    db: &Database,
    tenant: &str,
    state: &str,
    login: &PendingLogin,
) -> sqlx::Result<()> {
    let now = crate::clock::now_micros();
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Write)
        .await?;
    // Old abandoned logins go first, so the table stays small.
    sqlx::query("DELETE FROM auth_login_state WHERE tenant_id = $1 AND created < $2")
        .bind(tenant)
        .bind(now - LOGIN_MICROS)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO auth_login_state (tenant_id, state_hash, issuer, pkce_verifier, nonce, return_to, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant)
    .bind(hash(state))
    .bind(&login.issuer)
    .bind(&login.pkce_verifier)
    .bind(&login.nonce)
    .bind(&login.return_to)
    .bind(now)
    .execute(tx.conn())
    .await?;
    tx.commit().await
}

/// The login `state` names, once: it is deleted as it is read, so a replayed callback finds
/// nothing.
pub async fn take_login(
    db: &Database,
    tenant: &str,
    state: &str,
) -> sqlx::Result<Option<PendingLogin>> {
    let state_hash = hash(state);
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Write)
        .await?;
    let row = sqlx::query(
        "SELECT issuer, pkce_verifier, nonce, return_to, created FROM auth_login_state \
         WHERE tenant_id = $1 AND state_hash = $2",
    )
    .bind(tenant)
    .bind(&state_hash)
    .fetch_optional(tx.conn())
    .await?;
    sqlx::query("DELETE FROM auth_login_state WHERE tenant_id = $1 AND state_hash = $2")
        .bind(tenant)
        .bind(&state_hash)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    let Some(row) = row else { return Ok(None) };
    let created: i64 = row.try_get("created")?;
    if crate::clock::now_micros() - created > LOGIN_MICROS {
        return Ok(None);
    }
    Ok(Some(PendingLogin {
        issuer: row.try_get("issuer")?,
        pkce_verifier: row.try_get("pkce_verifier")?,
        nonce: row.try_get("nonce")?,
        return_to: row.try_get("return_to")?,
    }))
}

/// Starts a session; returns the cookie value and the session.
pub async fn create(
    db: &Database,
    tenant: &str,
    principal: &Principal,
    id_token: Option<String>,
    lifetime_micros: i64,
) -> sqlx::Result<(String, Session)> {
    let id = random_token();
    let session = Session {
        principal: principal.clone(),
        id_token,
        csrf: random_token(),
    };
    let now = crate::clock::now_micros();
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Write)
        .await?;
    sqlx::query("DELETE FROM auth_session WHERE tenant_id = $1 AND expires < $2")
        .bind(tenant)
        .bind(now)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO auth_session (tenant_id, id_hash, principal, id_token, csrf, created, expires) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant)
    .bind(hash(&id))
    .bind(serde_json::to_string(principal).expect("serializable"))
    .bind(session.id_token.clone())
    .bind(&session.csrf)
    .bind(now)
    .bind(now + lifetime_micros)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok((id, session))
}

/// The live session of cookie value `id` in `tenant`.
pub async fn find(db: &Database, tenant: &str, id: &str) -> sqlx::Result<Option<Session>> {
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Read)
        .await?;
    let row = sqlx::query(
        "SELECT principal, id_token, csrf FROM auth_session \
         WHERE tenant_id = $1 AND id_hash = $2 AND expires > $3",
    )
    .bind(tenant)
    .bind(hash(id))
    .bind(crate::clock::now_micros())
    .fetch_optional(tx.conn())
    .await?;
    tx.commit().await?;
    let Some(row) = row else { return Ok(None) };
    let principal: String = row.try_get("principal")?;
    let Ok(principal) = serde_json::from_str(&principal) else {
        return Ok(None);
    };
    Ok(Some(Session {
        principal,
        id_token: row.try_get("id_token")?,
        csrf: row.try_get("csrf")?,
    }))
}

pub async fn delete(db: &Database, tenant: &str, id: &str) -> sqlx::Result<()> {
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Write)
        .await?;
    sqlx::query("DELETE FROM auth_session WHERE tenant_id = $1 AND id_hash = $2")
        .bind(tenant)
        .bind(hash(id))
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}
