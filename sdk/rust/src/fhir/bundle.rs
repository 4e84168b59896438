//! Building transaction and batch Bundles, and reading what comes back.

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// Builds a `transaction` (all entries or none) or `batch` (each entry on its own) Bundle.
///
/// A created resource gets a `urn:uuid:` fullUrl, which [`BundleBuilder::create`] returns,
/// so later entries can refer to it before it has an id; the server rewrites those
/// references when it commits.
///
/// ```
/// use serde_json::json;
/// use tessera_pack_sdk::fhir::BundleBuilder;
///
/// let mut bundle = BundleBuilder::transaction();
/// let patient = bundle.create(json!({"resourceType": "Patient", "name": [{"family": "Lee"}]})).unwrap();
/// bundle.create(json!({
///     "resourceType": "Observation",
///     "status": "final",
///     "code": {"text": "Weight"},
///     "subject": {"reference": patient},
/// })).unwrap();
/// let bundle = bundle.build();
/// assert_eq!(bundle["type"], "transaction");
/// assert_eq!(bundle["entry"][1]["resource"]["subject"]["reference"], bundle["entry"][0]["fullUrl"]);
/// assert!(patient.starts_with("urn:uuid:"));
/// ```
#[derive(Clone, Debug)]
pub struct BundleBuilder {
    kind: &'static str,
    entries: Vec<Value>,
}

fn resource_type(resource: &Value) -> Result<&str> {
    resource
        .get("resourceType")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::internal("a Bundle entry's resource needs a resourceType"))
}

impl BundleBuilder {
    /// A transaction: the server commits every entry or none.
    pub fn transaction() -> BundleBuilder {
        BundleBuilder {
            kind: "transaction",
            entries: Vec::new(),
        }
    }

    /// A batch: each entry succeeds or fails on its own.
    pub fn batch() -> BundleBuilder {
        BundleBuilder {
            kind: "batch",
            entries: Vec::new(),
        }
    }

    /// Creates `resource` (`POST <type>`); returns its `urn:uuid:` fullUrl for references.
    pub fn create(&mut self, resource: Value) -> Result<String> {
        let ty = resource_type(&resource)?.to_string();
        let full_url = new_urn_uuid();
        self.entries.push(json!({
            "fullUrl": full_url,
            "resource": resource,
            "request": {"method": "POST", "url": ty},
        }));
        Ok(full_url)
    }

    /// Creates `resource` unless one matching `criteria` (`identifier=sys|123`) exists;
    /// returns its `urn:uuid:` fullUrl, which the server points at whichever resource it
    /// ends up being.
    pub fn create_if_none_exist(&mut self, resource: Value, criteria: &str) -> Result<String> {
        let ty = resource_type(&resource)?.to_string();
        let full_url = new_urn_uuid();
        self.entries.push(json!({
            "fullUrl": full_url,
            "resource": resource,
            "request": {"method": "POST", "url": ty, "ifNoneExist": criteria},
        }));
        Ok(full_url)
    }

    /// Updates (or creates with its id) `resource` (`PUT <type>/<id>`); returns `Type/id`.
    pub fn update(&mut self, resource: Value) -> Result<String> {
        let ty = resource_type(&resource)?.to_string();
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::internal(format!("updating a {ty} needs its id")))?
            .to_string();
        let reference = format!("{ty}/{id}");
        self.entries.push(json!({
            "fullUrl": reference,
            "resource": resource,
            "request": {"method": "PUT", "url": reference},
        }));
        Ok(reference)
    }

    /// Deletes `Type/id`.
    pub fn delete(&mut self, resource_type: &str, id: &str) {
        self.entries.push(json!({
            "request": {"method": "DELETE", "url": format!("{resource_type}/{id}")},
        }));
    }

    /// Reads with a relative URL (`Patient/p1`, or a search such as `Patient?name=lee`).
    pub fn get(&mut self, url: &str) {
        self.entries
            .push(json!({"request": {"method": "GET", "url": url}}));
    }

    /// How many entries so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries yet?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The Bundle.
    pub fn build(self) -> Value {
        json!({"resourceType": "Bundle", "type": self.kind, "entry": self.entries})
    }
}

/// A searchset Bundle from [`crate::fhir::search`].
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSet {
    bundle: Value,
}

