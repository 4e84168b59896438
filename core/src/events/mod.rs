//! Resource events for packs, through a transactional outbox (design.md invariant 5).
//!
//! A write that a tenant's enabled pack subscribed to records one outbox row per subscribing
//! pack inside the write's own transaction (`outbox::record`, called by the store), so an
//! event exists exactly when its change committed: a failed transaction leaves none, and a
//! crash after the commit loses none. The `dispatcher` delivers them. See `docs/events.md`.

pub mod dispatcher;
pub mod outbox;

use std::sync::Arc;

use crate::auth::rbac::Grant;
use crate::db::Access;
use crate::fhir::outcome::{FhirError, FhirResult};
use crate::packs::Packs;

impl Packs {
    /// Puts a pack's failed events (one, or all) back in line and wakes delivery; the
    /// org-admin's retry. Returns how many.
    pub async fn retry_events(
        self: &Arc<Self>,
        tenant: &str,
        pack: &str,
        seq: Option<i64>,
    ) -> FhirResult<u64> {
        let mut tx = self
            .db()
            .tenant_tx_core(&Grant::system(tenant), Access::Write)
            .await?;
        let retried = outbox::retry(&mut tx, pack, seq).await?;
        tx.commit().await?;
        if retried == 0 && seq.is_some() {
            return Err(FhirError::not_found(format!(
                "pack {pack} has no failed event {}",
                seq.unwrap_or_default()
            )));
        }
        self.events_waiting.notify_one();
        Ok(retried)
    }
}
