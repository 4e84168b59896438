//! Filling a form: the page (prefilled from the patient's record), its submission — a
//! browser's form post or a QuestionnaireResponse as JSON — and the form as a Questionnaire.
//! A submission is validated by the same engine and rules the browser ran, and stored whole
//! or not at all; refused answers come back item by item.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_forms::{Answers, ItemError, Locale, LogicContext, RenderInput, ResponseMeta};

use super::page::{self, Frame};
use super::{find_form, item_outcome, pick_locale, records};
use crate::fhir::outcome::FhirError;
use crate::fhir::validate::is_valid_id;
use crate::forms::catalog::CatalogForm;
use crate::forms::submissions::{self, Refusal};
use crate::forms::ClinicClock;
use crate::http::negotiate::FhirResponse;
use crate::http::{AppState, TenantContext};
use crate::rules::Raised;

#[derive(Deserialize, Default)]
pub struct FormQuery {
    patient: Option<String>,
    encounter: Option<String>,
    locale: Option<String>,
}

fn clock(state: &AppState) -> ClinicClock {
    // Checked when the configuration was loaded.
    ClinicClock::parse(&state.config.forms.utc_offset)
        .unwrap_or_else(|_| ClinicClock::parse("Z").expect("UTC parses"))
}

/// The patient and encounter a page is for, checked to be ids (they go into references).
fn subject(
    patient: Option<&str>,
    encounter: Option<&str>,
) -> Result<(String, Option<String>), FhirError> {
    let patient = patient.filter(|p| !p.is_empty()).ok_or_else(|| {
        FhirError::invalid("open a form for a patient: add ?patient=<Patient id> to the address")
    })?;
    if !is_valid_id(patient) {
        return Err(FhirError::invalid(format!(
            "{patient:?} is not a Patient id"
        )));
    }
    let encounter = encounter.filter(|e| !e.is_empty());
    if let Some(e) = encounter {
        if !is_valid_id(e) {
            return Err(FhirError::invalid(format!("{e:?} is not an Encounter id")));
        }
    }
    Ok((patient.to_string(), encounter.map(str::to_string)))
}

/// Everything a page of one form needs besides the answers.
struct PageContext<'a> {
    state: &'a AppState,
    ctx: &'a TenantContext,
    entry: &'a CatalogForm,
    locale: Locale,
    patient: String,
    encounter: Option<String>,
    logic: LogicContext,
    /// What the enabled packs' rules raise for the patient, shown above the form.
    alerts: Vec<Raised>,
}

impl PageContext<'_> {
    fn render(
        &self,
        status: StatusCode,
        answers: Option<Answers>,
        errors: Vec<ItemError>,
    ) -> Response {
        let form = &self.entry.form;
        let mut hidden = vec![
            ("_patient".to_string(), self.patient.clone()),
            ("_locale".to_string(), self.locale.tag().to_string()),
        ];
        if let Some(encounter) = &self.encounter {
            hidden.push(("_encounter".to_string(), encounter.clone()));
        }
        if let Some(csrf) = &self.ctx.csrf {
            hidden.push(("_csrf".to_string(), csrf.clone()));
        }
        let html = form.render(&RenderInput {
            locale: self.locale.clone(),
            action: format!("/t/{}/forms/{}", self.ctx.tenant, form.id()),
            hidden_fields: hidden,
            prefill: form.prefill(&self.logic),
            answers,
            errors,
            context: Some(self.logic.clone()),
            script_url: Some(format!("{}/form.js", page::assets_url(&self.ctx.tenant))),
            time_zone: clock(self.state).zone(),
            ..RenderInput::default()
        });
        page::page(
            status,
            &Frame {
                tenant: &self.ctx.tenant,
                title: &form.title(&self.locale),
                lang: self.locale.tag(),
                patient: Some(&self.patient),
                notice: None,
                alerts: &self.alerts,
            },
            &html,
        )
    }
}

async fn page_context<'a>(
    state: &'a AppState,
    ctx: &'a TenantContext,
    entry: &'a CatalogForm,
    locale: Locale,
    patient: String,
    encounter: Option<String>,
) -> Result<PageContext<'a>, FhirError> {
    let logic = records(state, ctx)
        .logic_context(&entry.form, Some(&patient), clock(state).today())
        .await?;
    let alerts = raised_for(state, ctx, &patient).await?;
    Ok(PageContext {
        state,
        ctx,
        entry,
        locale,
        patient,
        encounter,
        logic,
        alerts,
    })
}

/// What the rules of the tenant's packs raise for `patient`, read as the user.
async fn raised_for(
    state: &AppState,
    ctx: &TenantContext,
    patient: &str,
) -> Result<Vec<Raised>, FhirError> {
    let rules = state.packs.rules(&ctx.tenant).await?;
    crate::rules::evaluate(&records(state, ctx), &rules, patient, clock(state).today()).await
}