impl SearchSet {
    pub(crate) fn new(bundle: Value) -> SearchSet {
        SearchSet { bundle }
    }

    /// The matches (`search.mode` `match`), in order, without `_include`d resources.
    pub fn matches(&self) -> impl Iterator<Item = &Value> {
        self.entries()
            .filter(|e| e["search"]["mode"].as_str().unwrap_or("match") == "match")
            .filter_map(|e| e.get("resource"))
    }

    /// Every resource on this page, included ones too.
    pub fn resources(&self) -> impl Iterator<Item = &Value> {
        self.entries().filter_map(|e| e.get("resource"))
    }

    fn entries(&self) -> impl Iterator<Item = &Value> {
        self.bundle["entry"].as_array().into_iter().flatten()
    }

    /// The total number of matches, when the server counted them.
    pub fn total(&self) -> Option<u64> {
        self.bundle["total"].as_u64()
    }

    /// The query string of the next page (for another [`crate::fhir::search_raw`]), when
    /// there is one.
    pub fn next_page(&self) -> Option<String> {
        let link = self.bundle["link"]
            .as_array()?
            .iter()
            .find(|l| l["relation"] == "next")?;
        let url = link["url"].as_str()?;
        url.split_once('?').map(|(_, q)| q.to_string())
    }

    /// The whole Bundle.
    pub fn bundle(&self) -> &Value {
        &self.bundle
    }

    /// The whole Bundle, owned.
    pub fn into_bundle(self) -> Value {
        self.bundle
    }
}

/// A random `urn:uuid:` (version 4).
///
/// The randomness comes from std's `RandomState`, whose keys the WASI host fills from its
/// random source: SipHash under random keys of a per-instance counter gives unique,
/// unpredictable ids without another dependency in every pack.
pub fn new_urn_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = std::collections::hash_map::RandomState::new();
    let word = |salt: u64| {
        let mut hasher = state.build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u64(salt);
        hasher.finish()
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&word(1).to_be_bytes());
    bytes[8..].copy_from_slice(&word(2).to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urn_uuids_are_version_4_and_distinct() {
        let a = new_urn_uuid();
        let b = new_urn_uuid();
        assert_ne!(a, b);
        let uuid = a.strip_prefix("urn:uuid:").unwrap();
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn entries_carry_their_requests() {
        let mut bundle = BundleBuilder::batch();
        assert!(
            bundle.create(json!({"id": "x"})).is_err(),
            "no resourceType"
        );
        assert!(bundle.update(json!({"resourceType": "Patient"})).is_err());
        assert_eq!(
            bundle
                .update(json!({"resourceType": "Patient", "id": "p1"}))
                .unwrap(),
            "Patient/p1"
        );
        bundle
            .create_if_none_exist(json!({"resourceType": "Patient"}), "identifier=urn:mrn|42")
            .unwrap();
        bundle.delete("Observation", "o1");
        bundle.get("Patient?name=lee");
        assert_eq!(bundle.len(), 4);
        let bundle = bundle.build();
        assert_eq!(bundle["type"], "batch");
        assert_eq!(bundle["entry"][0]["request"]["url"], "Patient/p1");
        assert_eq!(
            bundle["entry"][1]["request"]["ifNoneExist"],
            "identifier=urn:mrn|42"
        );
        assert_eq!(bundle["entry"][2]["request"]["method"], "DELETE");
        assert_eq!(bundle["entry"][3]["request"]["method"], "GET");
    }

    #[test]
    fn search_sets_separate_matches_from_includes() {
        let set = SearchSet::new(json!({
            "resourceType": "Bundle", "type": "searchset", "total": 1,
            "link": [{"relation": "next", "url": "http://h/t/a/fhir/Observation?_count=1&_cursor=x"}],
            "entry": [
                {"resource": {"resourceType": "Observation", "id": "o1"}, "search": {"mode": "match"}},
                {"resource": {"resourceType": "Patient", "id": "p1"}, "search": {"mode": "include"}},
            ]
        }));
        assert_eq!(set.matches().count(), 1);
        assert_eq!(set.resources().count(), 2);
        assert_eq!(set.total(), Some(1));
        assert_eq!(set.next_page().as_deref(), Some("_count=1&_cursor=x"));
    }
}
