//! Role-based access: permissions are (target, action) pairs, roles are named sets of them,
//! and a [`Grant`] is what one caller may do in one tenant. Every FHIR interaction asks its
//! grant (`Grant::require`) before touching data: the engine, search, history and each
//! Bundle entry all go through it, so there is one policy for every path.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::fhir::outcome::{FhirError, FhirResult, Issue};

/// What a caller wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Read,
    Search,
    Create,
    Update,
    Delete,
    Admin,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Search => "search",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Admin => "admin",
        }
    }

    /// The action named as in roles and manifests (`read`, `search`, ...).
    pub fn from_name(name: &str) -> Option<Action> {
        Some(match name {
            "read" => Action::Read,
            "search" => Action::Search,
            "create" => Action::Create,
            "update" => Action::Update,
            "delete" => Action::Delete,
            "admin" => Action::Admin,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// What an action is done to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// Every FHIR type except [`PRIVILEGED_TYPES`] (`"*"` in a role).
    AnyType,
    /// One FHIR resource type.
    Type(String),
    /// Something that is not a resource type (`"feature:tenant"`); packs declare their own.
    Feature(String),
}

/// Types a wildcard never covers: a role must name them.
pub const PRIVILEGED_TYPES: &[&str] = &["AuditEvent"];

impl Target {
    pub fn parse(text: &str) -> Result<Target, String> {
        if text == "*" {
            Ok(Target::AnyType)
        } else if let Some(feature) = text.strip_prefix("feature:") {
            if feature.is_empty() {
                return Err("a feature target needs a name: feature:<name>".into());
            }
            Ok(Target::Feature(feature.to_string()))
        } else if text.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && text.chars().all(|c| c.is_ascii_alphanumeric())
        {
            Ok(Target::Type(text.to_string()))
        } else {
            Err(format!(
                "{text:?} is not a target: use a FHIR type (Patient), \"*\" or feature:<name>"
            ))
        }
    }
}

/// A set of actions as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Actions(u8);

impl Actions {
    fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }
}

/// Targets and the actions allowed on each.
#[derive(Clone, Debug, Default)]
pub struct Permissions {
    by_target: HashMap<Target, Actions>,
}

impl Permissions {
    pub fn allow(&mut self, target: Target, actions: &[Action]) {
        let entry = self.by_target.entry(target).or_default();
        for action in actions {
            entry.0 |= action.bit();
        }
    }

    fn merge(&mut self, other: &Permissions) {
        for (target, actions) in &other.by_target {
            self.by_target.entry(target.clone()).or_default().0 |= actions.0;
        }
    }

    fn has(&self, target: &Target, action: Action) -> bool {
        self.by_target
            .get(target)
            .is_some_and(|a| a.contains(action))
    }

    /// May `action` be done on resources of type `ty`?
    pub fn allows_type(&self, action: Action, ty: &str) -> bool {
        self.has(&Target::Type(ty.to_string()), action)
            || (!PRIVILEGED_TYPES.contains(&ty) && self.has(&Target::AnyType, action))
    }

    pub fn allows_feature(&self, action: Action, feature: &str) -> bool {
        self.has(&Target::Feature(feature.to_string()), action)
    }

    pub fn is_empty(&self) -> bool {
        self.by_target.values().all(|a| a.0 == 0)
    }

    /// What both allow: for each type in `limit`, the actions both `self` and `limit`
    /// allow on it. Nothing else survives (no wildcard, no feature).
    fn restricted_to(&self, limit: &BTreeMap<String, Vec<Action>>) -> Permissions {
        let mut out = Permissions::default();
        for (ty, actions) in limit {
            let kept: Vec<Action> = actions
                .iter()
                .copied()
                .filter(|a| self.allows_type(*a, ty))
                .collect();
            if !kept.is_empty() {
                out.allow(Target::Type(ty.clone()), &kept);
            }
        }
        out
    }
}

/// A role as written in YAML or JSON: `permissions: { Patient: [read, search] }`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDefinition {
    #[serde(default)]
    pub description: String,
    /// `patient`: the permissions hold only in the caller's own patient compartment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compartment: Option<String>,
    pub permissions: BTreeMap<String, Vec<Action>>,
}

