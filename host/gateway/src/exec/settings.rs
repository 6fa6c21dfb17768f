//! The `[exec]` section of the configuration file.
//!
//! ```toml
//! [exec]
//! max_rows = 10000       # rows kept per exec (over all its results); the rest is dropped
//! timeout_seconds = 300  # longest an exec may run upstream
//! ```

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecSettings {
    /// Rows an exec keeps (and returns, or stores with its review); more
    /// are read and dropped, and the output says `truncated`.
    #[serde(default = "default_max_rows")]
    pub max_rows: u64,
    /// Longest an exec may take upstream (login, query, results).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
}

fn default_max_rows() -> u64 {
    10_000
}
fn default_timeout() -> u32 {
    300
}

impl Default for ExecSettings {
    fn default() -> Self {
        Self {
            max_rows: default_max_rows(),
            timeout_seconds: default_timeout(),
        }
    }
}

impl ExecSettings {
    /// Ranges the file must respect.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.max_rows == 0 || self.max_rows > 10_000_000 {
            anyhow::bail!("exec.max_rows must be 1..=10000000");
        }
        if self.timeout_seconds == 0 || self.timeout_seconds > 86_400 {
            anyhow::bail!("exec.timeout_seconds must be 1..=86400");
        }
        Ok(())
    }
}
