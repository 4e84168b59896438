//! Builds a [`Node`] tree from yaml-rust2's parser events.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{Key, Node, NodeKind};

/// A problem found while reading YAML: a syntax error or a duplicate key.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlProblem {
    /// Line of the problem, counted from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses one YAML document into a [`Node`] tree.
///
/// A syntax error stops parsing (there is no tree to check after it); duplicate keys are
/// collected and returned together, since YAML would otherwise silently keep the last one.
pub fn parse_document(text: &str) -> Result<Node, Vec<YamlProblem>> {
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(err) = parser.load(&mut builder, false) {
        return Err(vec![YamlProblem {
            line: err.marker().line(),
            message: format!("YAML syntax error: {}", err.info()),
        }]);
    }
    if !builder.problems.is_empty() {
        return Err(builder.problems);
    }
    Ok(builder.root.unwrap_or(Node {
        line: 1,
        kind: NodeKind::Null,
    }))
}

/// A collection being built: a sequence, or a mapping with a key waiting for its value.
enum Open {
    Seq {
        line: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
    },
}

#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Open>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    problems: Vec<YamlProblem>,
}

impl TreeBuilder {
    /// Places a finished node into its parent (or as the root).
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    let name = match &node.kind {
                        NodeKind::Str(s) => s.clone(),
                        NodeKind::Int(i) => i.to_string(),
                        NodeKind::Float(f) => f.to_string(),
                        NodeKind::Bool(b) => b.to_string(),
                        NodeKind::Null => String::new(),
                        NodeKind::Seq(_) | NodeKind::Map(_) => {
                            self.problems.push(YamlProblem {
                                line: node.line,
                                message: "a mapping key must be plain text".into(),
                            });
                            String::new()
                        }
                    };
                    if entries.iter().any(|(k, _)| k.name == name) {
                        self.problems.push(YamlProblem {
                            line: node.line,
                            message: format!("key '{name}' appears twice in the same mapping"),
                        });
                    }
                    *pending_key = Some(Key {
                        name,
                        line: node.line,
                    });
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let kind = if style == TScalarStyle::Plain {
                    resolve_plain(&text)
                } else {
                    NodeKind::Str(text)
                };
                let node = Node { line, kind };
                self.remember(anchor, &node);
                self.push_node(node);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq {
                line,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Open::Map {
                line,
                anchor,
                entries: Vec::new(),
                pending_key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq {
                        line,
                        anchor,
                        items,
                    }) => (
                        Node {
                            line,
                            kind: NodeKind::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Open::Map {
                        line,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            line,
                            kind: NodeKind::Map(entries),
                        },
                        anchor,
                    ),
                    None => return,
                };
                self.remember(anchor, &node);
                self.push_node(node);
            }
            Event::Alias(anchor) => {
                let node = self.anchors.get(&anchor).cloned().unwrap_or(Node {
                    line,
                    kind: NodeKind::Null,
                });
                self.push_node(node);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Resolves a plain (unquoted) scalar by the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> NodeKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return NodeKind::Int(i);
    }
    let looks_numeric = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if looks_numeric {
        if let Ok(f) = text.parse::<f64>() {
            return NodeKind::Float(f);
        }
    }
    NodeKind::Str(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_lines_and_resolves_plain_scalars() {
        let node =
            parse_document("a: 1\nb:\n  - x\n  - 2.5\nc: 'true'\nd: true\ne: 1.2.0\n").unwrap();
        let b = node.get("b").unwrap();
        assert_eq!(b.line, 3);
        assert_eq!(node.get("a").unwrap().kind, NodeKind::Int(1));
        assert_eq!(node.get("c").unwrap().kind, NodeKind::Str("true".into()));
        assert_eq!(node.get("d").unwrap().kind, NodeKind::Bool(true));
        assert_eq!(node.get("e").unwrap().kind, NodeKind::Str("1.2.0".into()));
        let NodeKind::Seq(items) = &b.kind else {
            panic!("b is a list")
        };
        assert_eq!(items[1].kind, NodeKind::Float(2.5));
        assert_eq!(items[1].line, 4);
    }

    #[test]
    fn reports_duplicate_keys_with_lines() {
        let problems = parse_document("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3);
        assert!(problems[0].message.contains("'a' appears twice"));
    }

    #[test]
    fn reports_syntax_errors_with_line() {
        let problems = parse_document("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(problems[0].message.starts_with("YAML syntax error"));
        assert!(problems[0].line >= 1);
    }
}
