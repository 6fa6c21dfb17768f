//! The gateway's declarative configuration file (`gatehouse.toml`).
//!
//! It declares resources and their roles (the connections users pick),
//! the plugins enabled on each role with their config, grants and limits,
//! extra plugin components, and local users. The same format is what the
//! control plane applies into its store, so a file written today keeps
//! working when connections move into the database.
//!
//! ```toml
//! [gateway]
//! state_dir = ".gatehouse"
//!
//! [[resources]]
//! name = "billing-db"
//! kind = "postgres"
//! address = "127.0.0.1:5432"
//!
//!   [[resources.roles]]
//!   name = "read-only"                       # users connect to "billing-db.read-only"
//!   database = "billing"
//!   username = "readonly"
//!   password = { env = "BILLING_RO_PASSWORD" }
//!
//!     [[resources.roles.plugins]]
//!     plugin = "guardrails"
//!     config = { deny_statements = ["drop", "truncate"] }
//!
//!     [[resources.roles.plugins]]
//!     plugin = "notify-webhook"
//!     config = { url = "http://relay.internal:8080/gatehouse" }
//!     secrets = { secret = { env = "NOTIFY_HMAC_KEY" }, headers = { Authorization = { file = "/run/secrets/relay" } } }
//! ```
//!
//! Secrets are never written in the file itself: a password is a reference
//! (`{ env = "VAR" }` or `{ file = "path" }`), resolved when used; a
//! binding's `secrets` are config keys whose values are such references
//! (or tables of them), resolved when the file is applied and sealed in the
//! store, then merged into the plugin's config ([`SecretValue`]). Errors
//! name the file, and the resource/role/plugin at fault, never a value.

use gatehouse_store::bindings::BindingSecrets;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub gateway: GatewaySection,
    #[serde(default)]
    pub runtime: RuntimeSection,
    /// The PostgreSQL front door.
    #[serde(default)]
    pub postgres: PostgresSection,
    /// The REST API (and the CLI's endpoint).
    #[serde(default)]
    pub api: ApiSection,
    /// Single sign-on (OpenID Connect); without it only local users and
    /// tokens exist.
    #[serde(default)]
    pub oidc: Option<gatehouse_oidc::OidcConfig>,
    /// Plugin components beyond the embedded first-party ones.
    #[serde(default)]
    pub plugins: Vec<PluginSource>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub users: Vec<User>,
    /// The audit pipeline: sinks, allowed-query auditing, retention.
    #[serde(default)]
    pub audit: crate::audit::AuditSection,
    /// The session record's retention.
    #[serde(default)]
    pub sessions: crate::audit::SessionsSection,
    /// Reviews: run window, pending deadline, sweep interval, JIT cap.
    #[serde(default)]
    pub reviews: crate::reviews::ReviewSettings,
    /// Exec: rows kept, timeout.
    #[serde(default)]
    pub exec: crate::exec::ExecSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySection {
    /// Where the gateway keeps its state (compiled plugins, later the store
    /// and TLS material). Relative paths are relative to the config file.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Threads that proxy sessions (each session stays on one). Default:
    /// one per core.
    #[serde(default)]
    pub session_threads: Option<usize>,
    /// Pin session thread N to the Nth core the process may run on (modulo
    /// their number), so the kernel never migrates it. Default: pinned when
    /// there is a thread for every such core (the default thread count).
    #[serde(default)]
    pub pin_session_threads: Option<bool>,
    /// The store: `sqlite://PATH?mode=rwc` or `postgres://user@host/db`.
    /// Default: the SQLite file `store.db` in `state_dir`. Also
    /// `GATEHOUSE_STORE_URL`.
    #[serde(default)]
    pub store_url: Option<String>,
    /// An SQLite store's `synchronous`: `normal` (default; no commit is
    /// lost when the process dies) or `full` (also none on power loss, an
    /// `fsync` per commit group).
    #[serde(default)]
    pub store_synchronous: gatehouse_store::SqliteSynchronous,
    /// The administrator created on first start when the store has none
    /// (its one-time token is printed). Default `admin@localhost`.
    #[serde(default = "default_admin_email")]
    pub admin_email: String,
}

fn default_admin_email() -> String {
    "admin@localhost".into()
}

impl Default for GatewaySection {
    fn default() -> Self {
        Self {
            state_dir: default_state_dir(),
            session_threads: None,
            pin_session_threads: None,
            store_url: None,
            store_synchronous: Default::default(),
            admin_email: default_admin_email(),
        }
    }
}

