//! The upstream login (`gatehouse::pg::upstream`) against real PostgreSQL
//! servers, never mocks:
//!
//! * the machine's own server at 127.0.0.1:5432 (trust, database `test`);
//! * a throwaway PostgreSQL cluster started by this file from the machine's
//!   binaries (`pg_config --bindir`), shared by all tests of one process, in a
//!   fresh temporary directory on a free port, with TLS on (a certificate for
//!   `localhost` issued by a CA generated here) and one role per
//!   authentication method. As root, initdb/pg_ctl run as `postgres` through
//!   `runuser`. The control-plane store is opened on it over TLS too. A
//!   detached watchdog stops the cluster and removes the
//!   directory once the test process has exited, whatever order the tests
//!   ran in (and under nextest, where every test is its own process).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use gatehouse::pg::upstream::{
    UpstreamConfig, UpstreamConnection, UpstreamError, UpstreamTls, cancel, connect,
};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SCRAM_PASSWORD: &str = "scr@m-Pässword-1";
const MD5_PASSWORD: &str = "md5-secret-2";
const CLEARTEXT_PASSWORD: &str = "clear-secret-3";
const SSL_PASSWORD: &str = "ssl-only-secret-4";

// ---------------------------------------------------------------------------
// The throwaway cluster
// ---------------------------------------------------------------------------

struct Cluster {
    port: u16,
    /// PEM of the CA that issued the server certificate.
    ca_file: PathBuf,
    /// PEM of an unrelated CA.
    wrong_ca_file: PathBuf,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(start_cluster) {
        Ok(cluster) => cluster,
        Err(e) => panic!("cannot start the throwaway PostgreSQL cluster: {e}"),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn bindir() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    // Debian keeps the server binaries out of PATH.
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no pg_config and no /usr/lib/postgresql: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().ok_or_else(|| "no initdb found".to_string())
}

/// `program args…`, as `postgres` when we are root (initdb refuses root).
fn pg_command(root: bool, program: &Path) -> Command {
    if root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

struct Pki {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    wrong_ca_pem: String,
}

fn make_ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("CA cert");
    (cert, key)
}

fn make_pki() -> Pki {
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};
    let (ca, ca_key) = make_ca("gatehouse test CA");
    let (wrong_ca, _) = make_ca("gatehouse unrelated CA");
    // The name is `localhost` only: 127.0.0.1 is deliberately not in it, so
    // VerifyFull to 127.0.0.1 fails while VerifyCa succeeds.
    let server_key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = params
        .signed_by(&server_key, &ca, &ca_key)
        .expect("server cert");
    Pki {
        ca_pem: ca.pem(),
        server_cert_pem: server.pem(),
        server_key_pem: server_key.serialize_pem(),
        wrong_ca_pem: wrong_ca.pem(),
    }
}

