//! Forms in a real server on both backends: the forms of enabled packs listed, rendered with
//! prefill from the patient's record, submitted as a browser would (form posts) and as FHIR
//! clients do (QuestionnaireResponse JSON), validated by the server with per-item messages,
//! stored whole with their Observations, amended and withdrawn with history kept.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::packs::*;
use support::{Backend, TestServer};

const FORM: &str = "greeter-visit";

async fn with_forms(backend: Backend) -> TestServer {
    greeter_enabled(backend, |_| {}).await
}

fn forms_url(server: &TestServer, rest: &str) -> String {
    format!("{}/t/acme/forms{rest}", server.origin)
}

/// A request as a clinician, with a body of `content_type` when given.
async fn clinician(
    server: &TestServer,
    method: Method,
    url: &str,
    body: Option<(&str, String)>,
    accept: &str,
) -> (u16, String) {
    let mut request = server
        .client
        .request(method, url)
        .bearer_auth(server.token("acme", &["clinician"]))
        .header("accept", accept);
    if let Some((content_type, body)) = body {
        request = request.header("content-type", content_type).body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn patient_with_weight(server: &TestServer) -> String {
    let fhir = server.fhir("acme");
    let patient = server
        .post(
            &format!("{fhir}/Patient"),
            &json!({"resourceType": "Patient", "birthDate": "1990-03-04", "gender": "female"}),
        )
        .await
        .expect(201)
        .location_id();
    for (value, when) in [(61.5, "2025-01-01"), (64.0, "2026-06-01")] {
        server
            .post(
                &format!("{fhir}/Observation"),
                &json!({"resourceType": "Observation", "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                    "subject": {"reference": format!("Patient/{patient}")},
                    "effectiveDateTime": when,
                    "valueQuantity": {"value": value, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}),
            )
            .await
            .expect(201);
    }
    patient
}

fn response(server: &TestServer, patient: &str, items: Value) -> Value {
    let _ = server;
    json!({"resourceType": "QuestionnaireResponse",
           "questionnaire": "urn:tessera:form:greeter-visit|1.0.0",
           "status": "completed", "authored": "2026-12-01T10:00:00+00:00",
           "subject": {"reference": format!("Patient/{patient}")},
           "item": items})
}

fn weight(kg: f64) -> Value {
    json!({"linkId": "weight", "answer": [{"valueQuantity": {"value": kg, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}]})
}

async fn forms_are_listed_rendered_and_prefilled(backend: Backend) {
    let server = with_forms(backend).await;
    let patient = patient_with_weight(&server).await;
    let (status, body) = clinician(
        &server,
        Method::GET,
        &forms_url(&server, ""),
        None,
        "application/json",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = list["forms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["greeter-visit", "greeting-survey"]);
    // Another tenant without the pack offers none.
    let other = server
        .client
        .get(format!("{}/t/globex/forms", server.origin))
        .bearer_auth(server.token("globex", &["clinician"]))
        .send()
        .await
        .unwrap();
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["forms"], json!([]));

    // The page: prefilled with the latest weight and the patient's age, labelled, scripted
    // from this origin only.
    let url = forms_url(&server, &format!("/{FORM}?patient={patient}"));
    let (status, html) = clinician(&server, Method::GET, &url, None, "text/html").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("value=\"64\""),
        "latest weight prefilled: {html}"
    );
    assert!(html.contains("<label"), "{html}");
    assert!(html.contains("/t/acme/forms/_assets/form.js"), "{html}");
    assert!(!html.contains("<script>"), "no inline script");
    let (_, hindi) = clinician(
        &server,
        Method::GET,
        &format!("{url}&locale=hi"),
        None,
        "text/html",
    )
    .await;
    assert!(
        hindi.contains("क्लिनिक जाँच") && hindi.contains("lang=\"hi\""),
        "{hindi}"
    );
    // The script itself, and the Questionnaire.
    let script = server
        .client
        .get(forms_url(&server, "/_assets/form.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status().as_u16(), 200);
    assert_eq!(script.text().await.unwrap(), tessera_forms::FORM_SCRIPT);
    let (status, q) = clinician(
        &server,
        Method::GET,
        &forms_url(&server, &format!("/{FORM}/Questionnaire")),
        None,
        "application/fhir+json",
    )
    .await;
    assert_eq!(status, 200);
    let q: Value = serde_json::from_str(&q).unwrap();
    assert_eq!(q["resourceType"], "Questionnaire");
    assert_eq!(q["version"], "1.0.0");
    // No patient, or an unknown form: a page saying what to do.
    let (status, html) = clinician(
        &server,
        Method::GET,
        &forms_url(&server, &format!("/{FORM}")),
        None,
        "text/html",
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("open a form for a patient"), "{html}");
    let (status, _) = clinician(
        &server,
        Method::GET,
        &forms_url(&server, &format!("/nope?patient={patient}")),
        None,
        "text/html",
    )
    .await;
    assert_eq!(status, 404);
    server.stop().await;
}

async fn submissions_are_validated_and_stored_whole(backend: Backend) {
    let server = with_forms(backend).await;
    let patient = patient_with_weight(&server).await;
    let submit_url = forms_url(&server, &format!("/{FORM}"));
    let observations_before = server.version_count("acme", "Observation").await;
    let json_post = |body: Value| {
        let url = submit_url.clone();
        let server = &server;
        async move {
            clinician(
                server,
                Method::POST,
                &url,
                Some(("application/fhir+json", body.to_string())),
                "application/fhir+json",
            )
            .await
        }
    };
    // Refused, item by item, and nothing stored.
    let cases = [
        (
            json!([{"linkId": "weight", "answer": [{"valueString": "heavy"}]}]),
            "weight",
        ),
        (json!([weight(900.0)]), "weight"),
        (
            json!([{"linkId": "height", "answer": [{"valueDecimal": 1.7}]}]),
            "weight",
        ),
        (
            json!([weight(70.0), {"linkId": "cigarettes", "answer": [{"valueInteger": 5}]}]),
            "cigarettes",
        ),
        (
            json!([weight(70.0), {"linkId": "smoker", "answer": [{"valueBoolean": true}]}]),
            "cigarettes",
        ),
        (
            json!([weight(70.0), {"linkId": "shoe-size", "answer": [{"valueInteger": 44}]}]),
            "shoe-size",
        ),
    ];
    for (items, link_id) in cases {
        let (status, body) = json_post(response(&server, &patient, items.clone())).await;
        assert_eq!(status, 422, "{items}: {body}");
        let outcome: Value = serde_json::from_str(&body).unwrap();
        assert!(
            outcome["issue"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["expression"][0]
                    .as_str()
                    .is_some_and(|e| e.contains(&format!("linkId='{link_id}'")))),
            "{items}: expected an issue at {link_id}: {body}"
        );
    }
    let mut wrong_version = response(&server, &patient, json!([weight(70.0)]));
    wrong_version["questionnaire"] = json!("urn:tessera:form:greeter-visit|0.9.0");
    let (status, body) = json_post(wrong_version).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("0.9.0"), "{body}");
    assert_eq!(
        server.version_count("acme", "QuestionnaireResponse").await,
        0
    );
    assert_eq!(
        server.version_count("acme", "Observation").await,
        observations_before
    );

    // Accepted: the response and its Observations in one transaction; BMI recomputed by
    // the server whatever the client sent.
    let good = response(
        &server,
        &patient,
        json!([weight(70.0), {"linkId": "height", "answer": [{"valueDecimal": 1.75}]},
               {"linkId": "bmi", "answer": [{"valueDecimal": 99.9}]},
               {"linkId": "notes", "answer": [{"valueString": "<b>fine</b>"}]}]),
    );
    let (status, body) = json_post(good).await;
    assert_eq!(status, 201, "{body}");
    let stored: Value = serde_json::from_str(&body).unwrap();
    let id = stored["id"].as_str().unwrap().to_string();
    let bmi = stored["item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["linkId"] == "bmi")
        .unwrap();
    assert_eq!(bmi["answer"][0]["valueDecimal"], json!(22.9));
    let extracted = server
        .get(&format!(
            "{}/Observation?derived-from=QuestionnaireResponse/{id}",
            server.fhir("acme")
        ))
        .await
        .expect(200);
    let codes: Vec<&str> = extracted.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 3, "{codes:?}");
    for code in ["29463-7", "8302-2", "39156-5"] {
        assert!(codes.contains(&code), "{codes:?}");
    }

    // The patient's responses.
    let (status, body) = clinician(
        &server,
        Method::GET,
        &forms_url(&server, &format!("/responses?patient={patient}")),
        None,
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(listed["total"], 1);

    // Amended: a new version, Observations brought in line (height removed → withdrawn).
    let mut amended = response(&server, &patient, json!([weight(72.0)]));
    amended["id"] = json!(id);
    let (status, body) = clinician(
        &server,
        Method::PUT,
        &forms_url(&server, &format!("/responses/{id}")),
        Some(("application/fhir+json", amended.to_string())),
        "application/fhir+json",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let now: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(now["status"], "amended");
    assert_eq!(now["meta"]["versionId"], "2");
    let after = server
        .get(&format!(
            "{}/Observation?derived-from=QuestionnaireResponse/{id}&_count=50",
            server.fhir("acme")
        ))
        .await
        .expect(200);
    let by_code = |code: &str| -> Vec<Value> {
        after.body["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"].clone())
            .filter(|o| o["code"]["coding"][0]["code"] == code)
            .collect()
    };
    assert_eq!(by_code("29463-7")[0]["status"], "amended");
    assert_eq!(
        by_code("29463-7")[0]["valueQuantity"]["value"].as_f64(),
        Some(72.0)
    );
    assert_eq!(by_code("8302-2")[0]["status"], "entered-in-error");

    // Withdrawn: everything entered-in-error, the history kept.
    let (status, body) = clinician(
        &server,
        Method::POST,
        &forms_url(&server, &format!("/responses/{id}/$entered-in-error")),
        None,
        "application/fhir+json",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let withdrawn: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(withdrawn["response"]["status"], "entered-in-error");
    assert!(withdrawn["observations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["status"] == "entered-in-error"));
    let history = server
        .get(&format!(
            "{}/QuestionnaireResponse/{id}/_history",
            server.fhir("acme")
        ))
        .await
        .expect(200);
    assert_eq!(history.body["entry"].as_array().unwrap().len(), 3);
    // A withdrawn response cannot be amended.
    let (status, _) = clinician(
        &server,
        Method::PUT,
        &forms_url(&server, &format!("/responses/{id}")),
        Some(("application/fhir+json", amended.to_string())),
        "application/fhir+json",
    )
    .await;
    assert_eq!(status, 409);

    // A role that may not write Observations stores nothing (the user's grant applies).
    let front_desk = server
        .client
        .post(&submit_url)
        .bearer_auth(server.token("acme", &["front-desk"]))
        .header("content-type", "application/fhir+json")
        .body(response(&server, &patient, json!([weight(70.0)])).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(front_desk.status().as_u16(), 403);
    server.stop().await;
}

/// What a browser without JavaScript does: a plain form post; errors come back on the page
/// with the answers kept and escaped.
async fn browser_posts_without_javascript(backend: Backend) {
    let server = with_forms(backend).await;
    let patient = patient_with_weight(&server).await;
    let url = forms_url(&server, &format!("/{FORM}"));
    let post = |fields: Vec<(&str, String)>| {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let (server, url) = (&server, url.clone());
        async move {
            clinician(
                server,
                Method::POST,
                &url,
                Some(("application/x-www-form-urlencoded", body)),
                "text/html",
            )
            .await
        }
    };
    let markup = "<script>alert(1)</script>";
    let (status, html) = post(vec![
        ("_patient", patient.clone()),
        ("weight", "999".into()),
        ("weight.unit", "kg".into()),
        ("notes", markup.into()),
    ])
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("role=\"alert\""), "an error summary: {html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped: {html}"
    );
    assert!(!html.contains(markup));
    assert_eq!(
        server.version_count("acme", "QuestionnaireResponse").await,
        0
    );
    // "Show follow-up questions" re-renders without storing.
    let (status, html) = post(vec![
        ("_patient", patient.clone()),
        ("smoker", "true".into()),
        ("_refresh", "1".into()),
    ])
    .await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(
        server.version_count("acme", "QuestionnaireResponse").await,
        0
    );
    let (status, html) = post(vec![
        ("_patient", patient.clone()),
        ("weight", "70".into()),
        ("weight.unit", "kg".into()),
        ("height", "1.70".into()),
    ])
    .await;
    assert_eq!(status, 201, "{html}");
    assert!(html.contains("QuestionnaireResponse/"), "{html}");
    assert_eq!(
        server.version_count("acme", "QuestionnaireResponse").await,
        1
    );
    server.stop().await;
}

/// The enabled packs' rules, evaluated on the patient's record: over the API and above the
/// form, and again after a submission changed the record.
async fn rules_raise_for_the_patient(backend: Backend) {
    let server = with_forms(backend).await;
    let patient = patient_with_weight(&server).await;
    let rules_url = format!("{}/t/acme/rules?patient={patient}", server.origin);
    let (status, body) =
        clinician(&server, Method::GET, &rules_url, None, "application/json").await;
    assert_eq!(status, 200, "{body}");
    let verdict: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(verdict["raised"], json!([]), "64 kg is not heavy");
    assert!(verdict["evaluated"].as_u64().unwrap() >= 1);
    let reply = server
        .client
        .post(forms_url(&server, &format!("/{FORM}")))
        .bearer_auth(server.token("acme", &["clinician"]))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body(format!("_patient={patient}&weight=120&weight.unit=kg"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 201);
    let page = reply.text().await.unwrap();
    assert!(
        page.contains("Weighs over 100 kg"),
        "raised on the page after saving: {page}"
    );
    let (_, body) = clinician(&server, Method::GET, &rules_url, None, "application/json").await;
    let verdict: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        verdict["raised"],
        json!([{"pack": "greeter", "rule": "heavy", "description": "Weighs over 100 kg"}])
    );
    let (_, html) = clinician(
        &server,
        Method::GET,
        &forms_url(&server, &format!("/{FORM}?patient={patient}")),
        None,
        "text/html",
    )
    .await;
    assert!(html.contains("Weighs over 100 kg"), "{html}");
    // No patient: a clear refusal.
    let (status, _) = clinician(
        &server,
        Method::GET,
        &format!("{}/t/acme/rules", server.origin),
        None,
        "application/json",
    )
    .await;
    assert_eq!(status, 400);
    server.stop().await;
}

/// The same in a real browser: prefill, live logic under the page's CSP, a refusal with
/// the answers kept, and the stored response.
async fn filled_in_a_browser(backend: Backend) {
    let Some(browser) = support::browser::Browser::get("forms_fill") else {
        return;
    };
    let server = with_forms(backend).await;
    let patient = patient_with_weight(&server).await;
    let password = server.local_user("cora", &["acme"], &["clinician"]).await;
    let report = browser
        .run(
            "forms_fill",
            &server.origin,
            &[
                ("TESSERA_TENANT", "acme".into()),
                ("TESSERA_FORM", FORM.into()),
                ("TESSERA_PATIENT", patient.clone()),
                ("TESSERA_USER", "cora".into()),
                ("TESSERA_USER_PASSWORD", password),
            ],
        )
        .await;
    let id = report["results"]["response"].as_str().unwrap().to_string();
    let stored = server
        .get(&format!(
            "{}/QuestionnaireResponse/{id}",
            server.fhir("acme")
        ))
        .await
        .expect(200);
    assert_eq!(
        stored.body["subject"]["reference"],
        format!("Patient/{patient}")
    );
    let answer = |link: &str| {
        stored.body["item"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["linkId"] == link)
            .map(|i| i["answer"][0].clone())
    };
    assert_eq!(
        answer("weight").unwrap()["valueQuantity"]["value"].as_f64(),
        Some(70.0)
    );
    assert_eq!(answer("bmi").unwrap()["valueDecimal"].as_f64(), Some(22.9));
    assert_eq!(answer("notes").unwrap()["valueString"], "<b>bold</b> claim");
    assert!(
        answer("cigarettes").is_none(),
        "a hidden item is not answered"
    );
    server.stop().await;
}

each_backend!(
    forms_are_listed_rendered_and_prefilled,
    submissions_are_validated_and_stored_whole,
    browser_posts_without_javascript,
    filled_in_a_browser,
    rules_raise_for_the_patient,
);
