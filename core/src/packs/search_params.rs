//! SearchParameters that packs define: checked when a version is installed, layered over
//! HL7's for the tenants that enable the pack, indexed on every write, and built for the
//! resources stored before the pack was enabled by a background reindex of the types they
//! cover.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use sqlx::Row;

use super::Packs;
use crate::auth::rbac::Grant;
use crate::db::Access;
use crate::fhir::search::registry::{Definition, ParamType, SearchRegistry};

/// The parameters of the packs one tenant enabled, and which pack versions they came from.
#[derive(Default, Debug)]
pub struct PackParameters {
    sources: Vec<(String, String)>,
    definitions: Vec<Arc<Definition>>,
}

impl PackParameters {
    /// Adds the parameters `pack` `version` registered (already checked at install).
    pub fn add(&mut self, pack: &str, version: &str, resources: &[Value]) -> Result<(), String> {
        if resources.is_empty() {
            return Ok(());
        }
        let definitions = parse(resources)?;
        self.sources.push((pack.to_string(), version.to_string()));
        self.definitions
            .extend(definitions.into_iter().map(Arc::new));
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.definitions.is_empty()
    }

    /// The resource types the parameters are defined on.
    pub fn types(&self) -> BTreeSet<String> {
        self.definitions
            .iter()
            .flat_map(|d| d.base.iter().cloned())
            .collect()
    }

    /// Every (type, code) the parameters define.
    pub fn codes(&self) -> BTreeSet<(String, String)> {
        self.definitions
            .iter()
            .flat_map(|d| d.base.iter().map(|b| (b.clone(), d.code.clone())))
            .collect()
    }

    /// What the index must have been built with for these parameters: empty for none.
    pub fn fingerprint(&self) -> String {
        if self.definitions.is_empty() {
            return String::new();
        }
        let mut parts: Vec<String> = self
            .definitions
            .iter()
            .map(|d| {
                format!(
                    "{}|{}|{:?}|{}|{}",
                    d.url,
                    d.code,
                    d.kind,
                    d.base.join(","),
                    d.expression.as_deref().unwrap_or("")
                )
            })
            .collect();
        parts.sort();
        // FNV-1a: stable across Rust releases, unlike `DefaultHasher`.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in parts.join("\n").bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        format!("packs-{hash:016x}")
    }
}

/// Reads and checks pack SearchParameters: each needs `url`, a `code` of lower-case letters,
/// digits and dashes, `base` FHIR types, a supported `type` and an `expression` this server
/// evaluates, and may not redefine one of HL7's parameters (that would change what existing
/// searches mean for the tenant).
pub fn parse(resources: &[Value]) -> Result<Vec<Definition>, String> {
    let schema = crate::server::shared_schema();
    let shared = SearchRegistry::shared();
    let mut seen = HashSet::new();
    let mut definitions = Vec::new();
    for (i, resource) in resources.iter().enumerate() {
        let name = resource
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("search-parameters[{i}]"));
        let fail = |message: String| format!("SearchParameter {name}: {message}");
        let definition: Definition = serde_json::from_value(resource.clone()).map_err(|e| {
            fail(format!(
                "{e} (it needs url, code, base, type and expression)"
            ))
        })?;
        let code_ok = !definition.code.is_empty()
            && definition.code.len() <= 64
            && definition
                .code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && definition
                .code
                .starts_with(|c: char| c.is_ascii_lowercase());
        if !code_ok {
            return Err(fail(format!(
                "code {:?} must be lower-case letters, digits and dashes, starting with a letter",
                definition.code
            )));
        }
        if matches!(definition.kind, ParamType::Composite | ParamType::Special) {
            return Err(fail(format!(
                "type {:?} is not supported for pack parameters; use number, date, string, token, reference, quantity or uri",
                definition.kind
            )));
        }
        if definition.expression.as_deref().unwrap_or("").is_empty() {
            return Err(fail("an expression is required".into()));
        }
        if definition.base.is_empty() {
            return Err(fail("base names no resource type".into()));
        }
        for base in &definition.base {
            if !schema.is_resource_type(base) {
                return Err(fail(format!(
                    "base {base:?} is not a FHIR R4 resource type"
                )));
            }
            if shared.get(base, &definition.code).is_some() {
                return Err(fail(format!(
                    "{base}.{} is one of HL7's parameters; a pack may not redefine it (pick another code)",
                    definition.code
                )));
            }
            if !seen.insert((base.clone(), definition.code.clone())) {
                return Err(fail(format!("{base}.{} is defined twice", definition.code)));
            }
        }
        // Parsing proves the expression is one this server can evaluate.
        SearchRegistry::default()
            .add(
                Arc::new(definition.clone()),
                &definition
                    .base
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            )
            .map_err(|e| fail(e.to_string()))?;
        definitions.push(definition);
    }
    Ok(definitions)
}

