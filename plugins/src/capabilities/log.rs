//! Pack logging into the server's log, with pack, version and tenant attached. Lines are cut
//! at 2 KiB and each call may write `log_lines`; the rest are counted and reported once, so a
//! pack cannot flood the log.

use super::HostState;

pub const MAX_LINE: usize = 2048;

#[derive(Clone, Copy, Debug)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl HostState {
    pub(crate) fn log(&mut self, level: Level, message: &str) {
        self.budget.log_lines += 1;
        if self.budget.log_lines > self.limits.log_lines {
            self.budget.log_suppressed += 1;
            return;
        }
        let message = truncate(message, MAX_LINE);
        let call = &self.call;
        let (pack, version, tenant) = (&call.pack_id, &call.pack_version, &call.tenant);
        match level {
            Level::Trace => tracing::trace!(target: "pack", pack, version, tenant, "{message}"),
            Level::Debug => tracing::debug!(target: "pack", pack, version, tenant, "{message}"),
            Level::Info => tracing::info!(target: "pack", pack, version, tenant, "{message}"),
            Level::Warn => tracing::warn!(target: "pack", pack, version, tenant, "{message}"),
            Level::Error => tracing::error!(target: "pack", pack, version, tenant, "{message}"),
        }
    }

    /// Reports what the call printed to stdout and stderr, and the lines it was not allowed
    /// to log.
    pub(crate) fn flush_output(&mut self) {
        let call = &self.call;
        let (pack, version, tenant) = (&call.pack_id, &call.pack_version, &call.tenant);
        for (stream, text) in self.output.take() {
            tracing::info!(target: "pack", pack, version, tenant, stream, "{}", truncate(&text, 8 * MAX_LINE));
        }
        if self.budget.log_suppressed > 0 {
            tracing::warn!(target: "pack", pack, version, tenant,
                "{} log lines over the limit of {} were dropped", self.budget.log_suppressed, self.limits.log_lines);
        }
    }
}
