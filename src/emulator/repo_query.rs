//! `GET /v2/manage/repos` (SWR "ListReposDetails") as its API page and the SDKs describe it:
//! the separate query parameters or the `filter` form, fuzzy organization and name matches,
//! the documented sort columns and directions, and `limit`/`offset` paging with
//! `Content-Range: offset-count/total`. `docs/emulator.md` names the source of each rule.

use std::cmp::Ordering;

use axum::response::Response;

use super::errors::Failure;
use super::paging::Window;
use crate::swr::model::Repository;
use crate::swr::names::{self, NameKind};

/// What a listing can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Repository name (`filter` form only).
    Name,
    /// Last update: `updated_at` as a query parameter, `updated_time` in the `filter` form.
    Updated,
    /// Number of tags (`filter` form only).
    TagCount,
}

/// Sort direction (`order_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `asc`.
    Asc,
    /// `desc`.
    Desc,
}

/// A parsed repository listing request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoQuery {
    /// Part of the organization name (fuzzy match).
    pub namespace: Option<String>,
    /// Part of the repository name, `/` spelled as such (fuzzy match).
    pub name: Option<String>,
    /// `center::thirdparty`: images other tenants share; the emulator has none.
    pub third_party: bool,
    /// Requested order; `None` is the emulator's default (newest update first).
    pub order: Option<(Column, Direction)>,
    /// The page.
    pub window: Window,
}

/// The two spellings of the request; they differ in the sort columns they accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `?namespace=…&limit=…&offset=…&order_column=…&order_type=…`.
    Params,
    /// `?filter=namespace::…|limit::…|offset::…|order_column::…|order_type::…`.
    Filter,
}

/// Keys the `filter` form knows.
const FILTER_KEYS: [&str; 8] = [
    "center",
    "namespace",
    "name",
    "category",
    "limit",
    "offset",
    "order_column",
    "order_type",
];

fn bad(message: impl Into<String>) -> Failure {
    Failure::bad_request(message)
}

