//! Who is calling: every request is logged, injected failures and wrong tokens are
//! answered here, and handlers learn the caller's login; plus `GET /user` and
//! `GET /rate_limit`.

use axum::extract::{Extension, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::json::user;
use super::state::Shared;

/// Who a request acts as (from its token).
#[derive(Clone)]
pub(super) struct Caller(pub(super) String);

/// Records every request, then answers injected failures and wrong tokens, and tells the
/// handlers who is calling.
pub(super) async fn gate(State(s): State<Shared>, mut req: Request, next: Next) -> Response {
    let what = format!("{} {}", req.method(), req.uri().path());
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
                .map(str::to_owned)
                .or_else(|| v.strip_prefix("Basic ").and_then(basic_token))
        })
        .filter(|t| !t.is_empty());
    let refusal = {
        let mut g = s.lock().unwrap();
        g.log.push((what.clone(), token.is_some()));
        let other_user = token.as_ref().and_then(|t| g.users.get(t)).cloned();
        req.extensions_mut()
            .insert(Caller(other_user.clone().unwrap_or_else(|| g.login.clone())));
        if let Some((_, status)) = g.failures.iter().find(|(p, _)| what.contains(p.as_str())) {
            Some((*status, "stand-in failure"))
        } else if g.required_token.is_some() && g.required_token != token && other_user.is_none() {
            Some((401, "Bad credentials"))
        } else {
            None
        }
    };
    match refusal {
        Some((status, message)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(json!({"message": message, "documentation_url": "https://docs.github.com/rest"})),
        )
            .into_response(),
        None => next.run(req).await,
    }
}

/// The token of git's HTTP basic auth, as GitHub takes it (`x-access-token:TOKEN`).
pub(super) fn basic_token(encoded: &str) -> Option<String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let pair = String::from_utf8(raw).ok()?;
    pair.split_once(':').map(|(_, token)| token.to_owned())
}

pub(super) async fn current_user(Extension(Caller(login)): Extension<Caller>) -> Response {
    axum::Json(user(&login)).into_response()
}

/// What connectivity checks call: GitHub answers it without spending quota.
pub(super) async fn rate_limit() -> Response {
    let core = json!({"limit": 5000, "remaining": 4999, "reset": 1_900_000_000u64, "used": 1, "resource": "core"});
    axum::Json(json!({"resources": {"core": core}, "rate": core})).into_response()
}
