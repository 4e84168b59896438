//! Packs' clinical rules: JSON Logic a pack registers or ships under `rules/`, evaluated by
//! the forms engine's JSON Logic (one engine for the whole server) against a patient's
//! record — their age and sex, and the latest Observation of each code a rule reads — so a
//! clinician sees what the enabled packs raise for the patient in front of them.
//!
//! A rule reads `{"var": "today"}`, `{"var": "patient.age"}` (also `ageInMonths`,
//! `birthDate`, `sex`) and `{"observation": [system, code]}`; it is raised when it is true.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tessera_forms::logic::Rule;
use tessera_forms::{FormIssue, RuleFile};
use tessera_plugins::LoadedPack;

use crate::fhir::outcome::FhirResult;
use crate::forms::records::Records;
use crate::packs::Packs;

/// One rule of one pack.
#[derive(Clone, Debug)]
pub struct PackRule {
    pub pack: String,
    pub id: String,
    pub description: String,
    pub rule: Rule,
}

/// What a rule says about a patient.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Raised {
    pub pack: String,
    pub rule: String,
    pub description: String,
}

/// A pack version's rules, each checked: registered by its component (`register:<id>` in
/// errors) and its `rules/*.yaml|json` files.
pub fn pack_rules(loaded: &LoadedPack) -> Result<Vec<PackRule>, Vec<FormIssue>> {
    let pack = loaded.manifest.id.clone();
    let mut rules = Vec::new();
    let mut issues = Vec::new();
    for registered in &loaded.registration.rules {
        let file = format!("register:{}", registered.id);
        let compiled = Rule::compile(&registered.logic).map_err(|e| e.to_string());
        match compiled {
            Ok(rule) => rules.push(PackRule {
                pack: pack.clone(),
                id: registered.id.clone(),
                description: registered.description.clone(),
                rule,
            }),
            Err(message) => issues.push(FormIssue {
                file,
                line: None,
                path: "logic".into(),
                message: format!("invalid JSON Logic: {message}"),
            }),
        }
    }
    for (path, bytes) in &loaded.content {
        let is_rule = path.starts_with("rules/")
            && [".yaml", ".yml", ".json"].iter().any(|e| path.ends_with(e));
        if !is_rule {
            continue;
        }
        match RuleFile::check(path, &String::from_utf8_lossy(bytes)) {
            // A pack built with the SDK both registers its `rules/` files and ships them.
            Ok(file)
                if rules
                    .iter()
                    .any(|r| r.id == file.id && r.rule.source() == file.rule.source()) => {}
            Ok(file) if rules.iter().any(|r| r.id == file.id) => issues.push(FormIssue {
                file: path.clone(),
                line: None,
                path: "id".into(),
                message: format!(
                    "the rule {:?} is also registered by the pack's code, with other logic",
                    file.id
                ),
            }),
            Ok(file) => rules.push(PackRule {
                pack: pack.clone(),
                id: file.id,
                description: file.description,
                rule: file.rule,
            }),
            Err(more) => issues.extend(more),
        }
    }
    if issues.is_empty() {
        Ok(rules)
    } else {
        Err(issues)
    }
}

/// The `(system, code)` of every `{"observation": [system, code]}` a rule reads.
pub fn observations_read(logic: &Value, found: &mut BTreeSet<(String, String)>) {
    match logic {
        Value::Array(items) => items.iter().for_each(|i| observations_read(i, found)),
        Value::Object(map) => {
            if let Some(Value::Array(args)) = map.get("observation") {
                if let [Value::String(system), Value::String(code)] = args.as_slice() {
                    found.insert((system.clone(), code.clone()));
                }
            }
            map.values().for_each(|v| observations_read(v, found));
        }
        _ => {}
    }
}

impl Packs {
    /// The rules of the packs enabled for `tenant`.
    pub async fn rules(self: &Arc<Self>, tenant: &str) -> FhirResult<Vec<PackRule>> {
        let state = self.tenant(tenant).await?;
        let mut rules = Vec::new();
        for (pack, version) in state.enabled_versions() {
            let loaded = match self.loaded(pack, version).await {
                Ok(loaded) => loaded,
                Err(err) => {
                    tracing::error!(tenant, pack, error = %err.message(), "an enabled pack cannot be loaded; its rules are not evaluated");
                    continue;
                }
            };
            // Checked at install; a rule that stopped compiling is left out, loudly.
            match pack_rules(&loaded) {
                Ok(found) => rules.extend(found),
                Err(issues) => {
                    tracing::error!(tenant, pack, issues = %crate::forms::catalog::describe(&issues), "a pack's rules no longer compile")
                }
            }
        }
        Ok(rules)
    }
}

/// Evaluates `rules` for `patient` as the signed-in user (their grant decides what of the
/// record is read); the raised ones, in pack and rule order.
pub async fn evaluate(
    records: &Records<'_>,
    rules: &[PackRule],
    patient: &str,
    today: time::Date,
) -> FhirResult<Vec<Raised>> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let resource = records.read("Patient", patient).await?;
    let mut codes = BTreeSet::new();
    for rule in rules {
        observations_read(rule.rule.source(), &mut codes);
    }
    let mut observations = Vec::new();
    for (system, code) in &codes {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("patient", &format!("Patient/{patient}"))
            .append_pair("code", &format!("{system}|{code}"))
            .append_pair("_sort", "-date")
            .append_pair("_count", "1")
            .finish();
        observations.extend(records.search("Observation", &query).await?);
    }
    let context =
        tessera_forms::LogicContext::from_resources(today, Some(&resource), &observations);
    let data = Value::Object(context.to_data());
    let mut raised: Vec<Raised> = rules
        .iter()
        .filter(|r| r.rule.is_true(&data))
        .map(|r| Raised {
            pack: r.pack.clone(),
            rule: r.id.clone(),
            description: r.description.clone(),
        })
        .collect();
    raised.sort_by(|a, b| (&a.pack, &a.rule).cmp(&(&b.pack, &b.rule)));
    Ok(raised)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_observations_a_rule_reads() {
        let logic = json!({"or": [
            {">=": [{"observation": ["http://loinc.org", "8480-6"]}, 140]},
            {"and": [{"<": [{"observation": ["http://loinc.org", "718-7"]}, 11]}, {"var": "patient.age"}]}
        ]});
        let mut found = BTreeSet::new();
        observations_read(&logic, &mut found);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            vec![
                ("http://loinc.org".to_string(), "718-7".to_string()),
                ("http://loinc.org".to_string(), "8480-6".to_string())
            ]
        );
    }
}
