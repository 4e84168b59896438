//! Search behaviour on small, hand-made data: the parameter types Synthea lacks (number, uri,
//! reference `:identifier`, `_tag`/`_profile`/`_security`), strict and lenient handling,
//! POST `_search`, searches across types, `_summary`/`_elements`/`_total`, paging that stays
//! stable while others write, index maintenance on update and delete, tenant isolation and
//! `tessera reindex`.

mod support;

use serde_json::{json, Value};
use support::TestServer;

fn ids(bundle: &Value) -> Vec<String> {
    let mut ids: Vec<String> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn put(s: &TestServer, base: &str, resource: Value) {
    let ty = resource["resourceType"].as_str().unwrap();
    let id = resource["id"].as_str().unwrap();
    let reply = s.put(&format!("{base}/{ty}/{id}"), &resource).await;
    assert!(
        reply.status.is_success(),
        "{ty}/{id}: {} {}",
        reply.status,
        reply.body
    );
}

async fn found(s: &TestServer, base: &str, query: &str) -> Vec<String> {
    let reply = s.get(&format!("{base}/{query}")).await;
    assert_eq!(reply.status.as_u16(), 200, "{query}: {}", reply.body);
    ids(&reply.body)
}

fn v(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn parameter_types_and_modifiers(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    // number
    for (id, p) in [("r1", 0.2), ("r2", 0.25), ("r3", 0.7)] {
        put(
            s,
            &base,
            json!({"resourceType": "RiskAssessment", "id": id, "status": "final",
                   "subject": {"reference": "Patient/p1"},
                   "prediction": [{"probabilityDecimal": p}]}),
        )
        .await;
    }
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=0.2").await,
        v(&["r1"])
    );
    // `0.25` written with two decimals means [0.245, 0.255]; `0.2` means [0.15, 0.25).
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=0.25").await,
        v(&["r2"])
    );
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=gt0.2").await,
        v(&["r2", "r3"])
    );
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=ge0.25").await,
        v(&["r2", "r3"])
    );
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=lt0.25").await,
        v(&["r1"])
    );
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=le0.25").await,
        v(&["r1", "r2"])
    );
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=ne0.2").await,
        v(&["r2", "r3"])
    );
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=sa0.25").await,
        v(&["r3"])
    );
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=eb0.25").await,
        v(&["r1"])
    );
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=ap0.71").await,
        v(&["r3"])
    );
    assert_eq!(
        found(s, &base, "RiskAssessment?probability=0.2,0.7").await,
        v(&["r1", "r3"])
    );
    // AND by repetition.
    assert_eq!(
        found(
            s,
            &base,
            "RiskAssessment?probability=gt0.1&probability=lt0.5"
        )
        .await,
        v(&["r1", "r2"])
    );

    // composite token + token: an observation's code with its coded value
    for (id, value) in [("ob1", "pos"), ("ob2", "neg")] {
        put(
            s,
            &base,
            json!({"resourceType": "Observation", "id": id, "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "94500-6"}]},
                   "valueCodeableConcept": {"coding": [{"system": "urn:result", "code": value}]}}),
        )
        .await;
    }
    assert_eq!(
        found(
            s,
            &base,
            "Observation?code-value-concept=http://loinc.org|94500-6$urn:result|pos"
        )
        .await,
        v(&["ob1"])
    );
    assert_eq!(
        found(s, &base, "Observation?code-value-concept=94500-6$neg").await,
        v(&["ob2"])
    );
    assert_eq!(
        found(
            s,
            &base,
            "Observation?code-value-concept=94500-6$pos,94500-6$neg"
        )
        .await,
        v(&["ob1", "ob2"])
    );
    assert!(found(s, &base, "Observation?code-value-concept=other$pos")
        .await
        .is_empty());

    // uri with :below and :above
    for (id, url) in [
        ("v1", "http://example.org/fhir/ValueSet/a"),
        ("v2", "http://example.org/fhir/ValueSet/a/b"),
        ("v3", "http://other.org/ValueSet/a"),
    ] {
        put(
            s,
            &base,
            json!({"resourceType": "ValueSet", "id": id, "status": "active", "url": url}),
        )
        .await;
    }
    assert_eq!(
        found(s, &base, "ValueSet?url=http://example.org/fhir/ValueSet/a").await,
        v(&["v1"])
    );
    assert_eq!(
        found(s, &base, "ValueSet?url:below=http://example.org/fhir/").await,
        v(&["v1", "v2"])
    );
    assert_eq!(
        found(
            s,
            &base,
            "ValueSet?url:above=http://example.org/fhir/ValueSet/a/b/c"
        )
        .await,
        v(&["v1", "v2"])
    );

    // reference :identifier, _tag, _profile, _security, :missing, :not on tokens
    put(
        s,
        &base,
        json!({"resourceType": "Patient", "id": "p1", "gender": "female",
               "meta": {"tag": [{"system": "urn:t", "code": "vip"}],
                        "profile": ["http://example.org/StructureDefinition/my-patient"],
                        "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]},
               "managingOrganization": {"identifier": {"system": "urn:org", "value": "o-7"}}}),
    )
    .await;
    put(
        s,
        &base,
        json!({"resourceType": "Patient", "id": "p2", "birthDate": "1980-05"}),
    )
    .await;
    assert_eq!(
        found(s, &base, "Patient?organization:identifier=urn:org|o-7").await,
        v(&["p1"])
    );
    assert_eq!(found(s, &base, "Patient?_tag=urn:t|vip").await, v(&["p1"]));
    assert_eq!(
        found(
            s,
            &base,
            "Patient?_profile=http://example.org/StructureDefinition/my-patient"
        )
        .await,
        v(&["p1"])
    );
    assert_eq!(found(s, &base, "Patient?_security=R").await, v(&["p1"]));
    assert_eq!(
        found(s, &base, "Patient?gender:missing=true").await,
        v(&["p2"])
    );
    assert_eq!(
        found(s, &base, "Patient?gender:not=female").await,
        v(&["p2"])
    );
    // Partial dates are ranges: 1980-05 is within 1980, not equal to 1980-05-01.
    assert_eq!(found(s, &base, "Patient?birthdate=1980").await, v(&["p2"]));
    assert_eq!(
        found(s, &base, "Patient?birthdate=1980-05-01").await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(s, &base, "Patient?birthdate=ap1980-05-10").await,
        v(&["p2"])
    );
}