/// Splits `a::1|b::2`; an empty filter, a part without `::` or an unknown key is a 400.
fn filter_pairs(filter: &str) -> Result<Vec<(&str, &str)>, Failure> {
    let pairs = filter
        .split('|')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once("::") {
            Some((key, value)) if FILTER_KEYS.contains(&key) => Ok((key, value)),
            _ => Err(bad(format!(
                "filter part {part:?} is not one of {}::value",
                FILTER_KEYS.join("|")
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if pairs.is_empty() {
        return Err(bad("filter must carry at least one parameter"));
    }
    Ok(pairs)
}

impl RepoQuery {
    /// The request's query: the `filter` form when `filter` is present (it overrides the
    /// separate parameters), else the separate parameters.
    pub fn parse<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<Self, Failure> {
        match param("filter") {
            Some(filter) => {
                let pairs = filter_pairs(filter)?;
                let lookup = |key: &str| pairs.iter().rev().find(|(k, _)| *k == key).map(|p| p.1);
                Self::from_lookup(Form::Filter, lookup)
            }
            None => Self::from_lookup(Form::Params, param),
        }
    }

    fn from_lookup<'a>(form: Form, get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, Failure> {
        // Empty values count as absent, as an SDK leaves out unset parameters.
        let get = |key: &str| get(key).filter(|v| !v.is_empty());
        if get("category").is_some() {
            return Err(bad("category: the emulator keeps no repository categories"));
        }
        let namespace = get("namespace").map(str::to_string);
        if let Some(namespace) = &namespace {
            names::validate(NameKind::Organization, namespace).map_err(|e| bad(e.to_string()))?;
        }
        Ok(Self {
            namespace,
            // The API pages spell `/` of nested names as `$`.
            name: get("name").map(|n| n.replace('$', "/")),
            third_party: third_party(form, get("center"))?,
            order: order(form, get("order_column"), get("order_type"))?,
            window: Window::parse(get("limit"), get("offset"))?,
        })
    }

    /// Whether the filters keep `repo`.
    fn keeps(&self, repo: &Repository) -> bool {
        !self.third_party
            && self
                .namespace
                .as_ref()
                .is_none_or(|n| repo.namespace.contains(n.as_str()))
            && self
                .name
                .as_ref()
                .is_none_or(|n| repo.name.contains(n.as_str()))
    }

    /// The order of two repositories: the requested column and direction (default: newest
    /// update first), ties by organization, then name, so no two pages overlap.
    fn compare(&self, a: &Repository, b: &Repository) -> Ordering {
        let (column, direction) = self.order.unwrap_or((Column::Updated, Direction::Desc));
        let primary = match column {
            Column::Name => a.name.cmp(&b.name),
            // Stamps are fixed-width UTC (`stamp`), so text order is time order.
            Column::Updated => a.updated_at.cmp(&b.updated_at),
            Column::TagCount => a.num_images.cmp(&b.num_images),
        };
        let primary = match direction {
            Direction::Asc => primary,
            Direction::Desc => primary.reverse(),
        };
        primary.then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
    }

    /// The answer: the matching repositories, sorted, one page of them, with
    /// `Content-Range: offset-count/total` when the client asked for a page.
    pub fn answer(&self, repositories: Vec<Repository>) -> Response {
        let mut matching: Vec<Repository> =
            repositories.into_iter().filter(|r| self.keeps(r)).collect();
        matching.sort_by(|a, b| self.compare(a, b));
        self.window.answer(matching)
    }
}

/// `center`: `self` (the default) or `thirdparty`; anything else is a 400.
fn third_party(form: Form, center: Option<&str>) -> Result<bool, Failure> {
    match (form, center) {
        // Only the filter form documents `center`; as a query parameter it means nothing.
        (Form::Params, _) | (Form::Filter, None | Some("self")) => Ok(false),
        (Form::Filter, Some("thirdparty")) => Ok(true),
        (Form::Filter, Some(other)) => Err(bad(format!(
            "center must be self or thirdparty, not {other:?}"
        ))),
    }
}

/// `order_column` and `order_type`: both or neither, each one of the documented values.
fn order(
    form: Form,
    column: Option<&str>,
    direction: Option<&str>,
) -> Result<Option<(Column, Direction)>, Failure> {
    let (column, direction) = match (column, direction) {
        (None, None) => return Ok(None),
        (Some(c), Some(d)) => (c, d),
        _ => return Err(bad("order_column and order_type must be given together")),
    };
    let column = match (form, column) {
        (Form::Params, "updated_at") | (Form::Filter, "updated_time") => Column::Updated,
        (Form::Filter, "name") => Column::Name,
        (Form::Filter, "tag_count") => Column::TagCount,
        (Form::Params, other) => {
            return Err(bad(format!(
                "order_column must be updated_at, not {other:?}"
            )))
        }
        (Form::Filter, other) => {
            return Err(bad(format!(
                "order_column must be name, updated_time or tag_count, not {other:?}"
            )))
        }
    };
    let direction = match direction {
        "asc" => Direction::Asc,
        "desc" => Direction::Desc,
        other => {
            return Err(bad(format!(
                "order_type must be asc or desc, not {other:?}"
            )))
        }
    };
    Ok(Some((column, direction)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<RepoQuery, Failure> {
        RepoQuery::parse(|key| query.iter().find(|(k, _)| *k == key).map(|p| p.1))
    }

    fn repo(namespace: &str, name: &str, updated: &str, tags: i64) -> Repository {
        Repository {
            name: name.into(),
            namespace: namespace.into(),
            tags: Vec::new(),
            num_images: tags,
            is_public: false,
            path: String::new(),
            created_at: String::new(),
            updated_at: updated.into(),
        }
    }

    #[test]
    fn both_forms_parse() {
        let params = parse(&[
            ("namespace", "platform"),
            ("limit", "10"),
            ("offset", "20"),
            ("order_column", "updated_at"),
            ("order_type", "asc"),
        ])
        .unwrap();
        assert_eq!(params.namespace.as_deref(), Some("platform"));
        assert_eq!(params.order, Some((Column::Updated, Direction::Asc)));
        assert_eq!(
            params.window,
            Window {
                offset: 20,
                limit: 10,
                requested: true
            }
        );
        let filter = parse(&[
            ("namespace", "ignored"),
            (
                "filter",
                "namespace::platform|name::team$a|limit::5000|offset::0|order_column::name|order_type::desc",
            ),
        ])
        .unwrap();
        assert_eq!(filter.namespace.as_deref(), Some("platform"), "filter wins");
        assert_eq!(filter.name.as_deref(), Some("team/a"));
        assert_eq!(filter.order, Some((Column::Name, Direction::Desc)));
        assert_eq!(filter.window.limit, super::super::paging::MAX_LIMIT);
        assert_eq!(parse(&[]).unwrap(), RepoQuery::default());
    }

    #[test]
    fn undocumented_values_are_400() {
        for query in [
            &[("limit", "10")][..],
            &[("offset", "0")],
            &[("limit", "0"), ("offset", "0")],
            &[("limit", "10"), ("offset", "5")],
            &[("limit", "-1"), ("offset", "0")],
            &[("order_column", "name"), ("order_type", "asc")],
            &[("order_column", "updated_at")],
            &[("order_column", "updated_at"), ("order_type", "up")],
            &[("filter", "order_column::updated_at|order_type::asc")],
            &[("filter", "order_type::asc")],
            &[("filter", "")],
            &[("filter", "size::3")],
            &[("filter", "center::others")],
            &[("filter", "category::linux")],
            &[("namespace", "Bad")],
        ] {
            let err = parse(query).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST, "{query:?}");
        }
    }

    #[test]
    fn fuzzy_filters_and_orders() {
        let repos = || {
            vec![
                repo("platform", "nginx", "2024-01-01T00:00:02.000000Z", 1),
                repo("platform-dr", "nginx", "2024-01-01T00:00:01.000000Z", 3),
                repo("platform", "api", "2024-01-01T00:00:03.000000Z", 2),
                repo("other", "nginx", "2024-01-01T00:00:00.000000Z", 0),
            ]
        };
        let listed = |query: RepoQuery| -> Vec<(String, String)> {
            let mut all = repos();
            all.retain(|r| query.keeps(r));
            all.sort_by(|a, b| query.compare(a, b));
            all.into_iter().map(|r| (r.namespace, r.name)).collect()
        };
        let pair = |n: &str, r: &str| (n.to_string(), r.to_string());
        let by = |column, direction| RepoQuery {
            namespace: Some("platform".into()),
            order: Some((column, direction)),
            ..RepoQuery::default()
        };
        assert_eq!(
            listed(by(Column::Name, Direction::Asc)),
            [
                pair("platform", "api"),
                pair("platform", "nginx"),
                pair("platform-dr", "nginx")
            ],
            "fuzzy namespace; name ties by organization"
        );
        assert_eq!(
            listed(by(Column::TagCount, Direction::Desc))[0],
            pair("platform-dr", "nginx")
        );
        assert_eq!(
            listed(RepoQuery::default())[0],
            pair("platform", "api"),
            "default: newest update first"
        );
        let named = RepoQuery {
            name: Some("gin".into()),
            ..RepoQuery::default()
        };
        assert_eq!(listed(named).len(), 3);
        let third = RepoQuery {
            third_party: true,
            ..RepoQuery::default()
        };
        assert!(listed(third).is_empty());
    }
}
