//! The subset of FHIRPath that HL7's R4 search parameter expressions use, parsed once and
//! evaluated against resource JSON at indexing time.
//!
//! Supported: paths (`Observation.code.coding`), unions (`|`), choice elements
//! (`Observation.value` finds `valueQuantity`, `valueString`, ...), type casts in both forms
//! (`(Observation.value as Quantity)`, `Condition.onset.as(Age)`), `where(resolve() is Type)`
//! on references, `where(field = 'literal')`, `exists()`, `!=` against a literal, and `and`
//! of those (`Patient.deceased.exists() and Patient.deceased != false`). Every expression in
//! the vendored definitions parses (tested); anything else is a parse error, never a guess.

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a | b`
    Union(Vec<Expr>),
    /// A path: an optional root type, then steps.
    Path {
        root: Option<String>,
        steps: Vec<Step>,
    },
    /// `(expression)` followed by more steps, e.g. `(Observation.value as Quantity).value`.
    Then { inner: Box<Expr>, steps: Vec<Step> },
    /// `a and b` (booleans)
    And(Box<Expr>, Box<Expr>),
    /// `path != literal`
    NotEqual(Box<Expr>, Literal),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Child(String),
    /// `[n]`
    Index(usize),
    As(String),
    WhereResolveIs(String),
    WhereEquals(String, Literal),
    Exists,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Boolean(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One result: a JSON value and, when the path went through a choice element or a cast, its
/// FHIR type (`Quantity`, `dateTime`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Item<'a> {
    pub value: &'a Value,
    pub fhir_type: Option<String>,
}

/// Owned booleans produced by `exists()`/`and`/`!=` live here for the results to borrow.
static TRUE: Value = Value::Bool(true);
static FALSE: Value = Value::Bool(false);

const PRIMITIVES: &[&str] = &[
    "base64Binary",
    "boolean",
    "canonical",
    "code",
    "date",
    "dateTime",
    "decimal",
    "id",
    "instant",
    "integer",
    "markdown",
    "oid",
    "positiveInt",
    "string",
    "time",
    "unsignedInt",
    "uri",
    "url",
    "uuid",
];

// ---------------------------------------------------------------- parsing

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Dot,
    Pipe,
    Open,
    Close,
    Eq,
    NotEq,
    Index(usize),
}

fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '.' => {
                chars.next();
                tokens.push(Token::Dot);
            }
            '|' => {
                chars.next();
                tokens.push(Token::Pipe);
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '=' => {
                chars.next();
                tokens.push(Token::Eq);
            }
            '[' => {
                chars.next();
                let mut digits = String::new();
                while let Some(c) = chars.next_if(|c| c.is_ascii_digit()) {
                    digits.push(c);
                }
                if chars.next() != Some(']') || digits.is_empty() {
                    return Err(ParseError(format!("expected [number] in {text:?}")));
                }
                let n = digits
                    .parse()
                    .map_err(|_| ParseError(format!("index too large in {text:?}")))?;
                tokens.push(Token::Index(n));
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err(ParseError(format!("expected != in {text:?}")));
                }
                tokens.push(Token::NotEq);
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some('\\') => s.extend(chars.next()),
                        Some(c) => s.push(c),
                        None => return Err(ParseError(format!("unterminated string in {text:?}"))),
                    }
                }
                tokens.push(Token::Str(s));
            }
            '%' => {
                chars.next();
                let mut s = String::from('%');
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric()) {
                    s.push(c);
                }
                if s != "%resource" {
                    return Err(ParseError(format!("unsupported variable {s} in {text:?}")));
                }
                tokens.push(Token::Ident(s));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || c == '_' || c == '-' {
                        s.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Ident(s));
            }
            other => return Err(ParseError(format!("unexpected {other:?} in {text:?}"))),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    text: String,
}

pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        pos: 0,
        text: text.to_string(),
    };
    let expr = p.and_expr()?;
    if p.pos != p.tokens.len() {
        return Err(p.error("unexpected trailing input"));
    }
    Ok(expr)
}

impl Parser {
    fn error(&self, what: &str) -> ParseError {
        ParseError(format!("{what} at token {} of {:?}", self.pos, self.text))
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, token: Token) -> Result<(), ParseError> {
        if self.next() == Some(token.clone()) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {token:?}")))
        }
    }

    fn ident(&mut self) -> Result<String, ParseError> {
        match self.next() {
            Some(Token::Ident(s)) => Ok(s),
            _ => Err(self.error("expected a name")),
        }
    }

    fn literal(&mut self) -> Result<Literal, ParseError> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Literal::String(s)),
            Some(Token::Ident(s)) if s == "true" => Ok(Literal::Boolean(true)),
            Some(Token::Ident(s)) if s == "false" => Ok(Literal::Boolean(false)),
            _ => Err(self.error("expected a literal")),
        }
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let left = self.comparison()?;
        if matches!(self.peek(), Some(Token::Ident(s)) if s == "and") {
            self.next();
            let right = self.and_expr()?;
            return Ok(Expr::And(Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.union()?;
        if self.peek() == Some(&Token::NotEq) {
            self.next();
            let lit = self.literal()?;
            return Ok(Expr::NotEqual(Box::new(left), lit));
        }
        Ok(left)
    }

    fn union(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.term()?];
        while self.peek() == Some(&Token::Pipe) {
            self.next();
            parts.push(self.term()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Union(parts)
        })
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Token::Open) {
            self.next();
            // `(a as T)`: the path inside takes the cast as its last step.
            let inner = self.union()?;
            self.expect(Token::Close)?;
            let steps = self.steps()?;
            return Ok(if steps.is_empty() {
                inner
            } else {
                Expr::Then {
                    inner: Box::new(inner),
                    steps,
                }
            });
        }
        let first = self.ident()?;
        // A leading capitalised name is the root type (`Observation.code`); otherwise the
        // path is relative to the context (composite components: `value.as(Quantity)`).
        let is_root = first == "%resource" || first.starts_with(|c: char| c.is_ascii_uppercase());
        let (root, mut steps) = if is_root {
            (Some(first), Vec::new())
        } else {
            (None, vec![Step::Child(first)])
        };
        steps.extend(self.steps()?);
        // `path as Type` without parentheses.
        if matches!(self.peek(), Some(Token::Ident(s)) if s == "as") {
            self.next();
            steps.push(Step::As(self.ident()?));
        }
        Ok(Expr::Path { root, steps })
    }

    fn steps(&mut self) -> Result<Vec<Step>, ParseError> {
        let mut steps = Vec::new();
        loop {
            if let Some(Token::Index(n)) = self.peek() {
                steps.push(Step::Index(*n));
                self.next();
                continue;
            }
            if self.peek() != Some(&Token::Dot) {
                break;
            }
            self.next();
            let name = self.ident()?;
            if self.peek() != Some(&Token::Open) {
                steps.push(Step::Child(name));
                continue;
            }
            self.next();
            match name.as_str() {
                "as" | "ofType" => {
                    steps.push(Step::As(self.ident()?));
                    self.expect(Token::Close)?;
                }
                "exists" => {
                    self.expect(Token::Close)?;
                    steps.push(Step::Exists);
                }
                "where" => {
                    let field = self.ident()?;
                    if field == "resolve" {
                        self.expect(Token::Open)?;
                        self.expect(Token::Close)?;
                        match self.next() {
                            Some(Token::Ident(s)) if s == "is" => {}
                            _ => return Err(self.error("expected `is` after resolve()")),
                        }
                        steps.push(Step::WhereResolveIs(self.ident()?));
                    } else {
                        self.expect(Token::Eq)?;
                        steps.push(Step::WhereEquals(field, self.literal()?));
                    }
                    self.expect(Token::Close)?;
                }
                other => return Err(self.error(&format!("unsupported function {other}()"))),
            }
        }
        Ok(steps)
    }
}

// ---------------------------------------------------------------- evaluation

impl Expr {
    /// The root types this expression (or its union members) start from.
    pub fn roots(&self) -> Vec<&str> {
        match self {
            Expr::Union(parts) => parts.iter().flat_map(Expr::roots).collect(),
            Expr::Path { root, .. } => root.iter().map(String::as_str).collect(),
            Expr::Then { inner, .. } => inner.roots(),
            Expr::And(a, _) => a.roots(),
            Expr::NotEqual(a, _) => a.roots(),
        }
    }

    /// The part of a union that applies to resources of type `ty`: members rooted at `ty`, or
    /// at `Resource`/`DomainResource`. None if no member applies.
    pub fn for_type(&self, ty: &str) -> Option<Expr> {
        let applies = |e: &Expr| {
            e.roots()
                .iter()
                .any(|r| *r == ty || *r == "Resource" || *r == "DomainResource")
        };
        match self {
            Expr::Union(parts) => {
                let mut kept: Vec<Expr> = parts.iter().filter(|p| applies(p)).cloned().collect();
                match kept.len() {
                    0 => None,
                    1 => kept.pop(),
                    _ => Some(Expr::Union(kept)),
                }
            }
            other => applies(other).then(|| other.clone()),
        }
    }

    /// Evaluates against `context` (a resource for rooted expressions, an element for
    /// relative ones).
    pub fn evaluate<'a>(&self, resource: &'a Value) -> Vec<Item<'a>> {
        self.evaluate_at(resource, resource)
    }

    /// Evaluates relative to `context` (an element, for composite components), with
    /// `%resource` naming the resource being indexed.
    pub fn evaluate_at<'a>(&self, context: &'a Value, resource: &'a Value) -> Vec<Item<'a>> {
        let eval = |e: &Expr| e.evaluate_at(context, resource);
        match self {
            Expr::Union(parts) => parts.iter().flat_map(eval).collect(),
            Expr::Path { root, steps } => {
                let start = if root.as_deref() == Some("%resource") {
                    resource
                } else {
                    context
                };
                apply_steps(
                    vec![Item {
                        value: start,
                        fhir_type: root.clone(),
                    }],
                    steps,
                )
            }
            Expr::Then { inner, steps } => apply_steps(eval(inner), steps),
            Expr::And(a, b) => boolean(truthy(&eval(a)) && truthy(&eval(b))),
            Expr::NotEqual(a, literal) => {
                let items = eval(a);
                if items.is_empty() {
                    return Vec::new();
                }
                boolean(items.iter().any(|i| !literal.matches(i.value)))
            }
        }
    }
}

impl Literal {
    fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Literal::String(s), Value::String(v)) => s == v,
            (Literal::Boolean(b), Value::Bool(v)) => b == v,
            _ => false,
        }
    }
}

fn boolean<'a>(b: bool) -> Vec<Item<'a>> {
    vec![Item {
        value: if b { &TRUE } else { &FALSE },
        fhir_type: Some("boolean".into()),
    }]
}

fn truthy(items: &[Item]) -> bool {
    matches!(
        items,
        [Item {
            value: Value::Bool(true),
            ..
        }]
    )
}

fn apply_steps<'a>(mut items: Vec<Item<'a>>, steps: &[Step]) -> Vec<Item<'a>> {
    for step in steps {
        items = match step {
            Step::Child(name) => items.iter().flat_map(|i| children(i.value, name)).collect(),
            Step::Index(n) => items.into_iter().nth(*n).into_iter().collect(),
            Step::As(ty) => items
                .into_iter()
                .filter(|i| i.fhir_type.as_deref() == Some(ty.as_str()))
                .collect(),
            Step::WhereResolveIs(ty) => items
                .into_iter()
                .filter(|i| reference_type(i.value) == Some(ty.as_str()))
                .collect(),
            Step::WhereEquals(field, literal) => items
                .into_iter()
                .filter(|i| i.value.get(field).is_some_and(|v| literal.matches(v)))
                .collect(),
            Step::Exists => boolean(!items.is_empty()),
        };
    }
    items
}

/// The child `name` of an object, arrays flattened; a choice element `name[x]` is found by
/// its typed key (`valueQuantity`), which also gives the item its type.
fn children<'a>(value: &'a Value, name: &str) -> Vec<Item<'a>> {
    let Some(object) = value.as_object() else {
        return Vec::new();
    };
    let flatten = |v: &'a Value, ty: Option<String>| -> Vec<Item<'a>> {
        match v {
            Value::Array(list) => list
                .iter()
                .map(|x| Item {
                    value: x,
                    fhir_type: ty.clone(),
                })
                .collect(),
            other => vec![Item {
                value: other,
                fhir_type: ty,
            }],
        }
    };
    if let Some(v) = object.get(name) {
        return flatten(v, None);
    }
    object
        .iter()
        .filter_map(|(key, v)| {
            let suffix = key.strip_prefix(name)?;
            let first = suffix.chars().next()?;
            if !first.is_ascii_uppercase() {
                return None;
            }
            let lowered = format!("{}{}", first.to_ascii_lowercase(), &suffix[1..]);
            let ty = if PRIMITIVES.contains(&lowered.as_str()) {
                lowered
            } else {
                suffix.to_string()
            };
            Some(flatten(v, Some(ty)))
        })
        .flatten()
        .collect()
}

/// The type named by a Reference's `reference` (`Patient/1`, `http://x/fhir/Patient/1`,
/// `Patient/1/_history/2`).
pub fn reference_type(value: &Value) -> Option<&str> {
    let reference = value.get("reference")?.as_str()?;
    let path = reference.split('?').next()?;
    let parts: Vec<&str> = path.split('/').collect();
    let ty = match parts.as_slice() {
        [.., ty, _id, "_history", _vid] => ty,
        [.., ty, _id] => ty,
        _ => return None,
    };
    ty.starts_with(|c: char| c.is_ascii_uppercase())
        .then_some(*ty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values<'a>(expr: &str, resource: &'a Value) -> Vec<&'a Value> {
        parse(expr)
            .unwrap()
            .evaluate(resource)
            .into_iter()
            .map(|i| i.value)
            .collect()
    }

    #[test]
    fn paths_unions_and_choices() {
        let obs = json!({"resourceType": "Observation", "code": {"coding": [{"code": "a"}, {"code": "b"}]},
            "valueQuantity": {"value": 5}, "effectiveDateTime": "2020-01-01"});
        assert_eq!(
            values("Observation.code.coding.code", &obs),
            vec![&json!("a"), &json!("b")]
        );
        assert_eq!(
            values("(Observation.value as Quantity)", &obs),
            vec![&json!({"value": 5})]
        );
        assert!(values("(Observation.value as CodeableConcept)", &obs).is_empty());
        assert_eq!(
            values(
                "Observation.effective.as(dateTime) | Observation.code.coding.code",
                &obs
            )
            .len(),
            3
        );
        assert_eq!(
            values("(Observation.value as Quantity).value", &obs),
            vec![&json!(5)]
        );
    }

    #[test]
    fn indexers_and_the_resource_variable() {
        let obs = json!({"resourceType": "Observation", "code": {"coding": [{"code": "a"}, {"code": "b"}]},
            "component": [{"valueQuantity": {"value": 1}}]});
        assert_eq!(
            values("Observation.code.coding[1].code", &obs),
            vec![&json!("b")]
        );
        let component = parse("%resource.code.coding.code | value.as(Quantity).value").unwrap();
        let found: Vec<&Value> = component
            .evaluate_at(&obs["component"][0], &obs)
            .into_iter()
            .map(|i| i.value)
            .collect();
        assert_eq!(found, vec![&json!("a"), &json!("b"), &json!(1)]);
        assert!(parse("%context.x").is_err());
    }

    #[test]
    fn where_clauses() {
        let p = json!({"resourceType": "Patient",
            "telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "e"}],
            "generalPractitioner": [{"reference": "Practitioner/1"}, {"reference": "Organization/2"}]});
        assert_eq!(
            values("Patient.telecom.where(system='email')", &p),
            vec![&p["telecom"][1]]
        );
        assert_eq!(
            values(
                "Patient.generalPractitioner.where(resolve() is Organization)",
                &p
            ),
            vec![&p["generalPractitioner"][1]]
        );
    }

    #[test]
    fn deceased_special() {
        let e = "Patient.deceased.exists() and Patient.deceased != false";
        assert_eq!(
            values(
                e,
                &json!({"resourceType": "Patient", "deceasedBoolean": true})
            ),
            vec![&json!(true)]
        );
        assert_eq!(
            values(
                e,
                &json!({"resourceType": "Patient", "deceasedBoolean": false})
            ),
            vec![&json!(false)]
        );
        assert_eq!(
            values(
                e,
                &json!({"resourceType": "Patient", "deceasedDateTime": "2020"})
            ),
            vec![&json!(true)]
        );
        assert_eq!(
            values(e, &json!({"resourceType": "Patient"})),
            vec![&json!(false)]
        );
    }

    #[test]
    fn union_members_by_type() {
        let e = parse("Account.name | Patient.name | Resource.id").unwrap();
        assert_eq!(
            e.for_type("Patient").unwrap(),
            parse("Patient.name | Resource.id").unwrap()
        );
        assert_eq!(
            e.for_type("Observation").unwrap(),
            parse("Resource.id").unwrap()
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(parse("Patient.name.first()").is_err());
        assert!(parse("Patient.extension('x')").is_err());
        assert!(parse("Patient.name +").is_err());
    }

    #[test]
    fn reference_types() {
        assert_eq!(
            reference_type(&json!({"reference": "Patient/1"})),
            Some("Patient")
        );
        assert_eq!(
            reference_type(&json!({"reference": "http://x/fhir/Patient/1/_history/2"})),
            Some("Patient")
        );
        assert_eq!(reference_type(&json!({"reference": "#c"})), None);
        assert_eq!(reference_type(&json!({"display": "x"})), None);
    }
}
