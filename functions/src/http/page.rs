//! Paged list responses: the body stays a JSON array (so a client that reads one page
//! keeps working) and a `Link: <…>; rel="next"` header (RFC 8288) names the next page
//! while there is one.

use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::domain::page::{Page, PageRequest};

/// `?limit=&cursor=` of a paged list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

impl PageQuery {
    pub(super) fn request(&self) -> Result<PageRequest> {
        PageRequest::new(self.limit, self.cursor.as_deref())
    }
}

/// The page as a JSON array, with `Link` to the next one (same path and limit) if any.
pub(super) fn respond<T: Serialize>(uri: &Uri, req: &PageRequest, page: Page<T>) -> Response {
    let res = axum::Json(page.items).into_response();
    with_link(res, uri, req, page.next)
}

/// `Link: <…>; rel="next"` on `res` when there is a `next` page.
pub(super) fn with_link(mut res: Response, uri: &Uri, req: &PageRequest, next: Option<String>) -> Response {
    // The cursor is base64url: safe in a query string as it is.
    let link = next
        .map(|c| format!("<{}?limit={}&cursor={c}>; rel=\"next\"", uri.path(), req.limit()))
        .and_then(|l| HeaderValue::from_str(&l).ok());
    if let Some(link) = link {
        res.headers_mut().insert(header::LINK, link);
    }
    res
}
