//! Parsing and checking a search request (`GET Type?...`) against the registry: parameters,
//! modifiers, prefixes, OR (`,`) and AND (repeats), chains (`patient.identifier=`), reverse
//! chains (`_has:Observation:patient:code=`), and the result parameters. Unknown or malformed
//! parameters are ignored and reported (lenient, the default) or refused with a 400 naming
//! the parameter (`Prefer: handling=strict`).

use axum::http::StatusCode;
use percent_encoding::percent_decode_str;

use super::extract::date_range;
use super::registry::{ParamType, SearchRegistry};
use crate::fhir::outcome::{FhirError, Issue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    Missing,
    Exact,
    Contains,
    Text,
    Not,
    Above,
    Below,
    In,
    NotIn,
    OfType,
    Identifier,
    /// `:[type]` on a reference.
    Type(String),
}

/// One value of a parameter (the values of one parameter are ORed).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchValue {
    pub prefix: Option<Prefix>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `code:modifier=v1,v2` on the searched type.
    Param {
        code: String,
        kind: ParamType,
        modifier: Option<Modifier>,
        values: Vec<SearchValue>,
    },
    /// `reference.param...`: resources whose `reference` points at a `target_type` matching `inner`.
    Chain {
        reference: String,
        target_type: String,
        inner: Box<Filter>,
    },
    /// `_has:Type:reference:...`: resources that some `source_type`'s `reference` points at,
    /// where that resource matches `inner`.
    Has {
        source_type: String,
        reference: String,
        inner: Box<Filter>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub code: String,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    pub source_type: String,
    /// None for `*`.
    pub param: Option<String>,
    pub target_type: Option<String>,
    pub iterate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    True,
    False,
    Count,
    Text,
    Data,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    None,
    Estimate,
    Accurate,
}

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub resource_type: String,
    /// ANDed.
    pub filters: Vec<Filter>,
    pub sort: Vec<SortKey>,
    pub count: Option<usize>,
    pub includes: Vec<Include>,
    pub revincludes: Vec<Include>,
    pub summary: Option<Summary>,
    pub elements: Vec<String>,
    pub total: Option<Total>,
    /// Lenient mode: what was ignored, for an OperationOutcome entry in the Bundle.
    pub ignored: Vec<Issue>,
}

/// How far chains and `_has` may nest.
const MAX_DEPTH: usize = 3;
/// Bounds on one request, so a hostile query cannot build a statement the database refuses
/// (SQLite binds at most 32,766 values) or that runs for minutes.
pub const MAX_PARAMETERS: usize = 64;
pub const MAX_VALUES: usize = 100;
pub const MAX_SORT_KEYS: usize = 5;
pub const MAX_INCLUDES: usize = 16;
pub const MAX_COUNT: usize = 1000;

pub fn parse(
    registry: &SearchRegistry,
    resource_type: &str,
    query: &str,
    strict: bool,
) -> Result<SearchRequest, FhirError> {
    let mut request = SearchRequest {
        resource_type: resource_type.to_string(),
        ..Default::default()
    };
    let pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    if pairs.len() > MAX_PARAMETERS {
        // Too costly to honour even leniently: ignoring some would change the result.
        return Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(
                "too-costly",
                format!(
                    "a search takes at most {MAX_PARAMETERS} parameters; this one has {}",
                    pairs.len()
                ),
            ),
        ));
    }
    for pair in pairs {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(raw_name)?;
        let value = decode(raw_value)?;
        match parse_one(registry, resource_type, &name, &value, &mut request) {
            Ok(()) => {}
            Err(err) if strict => return Err(err),
            Err(err) => {
                request.ignored.extend(err.issues.into_iter().map(|mut i| {
                    i.severity = "warning";
                    i.diagnostics = format!("ignored: {}", i.diagnostics);
                    i
                }));
            }
        }
    }
    Ok(request)
}

fn bad(name: &str, message: String) -> FhirError {
    FhirError::new(
        StatusCode::BAD_REQUEST,
        Issue::error("invalid", message).at(name.to_string()),
    )
}

