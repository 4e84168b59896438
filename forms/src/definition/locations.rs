//! Where each part of a form was written, so later checks can name the line.

use std::collections::HashMap;

/// Paths and lines of items and their keys, filled by a reader and used by the checks.
#[derive(Debug, Default)]
pub(crate) struct Locations {
    entries: HashMap<String, (String, Option<usize>)>,
}

impl Locations {
    /// Records where `key` of the item `link_id` is (`key` empty for the item itself;
    /// `link_id` empty for a top-level key).
    pub fn record(&mut self, link_id: &str, key: &str, path: &str, line: Option<usize>) {
        self.entries
            .insert(format!("{link_id}/{key}"), (path.to_string(), line));
    }

    /// The path and line of `key` of item `link_id`, falling back to the item itself.
    pub fn find(&self, link_id: &str, key: &str) -> (String, Option<usize>) {
        self.entries
            .get(&format!("{link_id}/{key}"))
            .or_else(|| self.entries.get(&format!("{link_id}/")))
            .cloned()
            .unwrap_or_else(|| (key.to_string(), None))
    }
}
