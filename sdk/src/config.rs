//! Typed plugin configuration.
//!
//! Admins write a plugin's per-connection config as JSON. The SDK parses it
//! into the plugin's `Config` type with serde; on failure the error names the
//! path of the offending field (`rules[2].pattern: invalid type …`) so that
//! the admin who bound the plugin sees exactly what to fix.

use serde::de::DeserializeOwned;
use std::fmt;

/// A configuration that could not be parsed into the plugin's `Config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path to the bad field (`.` for the document itself).
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config at `{}`: {}", self.path, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Parse a JSON config into `T`. An empty string counts as `{}`.
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, ConfigError> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|err| ConfigError {
        path: err.path().to_string(),
        message: err.into_inner().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Config {
        groups: Vec<String>,
        #[serde(default)]
        limit: u32,
    }

    #[test]
    fn reports_the_path_of_a_bad_field() {
        let err = parse_config::<Config>(r#"{"groups": ["a", 3]}"#).unwrap_err();
        assert_eq!(err.path, "groups[1]");
        assert!(err.message.contains("expected a string"), "{err}");
    }

    #[test]
    fn reports_unknown_fields() {
        let err = parse_config::<Config>(r#"{"groups": [], "grups": 1}"#).unwrap_err();
        assert!(err.message.contains("unknown field `grups`"), "{err}");
    }

    #[test]
    fn empty_config_is_an_empty_object() {
        let err = parse_config::<Config>("").unwrap_err();
        assert!(err.message.contains("missing field `groups`"), "{err}");
    }
}
