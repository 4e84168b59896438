//! Translating parsed search filters into one SQL statement over `resources` and
//! `search_index`, the same text on SQLite and PostgreSQL.
//!
//! Shape (see docs/search-design.md): the most selective positive filter drives the query as
//! `r.id IN (<set of matching ids>)`, served by the index's lookup key; every other filter is
//! a correlated `EXISTS` / `NOT EXISTS` on the owner key `(tenant, type, resource_id, param)`,
//! a point lookup per candidate. Both planners then start from the small set instead of
//! scanning a type, which keeps latency flat as a tenant's data grows. Every subquery binds
//! `tenant_id = $1`; on PostgreSQL row-level security applies as well.

use super::extract::{date_range, normalize, number_range};
use super::registry::{ParamType, SearchRegistry};
use super::request::{Filter, Modifier, Prefix, SearchValue, SortKey};
use crate::fhir::outcome::{FhirError, FhirResult};

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Real(f64),
    Int(i64),
}

/// SQL text under construction with its bound values; `$1` is always the tenant.
#[derive(Debug, Clone)]
pub struct Sql {
    pub binds: Vec<Bind>,
    aliases: usize,
}

impl Sql {
    pub fn new(tenant: &str) -> Sql {
        Sql {
            binds: vec![Bind::Text(tenant.to_string())],
            aliases: 0,
        }
    }

    pub fn text(&mut self, value: impl Into<String>) -> String {
        self.binds.push(Bind::Text(value.into()));
        format!("${}", self.binds.len())
    }

    fn real(&mut self, value: f64) -> String {
        self.binds.push(Bind::Real(value));
        format!("${}", self.binds.len())
    }

    pub fn int(&mut self, value: i64) -> String {
        self.binds.push(Bind::Int(value));
        format!("${}", self.binds.len())
    }

    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("i{}", self.aliases)
    }
}

/// What a translation needs besides the filters.
pub struct Context<'a> {
    pub registry: &'a SearchRegistry,
    /// This tenant's FHIR base (`http://host/t/x/fhir`), so absolute references to it match.
    pub base_url: &'a str,
    /// Microseconds since the epoch, for `ap` on dates.
    pub now: i64,
}

/// How selective a filter probably is; the lowest positive one drives the query.
fn rank(filter: &Filter) -> Option<u8> {
    match filter {
        Filter::Param { code, .. } if code == "_id" => Some(0),
        Filter::Param {
            modifier: Some(Modifier::Not | Modifier::Missing),
            ..
        } => None,
        Filter::Param { kind, .. } => Some(match kind {
            ParamType::Reference => 1,
            ParamType::Token => 2,
            ParamType::String | ParamType::Uri => 4,
            _ => 5,
        }),
        Filter::Chain { .. } => Some(1),
        Filter::Has { .. } => Some(3),
    }
}

fn is_negative(filter: &Filter) -> bool {
    match filter {
        Filter::Param {
            modifier: Some(Modifier::Not),
            ..
        } => true,
        Filter::Param {
            modifier: Some(Modifier::Missing),
            values,
            ..
        } => values.iter().any(|v| v.text == "true"),
        _ => false,
    }
}

/// An extra condition that is not a search parameter: membership of a patient's compartment
/// (`Patient/{id}/Observation?...`, `$everything`).
#[derive(Debug, Clone)]
pub struct Compartment {
    pub patient_id: String,
    /// The reference parameters of the searched type that place it in the compartment.
    pub params: Vec<String>,
}

