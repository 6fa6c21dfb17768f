//! Secrets by reference (`{ env = "VAR" }` or `{ file = "path" }`), the same
//! shape as the gateway's upstream passwords: the value never appears in the
//! configuration file.
//!
//! [`Secret`] holds a resolved value; its `Debug` prints `"<redacted>"` and
//! errors name the reference, never the value.

use serde::Deserialize;
use std::path::PathBuf;

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum SecretRef {
    /// An environment variable of the process.
    Env(String),
    /// A file whose contents (trailing newlines trimmed) are the secret.
    File(PathBuf),
}

impl SecretRef {
    /// Read the secret now. The error names the reference, never a value.
    pub(crate) fn resolve(&self) -> Result<Secret, String> {
        let value = match self {
            SecretRef::Env(var) => {
                std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
            }
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| format!("reading secret file {}: {e}", path.display()))?,
        };
        if value.is_empty() {
            return Err(format!("the secret from {self:?} is empty"));
        }
        Ok(Secret(value))
    }
}

/// A resolved secret value.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_env_and_file_without_echoing() {
        let dir =
            std::env::temp_dir().join(format!("gatehouse-oidc-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "s3cr3t\n").unwrap();
        let secret = SecretRef::File(file).resolve().unwrap();
        assert_eq!(secret.expose(), "s3cr3t");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        let err = SecretRef::Env("GATEHOUSE_OIDC_SURELY_UNSET".into())
            .resolve()
            .unwrap_err();
        assert!(err.contains("GATEHOUSE_OIDC_SURELY_UNSET"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn parses_like_the_gateway() {
        #[derive(Deserialize)]
        struct T {
            s: SecretRef,
        }
        let t: T = toml::from_str("s = { env = \"OIDC_SECRET\" }").unwrap();
        assert_eq!(t.s, SecretRef::Env("OIDC_SECRET".into()));
        let t: T = toml::from_str("s = { file = \"/run/secret\" }").unwrap();
        assert_eq!(t.s, SecretRef::File("/run/secret".into()));
    }
}
