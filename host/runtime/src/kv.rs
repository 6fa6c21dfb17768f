//! The plugins' key-value capability: small values, scoped per plugin.
//!
//! The runtime only needs [`KeyValueStore`]; the gateway's store provides a
//! durable implementation, and [`MemoryKv`] serves tests and the embedded
//! default. Quotas are enforced here so no backend can be flooded by a
//! plugin: values up to [`MAX_VALUE_BYTES`], keys up to [`MAX_KEY_BYTES`],
//! at most [`MAX_KEYS_PER_PLUGIN`] keys per plugin.

use std::collections::HashMap;
use std::sync::Mutex;

pub const MAX_KEY_BYTES: usize = 256;
pub const MAX_VALUE_BYTES: usize = 64 << 10;
pub const MAX_KEYS_PER_PLUGIN: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    #[error("key or value too large, or too many keys")]
    TooLarge,
    #[error("{0}")]
    Backend(String),
}

/// Storage behind the `kv` import. `scope` is the plugin's name.
pub trait KeyValueStore: Send + Sync + 'static {
    fn get(&self, scope: &str, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn set(&self, scope: &str, key: &str, value: &[u8]) -> Result<(), KvError>;
    fn delete(&self, scope: &str, key: &str) -> Result<(), KvError>;
}

/// An in-memory store (lost at restart).
#[derive(Default)]
pub struct MemoryKv {
    scopes: Mutex<HashMap<String, HashMap<String, Vec<u8>>>>,
}

impl KeyValueStore for MemoryKv {
    fn get(&self, scope: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let scopes = self.scopes.lock().unwrap();
        Ok(scopes.get(scope).and_then(|s| s.get(key)).cloned())
    }

    fn set(&self, scope: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        if key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            return Err(KvError::TooLarge);
        }
        let mut scopes = self.scopes.lock().unwrap();
        let entries = scopes.entry(scope.to_string()).or_default();
        if entries.len() >= MAX_KEYS_PER_PLUGIN && !entries.contains_key(key) {
            return Err(KvError::TooLarge);
        }
        entries.insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn delete(&self, scope: &str, key: &str) -> Result<(), KvError> {
        if let Some(entries) = self.scopes.lock().unwrap().get_mut(scope) {
            entries.remove(key);
        }
        Ok(())
    }
}
