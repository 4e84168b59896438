//! Delivering the outbox: each server runs one dispatcher that wakes when its own commits
//! record events and every `sweep_ms` besides (other servers' writes, retries, expired
//! leases), claims due events per tenant under a lease, and calls each pack's `handle-event`
//! as the pack alone. Delivery is at least once: an event is removed only after its handler
//! returned, and a server that dies mid-delivery leaves a lease that expires.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tessera_plugins::runtime::PackEvent;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::outbox::{self, OutboxEvent};
use crate::audit::record::Kind;
use crate::audit::{AuditLog, AuditRecord};
use crate::auth::rbac::Grant;
use crate::clock;
use crate::config::EventsConfig;
use crate::db::{Access, Database};
use crate::fhir::store;
use crate::packs::dispatch::CallSite;
use crate::packs::Packs;

/// How long an unreachable (disabled) pack's events wait before being looked at again.
const DEFERRAL_MICROS: i64 = 60_000_000;

/// How one delivery ended.
enum Attempt {
    Delivered,
    /// The pack is not enabled for the tenant now: kept for when it is again.
    NotEnabled,
    /// The version now enabled no longer subscribes to this: nobody wants the event.
    Unwanted,
    Failed(String),
}

pub struct Dispatcher {
    packs: Weak<Packs>,
    db: Database,
    audit: AuditLog,
    config: EventsConfig,
    /// The origin packs' FHIR calls are addressed to (their links name it).
    origin: String,
}

impl Dispatcher {
    /// Starts this server's dispatcher; it stops when the server shuts down.
    pub fn start(packs: &Arc<Packs>, db: Database, audit: AuditLog, origin: String) {
        let dispatcher = Arc::new(Dispatcher {
            packs: Arc::downgrade(packs),
            db,
            audit,
            config: packs.config().events.clone(),
            origin,
        });
        let waiting = packs.events_waiting.clone();
        tokio::spawn(async move {
            let sweep = Duration::from_millis(dispatcher.config.sweep_ms);
            loop {
                tokio::select! {
                    _ = waiting.notified() => {}
                    _ = tokio::time::sleep(sweep) => {}
                }
                let Some(packs) = dispatcher.packs.upgrade() else {
                    break;
                };
                if packs.is_shut_down() {
                    break;
                }
                if let Err(err) = dispatcher.sweep(&packs).await {
                    tracing::warn!(error = %err, "event delivery sweep failed; retrying at the next one");
                }
            }
        });
    }

    /// Delivers everything due now, tenant by tenant.
    async fn sweep(self: &Arc<Self>, packs: &Arc<Packs>) -> Result<(), sqlx::Error> {
        for tenant in outbox::due_tenants(&self.db).await? {
            loop {
                let claimed = {
                    let mut tx = self
                        .db
                        .tenant_tx_core(&Grant::system(&tenant), Access::Write)
                        .await?;
                    let claimed =
                        outbox::claim(&mut tx, self.batch(), self.lease_micros(packs)).await?;
                    tx.commit().await?;
                    claimed
                };
                if claimed.is_empty() {
                    break;
                }
                let full = claimed.len() as i64 == self.batch();
                self.deliver_batch(packs, &tenant, claimed).await;
                if !full {
                    break;
                }
            }
        }
        Ok(())
    }

    fn batch(&self) -> i64 {
        (self.config.concurrency * 8) as i64
    }

    /// Long enough for a whole batch's calls to finish within their deadlines.
    fn lease_micros(&self, packs: &Packs) -> i64 {
        let deadline = packs.config().limits.deadline_ms as i64;
        (deadline * 2 + 5_000) * 1_000 * 8
    }

    /// Events of one resource for one pack go in order; different ones run side by side.
    async fn deliver_batch(
        self: &Arc<Self>,
        packs: &Arc<Packs>,
        tenant: &str,
        events: Vec<OutboxEvent>,
    ) {
        let mut chains: BTreeMap<(String, String, String), Vec<OutboxEvent>> = BTreeMap::new();
        for event in events {
            chains
                .entry((
                    event.pack.clone(),
                    event.resource_type.clone(),
                    event.id.clone(),
                ))
                .or_default()
                .push(event);
        }
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        let mut running = JoinSet::new();
        for (_, chain) in chains {
            let me = self.clone();
            let packs = packs.clone();
            let tenant = tenant.to_string();
            let permits = permits.clone();
            running.spawn(async move {
                let _permit = permits.acquire_owned().await;
                for event in chain {
                    me.deliver(&packs, &tenant, event).await;
                }
            });
        }
        while running.join_next().await.is_some() {}
    }