/// The WHERE conditions (joined with AND) selecting resources `r` of type `ty` that match all
/// `filters`. `driver` lets the caller disable the IN-driver (system-wide searches).
pub fn where_clause(
    ctx: &Context,
    q: &mut Sql,
    ty: Option<&str>,
    filters: &[Filter],
    compartment: Option<&Compartment>,
) -> FhirResult<String> {
    let mut conditions = vec!["r.tenant_id = $1".to_string(), "r.deleted = 0".to_string()];
    if let Some(ty) = ty {
        let t = q.text(ty);
        conditions.push(format!("r.resource_type = {t}"));
    }
    // The compartment is the most selective condition there is; otherwise the best filter.
    let mut driver: Option<usize> = None;
    if let (Some(ty), Some(c)) = (ty, compartment) {
        conditions.push(compartment_condition(q, ty, c));
    } else if ty.is_some() {
        driver = filters
            .iter()
            .enumerate()
            .filter_map(|(i, f)| rank(f).map(|r| (r, i)))
            .min()
            .map(|(_, i)| i);
    }
    for (i, filter) in filters.iter().enumerate() {
        let condition = match (driver == Some(i), ty) {
            (true, Some(ty)) => match filter {
                Filter::Param { code, .. } if code == "_id" => row_condition(ctx, q, "r", filter)?,
                _ => format!("r.id IN ({})", set(ctx, q, ty, filter)?),
            },
            _ => condition(ctx, q, ty, "r", filter)?,
        };
        conditions.push(condition);
    }
    Ok(conditions.join(" AND "))
}

fn compartment_condition(q: &mut Sql, ty: &str, c: &Compartment) -> String {
    if ty == "Patient" {
        let id = q.text(&c.patient_id);
        return format!("r.id = {id}");
    }
    let target = q.text(format!("Patient/{}", c.patient_id));
    let t = q.text(ty);
    let params: Vec<String> = c.params.iter().map(|p| q.text(p)).collect();
    let a = q.alias();
    format!(
        "r.id IN (SELECT {a}.resource_id FROM search_index {a} WHERE {a}.tenant_id = $1 \
         AND {a}.resource_type = {t} AND {a}.param IN ({}) AND {a}.term = {target})",
        params.join(", ")
    )
}

/// A condition on the resource aliased `r` (a table alias or, in nested filters, an
/// expression's table) — correlated, evaluated per candidate row.
fn condition(
    ctx: &Context,
    q: &mut Sql,
    ty: Option<&str>,
    r: &str,
    filter: &Filter,
) -> FhirResult<String> {
    correlated(
        ctx,
        q,
        ty,
        &format!("{r}.resource_type"),
        &format!("{r}.id"),
        filter,
        Some(r),
    )
}

/// A filter on `(type_expr, id_expr)`; `row` names the `resources` alias when there is one
/// (for `_id` and `_lastUpdated`, which are its columns).
fn correlated(
    ctx: &Context,
    q: &mut Sql,
    ty: Option<&str>,
    type_expr: &str,
    id_expr: &str,
    filter: &Filter,
    row: Option<&str>,
) -> FhirResult<String> {
    match filter {
        Filter::Param { code, .. } if code == "_id" || code == "_lastUpdated" => match row {
            Some(r) => row_condition(ctx, q, r, filter),
            None => {
                // Nested (inside `_has`): look the resource row up.
                let a = q.alias();
                let inner = row_condition(ctx, q, &a, filter)?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM resources {a} WHERE {a}.tenant_id = $1 AND {a}.resource_type = {type_expr} \
                     AND {a}.id = {id_expr} AND {a}.deleted = 0 AND {inner})"
                ))
            }
        },
        Filter::Param {
            code,
            kind,
            modifier,
            values,
        } => {
            let a = q.alias();
            let (param, kind) = stored_param(code, *kind, modifier.as_ref());
            let p = q.text(param);
            let head = format!(
                "SELECT 1 FROM search_index {a} WHERE {a}.tenant_id = $1 AND {a}.resource_type = {type_expr} \
                 AND {a}.resource_id = {id_expr} AND {a}.param = {p}"
            );
            match modifier {
                Some(Modifier::Missing) => {
                    let missing = values.iter().any(|v| v.text == "true");
                    Ok(format!(
                        "{}EXISTS ({head})",
                        if missing { "NOT " } else { "" }
                    ))
                }
                Some(Modifier::Not) => {
                    let ors = values_condition(ctx, q, &a, ty, code, kind, None, values)?;
                    Ok(format!("NOT EXISTS ({head} AND ({ors}))"))
                }
                _ => {
                    let ors =
                        values_condition(ctx, q, &a, ty, code, kind, modifier.as_ref(), values)?;
                    Ok(format!("EXISTS ({head} AND ({ors}))"))
                }
            }
        }
        Filter::Chain {
            reference,
            target_type,
            inner,
        } => {
            let a = q.alias();
            let p = q.text(reference);
            let prefix = q.text(format!("{target_type}/"));
            let targets = set(ctx, q, target_type, inner)?;
            Ok(format!(
                "EXISTS (SELECT 1 FROM search_index {a} WHERE {a}.tenant_id = $1 AND {a}.resource_type = {type_expr} \
                 AND {a}.resource_id = {id_expr} AND {a}.param = {p} \
                 AND {a}.term IN (SELECT {prefix} || c.rid FROM ({targets}) c))"
            ))
        }
        Filter::Has {
            source_type,
            reference,
            inner,
        } => {
            let a = q.alias();
            let source = q.text(source_type);
            let p = q.text(reference);
            // The referring resource must point at this one and itself match `inner`.
            let me = format!("{type_expr} || '/' || {id_expr}");
            let inner_condition = correlated(
                ctx,
                q,
                Some(source_type),
                &format!("{a}.resource_type"),
                &format!("{a}.resource_id"),
                inner,
                None,
            )?;
            Ok(format!(
                "EXISTS (SELECT 1 FROM search_index {a} WHERE {a}.tenant_id = $1 AND {a}.resource_type = {source} \
                 AND {a}.param = {p} AND {a}.term = {me} AND {inner_condition})"
            ))
        }
    }
}