impl RoleDefinition {
    /// Checks targets and the compartment name; the error says what to fix.
    pub fn compile(&self) -> Result<Permissions, String> {
        if let Some(c) = &self.compartment {
            if c != "patient" {
                return Err(format!(
                    "compartment {c:?} is not supported; the only one is \"patient\""
                ));
            }
        }
        let mut permissions = Permissions::default();
        for (target, actions) in &self.permissions {
            permissions.allow(Target::parse(target)?, actions);
        }
        Ok(permissions)
    }
}

/// A compiled role.
#[derive(Clone, Debug)]
struct Role {
    permissions: Permissions,
    patient_compartment: bool,
}

/// Named roles: the system ones, plus a tenant's own.
#[derive(Clone, Debug, Default)]
pub struct RoleCatalog {
    roles: HashMap<String, Role>,
}

const SYSTEM_ROLES: &str = include_str!("system-roles.yaml");

/// The system roles as written (for listing them).
pub fn system_role_definitions() -> BTreeMap<String, RoleDefinition> {
    serde_yaml::from_str(SYSTEM_ROLES).expect("system-roles.yaml parses")
}

impl RoleCatalog {
    /// The roles every tenant has (`system-roles.yaml`).
    pub fn system() -> &'static RoleCatalog {
        static SYSTEM: OnceLock<RoleCatalog> = OnceLock::new();
        SYSTEM.get_or_init(|| {
            let defs = system_role_definitions();
            let mut catalog = RoleCatalog::default();
            for (name, def) in defs {
                catalog
                    .add(&name, &def)
                    .expect("system-roles.yaml is valid");
            }
            catalog
        })
    }

    pub fn is_system_role(name: &str) -> bool {
        Self::system().roles.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.roles.keys().map(String::as_str)
    }

    pub fn add(&mut self, name: &str, def: &RoleDefinition) -> Result<(), String> {
        let permissions = def.compile()?;
        self.roles.insert(
            name.to_string(),
            Role {
                permissions,
                patient_compartment: def.compartment.is_some(),
            },
        );
        Ok(())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.roles.contains_key(name)
    }
}

/// Who a grant belongs to, for audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// The server itself (imports, reindexing, group commit): never a request.
    System,
    User {
        issuer: String,
        subject: String,
        username: Option<String>,
    },
}

/// Where an allowed action may reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    Everywhere,
    /// Only resources in this patient's compartment (the Patient id).
    PatientCompartment(String),
}

/// What one caller may do in one tenant.
#[derive(Clone, Debug)]
pub struct Grant {
    pub tenant: String,
    pub who: Who,
    /// The Tessera roles held (after the tenant's mapping).
    pub roles: Vec<String>,
    everywhere: Permissions,
    own_compartment: Permissions,
    /// The caller's own Patient id, for compartment-bound roles.
    pub patient: Option<String>,
    /// The pack acting through this grant (for a user or on its own), whose writes it must
    /// not be told about again as events.
    pub acting_pack: Option<String>,
}

impl Grant {
    /// The server acting on its own behalf: everything.
    pub fn system(tenant: &str) -> Arc<Grant> {
        let mut everywhere = Permissions::default();
        let all = [
            Action::Read,
            Action::Search,
            Action::Create,
            Action::Update,
            Action::Delete,
            Action::Admin,
        ];
        everywhere.allow(Target::AnyType, &all);
        for ty in PRIVILEGED_TYPES {
            everywhere.allow(Target::Type(ty.to_string()), &all);
        }
        Arc::new(Grant {
            tenant: tenant.to_string(),
            who: Who::System,
            roles: vec![],
            everywhere,
            own_compartment: Permissions::default(),
            patient: None,
            acting_pack: None,
        })
    }

