//! What the pack logs while a case runs (its `log::` calls, what it prints, the host's
//! reports of traps and timeouts), collected from the server's `pack` log target so a failed
//! case can show it.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

#[derive(Clone, Default)]
pub struct PackLog {
    lines: Arc<Mutex<Vec<String>>>,
}

impl PackLog {
    /// A layer feeding this log; install it in the process's subscriber.
    pub fn layer(&self) -> PackLogLayer {
        PackLogLayer { log: self.clone() }
    }

    pub fn clear(&self) {
        self.lines.lock().unwrap().clear();
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

pub struct PackLogLayer {
    log: PackLog,
}

/// The message and the fields worth showing (not pack, version and tenant, which every line
/// of a test run shares).
#[derive(Default)]
struct Line {
    message: String,
    extra: String,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "pack" | "version" | "tenant" => {}
            name => {
                let _ = write!(self.extra, " {name}={value:?}");
            }
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "pack" | "version" | "tenant" => {}
            name => {
                let _ = write!(self.extra, " {name}={value}");
            }
        }
    }
}

impl<S: Subscriber> Layer<S> for PackLogLayer {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        if event.metadata().target() != "pack" {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let text = format!(
            "{:<5} {}{}",
            event.metadata().level(),
            line.message,
            line.extra
        );
        self.log.lines.lock().unwrap().push(text);
    }
}