/// An uncorrelated query of the ids (column `rid`) of live resources of `ty` matching `filter`.
/// Only rows of current versions are in the index, so no join to `resources` is needed.
pub fn set(ctx: &Context, q: &mut Sql, ty: &str, filter: &Filter) -> FhirResult<String> {
    let t = q.text(ty);
    match filter {
        Filter::Param { code, .. } if code == "_id" || code == "_lastUpdated" => {
            let a = q.alias();
            let c = row_condition(ctx, q, &a, filter)?;
            Ok(format!(
                "SELECT {a}.id AS rid FROM resources {a} WHERE {a}.tenant_id = $1 AND {a}.resource_type = {t} \
                 AND {a}.deleted = 0 AND {c}"
            ))
        }
        Filter::Param {
            code,
            kind,
            modifier,
            values,
        } if !is_negative(filter) => {
            let a = q.alias();
            let (param, kind) = stored_param(code, *kind, modifier.as_ref());
            let p = q.text(param);
            let ors = match modifier {
                Some(Modifier::Missing) => "1 = 1".to_string(),
                _ => values_condition(ctx, q, &a, Some(ty), code, kind, modifier.as_ref(), values)?,
            };
            Ok(format!(
                "SELECT {a}.resource_id AS rid FROM search_index {a} WHERE {a}.tenant_id = $1 \
                 AND {a}.resource_type = {t} AND {a}.param = {p} AND ({ors})"
            ))
        }
        Filter::Chain {
            reference,
            target_type,
            inner,
        } => {
            let a = q.alias();
            let p = q.text(reference);
            let prefix = q.text(format!("{target_type}/"));
            let targets = set(ctx, q, target_type, inner)?;
            Ok(format!(
                "SELECT {a}.resource_id AS rid FROM search_index {a} WHERE {a}.tenant_id = $1 \
                 AND {a}.resource_type = {t} AND {a}.param = {p} \
                 AND {a}.term IN (SELECT {prefix} || c.rid FROM ({targets}) c)"
            ))
        }
        Filter::Has {
            source_type,
            reference,
            inner,
        } if ty == "Patient" && reference == "patient" && patients_on_rows(inner) => {
            patients_of_matching_rows(ctx, q, source_type, inner)
        }
        Filter::Has {
            source_type,
            reference,
            inner,
        } => {
            let a = q.alias();
            let p = q.text(reference);
            let low = q.text(format!("{ty}/"));
            let high = q.text(format!("{ty}0")); // '0' follows '/' in byte order
            let sources = set(ctx, q, source_type, inner)?;
            let source = q.text(source_type);
            let skip = q.int(ty.len() as i64 + 2);
            // From the referring resources that match to what they point at, through the
            // owner key. CROSS JOIN keeps that order on SQLite (its planner otherwise may
            // walk every reference of the type first); PostgreSQL plans it by cost.
            Ok(format!(
                "SELECT substr({a}.term, CAST({skip} AS INTEGER)) AS rid FROM ({sources}) s \
                 CROSS JOIN search_index {a} WHERE {a}.tenant_id = $1 AND {a}.resource_type = {source} \
                 AND {a}.resource_id = s.rid AND {a}.param = {p} \
                 AND {a}.term >= {low} AND {a}.term < {high}"
            ))
        }
        // A negative filter as a set: every live resource of the type that passes it.
        _ => {
            let c = condition(ctx, q, Some(ty), "n", filter)?;
            Ok(format!(
                "SELECT n.id AS rid FROM resources n WHERE n.tenant_id = $1 AND n.resource_type = {t} \
                 AND n.deleted = 0 AND {c}"
            ))
        }
    }
}

