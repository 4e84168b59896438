//! FHIR access: the organization's store, within the pack's grant and the calling user's.
//!
//! The pack names a type, an id or a query; the host builds the request itself, relative to
//! the tenant's base, so no value a pack passes can point at another tenant or another path.
//! The direct type is checked against the pack's grant here for a clear message; the server
//! then runs the request with the intersection of the user's and the pack's grants, which
//! also covers what chains, `_include`, `_has` and transaction entries reach.

use serde_json::Value;

use super::{FhirReply, FhirRequest, HostError, HostState};
use crate::manifest::{is_resource_type, FhirInteraction};

fn check_type(ty: &str) -> Result<(), HostError> {
    if is_resource_type(ty) {
        Ok(())
    } else {
        Err(HostError::Invalid(format!(
            "{ty:?} is not a FHIR resource type"
        )))
    }
}

fn check_id(id: &str) -> Result<(), HostError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(HostError::Invalid(format!("{id:?} is not a FHIR id")))
    }
}

fn check_query(query: &str) -> Result<(), HostError> {
    if query.len() > 8192
        || query
            .chars()
            .any(|c| c.is_control() || c == ' ' || c == '#')
    {
        return Err(HostError::Invalid(
            "the query must be a URL-encoded FHIR query string".into(),
        ));
    }
    Ok(())
}

impl HostState {
    fn require(&self, ty: &str, interaction: FhirInteraction) -> Result<(), HostError> {
        if self.call.grant.allows_fhir(ty, interaction) {
            Ok(())
        } else {
            Err(HostError::Denied(format!(
                "pack {} was not granted {} on {ty}",
                self.call.pack_id,
                interaction.as_str()
            )))
        }
    }

    async fn run_fhir(&mut self, request: FhirRequest) -> Result<String, HostError> {
        self.spend_call()?;
        let services = self.call.services.clone();
        let reply = services.fhir(request).await?;
        reply_to_result(reply)
    }

    pub(crate) async fn fhir_read(&mut self, ty: String, id: String) -> Result<String, HostError> {
        check_type(&ty)?;
        check_id(&id)?;
        self.require(&ty, FhirInteraction::Read)?;
        self.run_fhir(FhirRequest {
            method: "GET",
            path: format!("{ty}/{id}"),
            query: String::new(),
            body: None,
        })
        .await
    }

    pub(crate) async fn fhir_search(
        &mut self,
        ty: String,
        query: String,
    ) -> Result<String, HostError> {
        check_type(&ty)?;
        check_query(&query)?;
        self.require(&ty, FhirInteraction::Search)?;
        self.run_fhir(FhirRequest {
            method: "GET",
            path: ty,
            query,
            body: None,
        })
        .await
    }

    pub(crate) async fn fhir_write(
        &mut self,
        body: String,
        interaction: FhirInteraction,
    ) -> Result<String, HostError> {
        let resource: Value = serde_json::from_str(&body)
            .map_err(|e| HostError::Invalid(format!("the resource is not JSON: {e}")))?;
        let ty = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .ok_or_else(|| HostError::Invalid("the resource has no resourceType".into()))?
            .to_string();
        check_type(&ty)?;
        self.require(&ty, interaction)?;
        let (method, path) = match interaction {
            FhirInteraction::Update => {
                let id = resource.get("id").and_then(Value::as_str).ok_or_else(|| {
                    HostError::Invalid("an update needs the resource's id".into())
                })?;
                check_id(id)?;
                ("PUT", format!("{ty}/{id}"))
            }
            _ => ("POST", ty),
        };
        self.run_fhir(FhirRequest {
            method,
            path,
            query: String::new(),
            body: Some(body),
        })
        .await
    }

    pub(crate) async fn fhir_transaction(&mut self, bundle: String) -> Result<String, HostError> {
        let parsed: Value = serde_json::from_str(&bundle)
            .map_err(|e| HostError::Invalid(format!("the Bundle is not JSON: {e}")))?;
        if parsed.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            return Err(HostError::Invalid("a transaction takes a Bundle".into()));
        }
        // Each entry is checked by the server with the intersected grant; a pack with no
        // FHIR grant at all is refused here with a clearer message.
        if self.call.grant.fhir.is_empty() {
            return Err(HostError::Denied(format!(
                "pack {} was not granted any FHIR access",
                self.call.pack_id
            )));
        }
        self.run_fhir(FhirRequest {
            method: "POST",
            path: String::new(),
            query: String::new(),
            body: Some(bundle),
        })
        .await
    }
}

/// The OperationOutcome's text, for error messages.
fn outcome_text(body: &str) -> String {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let texts: Vec<&str> = parsed["issue"]
        .as_array()
        .map(|issues| {
            issues
                .iter()
                .filter_map(|i| i["diagnostics"].as_str().or(i["details"]["text"].as_str()))
                .collect()
        })
        .unwrap_or_default();
    if texts.is_empty() {
        body.chars().take(300).collect()
    } else {
        texts.join("; ")
    }
}

fn reply_to_result(reply: FhirReply) -> Result<String, HostError> {
    match reply.status {
        200..=299 => Ok(reply.body),
        401 | 403 => Err(HostError::Denied(outcome_text(&reply.body))),
        404 | 410 => Err(HostError::NotFound(outcome_text(&reply.body))),
        429 => Err(HostError::Limit(outcome_text(&reply.body))),
        400..=499 => Err(HostError::Invalid(outcome_text(&reply.body))),
        _ => Err(HostError::Unavailable(outcome_text(&reply.body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_tenant_are_refused() {
        assert!(check_id("../../other/fhir/Patient/1").is_err());
        assert!(check_id("a/b").is_err());
        assert!(check_id("abc-1.2").is_ok());
        assert!(check_type("../Patient").is_err());
        assert!(check_type("Patient").is_ok());
        assert!(check_query("name=a#frag").is_err());
        assert!(check_query("name=a b").is_err());
        assert!(check_query("name=smith&_count=2").is_ok());
    }

    #[test]
    fn statuses_map_to_errors() {
        let reply = |status, body: &str| FhirReply {
            status,
            body: body.into(),
        };
        assert_eq!(reply_to_result(reply(200, "{}")), Ok("{}".into()));
        let outcome = r#"{"resourceType":"OperationOutcome","issue":[{"diagnostics":"nope"}]}"#;
        assert_eq!(
            reply_to_result(reply(403, outcome)),
            Err(HostError::Denied("nope".into()))
        );
        assert!(matches!(
            reply_to_result(reply(410, outcome)),
            Err(HostError::NotFound(_))
        ));
        assert!(matches!(
            reply_to_result(reply(422, outcome)),
            Err(HostError::Invalid(_))
        ));
        assert!(matches!(
            reply_to_result(reply(500, outcome)),
            Err(HostError::Unavailable(_))
        ));
    }
}
