//! A posted url-encoded form as its (name, value) pairs, in order, repeated names kept
//! (consent checkboxes share one name). Identity never comes from here: the `_csrf` field is
//! checked against the session by `TenantContext`, and nothing else in a form says who is
//! asking.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;

use super::page::Chrome;
use super::session::message_page;

#[derive(Clone, Debug, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or "" when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<FormData, Response> {
        match Form::<Vec<(String, String)>>::from_request(req, state).await {
            Ok(Form(pairs)) => Ok(FormData(pairs)),
            Err(rejection) => Err(message_page(
                StatusCode::BAD_REQUEST,
                Chrome::default(),
                "The form could not be read",
                &format!(
                    "Send the page's form as it is (application/x-www-form-urlencoded): {rejection}"
                ),
            )),
        }
    }
}