    async fn deliver(&self, packs: &Arc<Packs>, tenant: &str, event: OutboxEvent) {
        let attempt = self.attempt(packs, tenant, &event).await;
        let now = clock::now_micros();
        let stored = async {
            let mut tx = self
                .db
                .tenant_tx_core(&Grant::system(tenant), Access::Write)
                .await?;
            match &attempt {
                Attempt::Delivered | Attempt::Unwanted => {
                    outbox::delivered(&mut tx, &event).await?
                }
                Attempt::NotEnabled => {
                    outbox::deferred(&mut tx, &event, now + DEFERRAL_MICROS).await?
                }
                Attempt::Failed(reason) => {
                    let retry_at = now + self.backoff_micros(event.attempts);
                    outbox::failed(&mut tx, &event, reason, retry_at, self.config.max_attempts)
                        .await?
                }
            }
            tx.commit().await
        }
        .await;
        if let Err(err) = stored {
            // The lease expires and the event is delivered again: at least once.
            tracing::warn!(tenant, pack = %event.pack, seq = event.seq, error = %err, "cannot record an event's delivery");
        }
        match &attempt {
            Attempt::NotEnabled => {}
            Attempt::Unwanted => {
                tracing::info!(tenant, pack = %event.pack, seq = event.seq, "event dropped: the pack's current version does not subscribe to it")
            }
            Attempt::Delivered => self.audit_attempt(tenant, &event, None).await,
            Attempt::Failed(reason) => {
                let last = event.attempts >= self.config.max_attempts;
                tracing::warn!(tenant, pack = %event.pack, seq = event.seq, attempts = event.attempts, kept_as_failed = last, reason = %reason, "event delivery failed");
                self.audit_attempt(tenant, &event, Some(reason)).await
            }
        }
    }

    fn backoff_micros(&self, attempts: i64) -> i64 {
        let factor = 1u64 << attempts.clamp(1, 20).saturating_sub(1);
        let ms = self
            .config
            .backoff_ms
            .saturating_mul(factor)
            .min(self.config.backoff_max_ms);
        ms as i64 * 1_000
    }

    async fn attempt(&self, packs: &Arc<Packs>, tenant: &str, event: &OutboxEvent) -> Attempt {
        let site = CallSite {
            tenant,
            pack: &event.pack,
            locations: &[],
            user: None,
            fhir_base: format!("{}/t/{tenant}/fhir", self.origin),
            host: self
                .origin
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .to_string(),
        };
        let (loaded, context) = match packs.prepare(site).await {
            Ok(prepared) => prepared,
            Err(err) if err.status == axum::http::StatusCode::NOT_FOUND => {
                return Attempt::NotEnabled
            }
            Err(err) => return Attempt::Failed(err.message()),
        };
        let wanted = loaded.registration.subscriptions.iter().any(|s| {
            s.resource_type == event.resource_type
                && s.interactions.iter().any(|i| i == &event.interaction)
        });
        if !wanted {
            return Attempt::Unwanted;
        }
        let body = if event.interaction == "delete" {
            String::new()
        } else {
            match self.version_body(tenant, event).await {
                Ok(Some(body)) => body,
                Ok(None) => {
                    return Attempt::Failed(format!(
                        "{}/{} version {} is not stored",
                        event.resource_type, event.id, event.version_id
                    ))
                }
                Err(err) => return Attempt::Failed(format!("reading the resource failed: {err}")),
            }
        };
        let runtime = match packs.runtime().await {
            Ok(runtime) => runtime,
            Err(err) => return Attempt::Failed(err.message()),
        };
        let call = PackEvent {
            resource_type: event.resource_type.clone(),
            id: event.id.clone(),
            interaction: event.interaction.clone(),
            body,
        };
        match runtime.call_event(&loaded, context, call).await {
            Ok(()) => Attempt::Delivered,
            Err(err) => Attempt::Failed(err.to_string()),
        }
    }

    /// The resource as it was at the event's version (later versions may exist by now).
    async fn version_body(
        &self,
        tenant: &str,
        event: &OutboxEvent,
    ) -> Result<Option<String>, sqlx::Error> {
        let mut tx = self
            .db
            .tenant_tx_core(&Grant::system(tenant), Access::Read)
            .await?;
        let stored =
            store::version(&mut tx, &event.resource_type, &event.id, event.version_id).await?;
        tx.commit().await?;
        Ok(stored.and_then(|s| s.content))
    }

    async fn audit_attempt(&self, tenant: &str, event: &OutboxEvent, failure: Option<&String>) {
        let mut record = AuditRecord::new(tenant, Kind::Rest, "event", "E");
        record.issuer = Some("urn:tessera:pack".into());
        record.subject = Some(format!("pack:{}", event.pack));
        record.username = Some(format!("pack {}", event.pack));
        record.entity = Some(format!(
            "{}/{}/_history/{}",
            event.resource_type, event.id, event.version_id
        ));
        record.entity_type = Some(event.resource_type.clone());
        record.description = format!(
            "deliver {} of {}/{} to pack {} (attempt {})",
            event.interaction, event.resource_type, event.id, event.pack, event.attempts
        );
        if let Some(reason) = failure {
            record.outcome = "8";
            record.outcome_text = Some(reason.clone());
        }
        self.audit.record(record, false).await;
    }
}
