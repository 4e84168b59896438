//! `GET|POST /t/{tenant}/admin/packs/{pack}/configure`: the enable-and-configure form of a
//! pack version — consent to its permissions when they differ from what was granted, the
//! configuration fields generated from its schema, secrets, enabled and pinned. Saving calls
//! the same `Packs::enable` as `PUT /api/admin/tenants/{t}/packs/{pack}`; a refusal shows
//! the form again with the admin's input and each error beside its field.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_plugins::manifest::RequestedPermissions;

use super::form::FormData;
use super::page::Problems;
use super::permissions;
use super::schema_form::{self, Raw, Scope};
use super::session::{message_page, Admin, PackPath};
use super::templates;
use crate::http::AppState;
use crate::packs::lifecycle::EnableRequest;
use crate::packs::overview::PackOverview;
use crate::packs::store::VersionRow;

#[derive(Deserialize, Default)]
pub struct Chosen {
    pub version: Option<String>,
}

/// Consent is asked for when the version requests anything not already granted as it is.
pub fn consent_needed(
    granted: Option<&RequestedPermissions>,
    requested: &RequestedPermissions,
) -> bool {
    *requested != RequestedPermissions::default() && granted != Some(requested)
}

/// The version whose form this is: the one named, else the one the tenant has, else the
/// latest release.
async fn target(
    state: &AppState,
    pack: &PackOverview,
    named: Option<&str>,
) -> Result<VersionRow, crate::fhir::outcome::FhirError> {
    let wanted = named
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .or_else(|| pack.wide().and_then(|w| w.version.clone()));
    state
        .packs
        .version_to_run(&pack.id, wanted.as_deref())
        .await
}

/// The form, empty or as posted (`posted`), with `problems` beside the fields.
async fn render(
    state: &AppState,
    admin: &Admin,
    pack: &PackOverview,
    version: &VersionRow,
    posted: Option<(&FormData, &Raw)>,
    problems: &Problems,
    status: StatusCode,
) -> Response {
    let wide = pack.wide();
    let manifest = &version.manifest;
    let fields = schema_form::fields(manifest, Scope::Tenant);
    let raw = match posted {
        Some((_, raw)) => raw.clone(),
        None => wide
            .map(|w| schema_form::raw_from_config(&fields, &w.config))
            .unwrap_or_default(),
    };
    let secrets_set = wide
        .map(|w| state.packs.secrets_set(&admin.tenant, w))
        .unwrap_or_default();
    let granted = wide.and_then(|w| w.granted.as_ref());
    let needs_consent = consent_needed(granted, &manifest.permissions);
    let enabled_now = wide.is_some_and(|w| w.enabled);
    let (enabled, pinned) = match posted {
        Some((form, _)) => (
            form.get("enabled") == Some("yes"),
            form.get("pinned") == Some("yes"),
        ),
        None => (true, wide.is_some_and(|w| w.pinned)),
    };
    let version_text = version.version.to_string();
    let title = if enabled_now {
        format!("Configure {}", pack.id)
    } else {
        format!("Enable {}", pack.id)
    };
    let mut chrome = admin.chrome(title.clone());
    chrome.errors = problems.links();
    let data = json!({
        "chrome": chrome,
        "heading": title,
        "pack": {"id": pack.id, "description": manifest.description},
        "version": version_text,
        "action": admin.url(&format!("/packs/{}/configure", pack.id)),
        "back": admin.url(&format!("/packs/{}", pack.id)),
        // The version is chosen before the form, since the form is that version's.
        "choose_version": !enabled_now && pack.versions.len() > 1,
        "versions": pack.versions.iter().rev().map(|v| json!({
            "value": v.version.to_string(),
            "label": v.version.to_string(),
            "selected": v.version == version.version,
        })).collect::<Vec<_>>(),
        "needs_consent": needs_consent,
        "consent": permissions::checkboxes(&pack.id, &manifest.permissions, posted.map(|(f, _)| f)),
        "consent_error": problems.about(super::page::CONSENT_FIELD),
        "granted": permissions::view(&pack.id, &manifest.permissions),
        "fields": schema_form::view(&fields, &raw, problems, &secrets_set, Scope::Tenant),
        "has_fields": !fields.is_empty(),
        "enabled": enabled,
        "pinned": pinned,
        "submit": if enabled_now { "Save" } else { "Save and enable" },
    });
    templates::page(status, "configure", &data)
}

pub async fn form(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
    Query(chosen): Query<Chosen>,
) -> Response {
    let pack = match admin.pack(&state, &pack).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    match target(&state, &pack, chosen.version.as_deref()).await {
        Ok(version) => {
            render(
                &state,
                &admin,
                &pack,
                &version,
                None,
                &Problems::default(),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => message_page(
            e.status,
            admin.chrome("Pack"),
            "No such version",
            &e.message(),
        ),
    }
}

pub async fn save(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
    form: FormData,
) -> Response {
    let pack = match admin.pack(&state, &pack).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let version = match target(&state, &pack, form.get("version")).await {
        Ok(v) => v,
        Err(e) => {
            return message_page(
                e.status,
                admin.chrome("Pack"),
                "No such version",
                &e.message(),
            )
        }
    };
    let fields = schema_form::fields(&version.manifest, Scope::Tenant);
    let mut problems = Problems::default();
    let parsed = schema_form::parse(&fields, &form, &mut problems);
    if !problems.is_empty() {
        return render(
            &state,
            &admin,
            &pack,
            &version,
            Some((&form, &parsed.raw)),
            &problems,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let was_enabled = pack.wide().is_some_and(|w| w.enabled);
    let enabled = form.get("enabled") == Some("yes");
    let request = EnableRequest {
        version: Some(version.version.to_string()),
        pinned: Some(form.get("pinned") == Some("yes")),
        enabled,
        config: Some(Value::Object(parsed.config)),
        secrets: (!parsed.secrets.is_empty()).then_some(parsed.secrets),
        consent: (form.get("consent_shown") == Some("yes"))
            .then(|| permissions::consent_from(&version.manifest.permissions, &form)),
    };
    match state
        .packs
        .enable(&admin.tenant, &pack.id, request, &admin.actor)
        .await
    {
        Ok(()) => {
            let done = if enabled && !was_enabled {
                "enabled"
            } else if !enabled && was_enabled {
                "disabled"
            } else {
                "saved"
            };
            Redirect::to(&admin.url(&format!("/packs/{}?done={done}", pack.id))).into_response()
        }
        Err(e) => {
            problems.add_error(&e, schema_form::field_of_expression);
            render(
                &state,
                &admin,
                &pack,
                &version,
                Some((&form, &parsed.raw)),
                &problems,
                e.status,
            )
            .await
        }
    }
}
