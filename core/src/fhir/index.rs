//! The search index, maintained in the same transaction as every write.
//!
//! For now it indexes the `identifier` token of every resource type, which is what
//! conditional create/update/delete and conditional references match on in practice.
//! The full R4 search-parameter registry (issue #3) extends this module.

use serde_json::Value;

use crate::db::TenantTx;

/// Replaces the index rows of `ty/id` with those of `resource` (None: the resource is gone).
pub async fn reindex(
    tx: &mut TenantTx,
    ty: &str,
    id: &str,
    had_rows: bool,
    resource: Option<&Value>,
) -> sqlx::Result<()> {
    let tenant = tx.tenant().to_string();
    if had_rows {
        sqlx::query("DELETE FROM search_token WHERE tenant_id = $1 AND resource_type = $2 AND resource_id = $3")
            .bind(&tenant)
            .bind(ty)
            .bind(id)
            .execute(tx.conn())
            .await?;
    }
    let Some(resource) = resource else {
        return Ok(());
    };
    let mut tokens = identifier_tokens(resource);
    tokens.sort();
    tokens.dedup();
    for (system, code) in tokens {
        sqlx::query(
            "INSERT INTO search_token (tenant_id, resource_type, resource_id, param, system, code) \
             VALUES ($1, $2, $3, 'identifier', $4, $5)",
        )
        .bind(&tenant)
        .bind(ty)
        .bind(id)
        .bind(system)
        .bind(code)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
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
