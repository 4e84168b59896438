//! `GET /t/{tenant}/admin/packs/{pack}`: one pack — description, state, versions, what it
//! registers, the permissions it requests and those granted, its configuration (secrets only
//! as "set"/"not set"), Location overrides, and the actions that fit its state. The one-button
//! actions (`actions.rs`) show this page again with the error when the lifecycle refuses.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::packs_list::state_of;
use super::page::Problems;
use super::permissions;
use super::session::{Admin, PackPath};
use super::templates;
use crate::http::AppState;
use crate::packs::overview::PackOverview;

#[derive(Deserialize, Default)]
pub struct Done {
    pub done: Option<String>,
}

/// The notice after a change, worded from the pack's state now. Unknown codes say nothing.
fn notice(done: &str, pack: &PackOverview) -> Option<String> {
    let id = &pack.id;
    let version = pack
        .wide()
        .and_then(|w| w.version.clone())
        .unwrap_or_default();
    Some(match done {
        "enabled" => format!("{id} is enabled at {version}."),
        "saved" => format!("{id}'s settings are saved."),
        "disabled" => {
            format!("{id} is disabled: its routes are gone; its settings and data are kept.")
        }
        "pinned" => format!("{id} is pinned at {version}: it moves only to a version you name."),
        "unpinned" => format!("{id} is no longer pinned."),
        "upgraded" => format!("{id} now runs {version}."),
        "rolled-back" => format!("{id} is rolled back to {version}, and pinned there."),
        "location-saved" => "The Location override is saved.".to_string(),
        "location-deleted" => "The Location override is deleted.".to_string(),
        _ => return None,
    })
}