fn default_state_dir() -> PathBuf {
    PathBuf::from(".gatehouse")
}

/// The REST API listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Where the API listens (default `127.0.0.1:8080`).
    #[serde(default = "default_api_listen")]
    pub listen: String,
    /// The URL people and the identity provider reach the API at (login
    /// redirects, links in review notices). Default `http://<listen>`.
    #[serde(default)]
    pub public_url: Option<String>,
}

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            listen: default_api_listen(),
            public_url: None,
        }
    }
}

fn default_api_listen() -> String {
    "127.0.0.1:8080".into()
}

/// The PostgreSQL listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSection {
    /// Address clients connect to (`psql -h … -p …`).
    #[serde(default = "default_pg_listen")]
    pub listen: String,
    /// PEM certificate chain and key for TLS. Without them the gateway
    /// generates a self-signed pair in `state_dir` on first start.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Accept tokens over an unencrypted connection from a non-loopback
    /// client. Off by default: tokens are passwords.
    #[serde(default)]
    pub allow_plaintext_password_off_loopback: bool,
}

impl Default for PostgresSection {
    fn default() -> Self {
        Self {
            listen: default_pg_listen(),
            tls_cert: None,
            tls_key: None,
            allow_plaintext_password_off_loopback: false,
        }
    }
}

fn default_pg_listen() -> String {
    "127.0.0.1:15432".into()
}

/// Sandbox-wide limits (see `gatehouse_runtime::EngineSettings`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSection {
    /// Concurrent plugin instances (one per plugin per live session).
    #[serde(default = "default_max_instances")]
    pub max_instances: u32,
    /// Largest memory cap any binding may ask for, in MiB.
    #[serde(default = "default_max_memory_mb")]
    pub max_memory_mb: u32,
    /// Where compiled plugins are cached (default `<state_dir>/compiled`).
    /// Must be writable only by the gateway: cached code is trusted.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// PEM roots that plugins' `https` requests (`http-outbound`) trust
    /// instead of the bundled public ones (an internal CA).
    #[serde(default)]
    pub http_ca_file: Option<PathBuf>,
}

impl Default for RuntimeSection {
    fn default() -> Self {
        Self {
            max_instances: default_max_instances(),
            max_memory_mb: default_max_memory_mb(),
            cache_dir: None,
            http_ca_file: None,
        }
    }
}

fn default_max_instances() -> u32 {
    1_000
}
fn default_max_memory_mb() -> u32 {
    256
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSource {
    /// Path to a `.wasm` component. Relative to the config file.
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    Postgres,
    Mysql,
    Tcp,
    Http,
}

/// A database or service; its roles are the connections to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub name: String,
    pub kind: ResourceKind,
    /// `host:port` of the upstream.
    pub address: String,
    #[serde(default)]
    pub description: String,
    /// TLS to the upstream, as libpq's `sslmode`: `disable`, `prefer` (the
    /// default, like libpq), `require` (encrypt, no verification),
    /// `verify-ca`, `verify-full`.
    #[serde(default = "default_upstream_tls", deserialize_with = "upstream_tls")]
    pub tls: crate::pg::upstream::UpstreamTls,
    /// CA bundle (PEM) for `verify-ca` / `verify-full`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub roles: Vec<ResourceRole>,
}

fn default_upstream_tls() -> crate::pg::upstream::UpstreamTls {
    crate::pg::upstream::UpstreamTls::Prefer
}

fn upstream_tls<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<crate::pg::upstream::UpstreamTls, D::Error> {
    let text = String::deserialize(de)?;
    text.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown tls mode {text:?}; expected disable, prefer, require, verify-ca or verify-full"
        ))
    })
}

/// A connection to a resource with its own credentials and plugins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRole {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Upstream database name (databases only).
    #[serde(default)]
    pub database: Option<String>,
    /// Upstream user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Upstream password, by reference.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// Non-secret labels plugins can read (e.g. `environment = "prod"`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Plugins enabled on this connection, in the order they run.
    #[serde(default)]
    pub plugins: Vec<PluginBinding>,
}

/// Where a secret comes from. The value itself never appears in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum SecretRef {
    /// An environment variable of the gateway process.
    Env(String),
    /// A file whose contents (trimmed) are the secret.
    File(PathBuf),
}

