//! audit-jsonl's configuration and its checks.

use serde::Deserialize;

/// Smallest `max_bytes`: below this every event would get its own file.
pub const MIN_MAX_BYTES: u64 = 256;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// File names start with this: `<prefix>-YYYY-MM-DD.jsonl`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// A file reaching this size is closed and the next one of the day
    /// (`<prefix>-YYYY-MM-DD.1.jsonl`, `.2.jsonl` …) is started.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Files kept (the oldest are deleted when a new one starts); `0` keeps
    /// every file.
    #[serde(default = "default_keep_files")]
    pub keep_files: u32,
    /// Flush every line to stable storage before acknowledging the event.
    #[serde(default = "yes")]
    pub fsync: bool,
}

fn default_prefix() -> String {
    "audit".into()
}

fn default_max_bytes() -> u64 {
    100 << 20
}

fn default_keep_files() -> u32 {
    30
}

fn yes() -> bool {
    true
}

impl Config {
    pub fn validate(&self) -> Result<(), String> {
        let prefix_ok = !self.prefix.is_empty()
            && self.prefix.len() <= 64
            && self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !prefix_ok {
            return Err(format!(
                "prefix {:?} must be 1-64 ASCII letters, digits, '-' or '_'",
                self.prefix
            ));
        }
        if self.max_bytes < MIN_MAX_BYTES {
            return Err(format!(
                "max_bytes must be at least {MIN_MAX_BYTES}, not {}",
                self.max_bytes
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_sdk::parse_config;

    fn parse(json: &str) -> Result<Config, String> {
        let config: Config = parse_config(json).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn defaults() {
        let config = parse("{}").unwrap();
        assert_eq!(config.prefix, "audit");
        assert_eq!(config.max_bytes, 100 << 20);
        assert_eq!(config.keep_files, 30);
        assert!(config.fsync);
    }

    #[test]
    fn mistakes() {
        for (json, expected) in [
            (r#"{"prefix": "../x"}"#, "prefix \"../x\" must be"),
            (r#"{"prefix": ""}"#, "must be 1-64"),
            (r#"{"max_bytes": 10}"#, "max_bytes must be at least 256"),
            (r#"{"fsinc": true}"#, "unknown field `fsinc`"),
        ] {
            let err = parse(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
