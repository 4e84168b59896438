//! Finding the handler for a request among the pack's routes, with the host's own rule: the
//! host matched the request already, so the SDK must pick the same route — literal segments
//! win over `{parameters}`, then the order the routes were declared in.

use crate::pack::RouteEntry;
use crate::request::Method;

/// Does `pattern` (`/patients/{id}`) match `path` (`/patients/p1`)?
pub(crate) fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = segments(pattern);
    let path: Vec<&str> = segments(path);
    pattern.len() == path.len()
        && pattern.iter().zip(&path).all(|(p, s)| {
            if p.starts_with('{') && p.ends_with('}') {
                !s.is_empty()
            } else {
                p == s
            }
        })
}

fn segments(path: &str) -> Vec<&str> {
    match path.strip_prefix('/') {
        Some("") | None => Vec::new(),
        Some(rest) => rest.split('/').collect(),
    }
}

/// One bit per segment, parameters 1: sorting by it puts literal segments first.
fn specificity(pattern: &str) -> Vec<u8> {
    segments(pattern)
        .iter()
        .map(|s| (s.starts_with('{') && s.ends_with('}')) as u8)
        .collect()
}

/// The route that answers `method` at `path`.
pub(crate) fn find<'a>(
    routes: &'a [RouteEntry],
    method: Method,
    path: &str,
) -> Option<&'a RouteEntry> {
    let mut candidates: Vec<&RouteEntry> = routes
        .iter()
        .filter(|entry| entry.route.methods.contains(&method) && matches(&entry.route.path, path))
        .collect();
    // A stable sort keeps declaration order among equally specific routes, as the host does.
    candidates.sort_by_key(|entry| specificity(&entry.route.path));
    candidates.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::Route;
    use crate::response::Response;

    fn entry(route: Route, tag: &'static str) -> RouteEntry {
        RouteEntry {
            route,
            handler: Box::new(move |_| Ok(Response::text(tag))),
        }
    }

    fn answer(routes: &[RouteEntry], method: Method, path: &str) -> Option<String> {
        let entry = find(routes, method, path)?;
        let response = (entry.handler)(&crate::Request::builder(method, path).build()).unwrap();
        Some(String::from_utf8(response.body().to_vec()).unwrap())
    }

    #[test]
    fn literal_segments_win_and_methods_must_match() {
        let routes = vec![
            entry(Route::get("/patients/{id}"), "by-id"),
            entry(Route::get("/patients/new"), "new"),
            entry(Route::post("/patients/{id}"), "post"),
            entry(Route::get("/"), "root"),
        ];
        assert_eq!(
            answer(&routes, Method::Get, "/patients/new").as_deref(),
            Some("new")
        );
        assert_eq!(
            answer(&routes, Method::Get, "/patients/p1").as_deref(),
            Some("by-id")
        );
        assert_eq!(
            answer(&routes, Method::Post, "/patients/p1").as_deref(),
            Some("post")
        );
        assert_eq!(answer(&routes, Method::Get, "/").as_deref(), Some("root"));
        assert_eq!(answer(&routes, Method::Delete, "/patients/p1"), None);
        assert_eq!(answer(&routes, Method::Get, "/patients"), None);
        assert_eq!(answer(&routes, Method::Get, "/patients//"), None);
    }
}
