//! The search index of one resource version: the typed rows of every search parameter
//! (`fhir/search/extract.rs`), written to the `search_*` tables in the same transaction as the
//! version itself, and removed when a newer version replaces them.

use serde_json::{json, Value};

use super::search::extract::{self, IndexValue};
use crate::db::TenantTx;

/// The index tables, in one place for removal and reindexing.
pub const TABLES: &[&str] = &[
    "search_token",
    "search_string",
    "search_reference",
    "search_date",
    "search_number",
    "search_quantity",
    "search_uri",
];

/// Rows per table for one resource.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct IndexRows {
    /// (param, system, code, text); missing system or code is ''.
    pub token: Vec<(String, String, String, Option<String>)>,
    /// (param, normalized, exact)
    pub string: Vec<(String, String, String)>,
    /// (param, target type, target id, url); unknown parts are ''.
    pub reference: Vec<(String, String, String, String)>,
    /// (param, low, high) in microseconds
    pub date: Vec<(String, i64, i64)>,
    /// (param, value, low, high)
    pub number: Vec<(String, f64, f64, f64)>,
    /// (param, value, low, high, system, code)
    pub quantity: Vec<(String, f64, f64, f64, String, String)>,
    /// (param, uri)
    pub uri: Vec<(String, String)>,
}

impl IndexRows {
    pub fn of(resource: &Value) -> IndexRows {
        let registry = crate::server::shared_search_registry();
        let mut rows = IndexRows::default();
        for entry in extract::extract(registry, resource) {
            let param = entry.param;
            match entry.value {
                IndexValue::Token { system, code, text } => {
                    if code.is_some() || text.is_some() {
                        rows.token.push((
                            param,
                            system.unwrap_or_default(),
                            code.unwrap_or_default(),
                            text,
                        ));
                    }
                }
                IndexValue::String { normalized, exact } => {
                    rows.string.push((param, normalized, exact))
                }
                IndexValue::Reference {
                    target_type,
                    target_id,
                    url,
                } => rows.reference.push((
                    param,
                    target_type.unwrap_or_default(),
                    target_id.unwrap_or_default(),
                    url,
                )),
                IndexValue::Date { low, high } => rows.date.push((param, low, high)),
                IndexValue::Number { value, low, high } => {
                    rows.number.push((param, value, low, high))
                }
                IndexValue::Quantity {
                    value,
                    low,
                    high,
                    system,
                    code,
                } => rows.quantity.push((
                    param,
                    value,
                    low,
                    high,
                    system.unwrap_or_default(),
                    code.unwrap_or_default(),
                )),
                IndexValue::Uri(uri) => rows.uri.push((param, uri)),
            }
        }
        // The token table's key is (param, system, code): keep the first of duplicates.
        let mut seen = std::collections::HashSet::new();
        rows.token
            .retain(|(p, s, c, _)| seen.insert((p.clone(), s.clone(), c.clone())));
        rows.string.dedup();
        rows.reference.dedup();
        rows
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.token.len()
            + self.string.len()
            + self.reference.len()
            + self.date.len()
            + self.number.len()
            + self.quantity.len()
            + self.uri.len()
    }

    /// The JSON the PostgreSQL functions take (`tessera_insert_index`); infinite bounds are
    /// null, which JSON cannot otherwise carry.
    pub fn to_json(&self) -> Value {
        let f = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
        json!({
            "token": self.token.iter().map(|(p, s, c, t)| json!([p, s, c, t])).collect::<Vec<_>>(),
            "string": self.string.iter().map(|(p, n, e)| json!([p, n, e])).collect::<Vec<_>>(),
            "reference": self.reference.iter().map(|(p, t, i, u)| json!([p, t, i, u])).collect::<Vec<_>>(),
            "date": self.date.iter().map(|(p, l, h)| json!([p, l, h])).collect::<Vec<_>>(),
            "number": self.number.iter().map(|(p, v, l, h)| json!([p, f(*v), f(*l), f(*h)])).collect::<Vec<_>>(),
            "quantity": self.quantity.iter().map(|(p, v, l, h, s, c)| json!([p, f(*v), f(*l), f(*h), s, c])).collect::<Vec<_>>(),
            "uri": self.uri.iter().map(|(p, u)| json!([p, u])).collect::<Vec<_>>(),
        })
    }
}

