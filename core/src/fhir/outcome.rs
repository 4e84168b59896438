//! Errors as FHIR `OperationOutcome`s with the HTTP status the spec asks for.

use axum::http::StatusCode;
use serde_json::{json, Value};

/// One `OperationOutcome.issue`.
#[derive(Debug, Clone)]
pub struct Issue {
    pub severity: &'static str,
    /// An `IssueType` code: invalid, structure, required, value, not-found, deleted,
    /// conflict, processing, not-supported, too-long, exception, informational...
    pub code: &'static str,
    pub diagnostics: String,
    /// FHIRPath of the offending element, e.g. `Patient.name[0].given`.
    pub expression: Option<String>,
}

impl Issue {
    pub fn error(code: &'static str, diagnostics: impl Into<String>) -> Issue {
        Issue {
            severity: "error",
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn warning(code: &'static str, diagnostics: impl Into<String>) -> Issue {
        Issue {
            severity: "warning",
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn information(diagnostics: impl Into<String>) -> Issue {
        Issue {
            severity: "information",
            code: "informational",
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn at(mut self, expression: impl Into<String>) -> Issue {
        self.expression = Some(expression.into());
        self
    }

    fn to_json(&self) -> Value {
        let mut issue = json!({
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        });
        if let Some(expr) = &self.expression {
            issue["expression"] = json!([expr]);
        }
        issue
    }
}

pub fn operation_outcome(issues: &[Issue]) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": issues.iter().map(Issue::to_json).collect::<Vec<_>>(),
    })
}

/// A failed FHIR interaction.
#[derive(Debug, Clone)]
pub struct FhirError {
    pub status: StatusCode,
    pub issues: Vec<Issue>,
}

pub type FhirResult<T> = Result<T, FhirError>;

impl FhirError {
    pub fn new(status: StatusCode, issue: Issue) -> FhirError {
        FhirError {
            status,
            issues: vec![issue],
        }
    }

    pub fn bad_request(code: &'static str, msg: impl Into<String>) -> FhirError {
        Self::new(StatusCode::BAD_REQUEST, Issue::error(code, msg))
    }

    pub fn invalid(msg: impl Into<String>) -> FhirError {
        Self::bad_request("invalid", msg)
    }

    pub fn not_found(msg: impl Into<String>) -> FhirError {
        Self::new(StatusCode::NOT_FOUND, Issue::error("not-found", msg))
    }

    pub fn gone(msg: impl Into<String>) -> FhirError {
        Self::new(StatusCode::GONE, Issue::error("deleted", msg))
    }

    pub fn precondition_failed(msg: impl Into<String>) -> FhirError {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            Issue::error("conflict", msg),
        )
    }

    pub fn conflict(msg: impl Into<String>) -> FhirError {
        Self::new(StatusCode::CONFLICT, Issue::error("conflict", msg))
    }

    pub fn not_supported(msg: impl Into<String>) -> FhirError {
        Self::bad_request("not-supported", msg)
    }

    pub fn internal(msg: impl Into<String>) -> FhirError {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Issue::error("exception", msg),
        )
    }

    /// Prefixes every issue's expression, e.g. to point into `Bundle.entry[3].resource`.
    pub fn within(mut self, prefix: &str) -> FhirError {
        for issue in &mut self.issues {
            issue.expression = Some(match issue.expression.take() {
                // The expression starts with the resource type; the prefix replaces it.
                Some(expr) => match expr.split_once('.') {
                    Some((_, rest)) => format!("{prefix}.{rest}"),
                    None => prefix.to_string(),
                },
                None => prefix.to_string(),
            });
        }
        self
    }

    /// Points issues at entry `index` of a Bundle: resource paths move under
    /// `Bundle.entry[i].resource`, issues without a path name the entry.
    pub fn within_entry(mut self, index: usize) -> FhirError {
        for issue in &mut self.issues {
            issue.expression = Some(match issue.expression.take() {
                Some(expr) => match expr.split_once('.') {
                    Some((_, rest)) => format!("Bundle.entry[{index}].resource.{rest}"),
                    None => format!("Bundle.entry[{index}].resource"),
                },
                None => format!("Bundle.entry[{index}]"),
            });
        }
        self
    }

    pub fn to_outcome(&self) -> Value {
        operation_outcome(&self.issues)
    }

    pub fn message(&self) -> String {
        self.issues
            .iter()
            .map(|i| i.diagnostics.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl From<sqlx::Error> for FhirError {
    fn from(err: sqlx::Error) -> FhirError {
        // Details go to the log, not to the client: they can leak schema or data.
        if crate::db::is_write_conflict(&err) {
            // Expected under concurrency, and retried by `in_tenant_tx!`.
            tracing::debug!(error = %err, "write conflict");
            FhirError::conflict("another request changed this resource at the same time; retry")
        } else if matches!(
            err,
            sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_)
        ) {
            tracing::error!(error = %err, "database unavailable");
            FhirError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Issue::error("transient", "the database is unavailable; retry later"),
            )
        } else {
            // A statement the database refused: a server bug, not the client's doing.
            tracing::error!(error = %err, "database error");
            FhirError::internal("the server failed to process this request; the error is logged")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_rewrites_expressions_into_the_bundle() {
        let err = FhirError::new(
            StatusCode::BAD_REQUEST,
            Issue::error("structure", "bad").at("Patient.name[0]"),
        )
        .within("Bundle.entry[2].resource");
        assert_eq!(
            err.issues[0].expression.as_deref(),
            Some("Bundle.entry[2].resource.name[0]")
        );
        let oo = err.to_outcome();
        assert_eq!(
            oo["issue"][0]["expression"][0],
            "Bundle.entry[2].resource.name[0]"
        );
    }
}
