//! The organization's configuration of the pack, and its secrets.
//!
//! `pack.yaml`'s `config_schema` says what an admin may set; the host checks every change
//! against it, and resolves the configuration at the caller's Location (a Location's override
//! wins over the organization-wide setting). Fields the schema marks `writeOnly: true` are
//! secrets: sealed at rest, never in [`value`], read one by one with [`secret`].
//!
//! ```no_run
//! use serde::Deserialize;
//! use tessera_pack_sdk::config;
//!
//! #[derive(Deserialize)]
//! struct Settings {
//!     #[serde(default = "default_greeting")]
//!     greeting: String,
//! }
//!
//! fn default_greeting() -> String {
//!     "Hello".into()
//! }
//!
//! # fn example() -> tessera_pack_sdk::Result<()> {
//! let settings: Settings = config::get()?;
//! let api_key = config::secret("api-key"); // None until an admin sets it
//! # let _ = (settings.greeting, api_key); Ok(()) }
//! ```

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::tessera::pack::config as host;
use crate::error::{Error, Result};

/// The configuration (without secrets) as JSON; an empty object when nothing is set.
pub fn value() -> Value {
    match serde_json::from_str::<Value>(&host::get_config()) {
        Ok(Value::Null) | Err(_) => Value::Object(Default::default()),
        Ok(value) => value,
    }
}

/// The configuration as `T`. An error (500) names the field that does not fit, which means
/// `T` and `config_schema` disagree: give `T`'s optional fields `#[serde(default)]`.
pub fn get<T: DeserializeOwned>() -> Result<T> {
    from_value(value())
}

pub(crate) fn from_value<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| {
        Error::internal(format!(
            "the pack's configuration does not fit what the pack expects ({e}); check config_schema in pack.yaml"
        ))
    })
}

/// A secret field of the configuration; `None` when unset, or when `name` is not a field
/// `config_schema` marks `writeOnly`.
pub fn secret(name: &str) -> Option<String> {
    host::get_secret(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Settings {
        #[serde(default)]
        greeting: Option<String>,
        weeks: u32,
    }

    #[test]
    fn a_configuration_that_does_not_fit_names_the_field() {
        let err = from_value::<Settings>(serde_json::json!({"greeting": "Hi"})).unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(err.message().contains("weeks"), "{err}");
        let ok: Settings = from_value(serde_json::json!({"weeks": 3})).unwrap();
        assert_eq!((ok.greeting, ok.weeks), (None, 3));
    }
}