/// Removes every index row of `ty/id` (SQLite path; PostgreSQL's write function does this).
pub async fn remove(tx: &mut TenantTx, ty: &str, id: &str) -> sqlx::Result<()> {
    let tenant = tx.tenant().to_string();
    for table in TABLES {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND resource_type = $2 AND resource_id = $3"
        ))
        .bind(&tenant)
        .bind(ty)
        .bind(id)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Rows per INSERT statement; well under SQLite's limit on bound parameters.
const CHUNK: usize = 100;

/// Inserts the rows of `ty/id` (SQLite path), one multi-row INSERT per table and chunk.
pub async fn insert(tx: &mut TenantTx, ty: &str, id: &str, rows: &IndexRows) -> sqlx::Result<()> {
    let tenant = tx.tenant().to_string();
    macro_rules! insert_rows {
        ($table:literal, $columns:literal, $width:literal, $list:expr, |$q:ident, $row:ident| $bind:expr) => {
            for chunk in $list.chunks(CHUNK) {
                let placeholders: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let first = 4 + i * $width;
                        let cols: Vec<String> =
                            (first..first + $width).map(|n| format!("${n}")).collect();
                        format!("($1, $2, $3, {})", cols.join(", "))
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO {} (tenant_id, resource_type, resource_id, {}) VALUES {}",
                    $table,
                    $columns,
                    placeholders.join(", ")
                );
                let mut $q = sqlx::query(&sql).bind(&tenant).bind(ty).bind(id);
                for $row in chunk {
                    $q = $bind;
                }
                $q.execute(tx.conn()).await?;
            }
        };
    }
    insert_rows!(
        "search_token",
        "param, system, code, text",
        4,
        rows.token,
        |q, r| q.bind(&r.0).bind(&r.1).bind(&r.2).bind(r.3.as_deref())
    );
    insert_rows!(
        "search_string",
        "param, normalized, exact",
        3,
        rows.string,
        |q, r| q.bind(&r.0).bind(&r.1).bind(&r.2)
    );
    insert_rows!(
        "search_reference",
        "param, target_type, target_id, url",
        4,
        rows.reference,
        |q, r| q.bind(&r.0).bind(&r.1).bind(&r.2).bind(&r.3)
    );
    insert_rows!("search_date", "param, low, high", 3, rows.date, |q, r| q
        .bind(&r.0)
        .bind(r.1)
        .bind(r.2));
    insert_rows!(
        "search_number",
        "param, value, low, high",
        4,
        rows.number,
        |q, r| q.bind(&r.0).bind(r.1).bind(r.2).bind(r.3)
    );
    insert_rows!(
        "search_quantity",
        "param, value, low, high, system, code",
        6,
        rows.quantity,
        |q, r| q
            .bind(&r.0)
            .bind(r.1)
            .bind(r.2)
            .bind(r.3)
            .bind(&r.4)
            .bind(&r.5)
    );
    insert_rows!("search_uri", "param, uri", 2, rows.uri, |q, r| q
        .bind(&r.0)
        .bind(&r.1));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_a_patient() {
        let patient = json!({"resourceType": "Patient", "id": "p", "identifier": [{"system": "urn:mrn", "value": "42"}, {"system": "urn:mrn", "value": "42"}],
            "name": [{"family": "Müller", "given": ["Anna"]}], "birthDate": "1970-05", "gender": "female",
            "generalPractitioner": [{"reference": "Practitioner/d1"}]});
        let rows = IndexRows::of(&patient);
        assert_eq!(
            rows.token.iter().filter(|t| t.0 == "identifier").count(),
            1,
            "duplicates removed"
        );
        assert!(rows
            .token
            .contains(&("gender".into(), "".into(), "female".into(), None)));
        assert!(rows
            .string
            .contains(&("family".into(), "muller".into(), "Müller".into())));
        assert!(rows.reference.contains(&(
            "general-practitioner".into(),
            "Practitioner".into(),
            "d1".into(),
            "Practitioner/d1".into()
        )));
        let (low, high) = extract::date_range("1970-05").unwrap();
        assert!(rows.date.contains(&("birthdate".into(), low, high)));
        let j = rows.to_json();
        assert_eq!(j["token"].as_array().unwrap().len(), rows.token.len());
    }

    #[test]
    fn infinite_bounds_become_null() {
        let rows = IndexRows {
            quantity: vec![("x".into(), 1.0, 1.0, f64::INFINITY, "".into(), "".into())],
            ..Default::default()
        };
        assert_eq!(rows.to_json()["quantity"][0][3], Value::Null);
    }
}