/// The index `param` a filter reads, and the type its values have there: `:identifier` reads
/// the reference's identifier, indexed as a token under `code:identifier`.
/// Can `_has:<type>:patient:<inner>` read the patients off the rows `inner` matches? Only
/// for a plain positive parameter of the referring type itself: its rows then carry the
/// patient (`IndexRow::patient`).
fn patients_on_rows(inner: &Filter) -> bool {
    match inner {
        Filter::Param { code, modifier, .. } => {
            code != "_id"
                && code != "_lastUpdated"
                && !matches!(modifier, Some(Modifier::Missing))
                && !is_negative(inner)
        }
        _ => false,
    }
}

/// `Patient?_has:<source>:patient:<param>=...`: the patients carried by the rows of `source`
/// resources that match — one range scan, not one reference probe per referring resource.
/// Resources that name several patients (`patient` = `~`) are followed through their
/// `patient` references, as the general form does.
fn patients_of_matching_rows(
    ctx: &Context,
    q: &mut Sql,
    source_type: &str,
    inner: &Filter,
) -> FhirResult<String> {
    let Filter::Param {
        code,
        kind,
        modifier,
        values,
    } = inner
    else {
        unreachable!("checked by patients_on_rows");
    };
    let (param, kind) = stored_param(code, *kind, modifier.as_ref());
    let source = q.text(source_type);
    let (a, b, r) = (q.alias(), q.alias(), q.alias());
    let p = q.text(&param);
    let direct = values_condition(
        ctx,
        q,
        &a,
        Some(source_type),
        code,
        kind,
        modifier.as_ref(),
        values,
    )?;
    let several = values_condition(
        ctx,
        q,
        &b,
        Some(source_type),
        code,
        kind,
        modifier.as_ref(),
        values,
    )?;
    let reference = q.text("patient");
    let low = q.text("Patient/");
    let high = q.text("Patient0"); // '0' follows '/' in byte order
    let skip = q.int("Patient/".len() as i64 + 1);
    Ok(format!(
        "SELECT {a}.patient AS rid FROM search_index {a} WHERE {a}.tenant_id = $1 \
         AND {a}.resource_type = {source} AND {a}.param = {p} AND ({direct}) \
         AND {a}.patient <> '' AND {a}.patient <> '{several_mark}' \
         UNION SELECT substr({r}.term, CAST({skip} AS INTEGER)) AS rid FROM ( \
             SELECT {b}.resource_id AS rid FROM search_index {b} WHERE {b}.tenant_id = $1 \
             AND {b}.resource_type = {source} AND {b}.param = {p} AND ({several}) \
             AND {b}.patient = '{several_mark}') s \
         CROSS JOIN search_index {r} WHERE {r}.tenant_id = $1 AND {r}.resource_type = {source} \
         AND {r}.resource_id = s.rid AND {r}.param = {reference} \
         AND {r}.term >= {low} AND {r}.term < {high}",
        several_mark = crate::fhir::index::SEVERAL_PATIENTS,
    ))
}