fn parse_one(
    registry: &SearchRegistry,
    ty: &str,
    name: &str,
    value: &str,
    request: &mut SearchRequest,
) -> Result<(), FhirError> {
    match name {
        "_format" | "_pretty" => Ok(()),
        "_count" => {
            let n: usize = value.parse().map_err(|_| {
                bad(
                    name,
                    format!("_count={value} is not a non-negative integer"),
                )
            })?;
            request.count = Some(n.min(MAX_COUNT));
            Ok(())
        }
        "_sort" => {
            for key in value.split(',').filter(|k| !k.is_empty()) {
                let (descending, code) = match key.strip_prefix('-') {
                    Some(code) => (true, code),
                    None => (false, key),
                };
                let param = registry.get(ty, code).ok_or_else(|| {
                    bad(
                        name,
                        format!("cannot sort {ty} by unknown parameter {code:?}"),
                    )
                })?;
                if matches!(param.kind(), ParamType::Composite | ParamType::Special) {
                    return Err(bad(
                        name,
                        format!("cannot sort by the {:?} parameter {code:?}", param.kind()),
                    ));
                }
                if request.sort.len() >= MAX_SORT_KEYS {
                    return Err(bad(
                        name,
                        format!("_sort takes at most {MAX_SORT_KEYS} keys"),
                    ));
                }
                request.sort.push(SortKey {
                    code: code.to_string(),
                    descending,
                });
            }
            Ok(())
        }
        "_summary" => {
            request.summary = Some(match value {
                "true" => Summary::True,
                "false" => Summary::False,
                "count" => Summary::Count,
                "text" => Summary::Text,
                "data" => Summary::Data,
                _ => {
                    return Err(bad(
                        name,
                        format!("_summary={value} is not true, false, count, text or data"),
                    ))
                }
            });
            Ok(())
        }
        "_elements" => {
            request.elements = value
                .split(',')
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect();
            Ok(())
        }
        "_total" => {
            request.total = Some(match value {
                "none" => Total::None,
                "estimate" => Total::Estimate,
                "accurate" => Total::Accurate,
                _ => {
                    return Err(bad(
                        name,
                        format!("_total={value} is not none, estimate or accurate"),
                    ))
                }
            });
            Ok(())
        }
        "_include" | "_include:iterate" | "_revinclude" | "_revinclude:iterate" => {
            if request.includes.len() + request.revincludes.len() >= MAX_INCLUDES {
                return Err(bad(
                    name,
                    format!("a search takes at most {MAX_INCLUDES} _include and _revinclude"),
                ));
            }
            let include = parse_include(registry, name, value)?;
            if name.starts_with("_include") {
                request.includes.push(include);
            } else {
                request.revincludes.push(include);
            }
            Ok(())
        }
        _ => {
            let filter = parse_filter(registry, ty, name, value, 0)?;
            request.filters.push(filter);
            Ok(())
        }
    }
}

fn parse_include(registry: &SearchRegistry, name: &str, value: &str) -> Result<Include, FhirError> {
    let iterate = name.ends_with(":iterate");
    if value == "*" {
        return Err(bad(
            name,
            format!("{name}=* is not supported; name the reference parameter (Type:param)"),
        ));
    }
    let parts: Vec<&str> = value.split(':').collect();
    let (source, param, target) = match parts.as_slice() {
        [source, param] => (*source, *param, None),
        [source, param, target] => (*source, *param, Some(target.to_string())),
        _ => {
            return Err(bad(
                name,
                format!("{name}={value} is not Type:parameter[:targetType]"),
            ))
        }
    };
    let p = registry
        .get(source, param)
        .ok_or_else(|| bad(name, format!("{source} has no search parameter {param:?}")))?;
    if p.kind() != ParamType::Reference {
        return Err(bad(
            name,
            format!("{source}:{param} is not a reference parameter"),
        ));
    }
    if let Some(t) = &target {
        if !p.definition.target.iter().any(|x| x == t) {
            return Err(bad(name, format!("{source}:{param} cannot point at {t}")));
        }
    }
    Ok(Include {
        source_type: source.to_string(),
        param: Some(param.to_string()),
        target_type: target,
        iterate,
    })
}

