//! SWR's paging, shared by its list APIs (repositories, tags, sync jobs): `limit` and
//! `offset` given together, 100 items by default and 1000 at most, and
//! `Content-Range: offset-count/total` when the client asked for a page. Sources are in
//! `docs/emulator.md` ("The repository listing" and "Fidelity").

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::app::json;
use super::errors::Failure;

/// Page size when `limit` is absent ("100 records will be returned by default").
pub const DEFAULT_LIMIT: usize = 100;
/// Most items one answer holds (the SDKs' `limit`: at most 1000 records are returned); a
/// larger `limit` is cut to it, not refused.
pub const MAX_LIMIT: usize = 1000;

/// One page: where it starts and how many it holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First item (`offset`).
    pub offset: usize,
    /// Items at most (`limit`, cut to [`MAX_LIMIT`]).
    pub limit: usize,
    /// Whether the client gave `limit` and `offset`: only then is `Content-Range` sent.
    pub requested: bool,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: DEFAULT_LIMIT,
            requested: false,
        }
    }
}

/// A non-negative integer parameter; 400 otherwise.
pub fn number(key: &str, value: &str) -> Result<usize, Failure> {
    value
        .parse()
        .map_err(|_| Failure::bad_request(format!("{key} must be a non-negative integer")))
}

impl Window {
    /// `limit` and `offset`: both or neither; `limit` at least 1 (cut to [`MAX_LIMIT`]),
    /// `offset` 0 or a multiple of `limit`.
    pub fn parse(limit: Option<&str>, offset: Option<&str>) -> Result<Self, Failure> {
        let (limit, offset) = match (limit, offset) {
            (None, None) => return Ok(Self::default()),
            (Some(l), Some(o)) => (number("limit", l)?, number("offset", o)?),
            _ => {
                return Err(Failure::bad_request(
                    "limit and offset must be given together",
                ))
            }
        };
        if limit == 0 {
            return Err(Failure::bad_request("limit must be at least 1"));
        }
        if offset % limit != 0 {
            return Err(Failure::bad_request(format!(
                "offset must be 0 or a multiple of limit ({limit}), not {offset}"
            )));
        }
        Ok(Self {
            offset,
            limit: limit.min(MAX_LIMIT),
            requested: true,
        })
    }

    /// 200 with this page of `items` (already in order), and `Content-Range` when asked.
    pub fn answer<T: Serialize>(self, items: Vec<T>) -> Response {
        let total = items.len();
        let page: Vec<T> = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        let range = format!("{}-{}/{total}", self.offset, page.len());
        let mut response = json(StatusCode::OK, &page);
        if self.requested {
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&range).expect("digits are a valid header value"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(window: Window, n: usize) -> Option<String> {
        let response = window.answer((0..n).collect());
        let value = response.headers().get(header::CONTENT_RANGE)?;
        Some(value.to_str().unwrap().to_string())
    }

    #[test]
    fn windows_and_content_range() {
        let w = Window::parse(Some("2"), Some("4")).unwrap();
        assert_eq!((w.offset, w.limit, w.requested), (4, 2, true));
        assert_eq!(range(w, 5).as_deref(), Some("4-1/5"), "offset-count/total");
        assert_eq!(range(w, 3).as_deref(), Some("4-0/3"), "an empty page too");
        assert_eq!(
            range(Window::default(), 3),
            None,
            "only when a page was asked"
        );
        assert_eq!(
            Window::parse(Some("5000"), Some("0")).unwrap().limit,
            MAX_LIMIT
        );
        for (limit, offset) in [
            (Some("2"), None),
            (Some("0"), Some("0")),
            (Some("2"), Some("3")),
        ] {
            assert!(
                Window::parse(limit, offset).is_err(),
                "{limit:?} {offset:?}"
            );
        }
    }
}
