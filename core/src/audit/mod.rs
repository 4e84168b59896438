//! Audit: every access to a tenant's data — reads, searches, writes, refused tokens and
//! refused roles — becomes a FHIR AuditEvent in an append-only table (`audit_event`).
//!
//! - `record.rs`: what one event says, and its AuditEvent JSON.
//! - `middleware.rs`: the HTTP layer that turns each tenant request into a record.
//! - `writer.rs`: batches records into few transactions; writes wait until stored.
//! - `store.rs`: the table (append-only: no UPDATE/DELETE privilege on PostgreSQL, refusing
//!   triggers on SQLite) and its searches.

pub mod middleware;
pub mod record;
pub mod store;
pub mod writer;

use std::sync::{Arc, Mutex};

use crate::auth::principal::Principal;

pub use record::AuditRecord;
pub use writer::AuditLog;

/// Filled in by the request's authorization as it learns who is calling, then read by the
/// audit middleware once the response is ready.
#[derive(Clone, Default, Debug)]
pub struct AuditSlot(Arc<Mutex<SlotData>>);

#[derive(Clone, Default, Debug)]
pub struct SlotData {
    pub tenant: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub username: Option<String>,
    pub roles: Vec<String>,
    /// Why access was refused, when it was.
    pub failure: Option<String>,
    /// The pack that made this request for the user, when a pack did.
    pub via_pack: Option<String>,
    /// The admin API request (method, path) that an admin page's request stands for
    /// (`http/admin_ui`): the page is audited exactly as that request would be.
    pub same_as: Option<(axum::http::Method, String)>,
}

impl AuditSlot {
    fn with(&self, f: impl FnOnce(&mut SlotData)) {
        f(&mut self.0.lock().expect("audit slot lock"));
    }

    pub fn set_tenant(&self, tenant: &str) {
        self.with(|d| d.tenant = Some(tenant.to_string()));
    }

    pub fn set_principal(&self, principal: &Principal) {
        self.with(|d| {
            d.issuer = Some(principal.issuer.clone());
            d.subject = Some(principal.subject.clone());
            d.username = principal.username.clone();
        });
    }

    /// Who a grant belongs to, for requests made inside the server (a pack's FHIR calls).
    pub fn set_who(&self, who: &crate::auth::rbac::Who) {
        if let crate::auth::rbac::Who::User {
            issuer,
            subject,
            username,
        } = who
        {
            self.with(|d| {
                d.issuer = Some(issuer.clone());
                d.subject = Some(subject.clone());
                d.username = username.clone();
            });
        }
    }

    pub fn set_via_pack(&self, pack: &str) {
        self.with(|d| d.via_pack = Some(pack.to_string()));
    }

    pub fn set_same_as(&self, method: axum::http::Method, path: String) {
        self.with(|d| d.same_as = Some((method, path)));
    }

    pub fn set_roles(&self, roles: &[String]) {
        self.with(|d| d.roles = roles.to_vec());
    }

    pub fn set_failure(&self, failure: String) {
        self.with(|d| d.failure = Some(failure));
    }

    pub fn data(&self) -> SlotData {
        self.0.lock().expect("audit slot lock").clone()
    }
}
