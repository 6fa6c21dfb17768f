//! The `gatehouse` command line end to end: a real gateway in this process
//! (store, plugins, PostgreSQL front door and REST API on port 0, upstream
//! the machine's PostgreSQL at 127.0.0.1:5432, database `test`), and the
//! real binary run against it with `GATEHOUSE_URL` / `GATEHOUSE_TOKEN`
//! and `HOME` pointed at a fresh directory (so the credentials file is the
//! test's own). Everything is configured through the CLI: resources,
//! connections, plugins (installed from built components), users, groups
//! and tokens; a tokio-postgres session then checks what the plugins do.

use gatehouse::config::Config;
use gatehouse::record::TracingRecorder;
use gatehouse::server::Gateway;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");
const UPSTREAM: &str = "127.0.0.1:5432";

/// Compiled plugins shared by every test gateway.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    gatehouse_plugin_build::enclosing_target_dir(&exe).expect("cargo target dir")
}

/// The directory holding `guardrails.wasm` and `business_hours.wasm`:
/// `GATEHOUSE_PLUGIN_DIR` when it has them (`cargo xtask test`), else built.
fn plugin_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let packages = ["guardrails", "business-hours"];
        if let Some(dir) = std::env::var_os("GATEHOUSE_PLUGIN_DIR").map(PathBuf::from)
            && packages
                .iter()
                .all(|p| dir.join(gatehouse_plugin_build::wasm_file_name(p)).exists())
        {
            return dir;
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        gatehouse_plugin_build::build(
            &root.join("Cargo.toml"),
            &packages,
            &target_dir().join("wasm"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    })
    .clone()
}

/// A gateway with an empty store (but its embedded plugins) and the
/// bootstrap administrator's token.
struct TestGateway {
    gateway: Gateway,
    admin: String,
    url: String,
    _state: tempfile::TempDir,
}

impl TestGateway {
    async fn start() -> Self {
        Self::start_with("").await
    }

    /// With more configuration (TOML appended to the file).
    async fn start_with(extra: &str) -> Self {
        let state = tempfile::tempdir().expect("state dir");
        let mut text = format!(
            r#"
[gateway]
state_dir = "{state}"
[runtime]
max_instances = 64
cache_dir = "{cache}"
[postgres]
listen = "127.0.0.1:0"
[api]
listen = "127.0.0.1:0"
"#,
            state = state.path().display(),
            cache = target_dir().join("gatehouse-compiled").display(),
        );
        text.push_str(extra);
        let config: Config = toml::from_str(&text).expect("test config parses");
        let gateway = Gateway::start(&config, Arc::new(TracingRecorder))
            .await
            .expect("gateway starts");
        let admin = gateway
            .bootstrap
            .as_ref()
            .expect("a first administrator")
            .token
            .expose()
            .to_string();
        let url = format!("http://{}", gateway.api_addr);
        TestGateway {
            gateway,
            admin,
            url,
            _state: state,
        }
    }

    /// A CLI with its own HOME.
    fn cli(&self) -> Cli {
        Cli {
            url: self.url.clone(),
            home: tempfile::tempdir().expect("home dir"),
            env: Vec::new(),
        }
    }

    /// Connect with tokio-postgres as `user` with `token`.
    async fn connect(
        &self,
        user: &str,
        token: &str,
        dbname: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let conninfo = format!(
            "host=127.0.0.1 port={} user={user} dbname={dbname} password={token} sslmode=disable",
            self.gateway.postgres_addr.port()
        );
        let (client, connection) =
            tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }
}

