//! Thin JSON client for the Terarchitect API on the same origin (`/api/...`).
//!
//! Every request carries the signed-in user's token; errors come back as [`ApiError`]
//! with the API's own code, message and field, worded for people.

use gloo_net::http::{Request, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use terarchitect_protocol::{ErrorBody, MoveOutcome, ProjectId, TicketId, TicketMove};

const TOKEN_KEY: &str = "terarchitect.token";

/// The token kept for this browser tab (sessionStorage: gone when the tab closes).
pub fn stored_token() -> Option<String> {
    web_sys::window()?
        .session_storage()
        .ok()??
        .get_item(TOKEN_KEY)
        .ok()?
        .filter(|t| !t.is_empty())
}

pub fn store_token(token: Option<&str>) {
    if let Some(s) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
        let _ = match token {
            Some(t) => s.set_item(TOKEN_KEY, t),
            None => s.remove_item(TOKEN_KEY),
        };
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    /// `not_ready`: what a run needs and does not have (setting keys, or `components`).
    pub missing: Vec<String>,
}

impl ApiError {
    fn network(e: impl std::fmt::Display) -> Self {
        ApiError {
            status: 0,
            code: "network".into(),
            message: format!("Could not reach the server ({e}). Check your connection and try again."),
            ..Default::default()
        }
    }

    pub fn local(field: &str, message: &str) -> Self {
        ApiError {
            status: 0,
            code: "invalid_input".into(),
            message: message.into(),
            field: Some(field.into()),
            ..Default::default()
        }
    }

    pub fn is_conflict(&self) -> bool {
        self.status == 409
    }

    /// The message for `field` when the error is about that input.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match &self.field {
            Some(f) if f == field || f.starts_with(&format!("{field}.")) => Some(self.message.clone()),
            _ => None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.status, &self.field) {
            (401, _) => write!(
                f,
                "Your token was not accepted. Sign out and sign in with a valid token."
            ),
            (_, Some(field)) => write!(f, "{}: {}", field.replace('_', " "), self.message),
            _ => write!(f, "{}", self.message),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn builder(method: &str, path: &str) -> RequestBuilder {
    let b = match method {
        "POST" => Request::post(path),
        "PUT" => Request::put(path),
        "PATCH" => Request::patch(path),
        "DELETE" => Request::delete(path),
        _ => Request::get(path),
    };
    match stored_token() {
        Some(t) => b.header("Authorization", &format!("Bearer {t}")),
        None => b,
    }
}

async fn send(b: RequestBuilder, body: Option<String>) -> ApiResult<gloo_net::http::Response> {
    let req = match body {
        Some(json) => b
            .header("Content-Type", "application/json")
            .body(json)
            .map_err(ApiError::network)?,
        None => b.build().map_err(ApiError::network)?,
    };
    let resp = req.send().await.map_err(ApiError::network)?;
    if resp.ok() {
        return Ok(resp);
    }
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    Err(match serde_json::from_str::<ErrorBody>(&text) {
        Ok(e) => ApiError {
            status,
            code: e.error.code,
            message: e.error.message,
            field: e.error.field,
            missing: e.error.missing,
        },
        Err(_) => ApiError {
            status,
            code: "http".into(),
            message: format!("The server answered {status} {}", resp.status_text()),
            ..Default::default()
        },
    })
}

fn encode<B: Serialize>(body: &B) -> ApiResult<String> {
    serde_json::to_string(body).map_err(|e| ApiError::local("body", &e.to_string()))
}

pub async fn call<T: DeserializeOwned>(method: &str, path: &str, body: Option<String>) -> ApiResult<T> {
    call_with(method, path, body, None).await
}

pub async fn call_with<T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<String>,
    idempotency_key: Option<&str>,
) -> ApiResult<T> {
    let mut b = builder(method, path);
    if let Some(k) = idempotency_key {
        b = b.header("Idempotency-Key", k);
    }
    let resp = send(b, body).await?;
    resp.json::<T>()
        .await
        .map_err(|e| ApiError::local("response", &format!("The server sent something unexpected: {e}")))
}

pub async fn get<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    call("GET", path, None).await
}

/// Every page of a paged list (`/api/projects`, notes, comments, a ticket's runs, the
/// review list): follows `Link: <…>; rel="next"` until the server sends none.
pub async fn get_all<T: DeserializeOwned>(path: &str) -> ApiResult<Vec<T>> {
    let mut all = Vec::new();
    let mut next = Some(path.to_string());
    while let Some(page) = next.take() {
        let resp = send(builder("GET", &page), None).await?;
        next = resp.headers().get("link").as_deref().and_then(next_link);
        let items: Vec<T> = resp
            .json()
            .await
            .map_err(|e| ApiError::local("response", &format!("The server sent something unexpected: {e}")))?;
        all.extend(items);
    }
    Ok(all)
}

/// The `rel="next"` target of a `Link` header, if it names one.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',')
        .find(|part| part.contains("rel=\"next\""))
        .and_then(|part| part.trim().strip_prefix('<')?.split_once('>'))
        .map(|(url, _)| url.to_string())
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<T> {
    call("POST", path, Some(encode(body)?)).await
}

pub async fn patch<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<T> {
    call("PATCH", path, Some(encode(body)?)).await
}

pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<T> {
    call("PUT", path, Some(encode(body)?)).await
}

pub async fn delete(path: &str) -> ApiResult<()> {
    send(builder("DELETE", path), None).await.map(|_| ())
}

/// Moves a ticket (which may queue or stop a run). The idempotency key makes a retried
/// request harmless: the caller makes one per user action.
pub async fn move_ticket(
    project: ProjectId,
    ticket: TicketId,
    to: &TicketMove,
    idempotency_key: &str,
) -> ApiResult<MoveOutcome> {
    let path = format!("/api/projects/{project}/tickets/{ticket}/move");
    call_with("POST", &path, Some(encode(to)?), Some(idempotency_key)).await
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn next_links() {
        assert_eq!(
            next_link("</api/projects?limit=50&cursor=abc>; rel=\"next\"").as_deref(),
            Some("/api/projects?limit=50&cursor=abc")
        );
        assert_eq!(
            next_link("</a?x>; rel=\"prev\", </b?y>; rel=\"next\"").as_deref(),
            Some("/b?y")
        );
        assert_eq!(next_link("</a>; rel=\"prev\""), None);
    }
}
