//! Running a pack's test files against a [`LocalHost`]: each file in an organization of its
//! own, with the pack enabled and the fixtures stored; then its cases in order, each shown
//! as passed or failed with what differed and what the pack logged.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::Value;
use tessera_core::packs::dispatch::CallSite;
use tessera_plugins::runtime::PackEvent;
use tessera_plugins::Manifest;

use super::format::{
    Case, CaseKind, CaseRequest, EventCall, Expect, Fixture, IdentifierCall, TestFile,
};
use super::matching::{differences, Difference};
use super::pack_log::PackLog;
use crate::host::LocalHost;
use crate::ui::Style;

/// What a case found wrong (empty when it passed), plus the body to show.
struct Outcome {
    failures: Vec<String>,
    shown_body: Option<String>,
}

#[derive(Default)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
}

pub struct Runner<'a> {
    pub host: &'a LocalHost,
    pub manifest: &'a Manifest,
    pub pack_root: &'a Path,
    pub log: &'a PackLog,
    pub style: Style,
}

impl Runner<'_> {
    /// Runs one file in organization `tenant`; adds to `summary`.
    pub async fn run_file(
        &self,
        file: &str,
        tests: &TestFile,
        tenant: &str,
        summary: &mut Summary,
    ) -> Result<()> {
        println!("{}", self.style.bold(file));
        self.host.create_tenant(tenant).await?;
        self.host
            .enable(tenant, self.manifest, tests.config.as_ref(), &tests.secrets)
            .await
            .with_context(|| format!("{file}: config and secrets"))?;
        for (i, fixture) in tests.fixtures.iter().enumerate() {
            let (what, resource) = match fixture {
                Fixture::File(path) => {
                    let full = self.pack_root.join(path);
                    let text = std::fs::read_to_string(&full).with_context(|| {
                        format!("{file}: fixture {path} cannot be read (paths are relative to the pack's folder)")
                    })?;
                    let resource: Value = serde_json::from_str(&text).with_context(|| {
                        format!("{path}: a fixture file is one FHIR resource or Bundle as JSON")
                    })?;
                    (path.clone(), resource)
                }
                Fixture::Resource(resource) => (format!("fixtures[{i}]"), resource.clone()),
            };
            self.host
                .store(tenant, &resource)
                .await
                .with_context(|| format!("{file}: storing fixture {what}"))?;
        }
        for case in &tests.cases {
            self.log.clear();
            let started = Instant::now();
            let outcome = self.run_case(tenant, case).await?;
            let elapsed = started.elapsed().as_millis();
            if outcome.failures.is_empty() {
                summary.passed += 1;
                println!(
                    "  {} {} {}",
                    self.style.pass("✓"),
                    case.name,
                    self.style.dim(&format!("({elapsed} ms)"))
                );
                continue;
            }
            summary.failed += 1;
            println!(
                "  {} {} {}",
                self.style.fail("✗"),
                case.name,
                self.style.dim(&format!("({elapsed} ms)"))
            );
            for failure in &outcome.failures {
                println!("      {failure}");
            }
            if let Some(body) = &outcome.shown_body {
                println!("      {}", self.style.dim("response body:"));
                for line in body.lines() {
                    println!("        {line}");
                }
            }
            let lines = self.log.lines();
            if !lines.is_empty() {
                println!("      {}", self.style.dim("pack log:"));
                for line in lines {
                    println!("        {line}");
                }
            }
        }
        Ok(())
    }

    async fn run_case(&self, tenant: &str, case: &Case) -> Result<Outcome> {
        match case.kind() {
            CaseKind::Request(request) => self.request(tenant, request, &case.expect).await,
            CaseKind::Identifier(call) => self.identifier(tenant, call, &case.expect).await,
            CaseKind::Event(call) => self.event(tenant, call, &case.expect).await,
        }
    }

    async fn request(
        &self,
        tenant: &str,
        request: &CaseRequest,
        expect: &Expect,
    ) -> Result<Outcome> {
        let url = format!(
            "{}{}",
            self.host.pack_base(tenant, &self.manifest.id),
            request.path
        );
        // Webhooks are called by other systems, which hold no user token.
        let token = if request.path.starts_with("/_hooks/") {
            None
        } else {
            Some(self.host.token(tenant, &request.roles)?)
        };
        let headers: Vec<(String, String)> = request.headers.clone().into_iter().collect();
        let body = match (&request.body, &request.body_text) {
            (Some(json), _) => Some(("application/json", json.to_string().into_bytes())),
            (None, Some(text)) => Some(("text/plain", text.clone().into_bytes())),
            (None, None) => None,
        };
        let method = Method::from_bytes(request.method.as_bytes()).context("the method")?;
        let answer = self
            .host
            .send(method, &url, token.as_deref(), &headers, body)
            .await?;

        let mut failures = Vec::new();
        if let Some(status) = expect.status {
            if status != answer.status {
                failures.push(format!("status: expected {status}, got {}", answer.status));
            }
        }
        for (name, value) in &expect.headers {
            match answer
                .headers
                .get(name.to_ascii_lowercase())
                .and_then(|v| v.to_str().ok())
            {
                Some(actual) if actual == value => {}
                Some(actual) => {
                    failures.push(format!("header {name}: expected {value:?}, got {actual:?}"))
                }
                None => failures.push(format!("header {name}: missing (expected {value:?})")),
            }
        }
        if let Some(expected) = &expect.body {
            match serde_json::from_slice::<Value>(&answer.body) {
                Ok(actual) => failures.extend(
                    differences("body", expected, &actual)
                        .iter()
                        .map(Difference::to_string),
                ),
                Err(_) => failures.push("body: expected JSON, got something else".into()),
            }
        }
        if let Some(text) = &expect.body_contains {
            if !answer.text().contains(text.as_str()) {
                failures.push(format!("body: does not contain {text:?}"));
            }
        }
        let shown_body =
            (!failures.is_empty()).then(|| match serde_json::from_slice::<Value>(&answer.body) {
                Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_default(),
                Err(_) => answer.text(),
            });
        Ok(Outcome {
            failures,
            shown_body,
        })
    }

    /// The pack as enabled for `tenant`, acting on its own grant (as for a webhook).
    async fn prepared(
        &self,
        tenant: &str,
    ) -> Result<(
        std::sync::Arc<tessera_plugins::LoadedPack>,
        tessera_plugins::CallContext,
    )> {
        let packs = &self.host.state().packs;
        packs
            .prepare(CallSite {
                tenant,
                pack: &self.manifest.id,
                locations: &[],
                user: None,
                fhir_base: self.host.fhir_base(tenant),
                host: self.host.addr().to_string(),
            })
            .await
            .map_err(|e| anyhow::anyhow!("preparing the pack: {}", e.message()))
    }

    async fn identifier(
        &self,
        tenant: &str,
        call: &IdentifierCall,
        expect: &Expect,
    ) -> Result<Outcome> {
        let (loaded, context) = self.prepared(tenant).await?;
        let runtime = self
            .host
            .state()
            .packs
            .runtime()
            .await
            .map_err(|e| anyhow::anyhow!(e.message()))?;
        let mut failures = Vec::new();
        match runtime
            .validate_identifier(&loaded, context, call.system.clone(), call.value.clone())
            .await
        {
            Err(err) => failures.push(format!("the call failed: {err}")),
            Ok(verdict) => {
                let valid = verdict.is_ok();
                if Some(valid) != expect.valid {
                    let said = match &verdict {
                        Ok(()) => "valid".to_string(),
                        Err(reason) => format!("not valid: {reason}"),
                    };
                    failures.push(format!(
                        "valid: expected {}, the pack said {said}",
                        expect.valid.unwrap_or(true)
                    ));
                }
                if let (Some(text), Err(reason)) = (&expect.message_contains, &verdict) {
                    if !reason.contains(text.as_str()) {
                        failures.push(format!("message: {reason:?} does not contain {text:?}"));
                    }
                }
            }
        }
        Ok(Outcome {
            failures,
            shown_body: None,
        })
    }

    async fn event(&self, tenant: &str, call: &EventCall, expect: &Expect) -> Result<Outcome> {
        let resource = match (&call.resource, call.interaction.as_str()) {
            (Some(resource), _) => Some(resource.clone()),
            (None, "delete") => None,
            (None, _) => {
                self.host
                    .read(tenant, &call.resource_type, &call.id)
                    .await?
            }
        };
        let (loaded, context) = self.prepared(tenant).await?;
        let runtime = self
            .host
            .state()
            .packs
            .runtime()
            .await
            .map_err(|e| anyhow::anyhow!(e.message()))?;
        let event = PackEvent {
            resource_type: call.resource_type.clone(),
            id: call.id.clone(),
            interaction: call.interaction.clone(),
            body: resource.map(|r| r.to_string()).unwrap_or_default(),
        };
        let result = runtime.call_event(&loaded, context, event).await;
        let mut failures = Vec::new();
        let ok = result.is_ok();
        if Some(ok) != expect.ok {
            failures.push(match &result {
                Ok(()) => "ok: expected the pack to fail, it handled the event".to_string(),
                Err(err) => format!("ok: expected the pack to handle the event; {err}"),
            });
        }
        if let (Some(text), Err(err)) = (&expect.message_contains, &result) {
            if !err.to_string().contains(text.as_str()) {
                failures.push(format!(
                    "message: {:?} does not contain {text:?}",
                    err.to_string()
                ));
            }
        }
        Ok(Outcome {
            failures,
            shown_body: None,
        })
    }
}