fn start_cluster() -> Result<Cluster, String> {
    let bin = bindir()?;
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("gatehouse-pg-upstream-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let data = dir.join("data");
    let port = free_port()?;

    let pki = make_pki();
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|e| format!("write {name}: {e}"))?;
        Ok(path)
    };
    let ca_file = write("ca.pem", &pki.ca_pem)?;
    let wrong_ca_file = write("wrong-ca.pem", &pki.wrong_ca_pem)?;
    let cert_file = write("server.crt", &pki.server_cert_pem)?;
    let key_file = write("server.key", &pki.server_key_pem)?;
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&key_file, fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    }
    if root {
        let mut chown = Command::new("chown");
        chown.arg("-R").arg("postgres:").arg(&dir);
        run(chown, "chown")?;
    }

    // Stop the cluster and remove the directory once this process is gone.
    spawn_watchdog(root, &bin, &data, &dir);

    let mut initdb = pg_command(root, &bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
    run(initdb, "initdb")?;

    let conf = format!(
        "\n# gatehouse pg_upstream test\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         unix_socket_directories = '{dir}'\n\
         ssl = on\n\
         ssl_cert_file = '{cert}'\n\
         ssl_key_file = '{key}'\n\
         max_connections = 30\n\
         fsync = off\n\
         log_min_messages = warning\n",
        dir = dir.display(),
        cert = cert_file.display(),
        key = key_file.display(),
    );
    append(&data.join("postgresql.conf"), &conf)?;
    // Replaces initdb's: one dedicated role per method, the TLS-only role
    // has no non-TLS line at all.
    let hba = "local all all trust\n\
               hostssl all ssl_only 127.0.0.1/32 scram-sha-256\n\
               host all scram_user 127.0.0.1/32 scram-sha-256\n\
               host all md5_user 127.0.0.1/32 md5\n\
               host all pw_user 127.0.0.1/32 password\n\
               host all postgres 127.0.0.1/32 trust\n";
    fs::write(data.join("pg_hba.conf"), hba).map_err(|e| e.to_string())?;

    let mut start = pg_command(root, &bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-w", "-t", "60", "start"]);
    if let Err(e) = run(start, "pg_ctl start") {
        let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        return Err(format!("{e}\nserver log:\n{log}"));
    }

    let sql = format!(
        "SET password_encryption = 'scram-sha-256';\
         CREATE ROLE scram_user LOGIN PASSWORD '{SCRAM_PASSWORD}';\
         CREATE ROLE ssl_only LOGIN PASSWORD '{SSL_PASSWORD}';\
         CREATE ROLE pw_user LOGIN PASSWORD '{CLEARTEXT_PASSWORD}';\
         SET password_encryption = 'md5';\
         CREATE ROLE md5_user LOGIN PASSWORD '{MD5_PASSWORD}';"
    );
    let mut psql = Command::new(bin.join("psql"));
    psql.arg("-h")
        .arg(&dir)
        .args(["-p", &port.to_string(), "-U", "postgres", "-d", "postgres"])
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", &sql]);
    run(psql, "psql (create roles)")?;
    // A database the TLS-only role owns, for the store over TLS.
    let mut psql = Command::new(bin.join("psql"));
    psql.arg("-h")
        .arg(&dir)
        .args(["-p", &port.to_string(), "-U", "postgres", "-d", "postgres"])
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            "CREATE DATABASE store_tls OWNER ssl_only",
        ]);
    run(psql, "psql (create the store database)")?;

    Ok(Cluster {
        port,
        ca_file,
        wrong_ca_file,
    })
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

