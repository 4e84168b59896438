//! The search index, maintained in the same transaction as every write.
//!
//! For now it indexes the `identifier` token of every resource type, which is what
//! conditional create/update/delete and conditional references match on in practice.
//! The full R4 search-parameter registry (issue #3) extends this module.

use serde_json::Value;

use crate::db::TenantTx;

/// Removes the index rows of `ty/id` (before re-indexing a new version, or on delete).
pub async fn remove(tx: &mut TenantTx, ty: &str, id: &str) -> sqlx::Result<()> {
    let tenant = tx.tenant().to_string();
    sqlx::query(
        "DELETE FROM search_token WHERE tenant_id = $1 AND resource_type = $2 AND resource_id = $3",
    )
    .bind(tenant)
    .bind(ty)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The index rows of a resource, deduplicated: `(system, code)` of the `identifier` token.
pub fn tokens(resource: &Value) -> Vec<(String, String)> {
    let mut tokens = identifier_tokens(resource);
    tokens.sort();
    tokens.dedup();
    tokens
}

/// An INSERT of `n` token rows for the resource bound as `$1` (tenant), `$2` (type) and `$3`
/// (id), with each row's system and code bound from `$first` on.
pub fn insert_sql(n: usize, first: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "($1, $2, $3, 'identifier', ${}, ${})",
                first + 2 * i,
                first + 2 * i + 1
            )
        })
        .collect();
    format!(
        "INSERT INTO search_token (tenant_id, resource_type, resource_id, param, system, code) VALUES {}",
        rows.join(", ")
    )
}

/// `(system, value)` of each `identifier` (a list on most types, a single one on some).
fn identifier_tokens(resource: &Value) -> Vec<(String, String)> {
    let one = |ident: &Value| {
        let value = ident["value"].as_str()?;
        Some((
            ident["system"].as_str().unwrap_or("").to_string(),
            value.to_string(),
        ))
    };
    match &resource["identifier"] {
        Value::Array(list) => list.iter().filter_map(one).collect(),
        Value::Object(_) => one(&resource["identifier"]).into_iter().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn insert_numbers_parameters_after_the_shared_ones() {
        assert_eq!(
            insert_sql(2, 9),
            "INSERT INTO search_token (tenant_id, resource_type, resource_id, param, system, code) \
             VALUES ($1, $2, $3, 'identifier', $9, $10), ($1, $2, $3, 'identifier', $11, $12)"
        );
    }

    #[test]
    fn identifiers_as_list_or_single() {
        let list =
            json!({"identifier": [{"system": "s", "value": "1"}, {"value": "2"}, {"system": "x"}]});
        assert_eq!(
            identifier_tokens(&list),
            vec![("s".into(), "1".into()), ("".into(), "2".into())]
        );
        let single = json!({"identifier": {"system": "s", "value": "9"}});
        assert_eq!(identifier_tokens(&single), vec![("s".into(), "9".into())]);
    }
}
