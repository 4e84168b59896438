//! Search criteria of conditional interactions (`If-None-Exist`, `PUT/DELETE/PATCH Type?...`,
//! conditional references). They accept every search parameter the search engine does, and
//! are parsed strictly: an unknown or malformed parameter is refused with a 400 rather than
//! ignored, because ignoring it here would update or delete the wrong resource.

use percent_encoding::percent_decode_str;

use super::outcome::{FhirError, FhirResult};
use super::search::execute::{Scope, Searcher};
use super::search::registry::SearchRegistry;
use super::search::request::{self, SearchRequest};
use crate::db::{Backend, TenantTx};

#[derive(Debug, Clone)]
pub struct Criteria {
    resource_type: String,
    request: SearchRequest,
    canonical: String,
}

/// Result parameters that do not restrict which resources match.
const IGNORED: &[&str] = &[
    "_format",
    "_pretty",
    "_summary",
    "_elements",
    "_count",
    "_sort",
    "_total",
    "_include",
    "_revinclude",
];

impl Criteria {
    /// Parses `identifier=sys|val&_id=x&...` for `ty`.
    pub fn parse(ty: &str, query: &str) -> FhirResult<Criteria> {
        let mut clauses = Vec::new();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded_name = decode(name)?;
            if IGNORED.contains(&decoded_name.as_str()) {
                continue;
            }
            let mut values: Vec<String> = split_unescaped(raw, ',')
                .into_iter()
                .map(|v| decode(&v))
                .collect::<FhirResult<_>>()?;
            if values.iter().any(String::is_empty) {
                return Err(FhirError::invalid(format!(
                    "search parameter {decoded_name:?} has an empty value"
                )));
            }
            values.sort();
            clauses.push(format!("{decoded_name}={}", values.join(",")));
            kept.push(pair);
        }
        if clauses.is_empty() {
            return Err(FhirError::invalid(format!(
                "conditional request on {ty} has no search criteria; it would match every resource"
            )));
        }
        clauses.sort();
        let request = request::parse(&SearchRegistry::shared(), ty, &kept.join("&"), true)?;
        Ok(Criteria {
            resource_type: ty.to_string(),
            request,
            canonical: format!("{ty}?{}", clauses.join("&")),
        })
    }

    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The criteria in one canonical spelling (decoded, values and clauses sorted), so that
    /// equivalent criteria written differently compare equal.
    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    /// Serialises conditional creates with these criteria until the transaction ends, so two
    /// concurrent ones cannot both find nothing and both create. PostgreSQL only (a
    /// transaction-scoped advisory lock); SQLite already runs one writer at a time. Criteria
    /// that differ but match the same resource are not serialised against each other.
    pub async fn lock_for_create(&self, tx: &mut TenantTx) -> sqlx::Result<()> {
        if tx.backend() == Backend::Postgres {
            let key = format!("{}/{}", tx.tenant(), self.canonical());
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::text")
                .bind(key)
                .execute(tx.conn())
                .await?;
        }
        Ok(())
    }

    /// Ids of at most `limit` live resources matching every clause.
    pub async fn matching_ids(&self, tx: &mut TenantTx, limit: i64) -> FhirResult<Vec<String>> {
        let registry = SearchRegistry::shared();
        let searcher = Searcher {
            registry: &registry,
        };
        let scope = Scope {
            resource_type: Some(self.resource_type.clone()),
            ..Scope::default()
        };
        let found = searcher
            .matching(tx, "", &scope, &self.request, limit.max(0) as usize)
            .await?;
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }
}

/// Splits on `sep` except where escaped as `\sep` (FHIR search escaping).
fn split_unescaped(text: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&sep) {
            parts.last_mut().expect("nonempty").push(sep);
            chars.next();
        } else if c == sep {
            parts.push(String::new());
        } else {
            parts.last_mut().expect("nonempty").push(c);
        }
    }
    parts
}

fn decode(text: &str) -> FhirResult<String> {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            FhirError::invalid(format!(
                "search value {text:?} is not valid UTF-8 once decoded"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_spelling_ignores_order_and_encoding() {
        let a = Criteria::parse("Patient", "identifier=http%3A%2F%2Fs%7C1,%7C2&_id=b,a").unwrap();
        let b = Criteria::parse("Patient", "_id=a,b&identifier=|2,http://s|1").unwrap();
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.canonical(), "Patient?_id=a,b&identifier=http://s|1,|2");
    }

    #[test]
    fn refuses_unknown_and_empty() {
        assert!(Criteria::parse("Patient", "nonsense=smith")
            .unwrap_err()
            .message()
            .contains("nonsense"));
        assert!(Criteria::parse("Patient", "name=smith&birthdate=ge1970").is_ok());
        assert!(Criteria::parse("Patient", "").is_err());
        assert!(Criteria::parse("Patient", "_format=json").is_err());
        assert!(Criteria::parse("Patient", "identifier=").is_err());
    }

    #[test]
    fn escaped_commas_stay() {
        assert_eq!(
            split_unescaped(r"a\,b,c", ','),
            vec!["a,b".to_string(), "c".to_string()]
        );
    }
}