/// A detached shell that waits for this process to exit, then stops the
/// cluster (immediate mode) and removes its directory.
fn spawn_watchdog(root: bool, bin: &Path, data: &Path, dir: &Path) {
    let script = r#"
        while kill -0 "$1" 2>/dev/null; do sleep 1; done
        if [ "$5" = root ]; then
            runuser -u postgres -- "$2" -D "$3" -m immediate stop >/dev/null 2>&1
        else
            "$2" -D "$3" -m immediate stop >/dev/null 2>&1
        fi
        rm -rf "$4"
    "#;
    let spawned = Command::new("setsid")
        .arg("sh")
        .arg("-c")
        .arg(script)
        .arg("gatehouse-pg-watchdog")
        .arg(std::process::id().to_string())
        .arg(bin.join("pg_ctl"))
        .arg(data)
        .arg(dir)
        .arg(if root { "root" } else { "user" })
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!("warning: no cleanup watchdog for {}: {e}", dir.display());
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn config(host: &str, user: &str, password: Option<&str>, tls: UpstreamTls) -> UpstreamConfig {
    let cluster = cluster();
    let mut config = UpstreamConfig::new(
        format!("{host}:{}", cluster.port),
        "postgres",
        user,
        password.map(str::to_owned),
    );
    config.tls = tls;
    config.ca_file = Some(cluster.ca_file.clone());
    config.connect_timeout = Duration::from_secs(20);
    config
}

/// Runs one simple query on the logged-in connection; the first column of
/// each row, or the SQLSTATE of the error.
async fn simple_query(conn: &mut UpstreamConnection, sql: &str) -> Result<Vec<String>, String> {
    let mut out = BytesMut::new();
    frontend::query(sql, &mut out).unwrap();
    conn.stream.write_all(&out).await.unwrap();
    conn.stream.flush().await.unwrap();
    let mut rows = Vec::new();
    let mut error = None;
    loop {
        let message = loop {
            if let Some(m) = Message::parse(&mut conn.read_buffer).unwrap() {
                break m;
            }
            let n = conn.stream.read_buf(&mut conn.read_buffer).await.unwrap();
            assert!(n > 0, "server closed the connection");
        };
        match message {
            Message::DataRow(body) => {
                let range = body.ranges().next().unwrap().unwrap().unwrap();
                rows.push(String::from_utf8(body.buffer()[range].to_vec()).unwrap());
            }
            Message::ErrorResponse(body) => {
                let mut fields = body.fields();
                while let Some(field) = fields.next().unwrap() {
                    if field.type_() == b'C' {
                        error = Some(String::from_utf8_lossy(field.value_bytes()).into_owned());
                    }
                }
            }
            Message::ReadyForQuery(_) => break,
            _ => {}
        }
    }
    match error {
        Some(code) => Err(code),
        None => Ok(rows),
    }
}

fn assert_no_secret(err: &UpstreamError, secret: &str) {
    let shown = format!("{err} / {err:?}");
    assert!(
        !shown.contains(secret),
        "error reveals the password: {shown}"
    );
}

// ---------------------------------------------------------------------------
// The machine's server (trust)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn trust_login_on_the_machine_server() {
    let mut config = UpstreamConfig::new("127.0.0.1:5432", "test", "postgres", None);
    config.tls = UpstreamTls::Disable;
    config.startup_params = vec![("application_name".into(), "gatehouse-upstream-test".into())];
    let mut conn = connect(&config).await.expect("trust login");
    assert!(
        conn.parameter("server_version").is_some(),
        "{:?}",
        conn.parameters
    );
    assert_eq!(
        conn.parameter("application_name"),
        Some("gatehouse-upstream-test")
    );
    assert_ne!(conn.process_id, 0);
    assert_eq!(conn.transaction_status, b'I');
    assert!(!conn.stream.is_tls());
    assert_eq!(
        simple_query(&mut conn, "select current_database()")
            .await
            .unwrap(),
        ["test"]
    );
}

#[tokio::test]
async fn require_tls_on_the_machine_server() {
    let mut config = UpstreamConfig::new("127.0.0.1:5432", "test", "postgres", None);
    config.tls = UpstreamTls::Require;
    let mut conn = connect(&config).await.expect("trust login over TLS");
    assert!(conn.stream.is_tls());
    assert_eq!(simple_query(&mut conn, "select 1").await.unwrap(), ["1"]);
}

// ---------------------------------------------------------------------------
// Password methods
// ---------------------------------------------------------------------------

#[tokio::test]
async fn scram_login_without_tls() {
    let config = config(
        "127.0.0.1",
        "scram_user",
        Some(SCRAM_PASSWORD),
        UpstreamTls::Disable,
    );
    let mut conn = connect(&config).await.expect("SCRAM login");
    assert!(!conn.stream.is_tls());
    assert_ne!(conn.process_id, 0);
    assert_eq!(
        simple_query(&mut conn, "select current_user")
            .await
            .unwrap(),
        ["scram_user"]
    );
}

#[tokio::test]
async fn scram_login_over_tls_where_plus_is_offered() {
    // Over TLS PostgreSQL offers SCRAM-SHA-256-PLUS too; plain SCRAM is chosen.
    let config = config(
        "127.0.0.1",
        "scram_user",
        Some(SCRAM_PASSWORD),
        UpstreamTls::Require,
    );
    let mut conn = connect(&config).await.expect("SCRAM login over TLS");
    assert!(conn.stream.is_tls());
    assert_eq!(
        simple_query(&mut conn, "select current_user")
            .await
            .unwrap(),
        ["scram_user"]
    );
}

