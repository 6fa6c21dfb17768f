//! Cancel requests: the gateway hands each client its own backend key and
//! maps it to the upstream's, so a `CancelRequest` (which arrives on a new,
//! unauthenticated connection) can only cancel the session it belongs to
//! and never reveals the upstream's key.
//!
//! Keys are random (process id and secret); an unknown key is ignored
//! silently, as PostgreSQL does. A key is removed when its session ends.

use crate::pg::upstream::{self, UpstreamConfig};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

struct Target {
    config: UpstreamConfig,
    process_id: i32,
    secret_key: i32,
}

#[derive(Default, Clone)]
pub struct CancelRegistry {
    targets: Arc<Mutex<HashMap<(i32, i32), Target>>>,
}

/// A registered key; unregisters when dropped (the session ended).
pub struct CancelKey {
    registry: CancelRegistry,
    key: (i32, i32),
}

impl CancelKey {
    pub fn process_id(&self) -> i32 {
        self.key.0
    }
    pub fn secret_key(&self) -> i32 {
        self.key.1
    }
}

impl Drop for CancelKey {
    fn drop(&mut self) {
        self.registry.targets.lock().unwrap().remove(&self.key);
    }
}

fn random_i32() -> i32 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("random source");
    i32::from_ne_bytes(bytes)
}

impl CancelRegistry {
    /// Issue a gateway key for an upstream backend reached with `upstream`
    /// (its password is dropped: a cancel request carries none).
    pub fn register(
        &self,
        upstream: &UpstreamConfig,
        process_id: i32,
        secret_key: i32,
    ) -> CancelKey {
        let mut config = upstream.clone();
        config.password = None;
        config.startup_params.clear();
        let mut targets = self.targets.lock().unwrap();
        let key = loop {
            // Positive process ids, like PostgreSQL's.
            let key = (random_i32() & 0x7fff_ffff, random_i32());
            if !targets.contains_key(&key) {
                break key;
            }
        };
        targets.insert(
            key,
            Target {
                config,
                process_id,
                secret_key,
            },
        );
        CancelKey {
            registry: self.clone(),
            key,
        }
    }

    /// Forward a cancel for the session holding this key, if any.
    pub async fn cancel(&self, process_id: i32, secret_key: i32) {
        let target = {
            let targets = self.targets.lock().unwrap();
            targets
                .get(&(process_id, secret_key))
                .map(|t| (t.config.clone(), t.process_id, t.secret_key))
        };
        match target {
            Some((config, pid, secret)) => {
                if let Err(err) = upstream::cancel(&config, pid, secret).await {
                    tracing::warn!(error = %err, "forwarding a cancel request failed");
                }
            }
            None => tracing::debug!("cancel request with an unknown key ignored"),
        }
    }
}