fn config_lines(config: &Value) -> Vec<Value> {
    config
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, value)| {
                    let shown = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    json!({"name": name, "value": shown})
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn registers(state: &AppState, tenant: &str, pack: &str, version: &str) -> Value {
    match state.packs.loaded(pack, version).await {
        Ok(loaded) => {
            let r = &loaded.registration;
            let search_parameters: Vec<Value> = r
                .search_parameters
                .iter()
                .map(|p| {
                    json!({
                        "code": p.get("code").and_then(Value::as_str).unwrap_or("?"),
                        "base": p.get("base").map(|b| b.to_string()).unwrap_or_default(),
                        "description": p.get("description").and_then(Value::as_str).unwrap_or(""),
                    })
                })
                .collect();
            let empty = r.routes.is_empty()
                && r.forms.is_empty()
                && r.rules.is_empty()
                && r.outbound.is_empty()
                && r.webhooks.is_empty()
                && r.subscriptions.is_empty()
                && r.search_parameters.is_empty()
                && r.identifier_systems.is_empty();
            json!({
                "error": null,
                "empty": empty,
                "routes": r.routes.iter().map(|route| json!({
                    "methods": route.methods.join(", "),
                    "path": format!("/t/{tenant}/packs/{pack}{}", route.path),
                    "permission": route.permission.as_ref().map(|p| format!("{} {}", p.target, p.action)),
                })).collect::<Vec<_>>(),
                "forms": r.forms.iter().map(|f| json!({"id": f.id})).collect::<Vec<_>>(),
                "rules": r.rules.iter().map(|x| json!({"id": x.id, "description": x.description})).collect::<Vec<_>>(),
                "outbound": r.outbound.iter().map(|e| json!({"name": e.name, "url": e.url})).collect::<Vec<_>>(),
                "webhooks": r.webhooks.iter().map(|w| json!({
                    "name": w.name,
                    "methods": w.methods.join(", "),
                    "path": format!("/t/{tenant}/packs/{pack}/_hooks/{}", w.name),
                })).collect::<Vec<_>>(),
                "subscriptions": r.subscriptions.iter().map(|s| json!({
                    "resource_type": s.resource_type,
                    "interactions": s.interactions.join(", "),
                })).collect::<Vec<_>>(),
                "search_parameters": search_parameters,
                "identifier_systems": r.identifier_systems.iter().map(|i| json!({
                    "system": i.system,
                    "description": i.description,
                })).collect::<Vec<_>>(),
            })
        }
        Err(e) => json!({
            "error": e.message(),
            "empty": true,
            "routes": [], "forms": [], "rules": [], "outbound": [], "webhooks": [],
            "subscriptions": [], "search_parameters": [], "identifier_systems": [],
        }),
    }
}

/// The pack's page, with a notice or the errors of a refused action.
pub async fn render(
    state: &AppState,
    admin: &Admin,
    pack_id: &str,
    done: Option<&str>,
    problems: &Problems,
    status: StatusCode,
) -> Response {
    let pack = match admin.pack(state, pack_id).await {
        Ok(pack) => pack,
        Err(page) => return page,
    };
    let current = pack.current();
    let shown_version = current.version.to_string();
    let manifest = &current.manifest;
    let wide = pack.wide();
    let (state_word, state_label) = state_of(&pack);
    let mut chrome = admin.chrome(pack.id.clone());
    chrome.notice = done.and_then(|d| notice(d, &pack));
    chrome.errors = problems.links();
    let granted = wide.and_then(|w| w.granted.clone());
    let granted_differs = granted.as_ref().is_some_and(|g| *g != manifest.permissions);
    let secret_fields = manifest.secret_fields();
    let secrets_set = wide
        .map(|w| state.packs.secrets_set(&admin.tenant, w))
        .unwrap_or_default();
    let latest_release = pack
        .versions
        .iter()
        .filter(|v| v.version.pre.is_empty())
        .max_by(|a, b| a.version.cmp(&b.version))
        .unwrap_or_else(|| pack.latest());
    let upgrade_options: Vec<Value> = std::iter::once(json!({
        "value": "",
        "label": format!("The latest release ({})", latest_release.version),
    }))
    .chain(
        pack.versions
            .iter()
            .rev()
            .filter(|v| Some(v.version.to_string()) != wide.and_then(|w| w.version.clone()))
            .map(|v| json!({"value": v.version.to_string(), "label": v.version.to_string()})),
    )
    .collect();
    let locations: Vec<Value> = pack
        .setting
        .as_ref()
        .map(|s| {
            s.locations
                .iter()
                .map(|(id, row)| {
                    json!({
                        "id": id,
                        "enabled": row.enabled,
                        "config": config_lines(&row.config),
                        "edit_url": admin.url(&format!("/packs/{}/locations/{id}", pack.id)),
                        "delete_url": admin.url(&format!("/packs/{}/locations/{id}/delete", pack.id)),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let data = json!({
        "chrome": chrome,
        "pack": {
            "id": pack.id,
            "description": manifest.description,
            "kind": manifest.kind,
            "publisher": manifest.publisher,
            "state": state_word,
            "state_label": state_label,
            "enabled": wide.is_some_and(|w| w.enabled),
            "known": wide.is_some(),
            "version": wide.and_then(|w| w.version.clone()),
            "previous_version": wide.and_then(|w| w.previous_version.clone()),
            "pinned": wide.is_some_and(|w| w.pinned),
            "latest": pack.latest().version.to_string(),
            "updated_at": wide.map(|w| w.updated_at.clone()),
            "updated_by": wide.map(|w| w.updated_by.clone()),
            "dependencies": manifest.dependencies.iter().map(|(id, range)| json!({"id": id, "range": range.to_string()})).collect::<Vec<_>>(),
            "locales": manifest.locales.join(", "),
        },
        "urls": {
            "configure": admin.url(&format!("/packs/{}/configure", pack.id)),
            "disable": admin.url(&format!("/packs/{}/disable", pack.id)),
            "pin": admin.url(&format!("/packs/{}/pin", pack.id)),
            "upgrade": admin.url(&format!("/packs/{}/upgrade", pack.id)),
            "rollback": admin.url(&format!("/packs/{}/rollback", pack.id)),
            "remove": admin.url(&format!("/packs/{}/remove", pack.id)),
            "locations": admin.url(&format!("/packs/{}/locations", pack.id)),
            "list": admin.url("/packs"),
        },
        "shown_version": shown_version,
        "upgrade_options": upgrade_options,
        "can_upgrade": wide.is_some() && pack.versions.len() > 1,
        "permissions": permissions::view(&pack.id, &manifest.permissions),
        "granted_differs": granted_differs,
        "granted": granted.as_ref().map(|g| permissions::view(&pack.id, g)),
        "config": wide.map(|w| config_lines(&w.config)).unwrap_or_default(),
        "secrets": secret_fields.iter().map(|name| json!({"name": name, "set": secrets_set.contains(name)})).collect::<Vec<_>>(),
        "registers": registers(state, &admin.tenant, &pack.id, &shown_version).await,
        "versions": pack.versions.iter().rev().map(|v| json!({
            "version": v.version.to_string(),
            "installed_at": v.installed_at,
            "installed_by": v.installed_by,
            "signed_by": v.trust,
            "abi": v.manifest.abi.to_string(),
            "hash": v.content_hash.chars().take(16).collect::<String>(),
            "running": Some(v.version.to_string()) == wide.and_then(|w| w.version.clone()),
        })).collect::<Vec<_>>(),
        "locations": locations,
        "location_error": problems.about("location-id"),
    });
    templates::page(status, "pack", &data)
}

pub async fn page(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
    Query(done): Query<Done>,
) -> Response {
    render(
        &state,
        &admin,
        &pack,
        done.done.as_deref(),
        &Problems::default(),
        StatusCode::OK,
    )
    .await
}