#[tokio::test]
async fn md5_login() {
    let config = config(
        "127.0.0.1",
        "md5_user",
        Some(MD5_PASSWORD),
        UpstreamTls::Disable,
    );
    let mut conn = connect(&config).await.expect("md5 login");
    assert_eq!(
        simple_query(&mut conn, "select current_user")
            .await
            .unwrap(),
        ["md5_user"]
    );
}

#[tokio::test]
async fn cleartext_password_login() {
    let config = config(
        "127.0.0.1",
        "pw_user",
        Some(CLEARTEXT_PASSWORD),
        UpstreamTls::Disable,
    );
    let mut conn = connect(&config).await.expect("cleartext login");
    assert_eq!(
        simple_query(&mut conn, "select current_user")
            .await
            .unwrap(),
        ["pw_user"]
    );
}

#[tokio::test]
async fn wrong_password_is_a_server_error_without_the_password() {
    for (user, tls) in [
        ("scram_user", UpstreamTls::Disable),
        ("scram_user", UpstreamTls::Require),
        ("md5_user", UpstreamTls::Disable),
        ("pw_user", UpstreamTls::Disable),
    ] {
        let wrong = "Wr0ng-Pa55word-xyz";
        let config = config("127.0.0.1", user, Some(wrong), tls);
        let err = connect(&config).await.expect_err("wrong password accepted");
        match &err {
            UpstreamError::Server { code, message } => {
                assert_eq!(code, "28P01", "{user}: {message}");
                assert!(
                    message.contains("password authentication failed"),
                    "{message}"
                );
            }
            other => panic!("{user}: expected a server error, got {other:?}"),
        }
        assert_eq!(err.sqlstate(), Some("28P01"));
        assert_no_secret(&err, wrong);
    }
}

#[tokio::test]
async fn missing_password_is_a_clear_error() {
    for user in ["scram_user", "md5_user", "pw_user"] {
        let config = config("127.0.0.1", user, None, UpstreamTls::Disable);
        let err = connect(&config).await.expect_err("login without password");
        assert!(
            matches!(err, UpstreamError::PasswordRequired),
            "{user}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            "upstream asked for a password but the connection has none configured"
        );
    }
}

#[tokio::test]
async fn unknown_database_is_a_server_error() {
    let mut config = config(
        "127.0.0.1",
        "scram_user",
        Some(SCRAM_PASSWORD),
        UpstreamTls::Disable,
    );
    config.database = "no_such_database".into();
    let err = connect(&config).await.expect_err("unknown database");
    assert_eq!(err.sqlstate(), Some("3D000"), "{err:?}");
    assert_no_secret(&err, SCRAM_PASSWORD);
}

// ---------------------------------------------------------------------------
// TLS modes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn verify_full_with_the_right_ca_and_host_name() {
    let config = config(
        "localhost",
        "ssl_only",
        Some(SSL_PASSWORD),
        UpstreamTls::VerifyFull,
    );
    let mut conn = connect(&config).await.expect("verify-full login");
    assert!(conn.stream.is_tls());
    assert_eq!(
        simple_query(
            &mut conn,
            "select ssl::text from pg_stat_ssl where pid = pg_backend_pid()"
        )
        .await
        .unwrap(),
        ["true"]
    );
}

#[tokio::test]
async fn verify_full_with_a_wrong_ca_fails() {
    let mut config = config(
        "localhost",
        "ssl_only",
        Some(SSL_PASSWORD),
        UpstreamTls::VerifyFull,
    );
    config.ca_file = Some(cluster().wrong_ca_file.clone());
    let err = connect(&config)
        .await
        .expect_err("untrusted certificate accepted");
    assert!(matches!(err, UpstreamError::Tls(_)), "{err:?}");
    assert_no_secret(&err, SSL_PASSWORD);
}