fn stored_param(code: &str, kind: ParamType, modifier: Option<&Modifier>) -> (String, ParamType) {
    match modifier {
        Some(Modifier::Identifier) => (format!("{code}:identifier"), ParamType::Token),
        _ => (code.to_string(), kind),
    }
}

/// `_id` and `_lastUpdated`: conditions on the `resources` row aliased `r`.
fn row_condition(ctx: &Context, q: &mut Sql, r: &str, filter: &Filter) -> FhirResult<String> {
    let Filter::Param {
        code,
        modifier,
        values,
        ..
    } = filter
    else {
        unreachable!("row conditions are parameters");
    };
    match (code.as_str(), modifier) {
        (_, Some(Modifier::Missing)) => Ok(if values.iter().any(|v| v.text == "true") {
            "1 = 0".into()
        } else {
            "1 = 1".into()
        }),
        ("_id", m) => {
            let ids: Vec<String> = values.iter().map(|v| q.text(&v.text)).collect();
            let not = if m == &Some(Modifier::Not) {
                "NOT "
            } else {
                ""
            };
            Ok(format!("{r}.id {not}IN ({})", ids.join(", ")))
        }
        _ => {
            let ors: Vec<String> = values
                .iter()
                .map(|v| {
                    let (low, high) = date_bounds(&v.text)?;
                    Ok(range_condition(
                        q,
                        &format!("{r}.last_updated"),
                        &format!("{r}.last_updated"),
                        v.prefix,
                        (low as f64, high as f64),
                        date_approximation(ctx, low, high),
                    ))
                })
                .collect::<FhirResult<_>>()?;
            Ok(format!("({})", ors.join(" OR ")))
        }
    }
}

fn date_bounds(text: &str) -> FhirResult<(i64, i64)> {
    date_range(text).ok_or_else(|| FhirError::invalid(format!("{text:?} is not a FHIR date")))
}

/// `ap` on dates: within 10% of the distance to now, and at least a day.
fn date_approximation(ctx: &Context, low: i64, high: i64) -> f64 {
    let gap = (ctx.now - (low / 2 + high / 2)).abs() as f64;
    (gap * 0.1).max(86_400_000_000.0)
}

/// The ORed value conditions of one parameter on index alias `a`.
#[allow(clippy::too_many_arguments)]
fn values_condition(
    ctx: &Context,
    q: &mut Sql,
    a: &str,
    ty: Option<&str>,
    code: &str,
    kind: ParamType,
    modifier: Option<&Modifier>,
    values: &[SearchValue],
) -> FhirResult<String> {
    let ors: Vec<String> = values
        .iter()
        .map(|v| value_condition(ctx, q, a, ty, code, kind, modifier, v))
        .collect::<FhirResult<_>>()?;
    Ok(ors.join(" OR "))
}

