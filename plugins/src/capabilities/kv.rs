//! A key-value store private to one pack in one organization. The server keeps it (in the
//! tenant's database, under row-level security); this module bounds keys, values and counts.

use super::{HostError, HostState};

impl HostState {
    fn check_key(&self, key: &str) -> Result<(), HostError> {
        if key.is_empty() || key.len() > self.limits.kv_key_bytes {
            return Err(HostError::Invalid(format!(
                "keys are 1 to {} bytes",
                self.limits.kv_key_bytes
            )));
        }
        Ok(())
    }

    pub(crate) async fn kv_get(&mut self, key: String) -> Result<Option<Vec<u8>>, HostError> {
        self.spend_call()?;
        self.check_key(&key)?;
        self.call.services.clone().kv_get(&key).await
    }

    pub(crate) async fn kv_set(&mut self, key: String, value: Vec<u8>) -> Result<(), HostError> {
        self.spend_call()?;
        self.check_key(&key)?;
        if value.len() > self.limits.kv_value_bytes {
            return Err(HostError::Limit(format!(
                "values are at most {} bytes",
                self.limits.kv_value_bytes
            )));
        }
        let max_keys = self.limits.kv_keys;
        self.call
            .services
            .clone()
            .kv_set(&key, &value, max_keys)
            .await
    }

    pub(crate) async fn kv_delete(&mut self, key: String) -> Result<(), HostError> {
        self.spend_call()?;
        self.check_key(&key)?;
        self.call.services.clone().kv_delete(&key).await
    }

    pub(crate) async fn kv_list(&mut self, prefix: String) -> Result<Vec<String>, HostError> {
        self.spend_call()?;
        if prefix.len() > self.limits.kv_key_bytes {
            return Err(HostError::Invalid(
                "the prefix is longer than any key".into(),
            ));
        }
        self.call.services.clone().kv_list(&prefix, 1_000).await
    }
}
