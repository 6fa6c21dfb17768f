//! An in-process gateway for end-to-end tests: real listener, real plugins,
//! real upstream (the machine's PostgreSQL), a fresh state directory, one
//! user with a fresh token, and an in-memory session record to assert on.

use gatehouse::config::Config;
use gatehouse::identity::new_token;
use gatehouse::record::MemoryRecorder;
use gatehouse::server::Gateway;
use std::sync::Arc;

/// The machine's PostgreSQL (trust auth).
pub const UPSTREAM: &str = "127.0.0.1:5432";

pub struct TestGateway {
    pub gateway: Gateway,
    pub token: String,
    /// The token of `approver@example.com`.
    pub approver_token: String,
    pub recorder: Arc<MemoryRecorder>,
    /// The configuration the gateway started from.
    pub config: Config,
    _state: tempfile::TempDir,
}

/// The user every test connects as.
pub const USER: &str = "alice@example.com";
/// An approver (who may not open sessions).
pub const APPROVER: &str = "approver@example.com";

/// Compiled plugins shared by every test gateway (and the SDK harness).
fn compile_cache() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    gatehouse_plugin_build::enclosing_target_dir(&exe)
        .expect("cargo target dir")
        .join("gatehouse-compiled")
}

impl TestGateway {
    /// Start a gateway whose one connection, `pg.test`, routes to the local
    /// PostgreSQL (database `test`) with the plugin bindings in `plugins`
    /// (TOML `[[resources.roles.plugins]]` tables, without the header
    /// lines: each entry is the body of one table).
    pub async fn start(plugins: &[&str]) -> Self {
        Self::start_on("127.0.0.1:0", "", plugins).await
    }

    /// Like [`TestGateway::start`], listening on `listen` with extra
    /// `[postgres]` settings (TOML lines).
    pub async fn start_on(listen: &str, postgres_settings: &str, plugins: &[&str]) -> Self {
        Self::start_with(listen, postgres_settings, "", plugins).await
    }

    /// Like [`TestGateway::start_on`], with extra top-level sections (TOML,
    /// e.g. `[audit]` settings).
    pub async fn start_with(
        listen: &str,
        postgres_settings: &str,
        sections: &str,
        plugins: &[&str],
    ) -> Self {
        let state = tempfile::tempdir().expect("state dir");
        let (token, digest) = new_token();
        let (approver_token, approver_digest) = new_token();
        let sandbox = crate::guest_wasm("sandbox-guest", "guests/sandbox");
        let mut text = format!(
            r#"
[gateway]
state_dir = "{state}"
[runtime]
max_instances = 64
cache_dir = "{cache}"
[api]
listen = "127.0.0.1:0"
[postgres]
listen = "{listen}"
{postgres_settings}
{sections}
[[plugins]]
path = "{sandbox}"
[[users]]
email = "{USER}"
role = "user"
groups = ["dba"]
token_sha256 = ["{digest}"]
[[users]]
email = "approver@example.com"
role = "approver"
groups = ["dba"]
token_sha256 = ["{approver_digest}"]
[[resources]]
name = "pg"
kind = "postgres"
address = "{UPSTREAM}"
tls = "disable"
  [[resources.roles]]
  name = "test"
  database = "test"
  username = "postgres"
"#,
            state = state.path().display(),
            cache = compile_cache().display(),
            sandbox = sandbox.display(),
        );
        for plugin in plugins {
            text.push_str("    [[resources.roles.plugins]]\n");
            text.push_str(plugin);
            text.push('\n');
        }
        let config: Config = toml::from_str(&text).expect("test config parses");
        config.check().expect("test config is valid");
        let recorder = Arc::new(MemoryRecorder::default());
        let gateway = Gateway::start(&config, recorder.clone())
            .await
            .expect("gateway starts");
        Self {
            gateway,
            token,
            approver_token,
            recorder,
            config,
            _state: state,
        }
    }

    pub fn port(&self) -> u16 {
        self.gateway.postgres_addr.port()
    }

    /// A libpq connection string for `user` and `dbname`.
    pub fn conninfo(&self, user: &str, dbname: &str, sslmode: &str) -> String {
        let token = if user == APPROVER {
            &self.approver_token
        } else {
            &self.token
        };
        format!(
            "host=127.0.0.1 port={} user={user} dbname={dbname} password={token} sslmode={sslmode}",
            self.port(),
        )
    }

    /// Connect with tokio-postgres (no TLS).
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(
            &self.conninfo(USER, "pg.test", "disable"),
            tokio_postgres::NoTls,
        )
        .await
        .expect("connects through the gateway");
        tokio::spawn(connection);
        client
    }

    /// Run psql with `args` (after the connection string); returns
    /// (success, stdout, stderr).
    pub async fn psql(&self, conninfo: &str, args: &[&str]) -> (bool, String, String) {
        let output = tokio::process::Command::new("psql")
            .arg(conninfo)
            .args(["-X", "-v", "ON_ERROR_STOP=0"])
            .args(args)
            .output()
            .await
            .expect("psql runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}
