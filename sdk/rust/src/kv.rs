//! A key-value store private to the pack in this organization: counters, cached lookups,
//! small state between calls. Bounded by the host (key and value size, number of keys).
//!
//! ```no_run
//! use tessera_pack_sdk::kv;
//!
//! # fn example() -> tessera_pack_sdk::Result<()> {
//! let visits: u64 = kv::get_json("visits")?.unwrap_or(0);
//! kv::set_json("visits", &(visits + 1))?;
//! for key in kv::keys("cache/")? {
//!     kv::delete(&key)?;
//! }
//! # Ok(()) }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::tessera::pack::kv as host;
use crate::error::{Error, Result};

/// The value stored under `key`, if any.
pub fn get(key: &str) -> Result<Option<Vec<u8>>> {
    host::get(key).map_err(|e| Error::from(e).context(format_args!("kv get {key:?}")))
}

/// Stores `value` under `key`, replacing what was there.
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<()> {
    host::set(key, value.as_ref())
        .map_err(|e| Error::from(e).context(format_args!("kv set {key:?}")))
}

/// Removes `key` (nothing happens when it is not there).
pub fn delete(key: &str) -> Result<()> {
    host::delete(key).map_err(|e| Error::from(e).context(format_args!("kv delete {key:?}")))
}

/// The keys starting with `prefix`, in order.
pub fn keys(prefix: &str) -> Result<Vec<String>> {
    host::list_keys(prefix).map_err(|e| Error::from(e).context(format_args!("kv keys {prefix:?}")))
}

/// The JSON value stored under `key`, as `T`. A stored value that is not a `T` is an error
/// (500) naming the key.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    get(key)?.map(|bytes| decode(key, &bytes)).transpose()
}

/// Stores `value` as JSON under `key`.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| {
        Error::internal(format!("kv set {key:?}: the value does not serialize: {e}"))
    })?;
    set(key, bytes)
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::internal(format!(
            "kv get {key:?}: the stored value is not the JSON expected: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_stored_value_of_another_shape_names_the_key() {
        let err = super::decode::<u64>("visits", b"\"many\"").unwrap_err();
        assert!(err.message().contains("\"visits\""), "{err}");
        assert_eq!(super::decode::<u64>("visits", b"3").unwrap(), 3);
    }
}
