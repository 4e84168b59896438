//! One audit record and its FHIR AuditEvent form.

use base64::Engine as _;
use serde_json::{json, Value};

/// What happened, in the terms of FHIR's AuditEvent (R4).
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub tenant: String,
    pub id: String,
    /// Microseconds since the epoch.
    pub recorded: i64,
    /// `rest` for FHIR interactions; `110114` (user authentication) for sign-in and out.
    pub kind: Kind,
    /// The interaction: `read`, `search-type`, `create`, ... or `login`/`logout`.
    pub subtype: String,
    /// C, R, U, D or E.
    pub action: &'static str,
    /// 0 success, 4 minor failure (refused, bad request), 8 serious failure (server error).
    pub outcome: &'static str,
    pub outcome_text: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub username: Option<String>,
    pub roles: Vec<String>,
    pub address: Option<String>,
    /// `Type/id`, or the type alone for type-level interactions.
    pub entity: Option<String>,
    pub entity_type: Option<String>,
    /// The query string of searches.
    pub query: Option<String>,
    /// `GET /t/acme/fhir/Patient/1`: method and path as received.
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rest,
    Authentication,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Rest => "rest",
            Kind::Authentication => "110114",
        }
    }
}

impl AuditRecord {
    pub fn new(tenant: &str, kind: Kind, subtype: &str, action: &'static str) -> AuditRecord {
        AuditRecord {
            tenant: tenant.to_string(),
            id: uuid::Uuid::new_v4().to_string(),
            recorded: crate::clock::now_micros(),
            kind,
            subtype: subtype.to_string(),
            action,
            outcome: "0",
            outcome_text: None,
            issuer: None,
            subject: None,
            username: None,
            roles: vec![],
            address: None,
            entity: None,
            entity_type: None,
            query: None,
            description: String::new(),
        }
    }

    /// The `agent` search value: `issuer|subject`, or `anonymous`.
    pub fn agent_key(&self) -> String {
        match (&self.issuer, &self.subject) {
            (Some(i), Some(s)) => format!("{i}|{s}"),
            (None, Some(s)) => s.clone(),
            _ => "anonymous".into(),
        }
    }

    pub fn to_fhir(&self) -> Value {
        let (type_system, type_display) = match self.kind {
            Kind::Rest => (
                "http://terminology.hl7.org/CodeSystem/audit-event-type",
                "RESTful Operation",
            ),
            Kind::Authentication => (
                "http://dicom.nema.org/resources/ontology/DCM",
                "User Authentication",
            ),
        };
        let subtype_system = match self.kind {
            Kind::Rest => "http://hl7.org/fhir/restful-interaction",
            Kind::Authentication => "http://dicom.nema.org/resources/ontology/DCM",
        };
        let mut agent = json!({
            "requestor": true,
            "type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                "code": "humanuser", "display": "human user"}]},
        });
        match (&self.issuer, &self.subject) {
            (issuer, Some(subject)) => {
                let mut who = json!({"identifier": {"value": subject}});
                if let Some(issuer) = issuer {
                    who["identifier"]["system"] = json!(issuer);
                }
                if let Some(name) = &self.username {
                    who["display"] = json!(name);
                    agent["name"] = json!(name);
                }
                agent["who"] = who;
                agent["altId"] = json!(subject);
            }
            _ => agent["name"] = json!("anonymous"),
        }
        if !self.roles.is_empty() {
            agent["role"] = Value::Array(self.roles.iter().map(|r| json!({"text": r})).collect());
        }
        if let Some(address) = &self.address {
            agent["network"] = json!({"address": address, "type": "2"});
        }
        let mut event = json!({
            "resourceType": "AuditEvent",
            "id": self.id,
            "meta": {"lastUpdated": crate::clock::format_instant(self.recorded)},
            "type": {"system": type_system, "code": self.kind.code(), "display": type_display},
            "subtype": [{"system": subtype_system, "code": self.subtype}],
            "action": self.action,
            "recorded": crate::clock::format_instant(self.recorded),
            "outcome": self.outcome,
            "agent": [agent],
            "source": {
                "site": self.tenant,
                "observer": {"display": "Tessera"},
                "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                          "code": "4", "display": "Application Server"}]
            },
        });
        if let Some(text) = &self.outcome_text {
            event["outcomeDesc"] = json!(text);
        }
        if self.entity.is_some() || self.query.is_some() || !self.description.is_empty() {
            let mut entity = json!({"description": self.description});
            if let Some(what) = &self.entity {
                if what.contains('/') {
                    entity["what"] = json!({"reference": what});
                }
            }
            if let Some(ty) = &self.entity_type {
                entity["type"] =
                    json!({"system": "http://hl7.org/fhir/resource-types", "code": ty});
            }
            if let Some(query) = &self.query {
                entity["query"] =
                    json!(base64::engine::general_purpose::STANDARD.encode(query.as_bytes()));
            }
            event["entity"] = json!([entity]);
        }
        event
    }
}
