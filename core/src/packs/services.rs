//! The server's side of a pack call: FHIR through the server's own router, as the calling
//! user with their grant cut down to the pack's (so search, includes, chains, transactions,
//! the patient compartment and audit all apply exactly as for any request), and the pack's
//! key-value store in the tenant's database.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request};
use tessera_plugins::capabilities::{FhirReply, FhirRequest};
use tessera_plugins::{HostError, PackServices};
use tower::ServiceExt;

use super::{store, Packs};
use crate::auth::rbac::Grant;
use crate::db::Access;
use crate::http::PackCall;

/// The largest FHIR response handed to a pack (a big search page).
const MAX_FHIR_RESPONSE: usize = 16 << 20;

pub struct CoreServices {
    pub packs: Arc<Packs>,
    pub tenant: String,
    pub pack: String,
    /// The caller's grant cut down to the pack's (or the pack's alone, for webhooks).
    pub grant: Arc<Grant>,
    pub fhir_base: String,
    /// The `Host` the original request came to, so links in Bundles match the caller's.
    pub host: String,
}

fn unavailable(err: impl std::fmt::Display) -> HostError {
    tracing::warn!(error = %err, "pack host service failed");
    HostError::Unavailable("the server could not complete the request; try again".into())
}

impl CoreServices {
    async fn kv<T>(
        &self,
        access: Access,
        work: impl for<'c> FnOnce(
            &'c mut sqlx::AnyConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'c>,
        >,
    ) -> Result<T, HostError> {
        let mut tx = self
            .packs
            .db()
            .tenant_tx_core(&Grant::system(&self.tenant), access)
            .await
            .map_err(unavailable)?;
        let value = work(tx.conn()).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(value)
    }
}

#[async_trait::async_trait]
impl PackServices for CoreServices {
    async fn fhir(&self, request: FhirRequest) -> Result<FhirReply, HostError> {
        let router = self
            .packs
            .router()
            .ok_or_else(|| HostError::Unavailable("the server is shutting down".into()))?;
        let mut uri = format!("/t/{}/fhir", self.tenant);
        if !request.path.is_empty() {
            uri.push('/');
            uri.push_str(&request.path);
        }
        if !request.query.is_empty() {
            uri.push('?');
            uri.push_str(&request.query);
        }
        let mut http = Request::builder()
            .method(request.method)
            .uri(&uri)
            .header(header::HOST, &self.host)
            .header(header::ACCEPT, "application/fhir+json")
            .header(header::CONTENT_TYPE, "application/fhir+json")
            .body(Body::from(request.body.unwrap_or_default()))
            .map_err(|e| HostError::Invalid(format!("{uri}: {e}")))?;
        http.extensions_mut().insert(PackCall {
            grant: self.grant.clone(),
            pack: self.pack.clone(),
            fhir_base: self.fhir_base.clone(),
        });
        let response = router.oneshot(http).await.map_err(unavailable)?;
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), MAX_FHIR_RESPONSE)
            .await
            .map_err(|_| {
                HostError::Limit(format!(
                    "the FHIR response is larger than {} MiB; page with _count",
                    MAX_FHIR_RESPONSE >> 20
                ))
            })?;
        Ok(FhirReply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, HostError> {
        let (tenant, pack, key) = (self.tenant.clone(), self.pack.clone(), key.to_string());
        self.kv(Access::Read, move |c| {
            Box::pin(async move { store::kv_get(c, &tenant, &pack, &key).await })
        })
        .await
    }

    async fn kv_set(&self, key: &str, value: &[u8], max_keys: u64) -> Result<(), HostError> {
        let (tenant, pack, key, value) = (
            self.tenant.clone(),
            self.pack.clone(),
            key.to_string(),
            value.to_vec(),
        );
        let stored = self
            .kv(Access::Write, move |c| {
                Box::pin(
                    async move { store::kv_set(c, &tenant, &pack, &key, &value, max_keys).await },
                )
            })
            .await?;
        if stored {
            Ok(())
        } else {
            Err(HostError::Limit(format!(
                "the pack's store holds at most {max_keys} keys in this organization"
            )))
        }
    }

    async fn kv_delete(&self, key: &str) -> Result<(), HostError> {
        let (tenant, pack, key) = (self.tenant.clone(), self.pack.clone(), key.to_string());
        self.kv(Access::Write, move |c| {
            Box::pin(async move { store::kv_delete(c, &tenant, &pack, &key).await })
        })
        .await
    }

    async fn kv_list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, HostError> {
        let (tenant, pack, prefix) = (self.tenant.clone(), self.pack.clone(), prefix.to_string());
        self.kv(Access::Read, move |c| {
            Box::pin(async move { store::kv_list(c, &tenant, &pack, &prefix, limit as i64).await })
        })
        .await
    }
}
