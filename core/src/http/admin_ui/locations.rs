//! Location overrides of a pack: `GET .../locations?location=X` finds (or starts) the
//! override of Location X; `GET|POST .../locations/{location}` shows and saves it (enabled or
//! disabled there, configuration keys that differ from the tenant's; secrets stay
//! tenant-wide); `POST .../locations/{location}/delete` deletes it. Saving and deleting call
//! the same lifecycle functions as `PUT`/`DELETE /api/admin/tenants/{t}/packs/{p}/locations/{l}`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::form::FormData;
use super::pack_page;
use super::page::Problems;
use super::schema_form::{self, Raw, Scope};
use super::session::{message_page, Admin, LocationPath, PackPath};
use super::templates;
use crate::http::AppState;
use crate::packs::lifecycle::{check_location_id, LocationRequest};

#[derive(Deserialize, Default)]
pub struct Pick {
    pub location: Option<String>,
}

/// The id field on the pack's page, where an invalid id is reported.
const LOCATION_FIELD: &str = "location-id";

pub async fn pick(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
    Query(pick): Query<Pick>,
) -> Response {
    let location = pick.location.unwrap_or_default();
    let location = location.trim();
    if let Err(e) = check_location_id(location) {
        let mut problems = Problems::default();
        problems.add(
            Some(LOCATION_FIELD),
            format!(
                "{} Use the id of the Location resource: letters, digits, '-' and '.', at most 64.",
                e.message()
            ),
        );
        return pack_page::render(
            &state,
            &admin,
            &pack,
            None,
            &problems,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    Redirect::to(&admin.url(&format!("/packs/{pack}/locations/{location}"))).into_response()
}

async fn render(
    state: &AppState,
    admin: &Admin,
    path: &LocationPath,
    posted: Option<(&FormData, &Raw)>,
    problems: &Problems,
    status: StatusCode,
) -> Response {
    let pack = match admin.pack(state, &path.pack).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    if pack.wide().is_none() {
        return message_page(
            StatusCode::CONFLICT,
            admin.chrome("Location override"),
            "Enable the pack first",
            &format!(
                "{} has no settings in {} yet; a Location can only differ from them.",
                pack.id, admin.tenant
            ),
        );
    }
    let manifest = &pack.current().manifest;
    let fields = schema_form::fields(manifest, Scope::Location);
    let existing = pack
        .setting
        .as_ref()
        .and_then(|s| s.locations.get(&path.location));
    let raw = match posted {
        Some((_, raw)) => raw.clone(),
        None => existing
            .map(|row| schema_form::raw_from_config(&fields, &row.config))
            .unwrap_or_default(),
    };
    let enabled = match posted {
        Some((form, _)) => form.get("enabled") != Some("false"),
        None => existing.is_none_or(|row| row.enabled),
    };
    let title = format!("{} at Location {}", pack.id, path.location);
    let mut chrome = admin.chrome(title.clone());
    chrome.errors = problems.links();
    templates::page(
        status,
        "location",
        &json!({
            "chrome": chrome,
            "heading": title,
            "pack": {"id": pack.id},
            "location": path.location,
            "exists": existing.is_some(),
            "enabled": enabled,
            "fields": schema_form::view(&fields, &raw, problems, &[], Scope::Location),
            "has_fields": !fields.is_empty(),
            "action": admin.url(&format!("/packs/{}/locations/{}", pack.id, path.location)),
            "delete": admin.url(&format!("/packs/{}/locations/{}/delete", pack.id, path.location)),
            "back": admin.url(&format!("/packs/{}", pack.id)),
        }),
    )
}

pub async fn form(State(state): State<AppState>, admin: Admin, path: LocationPath) -> Response {
    render(
        &state,
        &admin,
        &path,
        None,
        &Problems::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn save(
    State(state): State<AppState>,
    admin: Admin,
    path: LocationPath,
    form: FormData,
) -> Response {
    let manifest = match admin.pack(&state, &path.pack).await {
        Ok(p) => p.current().manifest.clone(),
        Err(page) => return page,
    };
    let fields = schema_form::fields(&manifest, Scope::Location);
    let mut problems = Problems::default();
    let parsed = schema_form::parse(&fields, &form, &mut problems);
    if !problems.is_empty() {
        return render(
            &state,
            &admin,
            &path,
            Some((&form, &parsed.raw)),
            &problems,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let request = LocationRequest {
        enabled: form.get("enabled") != Some("false"),
        config: parsed.config,
    };
    match state
        .packs
        .set_location(
            &admin.tenant,
            &path.pack,
            &path.location,
            request,
            &admin.actor,
        )
        .await
    {
        Ok(()) => Redirect::to(&admin.url(&format!("/packs/{}?done=location-saved", path.pack)))
            .into_response(),
        Err(e) => {
            problems.add_error(&e, schema_form::field_of_expression);
            render(
                &state,
                &admin,
                &path,
                Some((&form, &parsed.raw)),
                &problems,
                e.status,
            )
            .await
        }
    }
}

pub async fn delete(State(state): State<AppState>, admin: Admin, path: LocationPath) -> Response {
    match state
        .packs
        .clear_location(&admin.tenant, &path.pack, &path.location)
        .await
    {
        Ok(()) => Redirect::to(&admin.url(&format!("/packs/{}?done=location-deleted", path.pack)))
            .into_response(),
        Err(e) => {
            let mut problems = Problems::default();
            problems.add_error(&e, |_| None);
            pack_page::render(&state, &admin, &path.pack, None, &problems, e.status).await
        }
    }
}
