//! `GET /t/{tenant}/admin/packs`: every installed pack with this organization's state —
//! enabled, disabled or not enabled, pinned, the version running, kind and publisher.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::session::{message_page, Admin};
use super::templates;
use crate::http::AppState;
use crate::packs::overview::PackOverview;

#[derive(Deserialize, Default)]
pub struct Notice {
    pub done: Option<String>,
    pub pack: Option<String>,
}

/// The state a pack is in for this tenant, as a word and as the page says it.
pub fn state_of(pack: &PackOverview) -> (&'static str, &'static str) {
    match pack.wide() {
        Some(w) if w.enabled => ("enabled", "Enabled"),
        Some(_) => ("disabled", "Disabled"),
        None => ("not-enabled", "Not enabled"),
    }
}

fn row(admin: &Admin, pack: &PackOverview) -> Value {
    let latest = pack.latest();
    let (state, state_label) = state_of(pack);
    let wide = pack.wide();
    json!({
        "id": pack.id,
        "url": admin.url(&format!("/packs/{}", pack.id)),
        "description": latest.manifest.description,
        "kind": latest.manifest.kind,
        "publisher": latest.manifest.publisher,
        "versions": pack.versions.iter().map(|v| v.version.to_string()).collect::<Vec<_>>().join(", "),
        "latest": latest.version.to_string(),
        "state": state,
        "state_label": state_label,
        "running": wide.filter(|w| w.enabled).and_then(|w| w.version.clone()),
        "kept": wide.filter(|w| !w.enabled).and_then(|w| w.version.clone()),
        "pinned": wide.is_some_and(|w| w.pinned),
    })
}

pub async fn page(
    State(state): State<AppState>,
    admin: Admin,
    Query(notice): Query<Notice>,
) -> Response {
    let packs = match state.packs.overview(&admin.tenant).await {
        Ok(packs) => packs,
        Err(e) => {
            return message_page(
                e.status,
                admin.chrome("Packs"),
                "The packs could not be listed",
                &e.message(),
            )
        }
    };
    let mut chrome = admin.chrome("Packs");
    // Only after removal does a change land here; the pack's name is checked to be one.
    if notice.done.as_deref() == Some("removed") {
        if let Some(pack) = notice
            .pack
            .filter(|p| tessera_plugins::manifest::is_pack_id(p))
        {
            chrome.notice = Some(format!(
                "{pack}'s settings, Location overrides and stored data are removed from {}.",
                admin.tenant
            ));
        }
    }
    templates::page(
        StatusCode::OK,
        "packs",
        &json!({
            "chrome": chrome,
            "packs": packs.iter().map(|p| row(&admin, p)).collect::<Vec<_>>(),
        }),
    )
}