    /// The grant of a user holding `roles` (unknown role names grant nothing).
    pub fn for_roles(
        tenant: &str,
        who: Who,
        roles: Vec<String>,
        patient: Option<String>,
        catalog: &RoleCatalog,
    ) -> Grant {
        let mut everywhere = Permissions::default();
        let mut own_compartment = Permissions::default();
        for name in &roles {
            if let Some(role) = catalog.roles.get(name) {
                if role.patient_compartment {
                    own_compartment.merge(&role.permissions);
                } else {
                    everywhere.merge(&role.permissions);
                }
            }
        }
        // A compartment-bound role without a known patient reaches nothing.
        if patient.is_none() {
            own_compartment = Permissions::default();
        }
        Grant {
            tenant: tenant.to_string(),
            who,
            roles,
            everywhere,
            own_compartment,
            patient,
            acting_pack: None,
        }
    }

    pub fn is_system(&self) -> bool {
        self.who == Who::System
    }

    /// A pack acting on its own (a webhook call, with no user): only what it was granted.
    pub fn for_pack(tenant: &str, pack: &str, limit: &BTreeMap<String, Vec<Action>>) -> Grant {
        let mut everywhere = Permissions::default();
        for (ty, actions) in limit {
            if !PRIVILEGED_TYPES.contains(&ty.as_str()) {
                everywhere.allow(Target::Type(ty.clone()), actions);
            }
        }
        Grant {
            tenant: tenant.to_string(),
            who: Who::User {
                issuer: "urn:tessera:pack".into(),
                subject: format!("pack:{pack}"),
                username: Some(format!("pack {pack}")),
            },
            roles: vec![],
            everywhere,
            own_compartment: Permissions::default(),
            patient: None,
            acting_pack: Some(pack.to_string()),
        }
    }

    /// This grant cut down to what `pack` was granted (type → actions): a pack acting for a
    /// user can do only what both may. The caller's patient compartment still binds.
    pub fn restricted_to(&self, pack: &str, limit: &BTreeMap<String, Vec<Action>>) -> Grant {
        Grant {
            tenant: self.tenant.clone(),
            who: self.who.clone(),
            roles: self.roles.clone(),
            everywhere: self.everywhere.restricted_to(limit),
            own_compartment: self.own_compartment.restricted_to(limit),
            patient: self.patient.clone(),
            acting_pack: Some(pack.to_string()),
        }
    }

    /// Does the caller hold any permission at all in this tenant?
    pub fn is_empty(&self) -> bool {
        self.everywhere.is_empty() && self.own_compartment.is_empty()
    }

    /// How far `action` on `ty` reaches, or None when it is not allowed.
    pub fn reach(&self, action: Action, ty: &str) -> Option<Reach> {
        if self.everywhere.allows_type(action, ty) {
            return Some(Reach::Everywhere);
        }
        match &self.patient {
            Some(patient) if self.own_compartment.allows_type(action, ty) => {
                Some(Reach::PatientCompartment(patient.clone()))
            }
            _ => None,
        }
    }

    /// `reach`, or a 403 OperationOutcome naming what was refused.
    pub fn require(&self, action: Action, ty: &str) -> FhirResult<Reach> {
        self.reach(action, ty)
            .ok_or_else(|| self.forbidden(format!("{} {ty}", action.name())))
    }

    pub fn allows_feature(&self, action: Action, feature: &str) -> bool {
        self.everywhere.allows_feature(action, feature)
    }

    pub fn require_feature(&self, action: Action, feature: &str) -> FhirResult<()> {
        if self.allows_feature(action, feature) {
            Ok(())
        } else {
            Err(self.forbidden(format!("{} feature {feature}", action.name())))
        }
    }