async fn handling_paging_and_shaping(s: &TestServer) {
    s.tenant("acme").await;
    s.tenant("beta").await;
    let base = s.fhir("acme");
    for n in 0..25 {
        put(
            s,
            &base,
            json!({"resourceType": "Patient", "id": format!("p{n:02}"), "active": true,
                   "name": [{"family": format!("Zed{n:02}"), "given": ["Amy"]}],
                   "photo": [{"url": "http://example.org/photo"}]}),
        )
        .await;
    }

    // Lenient by default: the unknown parameter is reported in an OperationOutcome entry.
    let reply = s
        .get(&format!("{base}/Patient?family=zed0&nickname=x&_count=100"))
        .await
        .expect(200);
    assert_eq!(ids(&reply.body).len(), 10);
    let outcome = reply.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["search"]["mode"] == "outcome")
        .expect("outcome entry");
    assert!(outcome["resource"]["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("nickname"));
    // Strict: 400 naming the parameter; malformed values too.
    for (query, name) in [
        ("family=zed&nickname=x", "nickname"),
        ("birthdate=yesterday", "birthdate"),
        ("_count=many", "_count"),
        ("family:fuzzy=z", "fuzzy"),
        ("general-practitioner.nope=x", "nope"),
    ] {
        let reply = s
            .request(
                reqwest::Method::GET,
                &format!("{base}/Patient?{query}"),
                None,
                &[("prefer", "handling=strict")],
            )
            .await
            .expect(400);
        let text = reply.body.to_string();
        assert!(text.contains(name), "{query}: {text}");
    }

    // Hostile sizes get a clear 400, never a database error.
    let many_values = (0..500)
        .map(|n| format!("x{n}"))
        .collect::<Vec<_>>()
        .join(",");
    let reply = s.get(&format!("{base}/Patient?family={many_values}")).await;
    assert_eq!(reply.status.as_u16(), 200, "lenient: ignored and reported");
    assert!(reply.body.to_string().contains("at most 100"));
    let many_params = (0..100)
        .map(|n| format!("family=x{n}"))
        .collect::<Vec<_>>()
        .join("&");
    s.get(&format!("{base}/Patient?{many_params}"))
        .await
        .expect(400)
        .outcome();

    // POST _search gives the same as GET.
    let posted = s
        .authed(reqwest::Method::POST, &format!("{base}/Patient/_search"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("family=zed1&_count=100")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let posted: Value = posted.json().await.unwrap();
    assert_eq!(
        ids(&posted),
        found(s, &base, "Patient?family=zed1&_count=100").await
    );

    // _summary=count, _summary=true, _elements, _total=none
    let count = s
        .get(&format!("{base}/Patient?family=zed&_summary=count"))
        .await
        .expect(200);
    assert_eq!(count.body["total"], 25);
    assert!(count.body.get("entry").is_none());
    let summary = s
        .get(&format!("{base}/Patient?_id=p01&_summary=true"))
        .await
        .expect(200);
    let p = &summary.body["entry"][0]["resource"];
    assert!(p.get("name").is_some() && p.get("photo").is_none());
    assert_eq!(p["meta"]["tag"][0]["code"], "SUBSETTED");
    let elements = s
        .get(&format!("{base}/Patient?_id=p01&_elements=active"))
        .await
        .expect(200);
    let p = &elements.body["entry"][0]["resource"];
    assert!(p.get("active").is_some() && p.get("name").is_none());
    let no_total = s
        .get(&format!("{base}/Patient?_total=none"))
        .await
        .expect(200);
    assert!(no_total.body.get("total").is_none());

    // Paging: previous/next stay correct while others write.
    let first = s
        .get(&format!(
            "{base}/Patient?family=zed&_sort=-family&_count=10"
        ))
        .await
        .expect(200);
    let first_ids: Vec<String> = first.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(first_ids[0], "p24");
    // Someone adds a patient that would sort first, and deletes nothing.
    put(
        s,
        &base,
        json!({"resourceType": "Patient", "id": "p99", "name": [{"family": "Zed99"}]}),
    )
    .await;
    let link = |b: &Value, rel: &str| {
        b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == rel)
            .map(|l| l["url"].as_str().unwrap().to_string())
    };
    let second = s.get(&link(&first.body, "next").unwrap()).await.expect(200);
    let second_ids: Vec<String> = second.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(second_ids[0], "p14", "no shift from the new patient");
    assert_eq!(second.body["total"], 25);
    let back = s
        .get(&link(&second.body, "previous").unwrap())
        .await
        .expect(200);
    assert_eq!(ids(&back.body), {
        let mut f = first_ids.clone();
        f.sort();
        f
    });
    let third = s
        .get(&link(&second.body, "next").unwrap())
        .await
        .expect(200);
    assert_eq!(ids(&third.body).len(), 5);
    assert!(link(&third.body, "next").is_none());
    // A page link does not work in another tenant.
    let other = link(&second.body, "self")
        .unwrap()
        .replace("/t/acme/", "/t/beta/");
    s.get(&other).await.expect(410);

    // Search across types, with _type.
    put(
        s,
        &base,
        json!({"resourceType": "Organization", "id": "o1", "name": "Zed Clinic"}),
    )
    .await;
    let all = s
        .get(&format!("{base}?_type=Patient,Organization&_id=o1,p01"))
        .await
        .expect(200);
    assert_eq!(ids(&all.body), v(&["o1", "p01"]));
    let strict_system = s
        .request(
            reqwest::Method::GET,
            &format!("{s_base}?name=zed", s_base = base),
            None,
            &[("prefer", "handling=strict")],
        )
        .await
        .expect(400);
    assert!(strict_system.body.to_string().contains("name"));

    // Updates and deletes keep the index current.
    put(
        s,
        &base,
        json!({"resourceType": "Patient", "id": "p01", "name": [{"family": "Renamed"}]}),
    )
    .await;
    assert!(!found(s, &base, "Patient?family=zed01")
        .await
        .contains(&"p01".to_string()));
    assert_eq!(found(s, &base, "Patient?family=renamed").await, v(&["p01"]));
    s.delete(&format!("{base}/Patient/p01")).await;
    assert!(found(s, &base, "Patient?family=renamed").await.is_empty());

    // Tenants are isolated: b sees none of a's patients.
    let b = s.fhir("beta");
    assert!(found(s, &b, "Patient?family=zed").await.is_empty());
    assert_eq!(
        s.get(&format!("{b}?_type=Patient&_summary=count"))
            .await
            .expect(200)
            .body["total"],
        0
    );
}

async fn reindex_rebuilds_a_lost_index(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    put(
        s,
        &base,
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Quill"}]}),
    )
    .await;
    // Lose the index rows (as if written by a build with other parameters).
    let mut tx = s
        .state()
        .db
        .tenant_tx(
            &tessera_core::auth::rbac::Grant::system("acme"),
            tessera_core::db::Access::Write,
        )
        .await
        .unwrap();
    sqlx::query("DELETE FROM search_index WHERE tenant_id = $1")
        .bind("acme")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(found(s, &base, "Patient?family=quill").await.is_empty());
    let report = tessera_core::reindex::reindex(&s.state().db, Some("acme"), false)
        .await
        .unwrap();
    assert_eq!(report.resources, 1);
    assert!(report.rows > 0);
    assert_eq!(found(s, &base, "Patient?family=quill").await, v(&["p1"]));
}

async fn everything_since_and_type(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    put(s, &base, json!({"resourceType": "Patient", "id": "p1"})).await;
    put(s, &base, json!({"resourceType": "Patient", "id": "p2"})).await;
    let obs = |id: &str, patient: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
               "code": {"text": "x"}, "subject": {"reference": format!("Patient/{patient}")}})
    };
    put(s, &base, obs("o1", "p1")).await;
    put(s, &base, obs("o2", "p2")).await;
    put(
        s,
        &base,
        json!({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}),
    )
    .await;
    let everything = s
        .get(&format!("{base}/Patient/p1/$everything"))
        .await
        .expect(200);
    assert_eq!(ids(&everything.body), v(&["c1", "o1", "p1"]));
    // _since: only what changed at or after the instant.
    let mark = s
        .get(&format!("{base}/Observation/o1"))
        .await
        .expect(200)
        .body["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_string();
    put(s, &base, obs("o3", "p1")).await;
    let since = s
        .get(&format!(
            "{base}/Patient/p1/$everything?_since={}",
            mark.replace('+', "%2B")
        ))
        .await
        .expect(200);
    assert_eq!(ids(&since.body), v(&["c1", "o1", "o3"]));
    let typed = s
        .get(&format!(
            "{base}/Patient/p1/$everything?_type=Observation&_count=1"
        ))
        .await
        .expect(200);
    assert_eq!(typed.body["total"], 2);
    assert_eq!(ids(&typed.body).len(), 1);
    assert!(typed.body["link"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["relation"] == "next"));
    // Unknown patients and parameters are refused clearly.
    s.get(&format!("{base}/Patient/nobody/$everything"))
        .await
        .expect(404)
        .outcome();
    s.get(&format!("{base}/Patient/p1/$everything?_since=soon"))
        .await
        .expect(400)
        .outcome();
    s.get(&format!("{base}/Patient/p1/Medication"))
        .await
        .expect(404)
        .outcome();
}