#[tokio::test]
async fn verify_full_with_the_bundled_roots_fails_on_a_private_ca() {
    let mut config = config(
        "localhost",
        "ssl_only",
        Some(SSL_PASSWORD),
        UpstreamTls::VerifyFull,
    );
    config.ca_file = None;
    let err = connect(&config)
        .await
        .expect_err("private CA trusted by public roots");
    assert!(matches!(err, UpstreamError::Tls(_)), "{err:?}");
}

#[tokio::test]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    // The certificate names `localhost`, not 127.0.0.1.
    let full = config(
        "127.0.0.1",
        "ssl_only",
        Some(SSL_PASSWORD),
        UpstreamTls::VerifyFull,
    );
    let err = connect(&full).await.expect_err("host name not checked");
    assert!(matches!(err, UpstreamError::Tls(_)), "{err:?}");

    let ca = config(
        "127.0.0.1",
        "ssl_only",
        Some(SSL_PASSWORD),
        UpstreamTls::VerifyCa,
    );
    let conn = connect(&ca).await.expect("verify-ca ignores the host name");
    assert!(conn.stream.is_tls());
}

#[tokio::test]
async fn verify_ca_with_a_wrong_ca_fails() {
    let mut config = config(
        "127.0.0.1",
        "ssl_only",
        Some(SSL_PASSWORD),
        UpstreamTls::VerifyCa,
    );
    config.ca_file = Some(cluster().wrong_ca_file.clone());
    let err = connect(&config)
        .await
        .expect_err("untrusted certificate accepted");
    assert!(matches!(err, UpstreamError::Tls(_)), "{err:?}");
}

#[tokio::test]
async fn require_works_without_a_ca() {
    let mut config = config(
        "127.0.0.1",
        "ssl_only",
        Some(SSL_PASSWORD),
        UpstreamTls::Require,
    );
    config.ca_file = None;
    let mut conn = connect(&config).await.expect("require login");
    assert!(conn.stream.is_tls());
    assert_eq!(
        simple_query(&mut conn, "select current_user")
            .await
            .unwrap(),
        ["ssl_only"]
    );
}

#[tokio::test]
async fn prefer_uses_tls_when_offered() {
    let mut config = config(
        "127.0.0.1",
        "ssl_only",
        Some(SSL_PASSWORD),
        UpstreamTls::Prefer,
    );
    config.ca_file = None;
    let conn = connect(&config).await.expect("prefer login");
    assert!(conn.stream.is_tls());
}

