//! What forms read from and write to the tenant's FHIR store, always as the signed-in user
//! (their grant decides, exactly as over the REST API): the patient and their latest
//! Observations for prefill and logic, and submissions as one transaction Bundle.

use std::sync::Arc;

use serde_json::{json, Value};
use tessera_forms::{Form, LogicContext};

use crate::auth::rbac::Grant;
use crate::db::Access;
use crate::fhir::bundle::{BundleProcessor, Return};
use crate::fhir::outcome::{FhirError, FhirResult};
use crate::fhir::search::execute::{Links, Scope, Searcher};
use crate::fhir::search::request;
use crate::http::AppState;
use crate::in_tenant_tx;

/// The user's view of one tenant's store.
pub struct Records<'a> {
    pub state: &'a AppState,
    pub grant: &'a Arc<Grant>,
    pub fhir_base: &'a str,
}

impl Records<'_> {
    pub async fn read(&self, ty: &str, id: &str) -> FhirResult<Value> {
        let stored = in_tenant_tx!(self.state.db, self.grant, Access::Read, |tx| {
            self.state.engine.read(&mut tx, ty, id).await
        })?;
        stored
            .json()
            .ok_or_else(|| FhirError::gone(format!("{ty}/{id} was deleted")))
    }

    /// The resources a search matches (first page, up to `_count`).
    pub async fn search(&self, ty: &str, query: &str) -> FhirResult<Vec<Value>> {
        let extensions = self.state.db.extensions(&self.grant.tenant).await?;
        let registry = extensions.registry().clone();
        let parsed = request::parse(&registry, ty, query, true)?;
        let searcher = Searcher {
            registry: &registry,
        };
        let scope = Scope {
            resource_type: Some(ty.to_string()),
            ..Scope::default()
        };
        let links = Links {
            fhir_base: self.fhir_base,
            self_url: format!("{}/{ty}?{query}", self.fhir_base),
            query,
        };
        let (bundle, _) = in_tenant_tx!(self.state.db, self.grant, Access::Read, |tx| {
            searcher.search(&mut tx, &scope, &parsed, &links).await
        })?;
        Ok(bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["search"]["mode"] == "match")
            .map(|e| e["resource"].clone())
            .collect())
    }

    /// What a form's logic may read about `patient`: the clinic's date, the patient's birth
    /// date and sex, and the latest Observation of each code the form asks for. Nothing is
    /// read that the form does not ask for.
    pub async fn logic_context(
        &self,
        form: &Form,
        patient: Option<&str>,
        today: time::Date,
    ) -> FhirResult<LogicContext> {
        let needs = form.prefill_needs();
        let Some(patient) = patient else {
            return Ok(LogicContext::new(today));
        };
        let resource = if needs.patient || !needs.observations.is_empty() {
            Some(self.read("Patient", patient).await?)
        } else {
            None
        };
        let mut observations = Vec::new();
        for coding in &needs.observations {
            let code = match &coding.system {
                Some(system) => format!("{system}|{}", coding.code),
                None => coding.code.clone(),
            };
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("patient", &format!("Patient/{patient}"))
                .append_pair("code", &code)
                .append_pair("_sort", "-date")
                .append_pair("_count", "1")
                .finish();
            observations.extend(self.search("Observation", &query).await?);
        }
        Ok(LogicContext::from_resources(
            today,
            resource.as_ref(),
            &observations,
        ))
    }

    /// Runs a transaction Bundle of `entries` as the user: all of it or nothing. Returns the
    /// response Bundle (with each entry's stored resource).
    pub async fn transaction(&self, entries: Vec<Value>) -> FhirResult<Value> {
        let processor = BundleProcessor {
            engine: &self.state.engine,
            db: &self.state.db,
            grant: self.grant,
            base: self.fhir_base,
            prefer: Return::Representation,
        };
        processor
            .process(json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}))
            .await
    }
}
