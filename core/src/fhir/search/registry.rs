//! Search parameters: HL7's R4 definitions (vendored in `core/fhir-r4/search-parameters.json`),
//! compiled once per resource type, and a tenant's own parameters layered on top: the
//! SearchParameters of the packs the tenant enabled (`SearchRegistry::with_additions`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;

use super::fhirpath::{self, Expr};

const DEFINITIONS: &str = include_str!("../../../fhir-r4/search-parameters.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

/// A SearchParameter as published (the fields the server uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Definition {
    pub url: String,
    pub code: String,
    pub base: Vec<String>,
    #[serde(rename = "type")]
    pub kind: ParamType,
    pub expression: Option<String>,
    #[serde(default)]
    pub target: Vec<String>,
    #[serde(default)]
    pub comparator: Vec<String>,
    #[serde(default)]
    pub modifier: Vec<String>,
    #[serde(default)]
    pub component: Vec<ComponentDefinition>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ComponentDefinition {
    pub definition: String,
    pub expression: String,
}

/// A parameter ready to use for one resource type.
#[derive(Debug, Clone)]
pub struct SearchParam {
    pub definition: Arc<Definition>,
    /// The expression's members that apply to this type; None for parameters the server
    /// evaluates itself (`_text`, `_content`, `_query`).
    pub expression: Option<Expr>,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone)]
pub struct Component {
    /// The parameter defining the component's type.
    pub definition: String,
    /// Relative to each value of the composite's expression.
    pub expression: Expr,
}

impl SearchParam {
    pub fn code(&self) -> &str {
        &self.definition.code
    }

    pub fn kind(&self) -> ParamType {
        self.definition.kind
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("search parameter {url}: {message}")]
    Invalid { url: String, message: String },
}

/// The version of the index rows' layout (`fhir/index.rs`), fed into the fingerprint.
const INDEX_LAYOUT: &str = "rows-with-patient-1";

/// Parameters by resource type and code.
///
/// Each type's parameters sit behind an `Arc`, so a tenant's registry (HL7's plus its packs')
/// copies only the types its packs add to and shares the rest with every other tenant.
#[derive(Debug, Default, Clone)]
pub struct SearchRegistry {
    by_type: HashMap<String, Arc<BTreeMap<String, SearchParam>>>,
    /// The type of each definition by canonical URL (composite components name theirs).
    kind_by_url: HashMap<String, ParamType>,
}

