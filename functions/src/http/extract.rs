//! Extractors whose rejections are our JSON errors (400/413/415 with the field named).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use terarchitect_protocol::Validate;

use super::error::body;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Rejection))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A JSON body that decoded and passed its `Validate` rules: a handler never sees an
/// invalid input, and the caller gets `invalid_input` naming the field. (The domain checks
/// again for its other callers: the admin command, the scheduler.)
pub struct Valid<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Validate> FromRequest<S> for Valid<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        value.validate().map_err(|e| crate::Error::Invalid(e).into_response())?;
        Ok(Valid(value))
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Rejection))]
pub struct Path<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Rejection))]
pub struct Query<T>(pub T);

pub struct Rejection(Response);

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.0
    }
}

impl From<JsonRejection> for Rejection {
    fn from(r: JsonRejection) -> Self {
        let (status, code) = match &r {
            JsonRejection::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            _ => (StatusCode::BAD_REQUEST, "invalid_json"),
        };
        // axum reports the failing path (`nodes[0].x: invalid type ...`).
        let text = r.body_text();
        let field = text
            .split_once(": ")
            .and_then(|(_, rest)| rest.split_once(": "))
            .map(|(path, _)| path.to_string())
            .filter(|p| !p.contains(' '));
        Rejection(body(status, code, text, field))
    }
}

impl From<PathRejection> for Rejection {
    fn from(r: PathRejection) -> Self {
        Rejection(body(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            format!("{} (ids are UUIDs)", r.body_text()),
            None,
        ))
    }
}

impl From<QueryRejection> for Rejection {
    fn from(r: QueryRejection) -> Self {
        Rejection(body(StatusCode::BAD_REQUEST, "invalid_query", r.body_text(), None))
    }
}
