//! History at instance, type and tenant level with `_since`, `_count` and stable paging.

mod support;

use serde_json::{json, Value};
use support::TestServer;

/// Follows `next` links from `url`, returning every entry's `Type/id/vid`.
async fn walk_pages(s: &TestServer, url: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut next = Some(url.to_string());
    while let Some(url) = next {
        let page = s.get(&url).await.expect(200);
        for e in page.body["entry"].as_array().into_iter().flatten() {
            let etag = e["response"]["etag"].as_str().unwrap().to_string();
            seen.push(format!("{}|{etag}", e["fullUrl"].as_str().unwrap()));
        }
        next = page.body["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_string());
    }
    seen
}

async fn history_levels(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    for i in 0..5 {
        s.put(
            &format!("{base}/Patient/p{i}"),
            &json!({"resourceType": "Patient", "id": format!("p{i}")}),
        )
        .await
        .expect(201);
    }
    let mid = s.get(&format!("{base}/Patient/p4")).await.body["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..3 {
        s.post(
            &format!("{base}/Organization"),
            &json!({"resourceType": "Organization", "name": format!("O{i}")}),
        )
        .await
        .expect(201);
    }
    s.put(
        &format!("{base}/Patient/p0"),
        &json!({"resourceType": "Patient", "id": "p0", "active": true}),
    )
    .await
    .expect(200);

    let patients = s.get(&format!("{base}/Patient/_history")).await.expect(200);
    assert_eq!(patients.body["entry"].as_array().unwrap().len(), 6);
    assert_eq!(
        patients.body["entry"][0]["fullUrl"],
        format!("{base}/Patient/p0")
    );
    assert_eq!(patients.body["entry"][0]["response"]["etag"], "W/\"2\"");

    let all = s.get(&format!("{base}/_history")).await.expect(200);
    assert_eq!(all.body["entry"].as_array().unwrap().len(), 9);
    let times: Vec<&str> = all.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["lastModified"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );

    // _since is inclusive: p4 and everything after it.
    let since = s
        .get(&format!("{base}/_history?_since={}", urlencode(&mid)))
        .await
        .expect(200);
    assert_eq!(since.body["entry"].as_array().unwrap().len(), 5);
    s.get(&format!("{base}/_history?_since=yesterday"))
        .await
        .expect(400)
        .outcome();
    s.get(&format!("{base}/_history?_count=-1"))
        .await
        .expect(400)
        .outcome();
    s.get(&format!("{base}/Patient/nobody/_history"))
        .await
        .expect(404)
        .outcome();

    // Paging with _count covers each version exactly once.
    let paged = walk_pages(s, &format!("{base}/_history?_count=2")).await;
    assert_eq!(paged.len(), 9);
    let mut unique = paged.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 9);
    let first_page = s.get(&format!("{base}/_history?_count=2")).await;
    assert_eq!(first_page.body["entry"].as_array().unwrap().len(), 2);
    assert!(first_page.body["link"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["relation"] == "next"));
}
both_backends!(levels, history_levels);

async fn paging_is_stable_while_others_write(s: &TestServer) {
    s.tenant("acme").await;
    let base = s.fhir("acme");
    for i in 0..6 {
        s.post(
            &format!("{base}/Patient"),
            &json!({"resourceType": "Patient", "name": [{"family": format!("F{i}")}]}),
        )
        .await
        .expect(201);
    }
    let first = s
        .get(&format!("{base}/Patient/_history?_count=3"))
        .await
        .expect(200);
    let next = first.body["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    // Someone writes between the pages.
    for _ in 0..4 {
        s.post(
            &format!("{base}/Patient"),
            &json!({"resourceType": "Patient"}),
        )
        .await
        .expect(201);
    }
    let second = s.get(&next).await.expect(200);
    let ids = |b: &Value| {
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (a, b) = (ids(&first.body), ids(&second.body));
    assert_eq!(
        b.len(),
        3,
        "the second page holds the three oldest, not the new writes"
    );
    assert!(a.iter().all(|x| !b.contains(x)));
    let families: Vec<&str> = second.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["name"][0]["family"].as_str().unwrap())
        .collect();
    assert_eq!(families, vec!["F2", "F1", "F0"]);
}
both_backends!(stable_paging, paging_is_stable_while_others_write);

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