/// `Patient?_has:<type>:patient:...` reads the patients off the referring resources' index
/// rows; a resource naming several patients (an Appointment with two) is followed through
/// its references instead. Both must give what the references say.
async fn reverse_chains_through_each_patient(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    for id in ["ann", "bob", "cid"] {
        put(s, &base, json!({"resourceType": "Patient", "id": id})).await;
    }
    let appointment = |id: &str, status: &str, patients: &[&str]| {
        json!({"resourceType": "Appointment", "id": id, "status": status,
               "participant": patients.iter().map(|p| json!({"actor": {"reference": format!("Patient/{p}")}, "status": "accepted"})).collect::<Vec<_>>()})
    };
    put(s, &base, appointment("a1", "booked", &["ann", "bob"])).await;
    put(s, &base, appointment("a2", "booked", &["cid"])).await;
    put(s, &base, appointment("a3", "cancelled", &["cid", "ann"])).await;
    let observation = |id: &str, patient: &str, code: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
               "subject": {"reference": format!("Patient/{patient}")}})
    };
    put(s, &base, observation("o1", "bob", "8302-2")).await;
    put(s, &base, observation("o2", "cid", "8302-2")).await;
    put(s, &base, observation("o3", "ann", "29463-7")).await;
    assert_eq!(
        found(s, &base, "Patient?_has:Appointment:patient:status=booked").await,
        vec!["ann", "bob", "cid"]
    );
    assert_eq!(
        found(
            s,
            &base,
            "Patient?_has:Appointment:patient:status=cancelled"
        )
        .await,
        vec!["ann", "cid"]
    );
    assert_eq!(
        found(s, &base, "Patient?_has:Observation:patient:code=8302-2").await,
        vec!["bob", "cid"]
    );
    assert_eq!(
        found(
            s,
            &base,
            "Patient?_has:Observation:patient:code=http://loinc.org|29463-7"
        )
        .await,
        vec!["ann"]
    );
    // An update moves the row's patient; a deletion removes it.
    put(s, &base, observation("o3", "bob", "29463-7")).await;
    assert_eq!(
        found(s, &base, "Patient?_has:Observation:patient:code=29463-7").await,
        vec!["bob"]
    );
    s.delete(&format!("{base}/Observation/o3"))
        .await
        .expect(204);
    assert!(
        found(s, &base, "Patient?_has:Observation:patient:code=29463-7")
            .await
            .is_empty()
    );
    // Other forms of _has still work: a chain inside, or a reference other than `patient`.
    assert_eq!(
        found(s, &base, "Patient?_has:Observation:subject:code=8302-2").await,
        vec!["bob", "cid"]
    );
}

both_backends!(types_and_modifiers, parameter_types_and_modifiers);
both_backends!(reverse_chains, reverse_chains_through_each_patient);
both_backends!(everything, everything_since_and_type);
both_backends!(handling_and_paging, handling_paging_and_shaping);
both_backends!(reindex, reindex_rebuilds_a_lost_index);
