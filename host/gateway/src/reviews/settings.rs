//! The `[reviews]` section of the configuration file.
//!
//! ```toml
//! [reviews]
//! rerun_window_minutes = 60     # an approved one-time review runs if re-sent within this
//! pending_minutes = 1440        # an undecided review expires after this
//! sweep_seconds = 30            # how often due reviews are expired
//! max_jit_minutes = 10080       # the gateway's own cap on JIT access (plugins may cap lower)
//! ```

use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    /// After approval, how long a one-time review waits for its query to be
    /// re-sent (native clients) before it expires. Exec reviews are run by
    /// the gateway at once.
    #[serde(default = "default_rerun_window")]
    pub rerun_window_minutes: u32,
    /// How long a review may stay pending before it expires.
    #[serde(default = "default_pending")]
    pub pending_minutes: u32,
    /// How often the gateway expires due reviews (and retries exec runs
    /// still owed).
    #[serde(default = "default_sweep")]
    pub sweep_seconds: u32,
    /// The longest JIT access anyone may ask for, whatever the plugins
    /// allow.
    #[serde(default = "default_max_jit")]
    pub max_jit_minutes: u32,
}

fn default_rerun_window() -> u32 {
    60
}
fn default_pending() -> u32 {
    24 * 60
}
fn default_sweep() -> u32 {
    30
}
fn default_max_jit() -> u32 {
    7 * 24 * 60
}

impl Default for ReviewSettings {
    fn default() -> Self {
        Self {
            rerun_window_minutes: default_rerun_window(),
            pending_minutes: default_pending(),
            sweep_seconds: default_sweep(),
            max_jit_minutes: default_max_jit(),
        }
    }
}

impl ReviewSettings {
    /// Ranges the file must respect.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.rerun_window_minutes == 0 {
            anyhow::bail!("reviews.rerun_window_minutes must be at least 1");
        }
        if self.pending_minutes == 0 {
            anyhow::bail!("reviews.pending_minutes must be at least 1");
        }
        if self.sweep_seconds == 0 || self.sweep_seconds > 3600 {
            anyhow::bail!("reviews.sweep_seconds must be 1..=3600");
        }
        if self.max_jit_minutes == 0 {
            anyhow::bail!("reviews.max_jit_minutes must be at least 1");
        }
        Ok(())
    }

    pub fn rerun_window_ms(&self) -> i64 {
        i64::from(self.rerun_window_minutes) * 60_000
    }

    pub fn pending_ms(&self) -> i64 {
        i64::from(self.pending_minutes) * 60_000
    }

    pub fn sweep_interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.sweep_seconds))
    }
}