/// `GET /t/{t}/forms/{form}?patient=...`: the form, prefilled from the patient's record.
pub async fn show(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, form_id)): Path<(String, String)>,
    Query(query): Query<FormQuery>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let entry = find_form(&state, &ctx, &form_id).await?;
        let (patient, encounter) = subject(query.patient.as_deref(), query.encounter.as_deref())?;
        let locale = pick_locale(&state, query.locale.as_deref(), &headers);
        let page = page_context(&state, &ctx, &entry, locale, patient, encounter).await?;
        Ok::<_, FhirError>(page.render(StatusCode::OK, None, vec![]))
    }
    .await;
    result.unwrap_or_else(|err| page::error_page(&ctx.tenant, &err))
}

/// `GET /t/{t}/forms/{form}/Questionnaire`
pub async fn questionnaire(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, form_id)): Path<(String, String)>,
) -> Response {
    match find_form(&state, &ctx, &form_id).await {
        Ok(entry) => {
            FhirResponse::json(StatusCode::OK, &entry.form.to_questionnaire()).into_response()
        }
        Err(err) => err.into_response(),
    }
}

fn is_form_post(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `POST /t/{t}/forms/{form}`: a browser's form post (answered with pages) or a
/// QuestionnaireResponse as JSON (answered with FHIR).
pub async fn submit(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, form_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if is_form_post(&headers) {
        return submit_page(&state, &ctx, &form_id, &headers, &body)
            .await
            .unwrap_or_else(|err| page::error_page(&ctx.tenant, &err));
    }
    submit_json(&state, &ctx, &form_id, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn submit_page(
    state: &AppState,
    ctx: &TenantContext,
    form_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, FhirError> {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let entry = find_form(state, ctx, form_id).await?;
    let (patient, encounter) = subject(field("_patient"), field("_encounter"))?;
    let locale = pick_locale(state, field("_locale"), headers);
    let page = page_context(
        state,
        ctx,
        &entry,
        locale,
        patient.clone(),
        encounter.clone(),
    )
    .await?;
    let clock = clock(state);
    let response = entry.form.response_from_form_fields(
        &fields,
        &ResponseMeta {
            status: "completed".into(),
            authored: clock.now_fhir(),
            subject: Some(format!("Patient/{patient}")),
            encounter: encounter.map(|e| format!("Encounter/{e}")),
            time_zone: clock.zone(),
        },
    );
    // Without JavaScript, "show follow-up questions" asks for the page again with the
    // items the answers so far enable: nothing is stored.
    if field("_refresh").is_some() {
        return Ok(page.render(
            StatusCode::OK,
            Some(Answers::from_response(&response)),
            vec![],
        ));
    }
    let records = records(state, ctx);
    match submissions::submit(&records, &entry, &response, &page.logic, &page.locale).await {
        Ok(stored) => {
            let id = stored.response["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let body = page::fragment(
                "stored",
                &json!({
                    "response_id": id,
                    "response_href": format!("/t/{}/forms/responses/{id}", ctx.tenant),
                    "observations": stored.observations.len(),
                    "again": format!("/t/{}/forms/{}?patient={patient}", ctx.tenant, form_id),
                }),
            );
            let title = entry.form.title(&page.locale);
            // What the rules raise now that the answers are in the record.
            let alerts = raised_for(state, ctx, &patient).await?;
            Ok(page::page(
                StatusCode::CREATED,
                &Frame {
                    tenant: &ctx.tenant,
                    title: &title,
                    lang: page.locale.tag(),
                    patient: Some(&patient),
                    notice: Some("Saved."),
                    alerts: &alerts,
                },
                &body,
            ))
        }
        Err(Refusal::Items(errors)) => Ok(page.render(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(Answers::from_response(&response)),
            errors,
        )),
        Err(Refusal::Fhir(err)) => Err(err),
    }
}

async fn submit_json(
    state: &AppState,
    ctx: &TenantContext,
    form_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, FhirError> {
    let response: Value = serde_json::from_slice(body).map_err(|e| {
        FhirError::invalid(format!(
            "send a QuestionnaireResponse as JSON (or a form post): {e}"
        ))
    })?;
    if response["resourceType"] != "QuestionnaireResponse" {
        return Err(FhirError::invalid(
            "the body must be a QuestionnaireResponse",
        ));
    }
    let entry = find_form(state, ctx, form_id).await?;
    let locale = pick_locale(state, None, headers);
    let patient = match submissions::patient_of(&response) {
        Ok(p) => p,
        Err(Refusal::Items(errors)) => return Ok(item_outcome(&errors)),
        Err(Refusal::Fhir(err)) => return Err(err),
    };
    let records = records(state, ctx);
    let logic = records
        .logic_context(&entry.form, Some(&patient), clock(state).today())
        .await?;
    match submissions::submit(&records, &entry, &response, &logic, &locale).await {
        Ok(stored) => {
            let id = stored.response["id"].as_str().unwrap_or_default();
            let mut reply =
                FhirResponse::json(StatusCode::CREATED, &stored.response).into_response();
            if let Ok(location) = format!("{}/QuestionnaireResponse/{id}", ctx.fhir_base).parse() {
                reply.headers_mut().insert(header::LOCATION, location);
            }
            Ok(reply)
        }
        Err(Refusal::Items(errors)) => Ok(item_outcome(&errors)),
        Err(Refusal::Fhir(err)) => Err(err),
    }
}