impl SecretRef {
    /// Resolve the secret. The error names the reference, never the value.
    pub fn resolve(&self) -> anyhow::Result<String> {
        match self {
            SecretRef::Env(var) => std::env::var(var)
                .map_err(|_| anyhow::anyhow!("environment variable {var} is not set")),
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| anyhow::anyhow!("reading secret file {}: {e}", path.display())),
        }
    }
}

/// A binding secret as the file gives it: a reference, or a table of them
/// (`headers = { Authorization = { env = "VAR" } }`). The plugin gets each
/// reference's contents as a string, at the same place in its config. A
/// one-key table `{ env = "…" }` / `{ file = "…" }` is a reference; any
/// other table is a table of secret values (so a header named `env` is
/// `{ env = { env = "VAR" } }`). A plain value is refused: secrets are
/// never written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "toml::Value")]
pub enum SecretValue {
    Ref(SecretRef),
    Table(BTreeMap<String, SecretValue>),
}

impl TryFrom<toml::Value> for SecretValue {
    type Error = String;

    fn try_from(value: toml::Value) -> Result<Self, String> {
        let toml::Value::Table(table) = value else {
            return Err(
                "a binding secret is a reference, { env = \"VAR\" } or { file = \"path\" }, \
                        or a table of them: secret values are never written in the file"
                    .into(),
            );
        };
        if let Some(reference) = reference(&table) {
            return Ok(SecretValue::Ref(reference));
        }
        table
            .into_iter()
            .map(|(key, value)| Ok((key, SecretValue::try_from(value)?)))
            .collect::<Result<_, String>>()
            .map(SecretValue::Table)
    }
}

/// `{ env = "VAR" }` or `{ file = "path" }`, read as a [`SecretRef`] is
/// everywhere else in the file; `None` for any other table.
fn reference(table: &toml::Table) -> Option<SecretRef> {
    if table.len() != 1 {
        return None;
    }
    SecretRef::deserialize(toml::Value::Table(table.clone())).ok()
}

impl SecretValue {
    /// The JSON the plugin gets: every reference resolved to a string. The
    /// error names the reference (and the keys leading to it), never a
    /// value.
    pub fn resolve(&self) -> anyhow::Result<serde_json::Value> {
        use anyhow::Context;
        match self {
            SecretValue::Ref(reference) => Ok(serde_json::Value::String(reference.resolve()?)),
            SecretValue::Table(table) => table
                .iter()
                .map(|(key, value)| Ok((key.clone(), value.resolve().context(key.clone())?)))
                .collect::<anyhow::Result<serde_json::Map<_, _>>>()
                .map(serde_json::Value::Object),
        }
    }

    /// Makes relative `file` references relative to `base`.
    pub(crate) fn rebase(&mut self, base: &Path) {
        match self {
            SecretValue::Ref(SecretRef::File(path)) if path.is_relative() => {
                *path = base.join(&*path);
            }
            SecretValue::Ref(_) => {}
            SecretValue::Table(table) => table.values_mut().for_each(|v| v.rebase(base)),
        }
    }
}

/// Secrets from the file (a binding's `secrets`, an audit sink's
/// `secret_config`), each reference resolved. Errors name the key and the
/// reference, never a value.
pub fn resolve_secrets(
    references: &BTreeMap<String, SecretValue>,
) -> anyhow::Result<BindingSecrets> {
    use anyhow::Context;
    let mut secrets = BindingSecrets::new();
    for (key, value) in references {
        secrets.insert(key.clone(), value.resolve().context(key.clone())?);
    }
    Ok(secrets)
}

/// A plugin enabled on a connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginBinding {
    /// The plugin's manifest name (`access-control`, `guardrails`, …).
    pub plugin: String,
    /// The plugin's own config; validated by the plugin at startup.
    #[serde(default = "empty_table")]
    pub config: toml::Value,
    /// Config keys whose values are secret, by reference: resolved when the
    /// file is applied, sealed in the store, merged into `config` for the
    /// plugin. A key may not also be in `config`.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretValue>,
    #[serde(default)]
    pub grants: gatehouse_runtime::Grants,
    /// Per-hook deadline in milliseconds.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    /// Memory cap in MiB.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
}

fn empty_table() -> toml::Value {
    toml::Value::Table(Default::default())
}
fn default_deadline_ms() -> u64 {
    100
}
fn default_memory_mb() -> u32 {
    32
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
    Approver,
}

/// A local user (SSO users come from the identity provider).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub email: String,
    #[serde(default)]
    pub groups: Vec<String>,
    pub role: Role,
    /// SHA-256 hashes (hex) of the user's access tokens. Tokens themselves
    /// are never stored.
    #[serde(default)]
    pub token_sha256: Vec<String>,
}

