//! Group commit for plain creates.
//!
//! A durable commit costs an fsync, and on SQLite every write also queues for the one writer
//! connection, so committing each create on its own caps throughput at the disk's flush rate.
//! Here concurrent creates queue up; a worker takes whatever is waiting (up to `MAX_BATCH`),
//! writes it in one transaction per tenant and commits once. Each client is answered only after
//! the commit that holds its resource, so an acknowledged create is durable, exactly as before.
//! If a batch fails, its creates are retried one transaction each, so one bad write cannot
//! take others down with it. Creates are validated before they queue.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::outcome::{FhirError, FhirResult};
use super::store::{self, Stored};
use crate::auth::rbac::Grant;
use crate::db::{Access, Backend, Database};
use crate::events::outbox;

/// More per batch only lengthens the wait of the first one in it.
const MAX_BATCH: usize = 64;
const QUEUE_DEPTH: usize = 1024;

struct Job {
    tenant: String,
    /// The pack making the create, which is not told about it as an event.
    acting_pack: Option<String>,
    resource_type: String,
    id: String,
    resource: Value,
    reply: oneshot::Sender<FhirResult<Stored>>,
}

/// The queue plain creates are written through.
#[derive(Clone)]
pub struct CreateQueue {
    sender: mpsc::Sender<Job>,
}

impl CreateQueue {
    /// Starts the workers: one on SQLite (it has one writer), several on PostgreSQL so that
    /// batches of different tenants and consecutive batches overlap.
    pub fn start(db: Database) -> CreateQueue {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        };
        for _ in 0..workers {
            tokio::spawn(worker(db.clone(), receiver.clone()));
        }
        CreateQueue { sender }
    }

    /// Stores version 1 of an already validated resource under `id` for the holder of
    /// `grant`; returns once committed.
    pub async fn create(
        &self,
        grant: &Grant,
        resource_type: &str,
        id: String,
        resource: Value,
    ) -> FhirResult<Stored> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            tenant: grant.tenant.clone(),
            acting_pack: grant.acting_pack.clone(),
            resource_type: resource_type.to_string(),
            id,
            resource,
            reply,
        };
        self.sender
            .send(job)
            .await
            .map_err(|_| FhirError::internal("the server is shutting down; retry"))?;
        answer
            .await
            .map_err(|_| FhirError::internal("the write was interrupted; retry"))?
    }
}

async fn worker(db: Database, receiver: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        let mut by_tenant: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for job in batch {
            by_tenant.entry(job.tenant.clone()).or_default().push(job);
        }
        for (tenant, jobs) in by_tenant {
            write_group(&db, &tenant, jobs).await;
        }
    }
}

async fn write_group(db: &Database, tenant: &str, jobs: Vec<Job>) {
    if jobs.len() > 1 {
        if let Ok(stored) = write_in_one_transaction(db, tenant, &jobs).await {
            for (job, stored) in jobs.into_iter().zip(stored) {
                let _ = job.reply.send(Ok(stored));
            }
            return;
        }
        // Fall through: retry each on its own so only the failing one fails.
    }
    for job in jobs {
        let result = write_in_one_transaction(db, tenant, std::slice::from_ref(&job))
            .await
            .map(|mut s| s.remove(0));
        let _ = job.reply.send(result);
    }
}

/// One transaction for all of `jobs`: on PostgreSQL a single statement (one round trip, its
/// own implicit transaction); on SQLite one explicit transaction on the writer connection.
async fn write_in_one_transaction(
    db: &Database,
    tenant: &str,
    jobs: &[Job],
) -> FhirResult<Vec<Stored>> {
    // Events must commit with their creates: when a pack listens to one of these types the
    // group needs an explicit transaction (PostgreSQL's single statement cannot hold them).
    let extensions = db.extensions(tenant).await?;
    let access = if extensions.has_subscribers_for(jobs.iter().map(|j| j.resource_type.as_str())) {
        Access::Write
    } else {
        Access::SingleStatementWrite
    };
    let mut tx = db.tenant_tx(&Grant::system(tenant), access).await?;
    let new = jobs
        .iter()
        .map(|j| (j.resource_type.clone(), j.id.clone(), j.resource.clone()))
        .collect();
    let stored = store::create_many(&mut tx, new).await?;
    if access == Access::Write {
        for (job, stored) in jobs.iter().zip(&stored) {
            outbox::record(
                &mut tx,
                &stored.resource_type,
                &stored.id,
                1,
                "create",
                job.acting_pack.as_deref(),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(stored)
}