    fn forbidden(&self, what: String) -> FhirError {
        let held = if self.roles.is_empty() {
            "no Tessera role".to_string()
        } else {
            format!("the role(s) {}", self.roles.join(", "))
        };
        FhirError::new(
            StatusCode::FORBIDDEN,
            Issue::error("forbidden", format!("{held} may not {what}")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[&str], patient: Option<&str>) -> Grant {
        Grant::for_roles(
            "acme",
            Who::User {
                issuer: "i".into(),
                subject: "s".into(),
                username: None,
            },
            roles.iter().map(|r| r.to_string()).collect(),
            patient.map(str::to_string),
            RoleCatalog::system(),
        )
    }

    #[test]
    fn wildcard_does_not_cover_audit_events() {
        let clinician = user(&["clinician"], None);
        assert_eq!(
            clinician.reach(Action::Read, "Observation"),
            Some(Reach::Everywhere)
        );
        assert_eq!(clinician.reach(Action::Read, "AuditEvent"), None);
        assert_eq!(clinician.reach(Action::Delete, "Observation"), None);
        let admin = user(&["org-admin"], None);
        assert!(admin.reach(Action::Search, "AuditEvent").is_some());
        assert!(admin.reach(Action::Create, "AuditEvent").is_none());
    }

    #[test]
    fn a_pack_grant_cuts_the_callers_down() {
        let limit = BTreeMap::from([
            ("Patient".to_string(), vec![Action::Read, Action::Delete]),
            ("AuditEvent".to_string(), vec![Action::Read]),
        ]);
        let clinician = user(&["clinician"], None).restricted_to("p", &limit);
        assert!(clinician.reach(Action::Read, "Patient").is_some());
        assert!(
            clinician.reach(Action::Delete, "Patient").is_none(),
            "the user may not"
        );
        assert!(
            clinician.reach(Action::Read, "Observation").is_none(),
            "the pack may not"
        );
        assert!(clinician.reach(Action::Read, "AuditEvent").is_none());
        let patient = user(&["patient"], Some("p1")).restricted_to("p", &limit);
        assert_eq!(
            patient.reach(Action::Read, "Patient"),
            Some(Reach::PatientCompartment("p1".into()))
        );
    }

    #[test]
    fn front_desk_sees_no_clinical_records() {
        let desk = user(&["front-desk"], None);
        assert!(desk.reach(Action::Create, "Patient").is_some());
        assert!(desk.reach(Action::Read, "Observation").is_none());
        let err = desk.require(Action::Read, "Observation").unwrap_err();
        assert_eq!(err.status, StatusCode::FORBIDDEN);
        assert!(err.message().contains("front-desk"), "{}", err.message());
    }

    #[test]
    fn patient_role_reaches_only_their_compartment() {
        let pat = user(&["patient"], Some("p1"));
        assert_eq!(
            pat.reach(Action::Read, "Observation"),
            Some(Reach::PatientCompartment("p1".into()))
        );
        assert_eq!(pat.reach(Action::Create, "Observation"), None);
        // Without a Patient id in the token the role reaches nothing.
        let anonymous = user(&["patient"], None);
        assert_eq!(anonymous.reach(Action::Read, "Observation"), None);
        assert!(anonymous.is_empty());
        // A role held everywhere wins over the compartment-bound one.
        let both = user(&["patient", "clinician"], Some("p1"));
        assert_eq!(
            both.reach(Action::Read, "Observation"),
            Some(Reach::Everywhere)
        );
    }

    #[test]
    fn unknown_roles_grant_nothing_and_bad_targets_are_refused() {
        assert!(user(&["superuser"], None).is_empty());
        let bad = RoleDefinition {
            description: String::new(),
            compartment: None,
            permissions: [("patient".to_string(), vec![Action::Read])].into(),
        };
        assert!(bad.compile().unwrap_err().contains("not a target"));
    }
}