fn parse_filter(
    registry: &SearchRegistry,
    ty: &str,
    name: &str,
    value: &str,
    depth: usize,
) -> Result<Filter, FhirError> {
    if depth > MAX_DEPTH {
        return Err(bad(
            name,
            format!("{name}: chains nest at most {MAX_DEPTH} deep"),
        ));
    }
    // Reverse chain: _has:Type:reference:rest
    if let Some(rest) = name.strip_prefix("_has:") {
        let mut parts = rest.splitn(3, ':');
        let (Some(source), Some(reference), Some(inner)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(
                name,
                format!("{name} is not _has:Type:reference:parameter"),
            ));
        };
        let link = registry.get(source, reference).ok_or_else(|| {
            bad(
                name,
                format!("{source} has no search parameter {reference:?}"),
            )
        })?;
        if link.kind() != ParamType::Reference
            || !(link.definition.target.is_empty()
                || link.definition.target.iter().any(|t| t == ty))
        {
            return Err(bad(
                name,
                format!("{source}:{reference} does not refer to {ty}"),
            ));
        }
        let inner = parse_filter(registry, source, inner, value, depth + 1)?;
        return Ok(Filter::Has {
            source_type: source.to_string(),
            reference: reference.to_string(),
            inner: Box::new(inner),
        });
    }
    // Chain: reference[:Type].rest
    if let Some((head, rest)) = name.split_once('.') {
        let (code, explicit) = match head.split_once(':') {
            Some((code, t)) => (code, Some(t)),
            None => (head, None),
        };
        let link = registry
            .get(ty, code)
            .ok_or_else(|| bad(name, format!("{ty} has no search parameter {code:?}")))?;
        if link.kind() != ParamType::Reference {
            return Err(bad(
                name,
                format!("{ty}.{code} is not a reference, so it cannot be chained"),
            ));
        }
        let chained_code = rest.split(['.', ':']).next().unwrap_or(rest);
        let target = match explicit {
            Some(t) if link.definition.target.iter().any(|x| x == t) => t.to_string(),
            Some(t) => return Err(bad(name, format!("{ty}.{code} cannot point at {t}"))),
            None => {
                // Without a type, the parameter must name one target that has the chained parameter.
                let candidates: Vec<&String> = link
                    .definition
                    .target
                    .iter()
                    .filter(|t| registry.get(t, chained_code).is_some())
                    .collect();
                match candidates.as_slice() {
                    [one] => (*one).clone(),
                    [] => {
                        return Err(bad(
                            name,
                            format!(
                                "no type {ty}.{code} points at has a parameter {chained_code:?}"
                            ),
                        ))
                    }
                    many => {
                        return Err(bad(
                            name,
                            format!(
                                "{ty}.{code} may point at {}; say which, e.g. {code}:{}.{rest}",
                                many.iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                many[0]
                            ),
                        ))
                    }
                }
            }
        };
        let inner = parse_filter(registry, &target, rest, value, depth + 1)?;
        return Ok(Filter::Chain {
            reference: code.to_string(),
            target_type: target,
            inner: Box::new(inner),
        });
    }
    let (code, modifier_text) = match name.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (name, None),
    };
    let param = registry
        .get(ty, code)
        .ok_or_else(|| bad(name, format!("unknown search parameter {code:?} for {ty}")))?;
    let kind = param.kind();
    if param.expression.is_none() || matches!(kind, ParamType::Special) {
        return Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(
                "not-supported",
                format!("search parameter {code:?} is not supported"),
            )
            .at(name.to_string()),
        ));
    }
    if kind == ParamType::Composite && registry.composite_kinds(param).is_none() {
        return Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(
                "not-supported",
                format!("composite search parameter {code:?} is not supported"),
            )
            .at(name.to_string()),
        ));
    }
    let modifier = modifier_text
        .map(|m| parse_modifier(name, kind, m, &param.definition.target))
        .transpose()?;
    if value.is_empty() {
        return Err(bad(name, format!("{name} has no value")));
    }
    let texts = split_values(value);
    if texts.len() > MAX_VALUES {
        return Err(bad(
            name,
            format!(
                "{name} has {} values; at most {MAX_VALUES} are allowed",
                texts.len()
            ),
        ));
    }
    let values = texts
        .into_iter()
        .map(|text| parse_value(name, kind, modifier.as_ref(), &text))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Filter::Param {
        code: code.to_string(),
        kind,
        modifier,
        values,
    })
}