/// The greatest code point, so `[v, v + MAX)` is every string starting with `v`.
const PREFIX_END: char = '\u{10FFFF}';

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[allow(clippy::too_many_arguments)]
fn value_condition(
    ctx: &Context,
    q: &mut Sql,
    a: &str,
    ty: Option<&str>,
    code: &str,
    kind: ParamType,
    modifier: Option<&Modifier>,
    v: &SearchValue,
) -> FhirResult<String> {
    let text = v.text.as_str();
    Ok(match kind {
        ParamType::String => match modifier {
            Some(Modifier::Exact) => {
                let term = q.text(normalize(text));
                let exact = q.text(text);
                format!("({a}.term = {term} AND {a}.qualifier = {exact})")
            }
            Some(Modifier::Contains) => {
                let pattern = q.text(format!("%{}%", like_escape(&normalize(text))));
                format!("{a}.term LIKE {pattern} ESCAPE '\\'")
            }
            _ => prefix_condition(q, &format!("{a}.term"), &normalize(text)),
        },
        ParamType::Token => {
            match modifier {
                Some(Modifier::Text) => {
                    let start = q.text(format!("{}%", like_escape(&normalize(text))));
                    let word = q.text(format!("% {}%", like_escape(&normalize(text))));
                    format!("({a}.display LIKE {start} ESCAPE '\\' OR {a}.display LIKE {word} ESCAPE '\\')")
                }
                _ => token_condition(q, a, text),
            }
        }
        ParamType::Reference => {
            let targets = ty
                .and_then(|t| ctx.registry.get(t, code))
                .map(|p| p.definition.target.clone())
                .unwrap_or_default();
            reference_condition(ctx, q, a, &targets, modifier, text)?
        }
        ParamType::Uri => match modifier {
            Some(Modifier::Below) => prefix_condition(q, &format!("{a}.term"), text),
            Some(Modifier::Above) => {
                let value = q.text(text);
                format!("substr({value}, 1, length({a}.term)) = {a}.term")
            }
            Some(Modifier::Contains) => {
                let pattern = q.text(format!("%{}%", like_escape(text)));
                format!("{a}.term LIKE {pattern} ESCAPE '\\'")
            }
            _ => {
                let value = q.text(text);
                format!("{a}.term = {value}")
            }
        },
        ParamType::Date => {
            let (low, high) = date_bounds(text)?;
            range_condition(
                q,
                &format!("{a}.low"),
                &format!("{a}.high"),
                v.prefix,
                (low as f64, high as f64),
                date_approximation(ctx, low, high),
            )
        }
        ParamType::Number => number_condition(q, a, v.prefix, text)?,
        ParamType::Quantity => {
            let mut parts = text.splitn(3, '|');
            let number = parts.next().unwrap_or_default();
            let system = parts.next().filter(|s| !s.is_empty());
            let unit = parts.next().filter(|s| !s.is_empty());
            let mut c = number_condition(q, a, v.prefix, number)?;
            if let Some(system) = system {
                let s = q.text(system);
                c = format!("{c} AND {a}.qualifier = {s}");
            }
            if let Some(unit) = unit {
                let u = q.text(unit);
                c = format!("{c} AND {a}.term = {u}");
            }
            format!("({c})")
        }
        ParamType::Composite => {
            let second = ty
                .and_then(|t| ctx.registry.get(t, code))
                .and_then(|p| ctx.registry.composite_kinds(p))
                .map(|(_, second)| second)
                .ok_or_else(|| {
                    FhirError::invalid(format!("search parameter {code:?} is not supported"))
                })?;
            let (first, rest) = text.split_once('$').ok_or_else(|| {
                FhirError::invalid(format!("{code}={text}: a composite value is a$b"))
            })?;
            let token = token_condition(q, a, first);
            // Prefixes only exist on ordered values (`neg` is a code, not `ne` + `g`).
            let (prefix, rest) = match second {
                ParamType::Quantity | ParamType::Number | ParamType::Date => {
                    super::request::split_prefix(rest)
                }
                _ => (None, rest),
            };
            let value = match second {
                ParamType::Quantity => {
                    let mut parts = rest.splitn(3, '|');
                    let number = parts.next().unwrap_or_default();
                    let system = parts.next().filter(|s| !s.is_empty());
                    let unit = parts.next().filter(|s| !s.is_empty());
                    let mut c = number_condition(q, a, prefix, number)?;
                    match (system, unit) {
                        (Some(system), Some(unit)) => {
                            let d = q.text(format!("{system}|{unit}"));
                            c = format!("{c} AND {a}.display = {d}");
                        }
                        (None, Some(unit)) => {
                            let exact = q.text(unit);
                            let suffix = q.text(format!("%|{}", like_escape(unit)));
                            c = format!(
                                "{c} AND ({a}.display = {exact} OR {a}.display LIKE {suffix} ESCAPE '\\')"
                            );
                        }
                        _ => {}
                    }
                    c
                }
                ParamType::Number => number_condition(q, a, prefix, rest)?,
                ParamType::Date => {
                    let (low, high) = date_bounds(rest)?;
                    range_condition(
                        q,
                        &format!("{a}.low"),
                        &format!("{a}.high"),
                        prefix,
                        (low as f64, high as f64),
                        date_approximation(ctx, low, high),
                    )
                }
                ParamType::Token if !rest.contains('|') => {
                    let exact = q.text(rest);
                    let suffix = q.text(format!("%|{}", like_escape(rest)));
                    format!("({a}.display = {exact} OR {a}.display LIKE {suffix} ESCAPE '\\')")
                }
                ParamType::String => prefix_condition(q, &format!("{a}.display"), &normalize(rest)),
                _ => {
                    let exact = q.text(rest.trim_start_matches('|'));
                    format!("{a}.display = {exact}")
                }
            };
            format!("({token} AND {value})")
        }
        ParamType::Special => {
            return Err(FhirError::invalid(format!(
                "search parameter {code:?} is not supported"
            )))
        }
    })
}

