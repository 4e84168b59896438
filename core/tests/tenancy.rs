//! Tenant isolation: over HTTP on both backends, and on PostgreSQL at the database itself —
//! row-level security confines even a query that forgot its tenant filter.

mod support;

use serde_json::json;
use sqlx::{Connection, Executor, Row};
use support::{Backend, TestServer};
use tessera_core::auth::rbac::Grant;
use tessera_core::db::Access;

async fn cross_tenant_access(s: &TestServer) {
    s.tenant("alpha").await;
    s.tenant("beta").await;
    let alpha = s.fhir("alpha");
    let beta = s.fhir("beta");
    let secret = json!({"resourceType": "Patient", "name": [{"family": "AlphaOnly"}], "identifier": [{"system": "s", "value": "A1"}]});
    let created = s
        .post(&format!("{alpha}/Patient"), &secret)
        .await
        .expect(201);
    let id = created.location_id();

    // Read, vread, history, patch and delete through the other tenant: 404, nothing revealed.
    for url in [
        format!("{beta}/Patient/{id}"),
        format!("{beta}/Patient/{id}/_history/1"),
        format!("{beta}/Patient/{id}/_history"),
    ] {
        let reply = s.get(&url).await.expect(404);
        assert!(!reply.body.to_string().contains("AlphaOnly"));
    }
    let patch = json!([{"op": "replace", "path": "/name/0/family", "value": "Hacked"}]);
    s.request(
        reqwest::Method::PATCH,
        &format!("{beta}/Patient/{id}"),
        Some(&patch),
        &[],
    )
    .await
    .expect(404);
    s.delete(&format!("{beta}/Patient/{id}")).await.expect(404);
    s.delete(&format!("{beta}/Patient?identifier=s|A1"))
        .await
        .expect(200);
    let search = s
        .get(&format!("{beta}/Patient?identifier=s|A1"))
        .await
        .expect(200);
    assert_eq!(search.body["total"], 0);
    let history = s.get(&format!("{beta}/_history")).await.expect(200);
    assert!(history
        .body
        .get("entry")
        .is_none_or(|e| e.as_array().unwrap().is_empty()));

    // PUT to that id from the other tenant creates that tenant's own resource (ids are
    // per-tenant); alpha's resource is untouched.
    s.put(
        &format!("{beta}/Patient/{id}"),
        &json!({"resourceType": "Patient", "id": id, "name": [{"family": "Beta"}]}),
    )
    .await
    .expect(201);
    let still = s.get(&format!("{alpha}/Patient/{id}")).await.expect(200);
    assert_eq!(still.body, created.body);

    // A transaction in beta cannot reach alpha's data either.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "DELETE", "url": format!("Patient?identifier=s|A1")}},
    ]});
    s.post(&beta, &bundle).await.expect(200);
    s.get(&format!("{alpha}/Patient/{id}")).await.expect(200);
}
both_backends!(cross_tenant, cross_tenant_access);

/// On PostgreSQL the server's role does not own the tables and is bound by RLS.
#[tokio::test]
async fn postgres_row_level_security_confines_unfiltered_queries() {
    let s = TestServer::start(Backend::Postgres).await;
    s.tenant("alpha").await;
    s.tenant("beta").await;
    for (tenant, n) in [("alpha", 3), ("beta", 2)] {
        for _ in 0..n {
            s.post(
                &format!("{}/Patient", s.fhir(tenant)),
                &json!({"resourceType": "Patient"}),
            )
            .await
            .expect(201);
        }
    }
    let db = &s.state().db;

    // A query with no tenant filter at all, inside alpha's transaction.
    let mut tx = db
        .tenant_tx(&Grant::system("alpha"), Access::Read)
        .await
        .unwrap();
    let rows = sqlx::query("SELECT tenant_id FROM resources")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.get::<String, _>(0) == "alpha"));
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM resource_history")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(history, 3);
    drop(tx);

    // Writing a row for another tenant from alpha's transaction is refused by the policy.
    let mut tx = db
        .tenant_tx(&Grant::system("alpha"), Access::Write)
        .await
        .unwrap();
    let smuggled = sqlx::query("INSERT INTO resources (tenant_id, resource_type, id, version_id, last_updated, deleted, content) VALUES ('beta', 'Patient', 'x', 1, 0, 0, '{}')")
        .execute(tx.conn())
        .await;
    assert!(smuggled.is_err(), "RLS must refuse rows for another tenant");
    drop(tx);

    // The single-statement functions bind their own tenant...
    let mut one = db
        .tenant_tx(&Grant::system("alpha"), Access::SingleStatementRead)
        .await
        .unwrap();
    let alpha_id: String = sqlx::query_scalar("SELECT id FROM resource_history LIMIT 1")
        .fetch_optional(one.conn())
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        alpha_id.is_empty(),
        "outside a bound transaction a plain query sees nothing"
    );
    drop(one);
    let mut tx = db
        .tenant_tx(&Grant::system("alpha"), Access::Read)
        .await
        .unwrap();
    let some_alpha: String = sqlx::query_scalar("SELECT id FROM resources LIMIT 1")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    drop(tx);
    let mut one = db
        .tenant_tx(&Grant::system("alpha"), Access::SingleStatementRead)
        .await
        .unwrap();
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM tessera_current('alpha', 'Patient', $1)")
            .bind(&some_alpha)
            .fetch_optional(one.conn())
            .await
            .unwrap();
    assert_eq!(found.as_deref(), Some(some_alpha.as_str()));
    drop(one);
    // ...and refuse to re-bind a transaction already bound to another tenant.
    let mut tx = db
        .tenant_tx(&Grant::system("beta"), Access::Read)
        .await
        .unwrap();
    let rebound = sqlx::query("SELECT * FROM tessera_current('alpha', 'Patient', $1)")
        .bind(&some_alpha)
        .fetch_all(tx.conn())
        .await;
    assert!(
        rebound.is_err(),
        "a beta transaction must not read alpha through the functions"
    );
    drop(tx);

    // Without a tenant set, the server's role sees nothing.
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM resources")
        .fetch_one(db.reader())
        .await
        .unwrap();
    assert_eq!(none, 0);

    // The role is neither owner nor superuser, and cannot switch RLS off.
    let mut conn = db.reader().acquire().await.unwrap();
    let row = sqlx::query("SELECT current_user::text, r.rolsuper, r.rolbypassrls, (SELECT tableowner::text FROM pg_tables WHERE tablename = 'resources') FROM pg_roles r WHERE r.rolname = current_user")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let (user, superuser, bypass, owner): (String, bool, bool, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(user, "tessera_app");
    assert!(!superuser && !bypass);
    assert_ne!(owner, user);
    assert!(conn
        .execute("ALTER TABLE resources DISABLE ROW LEVEL SECURITY")
        .await
        .is_err());
    drop(conn);

    // The same unfiltered query as the owner sees both tenants: the policy, not the query, isolates.
    let mut url = url::Url::parse(s.config.database.url.as_deref().unwrap()).unwrap();
    url.set_username("postgres").unwrap();
    let mut owner_conn = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
    owner_conn.execute("SET row_security = off").await.unwrap();
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM resources")
        .fetch_one(&mut owner_conn)
        .await
        .unwrap();
    assert_eq!(all, 5);
    owner_conn.close().await.unwrap();
    s.stop().await;
}