struct Cli {
    url: String,
    home: tempfile::TempDir,
    /// More environment for every run.
    env: Vec<(String, String)>,
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Cli {
    fn credentials_file(&self) -> PathBuf {
        self.home.path().join(".config/gatehouse/cli.toml")
    }

    /// Run `gatehouse args…` with `token` as GATEHOUSE_TOKEN (none: the
    /// saved credentials) and `stdin` as its input.
    async fn run_with(&self, token: Option<&str>, stdin: Option<&str>, args: &[&str]) -> Out {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(args)
            .env("GATEHOUSE_URL", &self.url)
            .env("HOME", self.home.path())
            .env("GATEHOUSE_LOG", "warn")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("GATEHOUSE_CLI_CONFIG")
            .env_remove("GATEHOUSE_TOKEN")
            .env_remove("GATEHOUSE_CA_FILE")
            .env_remove("GATEHOUSE_CONFIG")
            .env_remove("GATEHOUSE_OIDC_ISSUER")
            .env_remove("GATEHOUSE_OIDC_CLIENT_ID")
            .env_remove("BROWSER")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(token) = token {
            command.env("GATEHOUSE_TOKEN", token);
        }
        let mut child = command.spawn().expect("the gatehouse binary runs");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).await.unwrap();
        }
        drop(input);
        let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("the CLI finishes")
            .unwrap();
        Out {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    async fn run(&self, token: Option<&str>, args: &[&str]) -> Out {
        self.run_with(token, None, args).await
    }

    /// Succeeds; returns stdout.
    async fn ok(&self, token: Option<&str>, args: &[&str]) -> String {
        let out = self.run(token, args).await;
        assert_eq!(out.code, Some(0), "gatehouse {args:?}\n{out}");
        out.stdout
    }

    /// Succeeds with `--json`; returns the parsed JSON.
    async fn json(&self, token: Option<&str>, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let stdout = self.ok(token, &args).await;
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{stdout}"))
    }

    /// Fails with exit status 1; returns stderr.
    async fn fails(&self, token: Option<&str>, args: &[&str]) -> String {
        let out = self.run(token, args).await;
        assert_eq!(out.code, Some(1), "gatehouse {args:?} should fail\n{out}");
        assert!(out.stderr.contains("error: "), "{out}");
        out.stderr
    }
}

/// The row of a table whose first column is `key`.
fn row<'a>(table: &'a str, key: &str) -> Option<&'a str> {
    table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_whoami_logout_and_errors() {
    let gh = TestGateway::start().await;
    let cli = gh.cli();

    // Nothing saved yet.
    let err = cli.fails(None, &["whoami"]).await;
    assert!(
        err.contains("not logged in") && err.contains("gatehouse login"),
        "{err}"
    );

    // A wrong token is refused at login, and nothing is saved.
    let err = cli
        .fails(
            Some("ghat_0000000000000000000000000000000000000000000000000"),
            &["login"],
        )
        .await;
    assert!(
        err.contains("unauthenticated") && err.contains("HTTP 401"),
        "{err}"
    );
    assert!(!cli.credentials_file().exists());

    // The token on stdin (what a paste into the prompt does).
    let out = cli
        .run_with(None, Some(&format!("{}\n", gh.admin)), &["login"])
        .await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("as admin@localhost (admin)"), "{out}");
    let saved = std::fs::read_to_string(cli.credentials_file()).unwrap();
    assert!(
        saved.contains(&gh.admin) && saved.contains(&gh.url),
        "{saved}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cli.credentials_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // whoami from the saved credentials: a table for people, JSON for scripts.
    let me = cli.ok(None, &["whoami"]).await;
    assert!(
        me.contains("email:") && me.contains("admin@localhost"),
        "{me}"
    );
    assert!(
        me.lines()
            .any(|l| l.starts_with("role:") && l.ends_with("admin")),
        "{me}"
    );
    let me = cli.json(None, &["whoami"]).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["auth"], "token");
    assert_eq!(me["capabilities"]["users.write"], "all");

    // A token in the environment wins over the saved one; a wrong one is a
    // clear 401 with a hint, exit 1.
    let err = cli.fails(Some("ghat_not-a-real-token"), &["whoami"]).await;
    assert!(
        err.contains("unauthenticated") && err.contains("gatehouse login"),
        "{err}"
    );

    // A user trying an admin command: 403 naming the role, exit 1.
    cli.ok(
        None,
        &["users", "create", "bob@example.com", "--role", "user"],
    )
    .await;
    let minted = cli
        .json(
            None,
            &["tokens", "create", "cli-test", "--user", "bob@example.com"],
        )
        .await;
    let bob = minted["token"].as_str().unwrap().to_string();
    let err = cli.fails(Some(&bob), &["users", "ls"]).await;
    assert!(
        err.contains("forbidden") && err.contains("HTTP 403"),
        "{err}"
    );
    assert!(err.contains("users.read"), "{err}");
    assert_eq!(cli.json(Some(&bob), &["whoami"]).await["role"], "user");

    // Unreachable API: says so and how to point elsewhere.
    let err = cli
        .fails(None, &["--url", "http://127.0.0.1:1", "whoami"])
        .await;
    assert!(
        err.contains("cannot reach the Gatehouse API") && err.contains("GATEHOUSE_URL"),
        "{err}"
    );
    // Plain http off loopback is refused before anything is sent.
    let err = cli
        .fails(None, &["--url", "http://gatehouse.example.com", "whoami"])
        .await;
    assert!(err.contains("use https"), "{err}");

    // logout forgets the token; a login with --token works as well.
    let out = cli.run(None, &["logout"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    let err = cli.fails(None, &["whoami"]).await;
    assert!(err.contains("not logged in"), "{err}");
    cli.ok(None, &["login", "--token", &gh.admin]).await;
    assert_eq!(
        cli.json(None, &["whoami"]).await["email"],
        "admin@localhost"
    );
}

/// Sessions are recorded in batches: wait until `count` of them are listed.
async fn sessions_listed(cli: &Cli, token: &str, count: usize) -> Value {
    for _ in 0..100 {
        let page = cli.json(Some(token), &["sessions", "ls"]).await;
        let ended = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["ended_at"].is_null())
            .count();
        if ended >= count {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{count} sessions were never listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_connections_plugins_people_and_sessions() {
    let gh = TestGateway::start().await;
    let cli = gh.cli();
    let admin = Some(gh.admin.as_str());

    // Resources and connections.
    cli.ok(
        admin,
        &[
            "resources",
            "create",
            "pg",
            "--kind",
            "postgres",
            "--address",
            UPSTREAM,
            "--tls",
            "disable",
            "--description",
            "the machine's PostgreSQL",
        ],
    )
    .await;
    cli.ok(
        admin,
        &[
            "connections",
            "create",
            "pg.test",
            "--database",
            "test",
            "--username",
            "postgres",
            "--attr",
            "team=qa",
            "--description",
            "tests",
        ],
    )
    .await;
    let table = cli.ok(admin, &["resources", "ls"]).await;
    assert!(table.starts_with("NAME  "), "{table}");
    let pg = row(&table, "pg").unwrap_or_else(|| panic!("{table}"));
    assert!(
        pg.contains(UPSTREAM) && pg.contains("disable") && pg.contains("test"),
        "{table}"
    );
    let resources = cli.json(admin, &["resources", "ls"]).await;
    assert_eq!(resources[0]["name"], "pg");
    assert_eq!(resources[0]["roles"][0]["name"], "pg.test");
    let table = cli.ok(admin, &["connections", "ls"]).await;
    let line = row(&table, "pg.test").unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("postgres") && line.contains("none") && line.contains("tests"),
        "{table}"
    );
    let updated = cli
        .json(
            admin,
            &[
                "connections",
                "update",
                "pg.test",
                "--description",
                "integration tests",
                "--password-env",
                "PG_TEST_PASSWORD",
            ],
        )
        .await;
    assert_eq!(updated["description"], "integration tests");
    assert_eq!(updated["password_source"]["env"], "PG_TEST_PASSWORD");
    assert_eq!(updated["attributes"]["team"], "qa");
    let cleared = cli
        .json(
            admin,
            &["connections", "update", "pg.test", "--no-password"],
        )
        .await;
    assert_eq!(cleared["has_password"], false);
    let shown = cli.ok(admin, &["connections", "show", "pg.test"]).await;
    assert!(shown.contains("integration tests"), "{shown}");
    let test = cli.ok(admin, &["connections", "test", "pg.test"]).await;
    assert!(test.starts_with("ok: pg.test"), "{test}");
    assert_eq!(
        cli.json(admin, &["connections", "test", "pg.test"]).await["ok"],
        true
    );
    cli.ok(
        admin,
        &["resources", "update", "pg", "--description", "local"],
    )
    .await;
    assert_eq!(
        cli.json(admin, &["resources", "show", "pg"]).await["description"],
        "local"
    );
    // A connection whose upstream is down: the test fails with exit 1.
    cli.ok(
        admin,
        &[
            "resources",
            "create",
            "down",
            "--kind",
            "postgres",
            "--address",
            "127.0.0.1:1",
        ],
    )
    .await;
    cli.ok(admin, &["connections", "create", "down.x"]).await;
    let out = cli.run(admin, &["connections", "test", "down.x"]).await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.starts_with("failed: down.x"), "{out}");
    // A resource with connections cannot go; without, it can.
    let err = cli.fails(admin, &["resources", "rm", "down"]).await;
    assert!(err.contains("conflict"), "{err}");
    cli.ok(admin, &["connections", "rm", "down.x"]).await;
    cli.ok(admin, &["resources", "rm", "down"]).await;
    let err = cli.fails(admin, &["resources", "show", "down"]).await;
    assert!(err.contains("not_found"), "{err}");

    // Plugins: a new one installed from its component, an embedded one
    // uploaded again (same bytes), and a file that is no component.
    let dir = plugin_dir();
    let business_hours = dir.join("business_hours.wasm");
    let out = cli
        .ok(
            admin,
            &["plugins", "install", business_hours.to_str().unwrap()],
        )
        .await;
    assert!(
        out.contains("business-hours") && out.contains("installed"),
        "{out}"
    );
    let again = cli
        .json(
            admin,
            &[
                "plugins",
                "install",
                dir.join("guardrails.wasm").to_str().unwrap(),
            ],
        )
        .await;
    assert_eq!(again["created"], false);
    assert_eq!(again["plugin"]["name"], "guardrails");
    let junk = gh._state.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let err = cli
        .fails(admin, &["plugins", "install", junk.to_str().unwrap()])
        .await;
    assert!(err.contains("invalid_plugin"), "{err}");
    let table = cli.ok(admin, &["plugins", "ls"]).await;
    for name in ["access-control", "guardrails", "business-hours"] {
        assert!(row(&table, name).is_some(), "{name} in\n{table}");
    }
    let shown = cli
        .json(admin, &["plugins", "show", "business-hours"])
        .await;
    assert_eq!(shown["versions"].as_array().unwrap().len(), 1);
    let shown_version = shown["latest"].clone();

    // People: a user in a group, with a token.
    cli.ok(
        admin,
        &["groups", "create", "dev", "--description", "developers"],
    )
    .await;
    let alice = cli
        .json(
            admin,
            &[
                "users",
                "create",
                "alice@example.com",
                "--role",
                "user",
                "--name",
                "Alice",
                "--group",
                "dev",
            ],
        )
        .await;
    assert_eq!(alice["groups"][0], "dev");
    let table = cli.ok(admin, &["users", "ls"]).await;
    let line = table
        .lines()
        .find(|l| l.contains("alice@example.com"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("Alice") && line.contains("user") && line.contains("dev"),
        "{table}"
    );
    let table = cli.ok(admin, &["groups", "ls"]).await;
    assert!(row(&table, "dev").unwrap().contains("1"), "{table}");
    cli.ok(admin, &["groups", "create", "ops"]).await;
    cli.ok(admin, &["groups", "add", "ops", "alice@example.com"])
        .await;
    let ops = cli.json(admin, &["groups", "show", "ops"]).await;
    assert_eq!(ops["member_emails"][0], "alice@example.com");
    cli.ok(admin, &["groups", "remove", "ops", "alice@example.com"])
        .await;
    cli.ok(admin, &["groups", "rm", "ops"]).await;
    // The token is printed once, first line of stdout.
    let out = cli
        .ok(
            admin,
            &[
                "tokens",
                "create",
                "psql",
                "--user",
                "alice@example.com",
                "--expires-in",
                "1d",
            ],
        )
        .await;
    let alice_token = out.lines().next().unwrap().to_string();
    assert!(alice_token.starts_with("ghat_"), "{out}");
    let listed = cli.json(Some(&alice_token), &["tokens", "ls"]).await;
    assert_eq!(listed[0]["name"], "psql");
    assert!(
        listed[0].get("token").is_none(),
        "listings never show a token"
    );
    assert!(!listed.to_string().contains(&alice_token));

    // Plugins on the connection: access for `dev`, no DROP.
    cli.ok(
        admin,
        &[
            "plugins",
            "enable",
            "access-control",
            "--on",
            "pg.test",
            "--config",
            r#"{"allowed_groups": ["dev"]}"#,
        ],
    )
    .await;
    let bound = cli
        .json(
            admin,
            &[
                "plugins",
                "enable",
                "guardrails",
                "--on",
                "pg.test",
                "--config",
                r#"{"deny_statements": ["drop"]}"#,
            ],
        )
        .await;
    assert_eq!(bound["enabled"], true);
    assert_eq!(bound["config"]["deny_statements"][0], "drop");
    // The plugin checks the config before anything is stored.
    let err = cli
        .fails(
            admin,
            &[
                "plugins",
                "enable",
                "business-hours",
                "--on",
                "pg.test",
                "--config",
                r#"{"time_zone": 5}"#,
            ],
        )
        .await;
    assert!(err.contains("invalid_config"), "{err}");
    let table = cli.ok(admin, &["plugins", "bindings", "pg.test"]).await;
    assert!(
        row(&table, "0").unwrap().contains("access-control"),
        "{table}"
    );
    assert!(row(&table, "1").unwrap().contains("guardrails"), "{table}");

    // Alice sees the connection (access-control lets `dev` in), reduced.
    let mine = cli.json(Some(&alice_token), &["connections", "ls"]).await;
    assert_eq!(mine[0]["name"], "pg.test");
    assert!(mine[0].get("username").is_none());

    // A session through the gateway: DROP denied by guardrails.
    let client = gh
        .connect("alice@example.com", &alice_token, "pg.test")
        .await
        .expect("alice connects");
    client.simple_query("select 1").await.expect("select runs");
    let err = client
        .simple_query("drop table if exists gatehouse_cli_nothing")
        .await
        .expect_err("DROP is denied");
    let message = err.as_db_error().map(|e| e.message()).unwrap_or_default();
    assert!(message.contains("DROP"), "{err:?}");
    drop(client);

    // Disabled: new sessions may DROP (the table does not exist: a notice).
    let out = cli
        .ok(
            admin,
            &["plugins", "disable", "guardrails", "--on", "pg.test"],
        )
        .await;
    assert!(out.contains("disabled"), "{out}");
    let bindings = cli.json(admin, &["plugins", "bindings", "pg.test"]).await;
    assert_eq!(bindings[1]["plugin"], "guardrails");
    assert_eq!(bindings[1]["enabled"], false);
    let client = gh
        .connect("alice@example.com", &alice_token, "pg.test")
        .await
        .expect("alice connects again");
    client
        .simple_query("drop table if exists gatehouse_cli_nothing")
        .await
        .expect("DROP is allowed once guardrails is disabled");
    drop(client);
    // Enabled again with its config kept.
    let again = cli
        .json(
            admin,
            &["plugins", "enable", "guardrails", "--on", "pg.test"],
        )
        .await;
    assert_eq!(again["enabled"], true);
    assert_eq!(again["config"]["deny_statements"][0], "drop");

    // Sessions: alice sees hers, the admin everyone's; show has the queries.
    let page = sessions_listed(&cli, &gh.admin, 2).await;
    let first = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["denied"] == 1)
        .expect("the session with the denied DROP")
        .clone();
    assert_eq!(first["email"], "alice@example.com");
    assert_eq!(first["connection"], "pg.test");
    let id = first["id"].as_str().unwrap();
    let table = cli.ok(admin, &["sessions", "ls"]).await;
    assert!(
        row(&table, id).unwrap().contains("alice@example.com"),
        "{table}"
    );
    let shown = cli.ok(Some(&alice_token), &["sessions", "show", id]).await;
    assert!(shown.contains("select 1"), "{shown}");
    let drop_line = shown
        .lines()
        .find(|l| l.contains("drop table"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        drop_line.contains("denied") && drop_line.contains("guardrails"),
        "{shown}"
    );
    let detail = cli.json(admin, &["sessions", "show", id]).await;
    assert_eq!(detail["events"][1]["verdict"], "denied");
    let filtered = cli
        .json(
            admin,
            &["sessions", "ls", "--verdict", "denied", "--since", "1h"],
        )
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let all = cli
        .json(admin, &["sessions", "ls", "--limit", "1", "--all"])
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert!(all["next"].is_null());
    let out = cli.run(admin, &["sessions", "ls", "--limit", "1"]).await;
    assert!(out.stderr.contains("--next"), "{out}");
    let err = cli.fails(admin, &["sessions", "show", "nope"]).await;
    assert!(err.contains("not_found"), "{err}");

    // Reviews (read-only) and the audit log answer.
    let reviews = cli.json(admin, &["reviews", "ls"]).await;
    assert_eq!(reviews["items"], Value::Array(vec![]));
    let audit = cli
        .json(admin, &["audit", "ls", "--action", "binding.create"])
        .await;
    assert!(audit["items"].as_array().unwrap().len() >= 2, "{audit}");
    let seq = audit["items"][0]["sequence"].as_i64().unwrap().to_string();
    let shown = cli.ok(admin, &["audit", "show", &seq]).await;
    assert!(shown.contains("binding.create"), "{shown}");

    // Tokens: revoke alice's; it stops working at once.
    let id = listed[0]["id"].as_i64().unwrap().to_string();
    cli.ok(Some(&alice_token), &["tokens", "revoke", &id]).await;
    let err = cli.fails(Some(&alice_token), &["whoami"]).await;
    assert!(err.contains("HTTP 401"), "{err}");

    // Tear down through the CLI.
    cli.ok(
        admin,
        &["plugins", "unbind", "guardrails", "--on", "pg.test"],
    )
    .await;
    let version = shown_version.as_str().unwrap();
    cli.ok(admin, &["plugins", "rm", "business-hours", version])
        .await;
    cli.ok(admin, &["connections", "rm", "pg.test"]).await;
    cli.ok(admin, &["resources", "rm", "pg"]).await;
    assert_eq!(
        cli.json(admin, &["resources", "ls"]).await,
        Value::Array(vec![])
    );
    cli.ok(admin, &["users", "rm", "alice@example.com"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_commands() {
    let home = tempfile::tempdir().unwrap();
    let cli = Cli {
        url: "http://127.0.0.1:1".into(),
        home,
        env: Vec::new(),
    };
    // A token and its hash for a config file (`tokens new` still works).
    for command in ["generate", "new"] {
        let generated = cli.json(None, &["tokens", command]).await;
        let token = generated["token"].as_str().unwrap();
        assert!(token.starts_with("ghat_"));
        assert_eq!(
            generated["token_sha256"],
            gatehouse_store::tokens::token_sha256(token)
        );
    }
    // A config file (its compile cache is the shared one).
    let dir = plugin_dir();
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("gatehouse.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[gateway]
state_dir = "{state}"
[runtime]
cache_dir = "{cache}"
[[plugins]]
path = "{plugin}"
[[resources]]
name = "pg"
kind = "postgres"
address = "{UPSTREAM}"
  [[resources.roles]]
  name = "test"
    [[resources.roles.plugins]]
    plugin = "guardrails"
    config = {{ deny_statements = ["drop"] }}
"#,
            state = state.path().display(),
            cache = target_dir().join("gatehouse-compiled").display(),
            plugin = dir.join("business_hours.wasm").display(),
        ),
    )
    .unwrap();
    let guardrails = dir.join("guardrails.wasm");
    let config_path = config.to_str().unwrap();
    let described = cli
        .ok(
            None,
            &[
                "plugins",
                "describe",
                guardrails.to_str().unwrap(),
                "--config",
                config_path,
            ],
        )
        .await;
    assert!(
        described
            .lines()
            .any(|l| l.starts_with("name:") && l.ends_with("guardrails")),
        "{described}"
    );
    let described = cli
        .json(
            None,
            &[
                "plugins",
                "describe",
                guardrails.to_str().unwrap(),
                "--config",
                config_path,
            ],
        )
        .await;
    assert_eq!(described["hooks"][0], "on-query");

    // check: the plugins and connections the file declares.
    let out = cli
        .ok(None, &["check", "--config", config.to_str().unwrap()])
        .await;
    assert!(row(&out, "business-hours").is_some(), "{out}");
    assert!(
        row(&out, "pg.test").unwrap().contains("guardrails"),
        "{out}"
    );
    assert!(
        out.contains("ok: ") && out.contains("1 connections"),
        "{out}"
    );
    // A config its plugin refuses: exit 1 naming it.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(r#"["drop"]"#, r#"["nonsense"]"#);
    std::fs::write(&config, text).unwrap();
    let err = cli
        .fails(None, &["check", "--config", config.to_str().unwrap()])
        .await;
    assert!(
        err.contains("pg.test") && err.contains("guardrails"),
        "{err}"
    );
}

/// The npm `oidc-provider` of `tests/oidc` (installed by `cargo xtask
/// test` or `npm ci --prefix tests/oidc`), on a free port; it logs in the
/// account named by `login_hint` (default alice, an admin by her
/// `gatehouse-admins` group) with redirects only, so `curl -L` is a browser.
struct Provider {
    issuer: String,
    child: std::process::Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    fn start() -> Self {
        use std::io::BufRead;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: run `npm ci --prefix tests/oidc` (or `cargo xtask test`)"
        );
        let log = std::env::temp_dir().join(format!(
            "gatehouse-cli-oidc-provider-{}.log",
            std::process::id()
        ));
        let mut child = std::process::Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting node (is Node.js installed?)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "the OIDC test provider did not start ({e}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        Provider {
            issuer: ready["issuer"].as_str().unwrap().to_string(),
            child,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_oidc_then_logout_revokes() {
    let provider = Provider::start();
    let gh = TestGateway::start_with(&format!(
        r#"
[oidc]
issuer = "{issuer}"
client_id = "gatehouse-cli"
audience = ["gatehouse-api", "gatehouse-cli"]
[oidc.roles]
admin_groups = ["gatehouse-admins"]
"#,
        issuer = provider.issuer
    ))
    .await;
    let mut cli = gh.cli();
    // The "browser": follows the provider's redirects to the CLI's listener.
    let browser = cli.home.path().join("browser.sh");
    std::fs::write(
        &browser,
        "#!/bin/sh\nexec curl -sS -o /dev/null -L --max-redirs 10 -b \"$0.jar\" -c \"$0.jar\" \"$1\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    cli.env
        .push(("BROWSER".into(), browser.display().to_string()));

    let out = cli
        .run(
            None,
            &[
                "login",
                "--oidc",
                "--issuer",
                &provider.issuer,
                "--client-id",
                "gatehouse-cli",
                "--name",
                "cli-test",
                "--expires-in",
                "1d",
            ],
        )
        .await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("Sign in at"), "{out}");
    assert!(out.stdout.contains("as alice@example.com (admin)"), "{out}");
    let saved = std::fs::read_to_string(cli.credentials_file()).unwrap();
    assert!(
        saved.contains("minted = true") && saved.contains(&provider.issuer),
        "{saved}"
    );
    let token = saved
        .lines()
        .find_map(|l| l.strip_prefix("token = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    assert!(token.starts_with("ghat_"), "{saved}");
    let me = cli.json(None, &["whoami"]).await;
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["auth"], "token");
    let tokens = cli.json(None, &["tokens", "ls"]).await;
    assert_eq!(tokens[0]["name"], "cli-test");

    // logout revokes a minted token; the provider is remembered.
    let out = cli.run(None, &["logout"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("revoked"), "{out}");
    let err = cli.fails(Some(&token), &["whoami"]).await;
    assert!(err.contains("HTTP 401"), "{err}");
    let out = cli.run(None, &["login", "--oidc"]).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(cli.json(None, &["whoami"]).await["role"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_and_reviews_from_the_command_line() {
    let (user_token, user_digest) = gatehouse::identity::new_token();
    let (approver_token, approver_digest) = gatehouse::identity::new_token();
    let gw = TestGateway::start_with(&format!(
        r#"
[[users]]
email = "dev@example.com"
role = "user"
groups = ["dev"]
token_sha256 = ["{user_digest}"]
[[users]]
email = "dba@example.com"
role = "approver"
groups = ["dba"]
token_sha256 = ["{approver_digest}"]
[[resources]]
name = "pg"
kind = "postgres"
address = "127.0.0.1:5432"
tls = "disable"
  [[resources.roles]]
  name = "test"
  database = "test"
  username = "postgres"
    [[resources.roles.plugins]]
    plugin = "access-control"
    config = {{ allowed_groups = ["dev"] }}
    [[resources.roles.plugins]]
    plugin = "review"
    config = {{ approver_groups = ["dba"], rules = [{{ statements = ["delete"] }}] }}
"#
    ))
    .await;
    let cli = gw.cli();
    let user = Some(user_token.as_str());

    // A plain query: table, CSV and JSON.
    let table = cli
        .ok(
            user,
            &[
                "exec",
                "pg.test",
                "-q",
                "select 1 as one, 'a,b' as two, null as three",
            ],
        )
        .await;
    assert!(
        table.contains("one") && table.contains("a,b") && table.contains("SELECT 1"),
        "{table}"
    );
    let csv = cli
        .ok(
            user,
            &[
                "exec",
                "pg.test",
                "-q",
                "select 1 as one, 'a,b' as two, null as three",
                "--format",
                "csv",
            ],
        )
        .await;
    assert_eq!(csv, "one,two,three\n1,\"a,b\",\n");
    let json = cli
        .json(user, &["exec", "pg.test", "-q", "select 2 as n"])
        .await;
    assert_eq!(json["results"][0]["rows"][0][0], "2");

    // A held query: exit 2 and the review id; the approver approves it and
    // the stored output is there.
    let sql = "delete from gatehouse_cli_review_probe where false";
    let _ = gw
        .connect("dev@example.com", &user_token, "pg.test")
        .await
        .unwrap()
        .simple_query("create table if not exists gatehouse_cli_review_probe(id int)")
        .await;
    let held = cli.run(user, &["exec", "pg.test", "-q", sql]).await;
    assert_eq!(held.code, Some(2), "{held}");
    let id = held
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix("review: "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the review id is printed")
        .to_string();
    let listed = cli.json(Some(&approver_token), &["reviews", "ls"]).await;
    assert!(listed.to_string().contains(&id), "{listed}");
    let refused = cli.fails(user, &["reviews", "approve", &id]).await;
    assert!(
        refused.contains("403") || refused.contains("404"),
        "{refused}"
    );
    cli.ok(
        Some(&approver_token),
        &["reviews", "approve", &id, "-c", "ok"],
    )
    .await;
    let mut result = Value::Null;
    for _ in 0..100 {
        result = cli.json(user, &["reviews", "result", &id]).await;
        if result["finished"] == Value::Bool(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(result["finished"], Value::Bool(true), "{result}");
    assert_eq!(
        result["output"]["results"][0]["command_tag"], "DELETE 0",
        "{result}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_secrets_are_set_from_stdin_and_shown_by_name_only() {
    const SECRET: &str = "Cli-Hmac-Key-never-printed";
    const AUTH: &str = "Bearer Cli-Token-never-printed";
    let gh = TestGateway::start().await;
    let cli = gh.cli();
    let admin = Some(gh.admin.as_str());
    cli.ok(
        admin,
        &[
            "resources",
            "create",
            "pg",
            "--kind",
            "postgres",
            "--address",
            UPSTREAM,
        ],
    )
    .await;
    cli.ok(admin, &["connections", "create", "pg.test"]).await;
    let enable = |secrets: &'static str| {
        [
            "plugins",
            "enable",
            "notify-webhook",
            "--on",
            "pg.test",
            "--config",
            r#"{"url": "http://127.0.0.1:9/hook"}"#,
            "--grants",
            r#"{"http": ["http://127.0.0.1:9/"]}"#,
            "--secrets",
            secrets,
        ]
    };
    let no_value = |what: &str, text: &str| {
        for value in [SECRET, AUTH] {
            assert!(
                !text.contains(value),
                "{what} prints a secret value: {text}"
            );
        }
    };

    // Never on the command line.
    let err = cli
        .fails(
            admin,
            &enable(r#"{"secret": "Cli-Hmac-Key-never-printed"}"#),
        )
        .await;
    assert!(err.contains("never from the command line"), "{err}");
    no_value("the refusal", &err);

    // From stdin: sealed by the server, printed by name.
    let stdin = format!(r#"{{"secret": "{SECRET}", "headers": {{"Authorization": "{AUTH}"}}}}"#);
    let out = cli.run_with(admin, Some(&stdin), &enable("@-")).await;
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("headers, secret (set)"), "{out}");
    no_value("enable", &format!("{out}"));
    let table = cli.ok(admin, &["plugins", "bindings", "pg.test"]).await;
    assert!(
        table.contains("SECRETS") && table.contains("headers, secret (set)"),
        "{table}"
    );
    no_value("the bindings table", &table);
    let listed = cli.json(admin, &["plugins", "bindings", "pg.test"]).await;
    assert_eq!(
        listed[0]["secrets_set"],
        serde_json::json!(["headers", "secret"])
    );
    no_value("the bindings JSON", &listed.to_string());

    // The plugin gets them merged into its config.
    let connection = gh
        .gateway
        .store
        .connections()
        .by_name("pg.test")
        .await
        .unwrap();
    let resolved = gh
        .gateway
        .store
        .bindings()
        .resolve(connection.id)
        .await
        .unwrap();
    assert_eq!(resolved[0].config.json()["secret"], SECRET);
    assert_eq!(resolved[0].config.json()["headers"]["Authorization"], AUTH);

    // Removing one keeps the other.
    let kept = cli
        .json(
            admin,
            &[
                "plugins",
                "enable",
                "notify-webhook",
                "--on",
                "pg.test",
                "--remove-secret",
                "headers",
            ],
        )
        .await;
    assert_eq!(kept["secrets_set"], serde_json::json!(["secret"]));
    let resolved = gh
        .gateway
        .store
        .bindings()
        .resolve(connection.id)
        .await
        .unwrap();
    assert_eq!(resolved[0].config.json()["secret"], SECRET);
    assert!(resolved[0].config.json().get("headers").is_none());
}