/// Two enabled packs may not define the same parameter for a tenant.
pub fn check_conflicts(
    enabling: &str,
    new: &[Value],
    others: &[(String, Vec<Value>)],
) -> Result<(), String> {
    let new: BTreeSet<(String, String)> = parse(new)?
        .iter()
        .flat_map(|d| d.base.iter().map(|b| (b.clone(), d.code.clone())))
        .collect();
    for (pack, resources) in others.iter().filter(|(p, _)| p != enabling) {
        for definition in parse(resources)? {
            for base in &definition.base {
                if new.contains(&(base.clone(), definition.code.clone())) {
                    return Err(format!(
                        "{enabling} defines the search parameter {base}.{}, which the enabled pack {pack} defines too; disable one of them first",
                        definition.code
                    ));
                }
            }
        }
    }
    Ok(())
}

impl Packs {
    /// HL7's parameters plus these; registries are shared by every tenant running the same
    /// pack versions.
    pub(super) fn registry_with(&self, parameters: &PackParameters) -> Arc<SearchRegistry> {
        if parameters.is_empty() {
            return SearchRegistry::shared();
        }
        let mut cache = self.registries.lock().unwrap();
        if let Some(found) = cache.get(&parameters.sources) {
            return found.clone();
        }
        let schema = crate::server::shared_schema();
        let registry = match SearchRegistry::with_additions(
            &SearchRegistry::shared(),
            parameters.definitions.iter().cloned(),
            schema.resource_types(),
        ) {
            Ok(registry) => Arc::new(registry),
            Err(err) => {
                // Checked at install, so only a server upgrade that reads expressions
                // differently gets here; searching with HL7's alone is the safe answer.
                tracing::error!(error = %err, "pack search parameters cannot be used");
                SearchRegistry::shared()
            }
        };
        cache.insert(parameters.sources.clone(), registry.clone());
        registry
    }
}

/// Tenants whose index is being rebuilt by this process.
fn rebuilding() -> &'static Mutex<BTreeMap<String, ()>> {
    static REBUILDING: OnceLock<Mutex<BTreeMap<String, ()>>> = OnceLock::new();
    REBUILDING.get_or_init(Default::default)
}

/// The pack parameters of `tenant` whose index is not built yet for older resources (none
/// when the stored state matches). A mismatch starts a background rebuild of the affected
/// types — those of the old set and the new — after which the state is stored and every
/// server recomputes the tenant's contributions.
pub(super) async fn index_state(
    packs: &Arc<Packs>,
    tenant: &str,
    parameters: &PackParameters,
) -> Result<BTreeSet<(String, String)>, sqlx::Error> {
    let db = packs.db().clone();
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Read)
        .await?;
    let stored =
        sqlx::query("SELECT fingerprint, types FROM tenant_search_state WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_optional(tx.conn())
            .await?;
    tx.commit().await?;
    let fingerprint = parameters.fingerprint();
    let (stored_fingerprint, stored_types) = match &stored {
        Some(row) => (
            row.try_get::<String, _>("fingerprint")?,
            serde_json::from_str::<Vec<String>>(&row.try_get::<String, _>("types")?)
                .unwrap_or_default(),
        ),
        None => (String::new(), Vec::new()),
    };
    if stored_fingerprint == fingerprint {
        return Ok(BTreeSet::new());
    }
    let new_types = parameters.types();
    let mut types: BTreeSet<String> = stored_types.into_iter().collect();
    types.extend(new_types.iter().cloned());
    let key = format!("{:p}/{tenant}", Arc::as_ptr(packs));
    if rebuilding()
        .lock()
        .unwrap()
        .insert(key.clone(), ())
        .is_none()
    {
        let packs = packs.clone();
        let tenant = tenant.to_string();
        tokio::spawn(async move {
            let types: Vec<String> = types.into_iter().collect();
            let outcome = rebuild(&packs, &tenant, &types, &fingerprint, &new_types).await;
            rebuilding().lock().unwrap().remove(&key);
            match outcome {
                Ok(resources) => {
                    tracing::info!(tenant, resources, types = ?types, "index rebuilt for the tenant's pack search parameters");
                    packs.forget_cached_settings();
                }
                Err(err) => {
                    tracing::error!(tenant, error = %format!("{err:#}"), "rebuilding the index for pack search parameters failed; it is retried at the next pack change or restart")
                }
            }
        });
    }
    Ok(parameters.codes())
}