impl Config {
    /// Read and check `path`. Relative paths inside are made relative to
    /// the file's directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.rebase(base);
        config
            .check()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(config)
    }

    fn rebase(&mut self, base: &Path) {
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        rebase(&mut self.gateway.state_dir);
        for path in [&mut self.runtime.cache_dir, &mut self.runtime.http_ca_file]
            .into_iter()
            .flatten()
        {
            rebase(path);
        }
        for path in [&mut self.postgres.tls_cert, &mut self.postgres.tls_key]
            .into_iter()
            .flatten()
        {
            rebase(path);
        }
        for resource in &mut self.resources {
            if let Some(ca) = &mut resource.ca_file {
                rebase(ca);
            }
        }
        for plugin in &mut self.plugins {
            rebase(&mut plugin.path);
        }
        self.audit.rebase(base);
        for role in self.resources.iter_mut().flat_map(|r| r.roles.iter_mut()) {
            if let Some(SecretRef::File(path)) = &mut role.password {
                rebase(path);
            }
            for binding in &mut role.plugins {
                if let Some(dir) = &mut binding.grants.files {
                    rebase(dir);
                }
                for secret in binding.secrets.values_mut() {
                    secret.rebase(base);
                }
            }
        }
    }

    /// Structural checks that need no plugin: names, uniqueness, ranges.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.postgres.tls_cert.is_some() != self.postgres.tls_key.is_some() {
            anyhow::bail!("postgres.tls_cert and postgres.tls_key go together");
        }
        let mut seen = std::collections::HashSet::new();
        for resource in &self.resources {
            check_name("resource", &resource.name)?;
            if resource.roles.is_empty() {
                anyhow::bail!(
                    "resource '{}' has no roles: users connect to a role",
                    resource.name
                );
            }
            for role in &resource.roles {
                check_name("role", &role.name)?;
                let connection = format!("{}.{}", resource.name, role.name);
                if !seen.insert(connection.clone()) {
                    anyhow::bail!("connection '{connection}' is declared twice");
                }
                for binding in &role.plugins {
                    if binding.deadline_ms == 0 || binding.deadline_ms > 60_000 {
                        anyhow::bail!(
                            "connection '{connection}', plugin '{}': deadline_ms must be 1..=60000",
                            binding.plugin
                        );
                    }
                    if binding.memory_mb == 0 || binding.memory_mb > self.runtime.max_memory_mb {
                        anyhow::bail!(
                            "connection '{connection}', plugin '{}': memory_mb must be 1..={} (runtime.max_memory_mb)",
                            binding.plugin,
                            self.runtime.max_memory_mb
                        );
                    }
                    if let Some(key) = binding.secrets.keys().find(|key| {
                        binding
                            .config
                            .as_table()
                            .is_some_and(|config| config.contains_key(*key))
                    }) {
                        anyhow::bail!(
                            "connection '{connection}', plugin '{}': key {key:?} is both in config and in secrets; \
                             put each key in one place only",
                            binding.plugin
                        );
                    }
                }
            }
        }
        self.audit.check(&self.sessions)?;
        self.reviews.check()?;
        self.exec.check()?;
        let mut emails = std::collections::HashSet::new();
        for user in &self.users {
            if !emails.insert(user.email.to_ascii_lowercase()) {
                anyhow::bail!("user '{}' is declared twice", user.email);
            }
            for hash in &user.token_sha256 {
                if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                    anyhow::bail!(
                        "user '{}': token_sha256 entries must be 64 hex digits",
                        user.email
                    );
                }
            }
        }
        Ok(())
    }
}

