//! The pack page's actions, each a form post that calls the same lifecycle function as the
//! JSON API and then redirects back to the pack (POST-redirect-GET): disable, pin or unpin,
//! roll back, upgrade (to the latest release or a chosen version, with consent when the
//! permissions change) and remove (after a confirmation page). A refusal shows the page again
//! with the lifecycle's error.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::configure::consent_needed;
use super::form::FormData;
use super::pack_page;
use super::page::Problems;
use super::permissions;
use super::session::{message_page, Admin, PackPath};
use super::templates;
use crate::fhir::outcome::FhirError;
use crate::http::AppState;
use crate::packs::lifecycle::UpgradeRequest;
use crate::packs::overview::PackOverview;

/// Back to the pack's page, saying what was done.
fn done(admin: &Admin, pack: &str, what: &str) -> Response {
    Redirect::to(&admin.url(&format!("/packs/{pack}?done={what}"))).into_response()
}

/// The pack's page again, with the lifecycle's refusal in its error summary.
async fn refused(state: &AppState, admin: &Admin, pack: &str, error: &FhirError) -> Response {
    let mut problems = Problems::default();
    problems.add_error(error, |_| None);
    pack_page::render(state, admin, pack, None, &problems, error.status).await
}

pub async fn disable(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
) -> Response {
    match state
        .packs
        .disable(&admin.tenant, &pack, &admin.actor)
        .await
    {
        Ok(()) => done(&admin, &pack, "disabled"),
        Err(e) => refused(&state, &admin, &pack, &e).await,
    }
}

pub async fn pin(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
    form: FormData,
) -> Response {
    let pinned = match form.get("pinned") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            let e = FhirError::invalid("the form must say pinned=true or pinned=false");
            return refused(&state, &admin, &pack, &e).await;
        }
    };
    match state
        .packs
        .pin(&admin.tenant, &pack, pinned, &admin.actor)
        .await
    {
        Ok(()) => done(&admin, &pack, if pinned { "pinned" } else { "unpinned" }),
        Err(e) => refused(&state, &admin, &pack, &e).await,
    }
}

pub async fn rollback(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
) -> Response {
    match state
        .packs
        .rollback(&admin.tenant, &pack, &admin.actor)
        .await
    {
        Ok(_) => done(&admin, &pack, "rolled-back"),
        Err(e) => refused(&state, &admin, &pack, &e).await,
    }
}

#[derive(Deserialize, Default)]
pub struct Target {
    /// Empty or absent: the latest release.
    pub version: Option<String>,
}

/// The upgrade page: from what to what, what the permissions gain and lose, and the consent
/// boxes when they change.
async fn upgrade_page(
    state: &AppState,
    admin: &Admin,
    pack: &PackOverview,
    asked: &str,
    form: Option<&FormData>,
    problems: &Problems,
    status: StatusCode,
) -> Response {
    let Some(wide) = pack.wide() else {
        return message_page(
            StatusCode::CONFLICT,
            admin.chrome("Upgrade"),
            "Enable the pack first",
            &format!(
                "{} has never been enabled for {}; enable it at the version you want.",
                pack.id, admin.tenant
            ),
        );
    };
    let target = match state
        .packs
        .version_to_run(&pack.id, Some(asked).filter(|v| !v.is_empty()))
        .await
    {
        Ok(t) => t,
        Err(e) => {
            return message_page(
                e.status,
                admin.chrome("Upgrade"),
                "No such version",
                &e.message(),
            )
        }
    };
    let requested = &target.manifest.permissions;
    let granted = wide.granted.clone().unwrap_or_default();
    let (added, removed) = permissions::changes(&pack.id, &granted, requested);
    let title = format!("Move {} to {}", pack.id, target.version);
    let mut chrome = admin.chrome(title.clone());
    chrome.errors = problems.links();
    templates::page(
        status,
        "upgrade",
        &json!({
            "chrome": chrome,
            "heading": title,
            "pack": {"id": pack.id},
            "from": wide.version,
            "to": target.version.to_string(),
            "asked": asked,
            "latest": asked.is_empty(),
            "pinned": wide.pinned,
            "same": wide.version.as_deref() == Some(target.version.to_string().as_str()),
            "added": added,
            "removed": removed,
            "needs_consent": consent_needed(wide.granted.as_ref(), requested),
            "consent": permissions::checkboxes(&pack.id, requested, form),
            "consent_error": problems.about(super::page::CONSENT_FIELD),
            "action": admin.url(&format!("/packs/{}/upgrade", pack.id)),
            "back": admin.url(&format!("/packs/{}", pack.id)),
        }),
    )
}

pub async fn upgrade_form(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
    Query(target): Query<Target>,
) -> Response {
    let pack = match admin.pack(&state, &pack).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let asked = target.version.unwrap_or_default();
    upgrade_page(
        &state,
        &admin,
        &pack,
        &asked,
        None,
        &Problems::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn upgrade(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
    form: FormData,
) -> Response {
    let pack = match admin.pack(&state, &pack).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let asked = form.text("version").to_string();
    let version = Some(asked.clone()).filter(|v| !v.is_empty());
    let consent = if form.get("consent_shown") == Some("yes") {
        match state
            .packs
            .version_to_run(&pack.id, version.as_deref())
            .await
        {
            Ok(target) => Some(permissions::consent_from(
                &target.manifest.permissions,
                &form,
            )),
            Err(e) => return refused(&state, &admin, &pack.id, &e).await,
        }
    } else {
        None
    };
    match state
        .packs
        .upgrade(
            &admin.tenant,
            &pack.id,
            UpgradeRequest { version, consent },
            &admin.actor,
        )
        .await
    {
        Ok(_) => done(&admin, &pack.id, "upgraded"),
        Err(e) => {
            let mut problems = Problems::default();
            problems.add_error(&e, |_| None);
            upgrade_page(
                &state,
                &admin,
                &pack,
                &asked,
                Some(&form),
                &problems,
                e.status,
            )
            .await
        }
    }
}

pub async fn remove_form(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
) -> Response {
    let pack = match admin.pack(&state, &pack).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let title = format!("Remove {}'s settings", pack.id);
    templates::page(
        StatusCode::OK,
        "remove",
        &json!({
            "chrome": admin.chrome(title.clone()),
            "heading": title,
            "pack": {"id": pack.id},
            "tenant": admin.tenant,
            "locations": pack.setting.as_ref().map_or(0, |s| s.locations.len()),
            "action": admin.url(&format!("/packs/{}/remove", pack.id)),
            "back": admin.url(&format!("/packs/{}", pack.id)),
        }),
    )
}

pub async fn remove(
    State(state): State<AppState>,
    admin: Admin,
    PackPath(pack): PackPath,
    form: FormData,
) -> Response {
    if form.get("confirm") != Some("yes") {
        // Only the confirmation page's form says yes.
        return Redirect::to(&admin.url(&format!("/packs/{pack}/remove"))).into_response();
    }
    match state.packs.remove(&admin.tenant, &pack).await {
        Ok(()) => {
            Redirect::to(&admin.url(&format!("/packs?done=removed&pack={pack}"))).into_response()
        }
        Err(e) => refused(&state, &admin, &pack, &e).await,
    }
}
