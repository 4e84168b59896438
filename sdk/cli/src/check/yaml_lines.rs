//! Where things are in a YAML file: the line of each key and sequence item, by its path
//! (`permissions.fhir.Patient`, `items[2].linkId`). serde_yaml reports lines only for parse
//! errors; checks that run after parsing use this to point at the offending line.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Lines (1-based) by path. A path names the key of a mapping entry or an item of a
/// sequence; the line is where that key or item starts.
#[derive(Debug, Default)]
pub struct YamlLines {
    lines: HashMap<String, usize>,
}

enum Frame {
    Mapping {
        path: String,
        /// The key just read, waiting for its value.
        key: Option<String>,
    },
    Sequence {
        path: String,
        index: usize,
    },
}

#[derive(Default)]
struct Collector {
    stack: Vec<Frame>,
    lines: HashMap<String, usize>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Collector {
    /// The path of the value starting now, after recording where it starts.
    fn value_path(&mut self, line: usize) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Mapping { path, key }) => key.take().map(|k| join(path, &k)),
            Some(Frame::Sequence { path, index }) => {
                let item = format!("{path}[{index}]");
                *index += 1;
                self.lines.entry(item.clone()).or_insert(line);
                Some(item)
            }
        }
    }
}

impl MarkedEventReceiver for Collector {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        // A scalar in a mapping with no pending key is itself a key.
        if let (
            Event::Scalar(text, ..),
            Some(Frame::Mapping {
                path,
                key: key @ None,
            }),
        ) = (&event, self.stack.last_mut())
        {
            let full = join(path, text);
            self.lines.entry(full).or_insert(line);
            *key = Some(text.clone());
            return;
        }
        match event {
            Event::Scalar(..) | Event::Alias(_) => {
                self.value_path(line);
            }
            Event::MappingStart(..) => {
                let path = self.value_path(line).unwrap_or_default();
                self.stack.push(Frame::Mapping { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.value_path(line).unwrap_or_default();
                self.stack.push(Frame::Sequence { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

impl YamlLines {
    /// Reads `text`; a file that does not parse has no lines (its parse error has one).
    pub fn of(text: &str) -> YamlLines {
        let mut collector = Collector::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut collector, false).is_err() {
            return YamlLines::default();
        }
        YamlLines {
            lines: collector.lines,
        }
    }

    /// The line of `path`, or of its closest ancestor that has one.
    pub fn line(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_items_by_path() {
        let text = "id: demo\npermissions:\n  fhir:\n    Patient: [read, search]\n    Observation:\n      - read\n      - frob\nitems:\n  - linkId: a\n    type: string\n  - linkId: b\n";
        let lines = YamlLines::of(text);
        assert_eq!(lines.line("id"), Some(1));
        assert_eq!(lines.line("permissions.fhir.Patient"), Some(4));
        assert_eq!(lines.line("permissions.fhir.Observation[1]"), Some(7));
        assert_eq!(lines.line("items[1].linkId"), Some(11));
        assert_eq!(lines.line("items[0].type"), Some(10));
        assert_eq!(
            lines.line("permissions.fhir.Missing"),
            Some(3),
            "falls back to the parent"
        );
        assert_eq!(YamlLines::of("a: [").line("a"), None);
    }
}