fn check_name(what: &str, name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        anyhow::bail!(
            "{what} name {name:?} must be 1-63 ASCII letters, digits, '-' or '_' (no dots: '.' joins resource and role)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    #[test]
    fn a_full_example_parses() {
        let config = parse(
            r#"
            [[resources]]
            name = "billing-db"
            kind = "postgres"
            address = "127.0.0.1:5432"
              [[resources.roles]]
              name = "read-only"
              database = "test"
              username = "ro"
              password = { env = "RO_PASSWORD" }
              attributes = { environment = "production" }
                [[resources.roles.plugins]]
                plugin = "guardrails"
                config = { deny_statements = ["drop"] }
                deadline_ms = 50
            [[users]]
            email = "alice@example.com"
            role = "user"
            groups = ["dba"]
            "#,
        )
        .unwrap();
        let role = &config.resources[0].roles[0];
        assert_eq!(role.password, Some(SecretRef::Env("RO_PASSWORD".into())));
        assert_eq!(role.plugins[0].memory_mb, 32);
    }

    #[test]
    fn unknown_keys_and_bad_names_are_refused() {
        let err =
            parse("[[resources]]\nname='a'\nkind='postgres'\naddress='x'\nadress='y'").unwrap_err();
        assert!(err.to_string().contains("unknown field `adress`"), "{err}");
        let err = parse("[[resources]]\nname='a.b'\nkind='postgres'\naddress='x'\n[[resources.roles]]\nname='r'").unwrap_err();
        assert!(err.to_string().contains("no dots"), "{err}");
    }

    #[test]
    fn duplicate_connections_are_refused() {
        let text = "[[resources]]\nname='a'\nkind='postgres'\naddress='x'\n[[resources.roles]]\nname='r'\n[[resources.roles]]\nname='r'";
        assert!(
            parse(text)
                .unwrap_err()
                .to_string()
                .contains("declared twice")
        );
    }

    #[test]
    fn binding_secrets_are_references_resolved_into_json() {
        let config = parse(
            r#"
            [[resources]]
            name = "db"
            kind = "postgres"
            address = "127.0.0.1:5432"
              [[resources.roles]]
              name = "ro"
                [[resources.roles.plugins]]
                plugin = "notify-webhook"
                config = { url = "http://relay/" }
                secrets = { secret = { env = "GATEHOUSE_TEST_PATH_LIKE" }, headers = { Authorization = { file = "auth.txt" }, env = { env = "GATEHOUSE_TEST_PATH_LIKE" } } }
            "#,
        )
        .unwrap();
        let secrets = &config.resources[0].roles[0].plugins[0].secrets;
        assert_eq!(
            secrets["secret"],
            SecretValue::Ref(SecretRef::Env("GATEHOUSE_TEST_PATH_LIKE".into()))
        );
        let SecretValue::Table(headers) = &secrets["headers"] else {
            panic!("headers is a table of references");
        };
        assert_eq!(
            headers["Authorization"],
            SecretValue::Ref(SecretRef::File("auth.txt".into()))
        );
        assert_eq!(
            headers["env"],
            SecretValue::Ref(SecretRef::Env("GATEHOUSE_TEST_PATH_LIKE".into())),
            "a header named env is a reference under its name"
        );

        // Files resolve to their contents, as strings at the same place.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("auth.txt"), "Bearer from-a-file\n").unwrap();
        let mut value = SecretValue::Table(BTreeMap::from([(
            "Authorization".to_string(),
            SecretValue::Ref(SecretRef::File("auth.txt".into())),
        )]));
        value.rebase(dir.path());
        assert_eq!(
            value.resolve().unwrap(),
            serde_json::json!({"Authorization": "Bearer from-a-file"})
        );
        let missing = SecretValue::Table(BTreeMap::from([(
            "Authorization".to_string(),
            SecretValue::Ref(SecretRef::Env("GATEHOUSE_SURELY_UNSET".into())),
        )]));
        assert_eq!(
            format!("{:#}", missing.resolve().unwrap_err()),
            "Authorization: environment variable GATEHOUSE_SURELY_UNSET is not set"
        );
    }

    #[test]
    fn binding_secrets_in_clear_or_clashing_with_config_are_refused() {
        let binding = |line: &str| {
            format!(
                "[[resources]]\nname='db'\nkind='postgres'\naddress='x'\n[[resources.roles]]\nname='ro'\n\
                 [[resources.roles.plugins]]\nplugin='notify-webhook'\n{line}"
            )
        };
        let err = parse(&binding("secrets = { secret = 'in-clear' }")).unwrap_err();
        assert!(
            err.to_string()
                .contains("secret values are never written in the file"),
            "{err}"
        );
        let err = parse(&binding(
            "config = { secret = { env = 'X' } }\nsecrets = { secret = { env = 'X' } }",
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "connection 'db.ro', plugin 'notify-webhook': key \"secret\" is both in config and in secrets"
            ),
            "{err}"
        );
    }

    #[test]
    fn secrets_resolve_without_echoing_values() {
        let err = SecretRef::Env("GATEHOUSE_SURELY_UNSET".into())
            .resolve()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable GATEHOUSE_SURELY_UNSET is not set"
        );
    }
}
