//! Route patterns (`/patients/{id}/summary`) and matching a request path against them.

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoutePattern {
    segments: Vec<Segment>,
}

impl RoutePattern {
    pub fn parse(path: &str) -> Result<RoutePattern, String> {
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| format!("route {path:?} must start with /"))?;
        if path.len() > 200 {
            return Err(format!("route {path:?} is longer than 200 characters"));
        }
        let mut segments = Vec::new();
        if rest.is_empty() {
            return Ok(RoutePattern { segments });
        }
        for part in rest.split('/') {
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!(
                        "route {path:?}: {{{name}}} is not a parameter name"
                    ));
                }
                segments.push(Segment::Param(name.to_string()));
            } else if part.is_empty()
                || part == "."
                || part == ".."
                || !part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~$".contains(c))
            {
                return Err(format!("route {path:?}: segment {part:?} is not allowed"));
            } else {
                segments.push(Segment::Literal(part.to_string()));
            }
        }
        Ok(RoutePattern { segments })
    }

    /// The parameters bound when `path` matches.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let rest = path.strip_prefix('/')?;
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(_) if part.is_empty() => return None,
                Segment::Param(name) => {
                    let value = percent_decode(part)?;
                    params.push((name.clone(), value));
                }
            }
        }
        Some(params)
    }

    /// Literal segments before parameters sort first, so `/a/new` beats `/a/{id}`.
    pub fn specificity(&self) -> Vec<u8> {
        self.segments
            .iter()
            .map(|s| matches!(s, Segment::Param(_)) as u8)
            .collect()
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_and_binds() {
        let p = RoutePattern::parse("/patients/{id}/summary").unwrap();
        assert_eq!(
            p.matches("/patients/a%20b/summary"),
            Some(vec![("id".into(), "a b".into())])
        );
        assert_eq!(p.matches("/patients//summary"), None);
        assert_eq!(p.matches("/patients/1"), None);
        assert_eq!(RoutePattern::parse("/").unwrap().matches("/"), Some(vec![]));
        assert!(RoutePattern::parse("patients").is_err());
        assert!(RoutePattern::parse("/a/{}").is_err());
        assert!(RoutePattern::parse("/a/../b").is_err());
    }
}
