//! Search criteria of conditional interactions (`If-None-Exist`, `PUT/DELETE/PATCH Type?...`,
//! conditional references). Supports `_id` and `identifier` — with comma-separated ORs and
//! repeated ANDs — until the full search engine (issue #3) takes over; anything else is
//! refused with a clear error rather than matched loosely, because a loose match here would
//! update or delete the wrong resource.

use percent_encoding::percent_decode_str;

use super::outcome::{FhirError, FhirResult};
use crate::db::{Backend, TenantTx};

#[derive(Debug, Clone, PartialEq)]
enum Clause {
    /// Any of these ids.
    Id(Vec<String>),
    /// Any of these `(system, value)` tokens; None means "any system".
    Identifier(Vec<(Option<String>, Option<String>)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    resource_type: String,
    clauses: Vec<Clause>,
}

/// Result parameters that do not restrict which resources match.
const IGNORED: &[&str] = &["_format", "_pretty", "_summary", "_elements", "_count"];

impl Criteria {
    /// Parses `identifier=sys|val&_id=x` for `ty`.
    pub fn parse(ty: &str, query: &str) -> FhirResult<Criteria> {
        let mut clauses = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name)?;
            if IGNORED.contains(&name.as_str()) {
                continue;
            }
            let values: Vec<String> = split_unescaped(raw, ',')
                .into_iter()
                .map(|v| decode(&v))
                .collect::<FhirResult<_>>()?;
            if values.iter().any(String::is_empty) {
                return Err(FhirError::invalid(format!(
                    "search parameter {name:?} has an empty value"
                )));
            }
            clauses.push(match name.as_str() {
                "_id" => Clause::Id(values),
                "identifier" => Clause::Identifier(values.iter().map(|v| token(v)).collect()),
                other => {
                    return Err(FhirError::not_supported(format!(
                        "search parameter {other:?} is not supported in conditional requests yet; use _id or identifier"
                    )))
                }
            });
        }
        if clauses.is_empty() {
            return Err(FhirError::invalid(format!(
                "conditional request on {ty} has no search criteria; it would match every resource"
            )));
        }
        Ok(Criteria {
            resource_type: ty.to_string(),
            clauses,
        })
    }

    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The criteria in one canonical spelling (decoded, values and clauses sorted), so that
    /// equivalent criteria written differently compare equal.
    pub fn canonical(&self) -> String {
        let mut clauses: Vec<String> = self
            .clauses
            .iter()
            .map(|clause| {
                let mut values: Vec<String> = match clause {
                    Clause::Id(ids) => ids.clone(),
                    Clause::Identifier(tokens) => tokens
                        .iter()
                        .map(|(s, v)| {
                            format!(
                                "{}|{}",
                                s.as_deref().unwrap_or("*"),
                                v.as_deref().unwrap_or("*")
                            )
                        })
                        .collect(),
                };
                values.sort();
                let name = if matches!(clause, Clause::Id(_)) {
                    "_id"
                } else {
                    "identifier"
                };
                format!("{name}={}", values.join(","))
            })
            .collect();
        clauses.sort();
        format!("{}?{}", self.resource_type, clauses.join("&"))
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
    pub async fn matching_ids(&self, tx: &mut TenantTx, limit: i64) -> sqlx::Result<Vec<String>> {
        let mut sql = String::from(
            "SELECT r.id FROM resources r WHERE r.tenant_id = $1 AND r.resource_type = $2 AND r.deleted = 0",
        );
        let mut binds: Vec<String> = vec![tx.tenant().to_string(), self.resource_type.clone()];
        let param = |binds: &mut Vec<String>, value: &str| {
            binds.push(value.to_string());
            format!("${}", binds.len())
        };
        for clause in &self.clauses {
            match clause {
                Clause::Id(ids) => {
                    let list: Vec<String> = ids.iter().map(|id| param(&mut binds, id)).collect();
                    sql += &format!(" AND r.id IN ({})", list.join(", "));
                }
                Clause::Identifier(tokens) => {
                    let alternatives: Vec<String> = tokens
                        .iter()
                        .map(|(system, value)| {
                            let mut parts = Vec::new();
                            if let Some(s) = system {
                                parts.push(format!("t.system = {}", param(&mut binds, s)));
                            }
                            if let Some(v) = value {
                                parts.push(format!("t.code = {}", param(&mut binds, v)));
                            }
                            format!("({})", parts.join(" AND "))
                        })
                        .collect();
                    sql += &format!(
                        " AND EXISTS (SELECT 1 FROM search_token t WHERE t.tenant_id = r.tenant_id \
                         AND t.resource_type = r.resource_type AND t.resource_id = r.id \
                         AND t.param = 'identifier' AND ({}))",
                        alternatives.join(" OR ")
                    );
                }
            }
        }
        sql += &format!(" ORDER BY r.id LIMIT {limit}");
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for b in binds {
            query = query.bind(b);
        }
        query.fetch_all(tx.conn()).await
    }
}

/// `system|value`, `|value` (no system), `system|` (any value) or `value` (any system).
fn token(text: &str) -> (Option<String>, Option<String>) {
    match text.split_once('|') {
        None => (None, Some(text.to_string())),
        Some((system, value)) => (
            Some(system.to_string()),
            (!value.is_empty()).then(|| value.to_string()),
        ),
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
    fn parses_tokens_and_ors() {
        let c = Criteria::parse("Patient", "identifier=http%3A%2F%2Fsys%7C123,%7C9&_id=a").unwrap();
        assert_eq!(
            c.clauses,
            vec![
                Clause::Identifier(vec![
                    (Some("http://sys".into()), Some("123".into())),
                    (Some("".into()), Some("9".into()))
                ]),
                Clause::Id(vec!["a".into()]),
            ]
        );
    }

    #[test]
    fn canonical_spelling_ignores_order_and_encoding() {
        let a = Criteria::parse("Patient", "identifier=http%3A%2F%2Fs%7C1,%7C2&_id=b,a").unwrap();
        let b = Criteria::parse("Patient", "_id=a,b&identifier=|2,http://s|1").unwrap();
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.canonical(), "Patient?_id=a,b&identifier=http://s|1,|2");
    }

    #[test]
    fn refuses_unknown_and_empty() {
        assert!(Criteria::parse("Patient", "name=smith")
            .unwrap_err()
            .message()
            .contains("not supported"));
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
