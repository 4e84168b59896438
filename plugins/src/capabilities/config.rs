//! The organization's configuration of the pack. Secrets are decrypted by the server for the
//! call and handed over one by one, only for fields the manifest marked secret.

use super::HostState;

impl HostState {
    pub(crate) fn config_json(&self) -> String {
        self.call.config.to_string()
    }

    pub(crate) fn secret(&self, name: &str) -> Option<String> {
        self.call.secrets.get(name).cloned()
    }
}
