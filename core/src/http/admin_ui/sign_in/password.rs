//! `POST /t/{tenant}/admin/password`: replaces a local account's one-time password (the
//! current one must be right; the new one twice, at least 12 characters), then signs in.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::forms::{password_page, sign_in_page, SignInView};
use super::start::start_session;
use super::{posted, sentence, Posted};
use crate::auth::users::{LocalUsers, LoginError, MIN_PASSWORD};
use crate::http::admin_ui::form::FormData;
use crate::http::admin_ui::page::Problems;
use crate::http::local_auth::audit_local;
use crate::http::AppState;

pub async fn password(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: FormData,
) -> Response {
    let Posted {
        target,
        token,
        username,
    } = match posted(&tenant, &headers, &form) {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let (current, new, confirm) = (
        form.text("password"),
        form.text("new_password"),
        form.text("confirm_password"),
    );
    let mut problems = Problems::default();
    if current.is_empty() {
        problems.add(
            Some("password"),
            "Enter the one-time password you were given.",
        );
    }
    if new.chars().count() < MIN_PASSWORD {
        problems.add(
            Some("new_password"),
            format!("Choose a new password of at least {MIN_PASSWORD} characters."),
        );
    } else if new != confirm {
        problems.add(
            Some("confirm_password"),
            "Enter the same new password twice.",
        );
    }
    let render = |problems: &Problems, status| {
        password_page(
            &state,
            SignInView {
                tenant: &tenant,
                return_to: &target,
                token: &token,
                username: &username,
                problems,
                notice: None,
            },
            status,
        )
    };
    if !problems.is_empty() {
        return render(&problems, StatusCode::BAD_REQUEST);
    }
    let users = LocalUsers::new(state.db.clone());
    let description = format!("admin pages: password change (POST /t/{tenant}/admin/password)");
    if let Err(err) = users.change_password(&username, current, new).await {
        if let LoginError::Store(e) = &err {
            tracing::error!(error = %e, "password change failed");
        } else {
            audit_local(
                &state,
                &tenant,
                &username,
                "password-change",
                Some(err.to_string()),
                peer,
                &description,
            )
            .await;
        }
        let (field, status) = match err {
            LoginError::WeakPassword => (Some("new_password"), StatusCode::BAD_REQUEST),
            LoginError::BadCredentials => (Some("password"), StatusCode::UNAUTHORIZED),
            LoginError::Store(_) => (None, StatusCode::SERVICE_UNAVAILABLE),
            _ => (None, StatusCode::UNAUTHORIZED),
        };
        problems.add(field, sentence(&err.to_string()));
        return render(&problems, status);
    }
    audit_local(
        &state,
        &tenant,
        &username,
        "password-change",
        None,
        peer,
        &description,
    )
    .await;
    match users.sign_in(&username, new).await {
        Ok(user) => match start_session(&state, &tenant, &user, &headers, peer, &target).await {
            Ok(response) => response,
            Err(message) => {
                problems.add(None, message);
                sign_in_page(
                    &state,
                    SignInView {
                        tenant: &tenant,
                        return_to: &target,
                        token: &token,
                        username: &username,
                        problems: &problems,
                        notice: Some("Your new password is set.".into()),
                    },
                    StatusCode::FORBIDDEN,
                )
            }
        },
        Err(err) => {
            problems.add(None, sentence(&err.to_string()));
            render(&problems, StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}