fn prefix_condition(q: &mut Sql, column: &str, prefix: &str) -> String {
    let low = q.text(prefix);
    let high = q.text(format!("{prefix}{PREFIX_END}"));
    format!("({column} >= {low} AND {column} < {high})")
}

/// `code`, `system|code`, `|code` (no system) or `system|` (any code in the system).
fn token_condition(q: &mut Sql, a: &str, text: &str) -> String {
    match text.split_once('|') {
        None => {
            let code = q.text(text);
            format!("{a}.term = {code}")
        }
        Some((system, "")) => {
            let s = q.text(system);
            format!("{a}.qualifier = {s}")
        }
        Some((system, code)) => {
            let c = q.text(code);
            let s = q.text(system);
            format!("({a}.term = {c} AND {a}.qualifier = {s})")
        }
    }
}

fn reference_condition(
    ctx: &Context,
    q: &mut Sql,
    a: &str,
    targets: &[String],
    modifier: Option<&Modifier>,
    text: &str,
) -> FhirResult<String> {
    if modifier == Some(&Modifier::Identifier) {
        return Ok(token_condition(q, a, text));
    }
    // An absolute reference to this server is the same as the relative one.
    let base = format!("{}/", ctx.base_url.trim_end_matches('/'));
    let relative = text.strip_prefix(&base).unwrap_or(text);
    if relative.contains("://") || relative.starts_with("urn:") {
        let url = q.text(relative);
        return Ok(format!("({a}.term = {url} OR {a}.qualifier = {url})"));
    }
    let relative = relative.split("/_history/").next().unwrap_or(relative);
    let terms: Vec<String> = match (relative.split_once('/'), modifier) {
        (Some(_), Some(Modifier::Type(t))) if !relative.starts_with(&format!("{t}/")) => {
            return Ok("1 = 0".into())
        }
        (Some(_), _) => vec![relative.to_string()],
        (None, Some(Modifier::Type(t))) => vec![format!("{t}/{relative}")],
        (None, _) => {
            if targets.is_empty() {
                let pattern = q.text(format!("%/{}", like_escape(relative)));
                return Ok(format!("{a}.term LIKE {pattern} ESCAPE '\\'"));
            }
            targets.iter().map(|t| format!("{t}/{relative}")).collect()
        }
    };
    let binds: Vec<String> = terms.into_iter().map(|t| q.text(t)).collect();
    Ok(format!("{a}.term IN ({})", binds.join(", ")))
}

