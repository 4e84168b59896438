//! Logging into the server's log, with the pack, its version and the organization attached.
//! The host caps the lines per call. What a pack prints to stdout or stderr (a panic message
//! among it) lands in the same log.
//!
//! ```no_run
//! use tessera_pack_sdk::log;
//!
//! log::info(format!("created {} observations", 3));
//! log::warn("the lab answered slowly");
//! ```

use crate::bindings::tessera::pack::log::{log, Level};

/// Very detailed tracing.
pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message.as_ref());
}

/// Detail useful while debugging.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}

/// Something worth knowing happened.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}

/// Something looks wrong but the call carries on.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}

/// Something failed.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}
