//! The CLI's credentials file and where the API is.
//!
//! `gatehouse login` writes `cli.toml` in `$XDG_CONFIG_HOME/gatehouse/` (or
//! `~/.config/gatehouse/`; `GATEHOUSE_CLI_CONFIG` names another file):
//!
//! ```toml
//! url = "https://gatehouse.example.com"
//! token = "ghat_…"
//! email = "alice@example.com"
//! minted = true          # made by `login --oidc`: `logout` revokes it
//! [oidc]                 # remembered for the next `login --oidc`
//! issuer = "https://sso.example.com/realms/acme"
//! client_id = "gatehouse-cli"
//! ```
//!
//! Invariants: the file is created with mode 0600 in a 0700 directory,
//! written whole to a temporary file and renamed over (a crash never leaves
//! half a token); a file others can read is reported on stderr. The token
//! never appears in `Debug`. Flags and the environment (`--url` /
//! `GATEHOUSE_URL`, `--token` / `GATEHOUSE_TOKEN`) override the file.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the API is when nothing says otherwise (`[api] listen`'s default).
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Names another credentials file.
pub const PATH_ENV: &str = "GATEHOUSE_CLI_CONFIG";

#[derive(Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Who the token belongs to (shown by `logout`; the PostgreSQL user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The token was minted by `login --oidc`: `logout` revokes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub minted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcLogin>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("email", &self.email)
            .field("minted", &self.minted)
            .field("oidc", &self.oidc)
            .finish()
    }
}

/// The provider `login --oidc` used last.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcLogin {
    pub issuer: String,
    pub client_id: String,
}

/// The credentials file's path.
pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(PATH_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").filter(|p| !p.is_empty()).context(
                "HOME is not set; set GATEHOUSE_CLI_CONFIG to a file for the credentials",
            )?;
            PathBuf::from(home).join(".config")
        }
    };
    Ok(base.join("gatehouse").join("cli.toml"))
}

impl Credentials {
    /// The saved credentials; empty when there is no file yet.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        warn_if_readable_by_others(path);
        toml::from_str(&text)
            .with_context(|| format!("{} is not a valid credentials file", path.display()))
    }

    /// Write the file (0600, atomically).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let text = toml::to_string(self).context("encoding the credentials")?;
        let mut builder = tempfile::Builder::new();
        builder.prefix(".cli.toml.");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o600));
        }
        let mut file = builder
            .tempfile_in(dir)
            .with_context(|| format!("creating a file in {}", dir.display()))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.as_file().sync_all())
            .with_context(|| format!("writing {}", file.path().display()))?;
        file.persist(path)
            .map_err(|e| e.error)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: {} holds an access token and is readable by others; run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_private_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/gatehouse/cli.toml");
        assert_eq!(Credentials::load(&path).unwrap(), Credentials::default());
        let creds = Credentials {
            url: Some("http://127.0.0.1:8080".into()),
            token: Some("ghat_abc".into()),
            email: Some("a@example.com".into()),
            minted: true,
            oidc: Some(OidcLogin {
                issuer: "https://sso.example.com".into(),
                client_id: "cli".into(),
            }),
        };
        creds.save(&path).unwrap();
        assert_eq!(Credentials::load(&path).unwrap(), creds);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert!(!format!("{creds:?}").contains("ghat_abc"));
        // Overwrite keeps the mode; fields left out disappear.
        Credentials::default().save(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }
}