/// Prefix semantics on a stored range `[low, high]` against the search range `[ql, qh]`
/// (FHIR R4 3.1.1.4.10): `eq` contained, `gt` the stored range reaches above, `ge` reaches
/// the search range or above, `sa` starts after, `eb` ends before, `ap` overlaps the search
/// range widened by `approx` on each side.
fn range_condition(
    q: &mut Sql,
    low: &str,
    high: &str,
    prefix: Option<Prefix>,
    (ql, qh): (f64, f64),
    approx: f64,
) -> String {
    let mut b = |v: f64| q.real(v);
    match prefix.unwrap_or(Prefix::Eq) {
        Prefix::Eq => format!("({low} >= {} AND {high} <= {})", b(ql), b(qh)),
        Prefix::Ne => format!("NOT ({low} >= {} AND {high} <= {})", b(ql), b(qh)),
        Prefix::Gt => format!("{high} > {}", b(qh)),
        Prefix::Lt => format!("{low} < {}", b(ql)),
        Prefix::Ge => format!("{high} >= {}", b(ql)),
        Prefix::Le => format!("{low} <= {}", b(qh)),
        Prefix::Sa => format!("{low} > {}", b(qh)),
        Prefix::Eb => format!("{high} < {}", b(ql)),
        Prefix::Ap => format!(
            "({low} <= {} AND {high} >= {})",
            b(qh + approx),
            b(ql - approx)
        ),
    }
}

/// Numbers: `eq` uses the precision the value is written with (`100` is [99.5, 100.5]);
/// the ordering prefixes compare with the value itself; `ap` is within 10%.
fn number_condition(
    q: &mut Sql,
    a: &str,
    prefix: Option<Prefix>,
    text: &str,
) -> FhirResult<String> {
    let number: serde_json::Number = text
        .parse()
        .map_err(|_| FhirError::invalid(format!("{text:?} is not a number")))?;
    let (value, low, high) = number_range(&number)
        .ok_or_else(|| FhirError::invalid(format!("{text:?} is not a number")))?;
    let (low_col, high_col) = (format!("{a}.low"), format!("{a}.high"));
    // Equality is the half-open precision range [low, high): `100` does not match 100.5.
    match prefix.unwrap_or(Prefix::Eq) {
        Prefix::Eq => {
            return Ok(format!(
                "({low_col} >= {} AND {high_col} < {})",
                q.real(low),
                q.real(high)
            ))
        }
        Prefix::Ne => {
            return Ok(format!(
                "NOT ({low_col} >= {} AND {high_col} < {})",
                q.real(low),
                q.real(high)
            ))
        }
        _ => {}
    }
    let (ql, qh) = (value, value);
    Ok(range_condition(
        q,
        &format!("{a}.low"),
        &format!("{a}.high"),
        prefix,
        (ql, qh),
        (value * 0.1).abs(),
    ))
}

/// `ORDER BY` support: the select-list expressions of the sort keys (aliased `s0`, `s1`, ...)
/// and the ordering over them. Resources without a value sort last in either direction;
/// the id breaks ties so the order is total.
pub fn sort(ctx: &Context, q: &mut Sql, ty: Option<&str>, keys: &[SortKey]) -> (String, String) {
    let mut columns = Vec::new();
    let mut order = Vec::new();
    for (n, key) in keys.iter().enumerate() {
        let kind = ty
            .and_then(|t| ctx.registry.get(t, &key.code))
            .map(|p| p.kind());
        let expr = match key.code.as_str() {
            "_id" => "r.id".to_string(),
            "_lastUpdated" => "r.last_updated".to_string(),
            code => {
                let a = q.alias();
                let p = q.text(code);
                let column = match (kind, key.descending) {
                    (Some(ParamType::Date | ParamType::Number | ParamType::Quantity), false) => {
                        format!("MIN({a}.low)")
                    }
                    (Some(ParamType::Date | ParamType::Number | ParamType::Quantity), true) => {
                        format!("MAX({a}.high)")
                    }
                    (_, false) => format!("MIN({a}.term)"),
                    (_, true) => format!("MAX({a}.term)"),
                };
                format!(
                    "(SELECT {column} FROM search_index {a} WHERE {a}.tenant_id = $1 \
                     AND {a}.resource_type = r.resource_type AND {a}.resource_id = r.id AND {a}.param = {p})"
                )
            }
        };
        columns.push(format!("{expr} AS s{n}"));
        let direction = if key.descending { "DESC" } else { "ASC" };
        order.push(format!("(x.s{n} IS NULL), x.s{n} {direction}"));
    }
    order.push("x.resource_type, x.id".to_string());
    (
        columns.iter().map(|c| format!(", {c}")).collect(),
        order.join(", "),
    )
}