impl SearchRegistry {
    /// HL7's R4 parameters for the given resource types.
    pub fn r4<'a>(
        resource_types: impl IntoIterator<Item = &'a str>,
    ) -> Result<SearchRegistry, RegistryError> {
        let definitions: Vec<Definition> =
            serde_json::from_str(DEFINITIONS).expect("vendored definitions are JSON");
        let mut registry = SearchRegistry::default();
        let types: Vec<&str> = resource_types.into_iter().collect();
        for definition in definitions {
            registry.add(Arc::new(definition), &types)?;
        }
        Ok(registry)
    }

    /// Adds one parameter for every type in `types` its base covers (`Resource` and
    /// `DomainResource` cover all).
    pub fn add(
        &mut self,
        definition: Arc<Definition>,
        types: &[&str],
    ) -> Result<(), RegistryError> {
        self.kind_by_url
            .insert(definition.url.clone(), definition.kind);
        let invalid = |message: String| RegistryError::Invalid {
            url: definition.url.clone(),
            message,
        };
        let parsed = definition
            .expression
            .as_deref()
            .map(fhirpath::parse)
            .transpose()
            .map_err(|e| invalid(e.to_string()))?;
        let components = definition
            .component
            .iter()
            .map(|c| {
                let expression =
                    fhirpath::parse(&c.expression).map_err(|e| invalid(e.to_string()))?;
                Ok(Component {
                    definition: c.definition.clone(),
                    expression,
                })
            })
            .collect::<Result<Vec<_>, RegistryError>>()?;
        let universal = definition
            .base
            .iter()
            .any(|b| b == "Resource" || b == "DomainResource");
        for ty in types
            .iter()
            .filter(|t| universal || definition.base.iter().any(|b| b == *t))
        {
            let expression = match &parsed {
                Some(expr) => match expr.for_type(ty) {
                    Some(e) => Some(e),
                    None => continue,
                },
                None => None,
            };
            let param = SearchParam {
                definition: definition.clone(),
                expression,
                components: components.clone(),
            };
            Arc::make_mut(self.by_type.entry(ty.to_string()).or_default())
                .insert(definition.code.clone(), param);
        }
        Ok(())
    }

    /// `base` plus `additions` (a tenant's packs' parameters), which replace a parameter of
    /// the same type and code. `base` itself is not changed: other tenants never see them.
    pub fn with_additions<'a>(
        base: &SearchRegistry,
        additions: impl IntoIterator<Item = Arc<Definition>>,
        resource_types: impl IntoIterator<Item = &'a str>,
    ) -> Result<SearchRegistry, RegistryError> {
        let types: Vec<&str> = resource_types.into_iter().collect();
        let mut registry = base.clone();
        for definition in additions {
            registry.add(definition, &types)?;
        }
        Ok(registry)
    }

    /// HL7's R4 parameters for every resource type, built once per process.
    pub fn shared() -> Arc<SearchRegistry> {
        static SHARED: std::sync::OnceLock<Arc<SearchRegistry>> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| {
                let schema = crate::server::shared_schema();
                Arc::new(
                    SearchRegistry::r4(schema.resource_types())
                        .expect("every vendored R4 search expression parses"),
                )
            })
            .clone()
    }

    /// A digest of every parameter's code, type and expression: when it changes, what is in
    /// the index no longer matches what queries expect, and the index is rebuilt.
    pub fn fingerprint(&self) -> String {
        // FNV-1a: stable across Rust releases, unlike `DefaultHasher`.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |text: &str| {
            for byte in text.bytes().chain([0]) {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        // How rows are laid out is part of what the index was built with: a new column
        // (`patient`, filled from each resource) needs every row written again.
        feed(INDEX_LAYOUT);
        for (ty, params) in self.by_type.iter().collect::<BTreeMap<_, _>>() {
            feed(ty);
            for (code, param) in params.iter() {
                feed(code);
                feed(&format!("{:?}", param.kind()));
                feed(param.definition.expression.as_deref().unwrap_or(""));
            }
        }
        format!("r4-{hash:016x}")
    }

    pub fn get(&self, resource_type: &str, code: &str) -> Option<&SearchParam> {
        self.by_type.get(resource_type)?.get(code)
    }

    /// The type of the parameter defined at `url`.
    pub fn kind_of(&self, url: &str) -> Option<ParamType> {
        self.kind_by_url.get(url).copied()
    }

    /// The types of a composite's components, when it is one this server indexes: two
    /// components, the first a token (every R4 composite that pairs a code with a value).
    pub fn composite_kinds(&self, param: &SearchParam) -> Option<(ParamType, ParamType)> {
        match param.components.as_slice() {
            [a, b] => match (self.kind_of(&a.definition)?, self.kind_of(&b.definition)?) {
                (ParamType::Token, second)
                    if !matches!(second, ParamType::Composite | ParamType::Special) =>
                {
                    Some((ParamType::Token, second))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Every parameter of a type, by code.
    pub fn for_type(&self, resource_type: &str) -> impl Iterator<Item = &SearchParam> {
        self.by_type
            .get(resource_type)
            .into_iter()
            .flat_map(|m| m.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::schema::SchemaValidator;
    use serde_json::json;
    use std::sync::OnceLock;

    fn registry() -> &'static SearchRegistry {
        static R: OnceLock<SearchRegistry> = OnceLock::new();
        R.get_or_init(|| {
            let schema = SchemaValidator::load();
            SearchRegistry::r4(schema.resource_types()).expect("every R4 search expression parses")
        })
    }

    #[test]
    fn every_type_gets_the_common_parameters() {
        let schema = SchemaValidator::load();
        for ty in schema.resource_types() {
            for code in ["_id", "_lastUpdated", "_tag", "_profile", "_security"] {
                assert!(registry().get(ty, code).is_some(), "{ty} lacks {code}");
            }
        }
        assert_eq!(
            registry().get("Observation", "code").unwrap().kind(),
            ParamType::Token
        );
        assert_eq!(
            registry().get("Patient", "birthdate").unwrap().kind(),
            ParamType::Date
        );
        assert!(registry().get("Patient", "code").is_none());
    }

    #[test]
    fn shared_expressions_are_split_by_type() {
        // `patient` is one definition across many types; each type keeps only its own member.
        let obs = registry().get("Observation", "patient").unwrap();
        assert_eq!(
            obs.expression.as_ref().unwrap().roots(),
            vec!["Observation"]
        );
        let resource =
            json!({"resourceType": "Observation", "subject": {"reference": "Patient/p1"}});
        let found = obs.expression.as_ref().unwrap().evaluate(&resource);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].value["reference"], "Patient/p1");
        let group = json!({"resourceType": "Observation", "subject": {"reference": "Group/g1"}});
        assert!(obs.expression.as_ref().unwrap().evaluate(&group).is_empty());
    }

    #[test]
    fn composites_have_components() {
        let p = registry()
            .get("Observation", "code-value-quantity")
            .unwrap();
        assert_eq!(p.kind(), ParamType::Composite);
        assert_eq!(p.components.len(), 2);
    }

    #[test]
    fn tenant_parameters_layer_over_the_shared_set() {
        let shared = Arc::new(SearchRegistry::r4(["Patient"]).unwrap());
        let custom = Arc::new(
            serde_json::from_value::<Definition>(json!({
                "url": "http://example.org/SearchParameter/patient-nickname", "code": "nickname",
                "base": ["Patient"], "type": "string", "expression": "Patient.name.where(use='nickname').given"
            }))
            .unwrap(),
        );
        let tenant = SearchRegistry::with_additions(&shared, [custom], ["Patient"]).unwrap();
        assert!(tenant.get("Patient", "nickname").is_some());
        assert!(tenant.get("Patient", "birthdate").is_some());
        assert!(
            shared.get("Patient", "nickname").is_none(),
            "other tenants do not see it"
        );
        let bad: Definition = serde_json::from_value(json!({
            "url": "http://example.org/SearchParameter/bad", "code": "bad", "base": ["Patient"],
            "type": "string", "expression": "Patient.name.first()"
        }))
        .unwrap();
        assert!(SearchRegistry::default()
            .add(Arc::new(bad), &["Patient"])
            .is_err());
    }
}
