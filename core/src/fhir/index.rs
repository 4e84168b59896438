//! The search index: rows of `search_index` (see migrations/sqlite/0002_search_index.sql for
//! the meaning of each column), computed from a resource by the R4 search parameters and
//! written in the same transaction as the version they describe.

use serde_json::{json, Value};

use super::search::extract::{extract, IndexValue};
use super::search::registry::SearchRegistry;
use crate::db::TenantTx;

/// One index row of a resource. `low`/`high` are microseconds for dates and the value for
/// numbers and quantities; infinite bounds are clamped to ±f64::MAX so both databases store them.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    pub param: String,
    pub term: String,
    pub qualifier: String,
    pub low: f64,
    pub high: f64,
    pub display: Option<String>,
    /// The Patient the indexed resource belongs to, the same on each of its rows: the one
    /// Patient its `patient` parameter names (the id), `~` when it names several, empty when
    /// none. `_has:<type>:patient:...` reads matching patients straight off the rows of the
    /// referring resources with it (`search/sql.rs`). A Patient's rows carry its own id.
    pub patient: String,
}

/// The `patient` column of a resource that names several patients: such rows are looked up
/// through their references instead.
pub const SEVERAL_PATIENTS: &str = "~";

/// Parameters never written to the index: they are columns of `resources`.
const FROM_RESOURCE_ROW: &[&str] = &["_id", "_lastUpdated"];

/// The longest indexed text; longer strings are cut (at a character boundary) so one huge
/// value cannot bloat the B-tree. Searches on the first 256 characters still match.
const MAX_TERM: usize = 256;

/// The index rows of `resource`, sorted and without duplicates (the table's key is the row).
pub fn rows(registry: &SearchRegistry, resource: &Value) -> Vec<IndexRow> {
    let extracted = extract(registry, resource);
    let patient = patient_of(resource, &extracted);
    let mut rows: Vec<IndexRow> = extracted
        .into_iter()
        .filter(|e| !FROM_RESOURCE_ROW.contains(&e.param.as_str()))
        .filter_map(|e| row(e.param, e.value))
        .map(|mut r| {
            r.patient = patient.clone();
            r
        })
        .collect();
    rows.sort_by(|a, b| {
        (&a.param, &a.term, &a.qualifier)
            .cmp(&(&b.param, &b.term, &b.qualifier))
            .then(a.low.total_cmp(&b.low))
            .then(a.high.total_cmp(&b.high))
    });
    rows.dedup_by(|a, b| {
        a.param == b.param
            && a.term == b.term
            && a.qualifier == b.qualifier
            && a.low == b.low
            && a.high == b.high
    });
    rows
}

/// The `patient` column for a resource (see `IndexRow::patient`).
fn patient_of(resource: &Value, extracted: &[super::search::extract::IndexEntry]) -> String {
    if resource["resourceType"] == "Patient" {
        return resource["id"].as_str().unwrap_or_default().to_string();
    }
    let mut found: Option<&str> = None;
    for e in extracted.iter().filter(|e| e.param == "patient") {
        if let IndexValue::Reference {
            target_type: Some(ty),
            target_id: Some(id),
            ..
        } = &e.value
        {
            if ty != "Patient" {
                continue;
            }
            match found {
                None => found = Some(id),
                Some(other) if other == id => {}
                Some(_) => return SEVERAL_PATIENTS.to_string(),
            }
        }
    }
    found.unwrap_or_default().to_string()
}

fn clamp(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(f64::MIN, f64::MAX)
    }
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_TERM {
        return text.to_string();
    }
    let mut end = MAX_TERM;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn row_of_value(param: &str, value: IndexValue) -> Option<IndexRow> {
    row(param.to_string(), value)
}

