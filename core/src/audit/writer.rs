//! Batches audit records into few transactions. A request that changed data waits for its
//! record to be stored (its response never leaves unaudited); a read's record is queued and
//! stored with the next batch, normally within milliseconds. The queue is bounded, so a
//! burst slows requests down rather than dropping records.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::record::AuditRecord;
use super::store;
use crate::db::Database;
use crate::tenants::Tenants;

enum Job {
    Record(Box<AuditRecord>, Option<oneshot::Sender<()>>),
    Flush(oneshot::Sender<()>),
}

impl Job {
    fn is_waited_for(&self) -> bool {
        matches!(self, Job::Record(_, Some(_)) | Job::Flush(_))
    }
}

/// How long reads' records may wait to be stored together.
const LINGER: std::time::Duration = std::time::Duration::from_millis(50);

/// The handle requests use to record audit events.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Job>,
}

const QUEUE: usize = 10_000;
const BATCH: usize = 500;

impl AuditLog {
    pub fn start(db: Database, tenants: Arc<Tenants>) -> AuditLog {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, tenants, jobs));
        AuditLog { queue }
    }

    /// Records `record`; with `wait`, returns once it is stored.
    pub async fn record(&self, record: AuditRecord, wait: bool) {
        let (ack, done) = if wait {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        if self
            .queue
            .send(Job::Record(Box::new(record), ack))
            .await
            .is_err()
        {
            tracing::error!("audit writer has stopped; an audit record was not stored");
            return;
        }
        if let Some(done) = done {
            let _ = done.await;
        }
    }

    /// Returns once everything queued before it is stored (tests, shutdown).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.queue.send(Job::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn run(db: Database, tenants: Arc<Tenants>, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // When nobody is waiting (only reads' records), linger briefly so that a stream of
        // reads makes one durable transaction per LINGER, not one per read.
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH && !batch.iter().any(Job::is_waited_for) {
            match tokio::time::timeout_at(deadline, jobs.recv()).await {
                Ok(Some(job)) => batch.push(job),
                _ => break,
            }
        }
        let mut by_tenant: BTreeMap<String, Vec<AuditRecord>> = BTreeMap::new();
        let mut acks = Vec::new();
        for job in batch {
            match job {
                Job::Record(record, ack) => {
                    by_tenant
                        .entry(record.tenant.clone())
                        .or_default()
                        .push(*record);
                    acks.extend(ack);
                }
                Job::Flush(ack) => acks.push(ack),
            }
        }
        for (tenant, records) in by_tenant {
            store_records(&db, &tenants, &tenant, &records).await;
        }
        for ack in acks {
            let _ = ack.send(());
        }
    }
}

async fn store_records(db: &Database, tenants: &Tenants, tenant: &str, records: &[AuditRecord]) {
    // Refusals at the URL of a tenant that does not exist have no audit trail to go to;
    // they are logged instead.
    match tenants.exists(tenant).await {
        Ok(true) => {}
        Ok(false) => {
            for r in records {
                tracing::warn!(tenant, agent = %r.agent_key(), outcome = r.outcome, detail = ?r.outcome_text, request = %r.description, "refused request for an unknown tenant");
            }
            return;
        }
        Err(err) => {
            tracing::error!(tenant, error = %err, "cannot check tenant for audit");
        }
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store::insert(db, tenant, records).await {
            Ok(()) => return,
            Err(err) if attempt < 5 => {
                tracing::warn!(tenant, error = %err, attempt, "storing audit records failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            Err(err) => {
                // Never silently: the records go to the log in full.
                metrics::counter!("tessera_audit_write_failures_total")
                    .increment(records.len() as u64);
                for r in records {
                    tracing::error!(tenant, error = %err, event = %r.to_fhir(), "audit record could not be stored");
                }
                return;
            }
        }
    }
}