async fn rebuild(
    packs: &Arc<Packs>,
    tenant: &str,
    types: &[String],
    fingerprint: &str,
    new_types: &BTreeSet<String>,
) -> anyhow::Result<usize> {
    let db = packs.db().clone();
    let (resources, _) = crate::reindex::reindex_tenant(&db, tenant, Some(types), false).await?;
    let mut tx = db
        .tenant_tx_core(&Grant::system(tenant), Access::Write)
        .await?;
    sqlx::query("DELETE FROM tenant_search_state WHERE tenant_id = $1")
        .bind(tenant)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO tenant_search_state (tenant_id, fingerprint, types) VALUES ($1, $2, $3)",
    )
    .bind(tenant)
    .bind(fingerprint)
    .bind(serde_json::to_string(new_types)?)
    .execute(tx.conn())
    .await?;
    super::store::bump_generation(tx.conn()).await?;
    tx.commit().await?;
    Ok(resources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nickname() -> Value {
        json!({"resourceType": "SearchParameter", "url": "http://example.org/sp/nickname",
               "code": "nickname", "base": ["Patient"], "type": "string",
               "expression": "Patient.name.where(use='nickname').given"})
    }

    #[test]
    fn a_valid_parameter_parses() {
        let parsed = parse(&[nickname()]).unwrap();
        assert_eq!(parsed[0].code, "nickname");
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        let mut clash = nickname();
        clash["code"] = json!("birthdate");
        assert!(parse(&[clash])
            .unwrap_err()
            .contains("one of HL7's parameters"));
        let mut base = nickname();
        base["base"] = json!(["Patients"]);
        assert!(parse(&[base])
            .unwrap_err()
            .contains("not a FHIR R4 resource type"));
        let mut code = nickname();
        code["code"] = json!("_nick");
        assert!(parse(&[code]).unwrap_err().contains("lower-case"));
        let mut expression = nickname();
        expression["expression"] = json!("Patient.name.first(");
        assert!(parse(&[expression]).is_err());
        let mut composite = nickname();
        composite["type"] = json!("composite");
        assert!(parse(&[composite]).unwrap_err().contains("not supported"));
        assert!(parse(&[nickname(), nickname()])
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn fingerprints_follow_the_definitions() {
        let mut a = PackParameters::default();
        a.add("p", "1.0.0", &[nickname()]).unwrap();
        let mut b = PackParameters::default();
        let mut changed = nickname();
        changed["expression"] = json!("Patient.name.given");
        b.add("p", "1.1.0", &[changed]).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(PackParameters::default().fingerprint(), "");
        assert_eq!(
            a.codes().into_iter().next().unwrap(),
            ("Patient".into(), "nickname".into())
        );
    }

    #[test]
    fn two_packs_may_not_define_one_parameter() {
        let err =
            check_conflicts("b", &[nickname()], &[("a".into(), vec![nickname()])]).unwrap_err();
        assert!(err.contains("enabled pack a defines too"), "{err}");
        check_conflicts("a", &[nickname()], &[("a".into(), vec![nickname()])]).unwrap();
    }
}