fn row(param: String, value: IndexValue) -> Option<IndexRow> {
    let mut row = IndexRow {
        param,
        term: String::new(),
        qualifier: String::new(),
        low: 0.0,
        high: 0.0,
        display: None,
        patient: String::new(),
    };
    match value {
        IndexValue::String { normalized, exact } => {
            row.term = cut(&normalized);
            row.qualifier = cut(&exact);
        }
        IndexValue::Token { system, code, text } => {
            row.term = cut(&code.unwrap_or_default());
            row.qualifier = system.unwrap_or_default();
            row.display = text.map(|t| cut(&super::search::extract::normalize(&t)));
        }
        IndexValue::Reference {
            target_type,
            target_id,
            url,
        } => match (target_type, target_id) {
            (Some(ty), Some(id)) => {
                row.term = format!("{ty}/{id}");
                if url != row.term {
                    row.qualifier = url;
                }
            }
            _ => row.term = url,
        },
        IndexValue::ReferenceIdentifier { system, value } => {
            row.param = format!("{}:identifier", row.param);
            row.term = cut(&value);
            row.qualifier = system.unwrap_or_default();
        }
        IndexValue::Date { low, high } => {
            row.low = low as f64;
            row.high = high as f64;
        }
        IndexValue::Number { value, .. } => {
            row.low = clamp(value);
            row.high = clamp(value);
        }
        IndexValue::Quantity {
            value,
            low,
            high,
            system,
            code,
        } => {
            // A plain quantity's precision range is symmetric around its value and is stored
            // as a point; a Range (value = its low end) keeps its span.
            let symmetric = ((value - low) - (high - value)).abs() < 1e-9 && high - low <= 1.0;
            let (l, h) = if symmetric {
                (value, value)
            } else {
                (low, high)
            };
            row.low = clamp(l);
            row.high = clamp(h);
            row.term = code.unwrap_or_default();
            row.qualifier = system.unwrap_or_default();
        }
        IndexValue::Uri(uri) => row.term = cut(&uri),
        // The token in term/qualifier; the second value where its own type keeps it:
        // ranges in low/high, a quantity's unit or a token as `system|code` (or `code`) in
        // display, a string normalised in display.
        IndexValue::Composite {
            system,
            code,
            second,
        } => {
            let inner = row_of_value(&row.param, (*second).clone())?;
            row.term = cut(&code.unwrap_or_default());
            row.qualifier = system.unwrap_or_default();
            row.low = inner.low;
            row.high = inner.high;
            let coded = |system: &str, code: &str| match system {
                "" => code.to_string(),
                s => format!("{s}|{code}"),
            };
            row.display = match *second {
                IndexValue::String { .. } | IndexValue::Reference { .. } | IndexValue::Uri(_) => {
                    Some(inner.term)
                }
                IndexValue::Token { .. } | IndexValue::Quantity { .. } => {
                    Some(coded(&inner.qualifier, &inner.term))
                }
                _ => None,
            };
        }
    }
    Some(row)
}

/// The rows as the JSON array the PostgreSQL functions take:
/// `[[param, term, qualifier, low, high, display, patient], ...]`.
pub fn rows_json(rows: &[IndexRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| {
                json!([
                    r.param,
                    r.term,
                    r.qualifier,
                    r.low,
                    r.high,
                    r.display,
                    r.patient
                ])
            })
            .collect(),
    )
}

/// Removes the index rows of `ty/id` (before re-indexing a new version, or on delete).
pub async fn remove(tx: &mut TenantTx, ty: &str, id: &str) -> sqlx::Result<()> {
    let tenant = tx.tenant().to_string();
    sqlx::query(
        "DELETE FROM search_index WHERE tenant_id = $1 AND resource_type = $2 AND resource_id = $3",
    )
    .bind(tenant)
    .bind(ty)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Rows per INSERT statement: 7 bound values each, well under SQLite's 32,766 variables.
const ROWS_PER_STATEMENT: usize = 500;

/// Inserts the rows of `ty/id` with multi-row INSERTs (both backends).
pub async fn insert(tx: &mut TenantTx, ty: &str, id: &str, rows: &[IndexRow]) -> sqlx::Result<()> {
    let tenant = tx.tenant().to_string();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 4 + i * 7;
                format!(
                    "($1, $2, $3, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b,
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO search_index (tenant_id, resource_type, resource_id, param, term, qualifier, low, high, display, patient) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(&tenant).bind(ty).bind(id);
        for r in chunk {
            query = query
                .bind(&r.param)
                .bind(&r.term)
                .bind(&r.qualifier)
                .bind(r.low)
                .bind(r.high)
                .bind(r.display.as_deref())
                .bind(&r.patient);
        }
        query.execute(tx.conn()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> std::sync::Arc<SearchRegistry> {
        SearchRegistry::shared()
    }

    #[test]
    fn patient_rows_cover_each_parameter_type_once() {
        let patient = json!({
            "resourceType": "Patient", "id": "p1",
            "identifier": [{"system": "urn:mrn", "value": "42"}, {"system": "urn:mrn", "value": "42"}],
            "name": [{"family": "Müller", "given": ["Anna"]}],
            "birthDate": "1970-02",
            "generalPractitioner": [{"reference": "Practitioner/d1"}],
            "managingOrganization": {"identifier": {"system": "urn:org", "value": "o-7"}},
        });
        let rows = rows(&registry(), &patient);
        let find = |param: &str| rows.iter().filter(|r| r.param == param).collect::<Vec<_>>();
        assert_eq!(find("identifier").len(), 1, "duplicates collapse");
        assert_eq!(find("identifier")[0].term, "42");
        assert_eq!(find("identifier")[0].qualifier, "urn:mrn");
        assert!(find("family")
            .iter()
            .any(|r| r.term == "muller" && r.qualifier == "Müller"));
        assert_eq!(find("general-practitioner")[0].term, "Practitioner/d1");
        assert_eq!(find("organization:identifier")[0].term, "o-7");
        let birth = find("birthdate")[0];
        assert!(birth.low < birth.high, "a month is a range");
        assert!(find("_id").is_empty(), "_id comes from the resource row");
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let text = "é".repeat(300);
        let cut = cut(&text);
        assert!(cut.len() <= MAX_TERM);
        assert!(text.starts_with(&cut));
    }
}