fn parse_modifier(
    name: &str,
    kind: ParamType,
    text: &str,
    targets: &[String],
) -> Result<Modifier, FhirError> {
    use ParamType as T;
    let modifier = match (text, kind) {
        ("missing", _) => Modifier::Missing,
        ("exact", T::String) => Modifier::Exact,
        ("contains", T::String | T::Uri) => Modifier::Contains,
        ("text", T::Token) => Modifier::Text,
        ("not", T::Token) => Modifier::Not,
        ("above", T::Token | T::Uri) => Modifier::Above,
        ("below", T::Token | T::Uri) => Modifier::Below,
        ("in", T::Token) => Modifier::In,
        ("not-in", T::Token) => Modifier::NotIn,
        ("of-type", T::Token) => Modifier::OfType,
        ("identifier", T::Reference) => Modifier::Identifier,
        (t, T::Reference) if targets.iter().any(|x| x == t) => Modifier::Type(t.to_string()),
        _ => {
            return Err(bad(
                name,
                format!("modifier :{text} cannot be used on the {kind:?} parameter in {name}"),
            ))
        }
    };
    Ok(modifier)
}

fn parse_value(
    name: &str,
    kind: ParamType,
    modifier: Option<&Modifier>,
    text: &str,
) -> Result<SearchValue, FhirError> {
    if modifier == Some(&Modifier::Missing) {
        return match text {
            "true" | "false" => Ok(SearchValue {
                prefix: None,
                text: text.to_string(),
            }),
            _ => Err(bad(
                name,
                format!("{name}={text}: :missing takes true or false"),
            )),
        };
    }
    let (prefix, rest) = if matches!(
        kind,
        ParamType::Number | ParamType::Date | ParamType::Quantity
    ) {
        split_prefix(text)
    } else {
        (None, text)
    };
    let ok = match kind {
        ParamType::Date => date_range(rest).is_some(),
        ParamType::Number => rest.parse::<f64>().is_ok(),
        ParamType::Composite => rest
            .split_once('$')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()),
        ParamType::Quantity => {
            rest.split('|')
                .next()
                .is_some_and(|n| n.parse::<f64>().is_ok())
                && rest.split('|').count() <= 3
        }
        _ => true,
    };
    if !ok {
        return Err(bad(
            name,
            format!("{name}={text} is not a valid {kind:?} value"),
        ));
    }
    Ok(SearchValue {
        prefix,
        text: rest.to_string(),
    })
}

pub(crate) fn split_prefix(text: &str) -> (Option<Prefix>, &str) {
    let prefix = match text.get(..2) {
        Some("eq") => Prefix::Eq,
        Some("ne") => Prefix::Ne,
        Some("gt") => Prefix::Gt,
        Some("lt") => Prefix::Lt,
        Some("ge") => Prefix::Ge,
        Some("le") => Prefix::Le,
        Some("sa") => Prefix::Sa,
        Some("eb") => Prefix::Eb,
        Some("ap") => Prefix::Ap,
        _ => return (None, text),
    };
    (Some(prefix), &text[2..])
}

/// Splits ORed values on `,`, keeping `\,` as a comma.
fn split_values(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some(',' | '|' | '$' | '\\')) => parts
                .last_mut()
                .expect("nonempty")
                .push(chars.next().expect("peeked")),
            ',' => parts.push(String::new()),
            c => parts.last_mut().expect("nonempty").push(c),
        }
    }
    parts
}

