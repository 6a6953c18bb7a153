//! The one place library errors become HTTP responses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use terarchitect_protocol::{ErrorBody, ErrorDetail};

use crate::Error;
use crate::domain::github::GitHubError;

pub fn body(status: StatusCode, code: &str, message: impl Into<String>, field: Option<String>) -> Response {
    let detail = ErrorDetail {
        code: code.into(),
        message: message.into(),
        field,
        missing: Vec::new(),
    };
    (status, Json(ErrorBody { error: detail })).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::NotFound(what) => body(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"), None),
            Error::Invalid(f) => body(StatusCode::BAD_REQUEST, "invalid_input", f.to_string(), Some(f.field)),
            Error::Conflict(m) => body(StatusCode::CONFLICT, "conflict", m, None),
            Error::NotReady(missing) => {
                let detail = ErrorDetail {
                    code: "not_ready".into(),
                    message: crate::error::not_ready_message(&missing),
                    field: None,
                    missing,
                };
                (StatusCode::CONFLICT, Json(ErrorBody { error: detail })).into_response()
            }
            Error::JobState(why, m) => body(StatusCode::CONFLICT, why.code(), m, None),
            Error::Unauthenticated => {
                let mut r = body(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "a valid bearer token is required",
                    None,
                );
                r.headers_mut()
                    .insert("www-authenticate", "Bearer".parse().expect("static header"));
                r
            }
            Error::Forbidden(m) => body(StatusCode::FORBIDDEN, "forbidden", m, None),
            Error::Unavailable(m) => body(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m, None),
            Error::BudgetExhausted(m) => body(StatusCode::PAYMENT_REQUIRED, "budget_exhausted", m, None),
            e @ Error::RateLimited(after) => {
                let mut r = body(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string(), None);
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, after.into());
                r
            }
            Error::GitHub(e) => {
                let (status, code) = match &e {
                    GitHubError::NoPullRequest => (StatusCode::NOT_FOUND, "no_pull_request"),
                    GitHubError::NotConfigured(_) => (StatusCode::CONFLICT, "github_not_configured"),
                    GitHubError::Unavailable(_) => (StatusCode::BAD_GATEWAY, "github_unavailable"),
                    GitHubError::Rejected(_) => (StatusCode::BAD_GATEWAY, "github_rejected"),
                    GitHubError::NotMergeable(_) => (StatusCode::CONFLICT, "not_mergeable"),
                    GitHubError::PullRequestNotFound { .. } => (StatusCode::NOT_FOUND, "pull_request_not_found"),
                    GitHubError::Refused(_) => (StatusCode::CONFLICT, "github_refused"),
                    GitHubError::NotAllowed(_) => (StatusCode::CONFLICT, "outbound_refused"),
                    GitHubError::ForeignPullRequest(_) => (StatusCode::CONFLICT, "foreign_pull_request"),
                };
                if status == StatusCode::BAD_GATEWAY {
                    tracing::warn!(error = %e, "GitHub call failed");
                }
                body(status, code, e.to_string(), None)
            }
            // The URL is in settings the caller (or another user) set: theirs to change.
            Error::Outbound(e) => body(StatusCode::CONFLICT, "outbound_refused", e.to_string(), None),
            Error::UpstreamTooLarge(m) => body(StatusCode::BAD_GATEWAY, "upstream_too_large", m, None),
            Error::UpstreamUnavailable(m) => body(StatusCode::BAD_GATEWAY, "upstream_unavailable", m, None),
            // No connection to be had: the database is down, restarting or saturated.
            Error::Db(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_)) => body(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable; retry shortly",
                None,
            ),
            e @ (Error::Db(_) | Error::Internal(_)) => {
                tracing::error!(error = %e, "internal error");
                body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on our side",
                    None,
                )
            }
        }
    }
}

pub async fn not_found() -> Response {
    body(StatusCode::NOT_FOUND, "not_found", "no such route", None)
}

pub async fn method_not_allowed() -> Response {
    body(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
        None,
    )
}