#[tokio::test]
async fn disable_against_a_tls_only_role_is_refused_by_the_server() {
    let config = config(
        "127.0.0.1",
        "ssl_only",
        Some(SSL_PASSWORD),
        UpstreamTls::Disable,
    );
    let err = connect(&config)
        .await
        .expect_err("hostssl-only role accepted without TLS");
    match &err {
        UpstreamError::Server { code, message } => {
            assert_eq!(code, "28000", "{message}");
            assert!(message.contains("pg_hba.conf"), "{message}");
            assert!(message.contains("no encryption"), "{message}");
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    assert_no_secret(&err, SSL_PASSWORD);
}

#[tokio::test]
async fn unreadable_ca_file_fails_before_connecting() {
    let mut config = config(
        "localhost",
        "ssl_only",
        Some(SSL_PASSWORD),
        UpstreamTls::VerifyFull,
    );
    config.ca_file = Some(PathBuf::from("/nonexistent/gatehouse-ca.pem"));
    let err = connect(&config)
        .await
        .expect_err("missing CA file accepted");
    assert!(matches!(err, UpstreamError::Config(_)), "{err:?}");
}

// ---------------------------------------------------------------------------
// Startup parameters, cancel, network failures
// ---------------------------------------------------------------------------

#[tokio::test]
async fn client_startup_parameters_are_passed_but_not_user_or_database() {
    let mut config = config(
        "127.0.0.1",
        "scram_user",
        Some(SCRAM_PASSWORD),
        UpstreamTls::Disable,
    );
    config.startup_params = vec![
        ("application_name".into(), "psql-through-gatehouse".into()),
        ("DateStyle".into(), "SQL, DMY".into()),
        ("options".into(), "-c statement_timeout=1234".into()),
        ("user".into(), "postgres".into()),
        ("database".into(), "template1".into()),
    ];
    let mut conn = connect(&config)
        .await
        .expect("login with client parameters");
    assert_eq!(
        conn.parameter("application_name"),
        Some("psql-through-gatehouse")
    );
    assert_eq!(conn.parameter("DateStyle"), Some("SQL, DMY"));
    assert_eq!(
        simple_query(&mut conn, "show statement_timeout")
            .await
            .unwrap(),
        ["1234ms"]
    );
    assert_eq!(
        simple_query(&mut conn, "select current_user")
            .await
            .unwrap(),
        ["scram_user"]
    );
    assert_eq!(
        simple_query(&mut conn, "select current_database()")
            .await
            .unwrap(),
        ["postgres"]
    );
}

#[tokio::test]
async fn cancel_interrupts_a_running_query() {
    for tls in [UpstreamTls::Disable, UpstreamTls::VerifyFull] {
        let user = if tls == UpstreamTls::Disable {
            "scram_user"
        } else {
            "ssl_only"
        };
        let password = if tls == UpstreamTls::Disable {
            SCRAM_PASSWORD
        } else {
            SSL_PASSWORD
        };
        let config = config("localhost", user, Some(password), tls);
        let mut conn = connect(&config).await.expect("login");
        let (pid, key) = (conn.process_id, conn.secret_key);
        let canceller = {
            let config = config.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                cancel(&config, pid, key).await
            })
        };
        let outcome = tokio::time::timeout(
            Duration::from_secs(20),
            simple_query(&mut conn, "select pg_sleep(30)"),
        )
        .await
        .expect("query not cancelled");
        canceller.await.unwrap().expect("cancel request");
        assert_eq!(outcome, Err("57014".to_string()), "{tls}");
        // The session survives the cancel.
        assert_eq!(simple_query(&mut conn, "select 1").await.unwrap(), ["1"]);
    }
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let port = free_port().unwrap();
    let mut config = UpstreamConfig::new(format!("127.0.0.1:{port}"), "postgres", "postgres", None);
    config.tls = UpstreamTls::Disable;
    let err = connect(&config).await.expect_err("nothing listens there");
    assert!(matches!(err, UpstreamError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepted by the kernel's backlog, never answered.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    for tls in [UpstreamTls::Disable, UpstreamTls::Require] {
        let mut config = UpstreamConfig::new(address.clone(), "postgres", "postgres", None);
        config.tls = tls;
        config.connect_timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let err = connect(&config).await.expect_err("silent server");
        assert!(matches!(err, UpstreamError::Timeout { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    drop(listener);
}

// ---------------------------------------------------------------------------
// The control-plane store on PostgreSQL over TLS
// ---------------------------------------------------------------------------

/// The store's URL on the TLS-only role, with `sslmode` and the CA file.
fn store_url(sslmode: &str, ca_file: &Path) -> String {
    format!(
        "postgres://ssl_only:{SSL_PASSWORD}@localhost:{}/store_tls?sslmode={sslmode}&sslrootcert={}",
        cluster().port,
        ca_file.display()
    )
}

#[tokio::test]
async fn the_store_connects_to_postgres_over_verified_tls() {
    let url = store_url("verify-full", &cluster().ca_file);
    let store = gatehouse_store::Store::open(&url, gatehouse_store::SecretKeys::generate())
        .await
        .expect("the store opens over verify-full TLS");
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(ssl, "the store's connection is TLS");
}

#[tokio::test]
async fn the_store_refuses_a_server_certificate_from_another_ca() {
    let url = store_url("verify-full", &cluster().wrong_ca_file);
    let err =
        match gatehouse_store::Store::open(&url, gatehouse_store::SecretKeys::generate()).await {
            Ok(_) => panic!("an untrusted server certificate was accepted"),
            Err(err) => format!("{err:#}"),
        };
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(!err.contains(SSL_PASSWORD), "the password leaked: {err}");
}