fn decode(text: &str) -> Result<String, FhirError> {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| FhirError::invalid(format!("{text:?} is not valid UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn registry() -> &'static SearchRegistry {
        static R: OnceLock<SearchRegistry> = OnceLock::new();
        R.get_or_init(|| {
            SearchRegistry::r4(crate::fhir::schema::SchemaValidator::load().resource_types())
                .unwrap()
        })
    }

    fn strict(ty: &str, q: &str) -> Result<SearchRequest, FhirError> {
        parse(registry(), ty, q, true)
    }

    #[test]
    fn the_common_clinical_queries() {
        let r = strict(
            "Observation",
            "patient=p1&code=http://loinc.org|4548-4&_sort=-date&_count=5",
        )
        .unwrap();
        assert_eq!(r.filters.len(), 2);
        assert_eq!(
            r.sort,
            vec![SortKey {
                code: "date".into(),
                descending: true
            }]
        );
        assert_eq!(r.count, Some(5));
        let r = strict("Encounter", "patient=p1&date=ge2015").unwrap();
        assert!(
            matches!(&r.filters[1], Filter::Param { kind: ParamType::Date, values, .. } if values[0].prefix == Some(Prefix::Ge) && values[0].text == "2015")
        );
        let r = strict("MedicationRequest", "patient.identifier=urn:mrn|42").unwrap();
        assert!(
            matches!(&r.filters[0], Filter::Chain { reference, target_type, .. } if reference == "patient" && target_type == "Patient")
        );
        let r = strict("Patient", "_has:Observation:patient:code=4548-4").unwrap();
        assert!(
            matches!(&r.filters[0], Filter::Has { source_type, reference, .. } if source_type == "Observation" && reference == "patient")
        );
        let r = strict(
            "Patient",
            "name=smi,jon&name:exact=Smith&birthdate=1970-01-01",
        )
        .unwrap();
        assert!(matches!(&r.filters[0], Filter::Param { values, .. } if values.len() == 2));
        let r = strict(
            "Observation",
            "subject:Patient.name=smith&value-quantity=gt5.4|http://unitsofmeasure.org|mg",
        )
        .unwrap();
        assert!(
            matches!(&r.filters[0], Filter::Chain { target_type, .. } if target_type == "Patient")
        );
    }

    #[test]
    fn strict_refuses_and_names_the_parameter() {
        for (q, path) in [
            ("nonsense=1", "nonsense"),
            ("birthdate=yesterday", "birthdate"),
            ("name:text=x", "name:text"),
            ("gender:missing=maybe", "gender:missing"),
            ("_count=-1", "_count"),
            ("_sort=colour", "_sort"),
            ("general-practitioner.name=x", "general-practitioner.name"),
        ] {
            let err = strict("Patient", q).unwrap_err();
            assert_eq!(
                err.issues[0].expression.as_deref(),
                Some(path),
                "{q}: {err:?}"
            );
        }
    }

    #[test]
    fn lenient_ignores_and_reports() {
        let r = parse(registry(), "Patient", "nonsense=1&gender=female", false).unwrap();
        assert_eq!(r.filters.len(), 1);
        assert_eq!(r.ignored.len(), 1);
        assert_eq!(r.ignored[0].severity, "warning");
        assert_eq!(r.ignored[0].expression.as_deref(), Some("nonsense"));
    }

    #[test]
    fn escaping_and_includes() {
        let r = strict("Patient", "name=a\\,b").unwrap();
        assert!(
            matches!(&r.filters[0], Filter::Param { values, .. } if values.len() == 1 && values[0].text == "a,b")
        );
        let r = strict(
            "Observation",
            "_include=Observation:patient&_revinclude:iterate=Provenance:target",
        )
        .unwrap();
        assert_eq!(r.includes[0].param.as_deref(), Some("patient"));
        assert!(r.revincludes[0].iterate);
        assert!(strict("Observation", "_include=Observation:code").is_err());
    }
}
