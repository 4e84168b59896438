//! Status changes the server applies when a response is amended or withdrawn, so history is
//! kept: nothing is deleted, superseded resources change status.

use serde_json::{json, Value};

/// A copy of a QuestionnaireResponse or Observation marked `entered-in-error` (recorded by
/// mistake). The server stores it as a new version of the same resource.
pub fn entered_in_error(resource: &Value) -> Value {
    let mut marked = resource.clone();
    marked["status"] = json!("entered-in-error");
    marked
}

/// What to store when a response is amended, given the Observations extracted from the
/// previous version (with their ids) and those extracted from the new one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Amendment {
    /// New versions of existing Observations: the new value, the old id, status `amended`.
    pub updated: Vec<Value>,
    /// Observations for answers that were not there before (status `final`, no id).
    pub created: Vec<Value>,
    /// Old Observations whose answer was removed, marked `entered-in-error`.
    pub withdrawn: Vec<Value>,
}

/// Pairs old and new Observations by code (and, for repeated answers, by position among the
/// same code) and says what changes. Unchanged values are updated too (status `amended`,
/// new `derivedFrom`) so every Observation points at the latest response.
pub fn amend_observations(previous: &[Value], current: Vec<Value>) -> Amendment {
    let key = |o: &Value| {
        let c = &o["code"]["coding"][0];
        format!(
            "{}|{}",
            c["system"].as_str().unwrap_or_default(),
            c["code"].as_str().unwrap_or_default()
        )
    };
    let mut unused: Vec<&Value> = previous.iter().collect();
    let mut amendment = Amendment::default();
    for mut observation in current {
        let k = key(&observation);
        match unused.iter().position(|p| key(p) == k) {
            Some(i) => {
                let old = unused.remove(i);
                observation["id"] = old["id"].clone();
                observation["status"] = json!("amended");
                amendment.updated.push(observation);
            }
            None => amendment.created.push(observation),
        }
    }
    amendment.withdrawn = unused.into_iter().map(entered_in_error).collect();
    amendment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(id: Option<&str>, code: &str, value: i64) -> Value {
        let mut o = json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}, "valueInteger": value});
        if let Some(id) = id {
            o["id"] = json!(id);
        }
        o
    }

    #[test]
    fn amending_updates_matches_creates_new_and_withdraws_removed() {
        let previous = [obs(Some("a"), "8480-6", 120), obs(Some("b"), "8462-4", 80)];
        let current = vec![obs(None, "8480-6", 125), obs(None, "29463-7", 60)];
        let a = amend_observations(&previous, current);
        assert_eq!(a.updated.len(), 1);
        assert_eq!(a.updated[0]["id"], "a");
        assert_eq!(a.updated[0]["status"], "amended");
        assert_eq!(a.updated[0]["valueInteger"], 125);
        assert_eq!(a.created[0]["code"]["coding"][0]["code"], "29463-7");
        assert_eq!(a.withdrawn[0]["id"], "b");
        assert_eq!(a.withdrawn[0]["status"], "entered-in-error");
    }
}
