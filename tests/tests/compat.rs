//! The client compatibility matrix and the differential test.
//!
//! Matrix: four real PostgreSQL drivers — sqlx (in process), psycopg 3,
//! node-postgres and pgJDBC (scripts under `tests/compat/`, run as child
//! processes) — go through a gateway with guardrails and through one with
//! the sandbox guest masking rows, and each prints the same [`TRANSCRIPT`]:
//! a parameterised SELECT, DDL and DML on a temp table, a prepared
//! statement run past the drivers' prepare thresholds (and found in the
//! upstream's `pg_prepared_statements`), denials (SQLSTATE 42501 with
//! guardrails' reason) through the simple protocol, a named statement and
//! an unnamed one with a parameter, a denial inside a transaction, and a
//! masked result. The tools are installed by `cargo xtask test`; a missing
//! one fails its test with a message saying what to install.
//!
//! Differential: `tests/compat/differential.sql` run by psql directly
//! against PostgreSQL and through a gateway with no plugins must print
//! exactly the same (stdout byte for byte; both streams after naming the
//! notifying backend's PID, which differs by nature).
//!
//! Regression tests for the extended protocol's reply queue: an Execute
//! whose portal is closed in the same batch (every sqlx query) and a portal
//! name bound twice in one batch both keep the columns captured when each
//! Execute was queued, so their rows still pass the result hooks.

use gatehouse::record::SessionEvent;
use gatehouse_tests::gateway::{TestGateway, USER};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

const GUARDRAILS: &str = r#"plugin = "guardrails"
config = { deny_statements = ["drop", "truncate", "delete-without-where"] }"#;
const MASK: &str = r#"plugin = "sandbox-guest"
config = { mode = "mask-rows" }"#;

/// What every client prints, line for line (lines a client adds of its own
/// start with its name and are checked by its test).
const TRANSCRIPT: &str = "\
select: 42|grüße ✓|true
null-param: <null>
create: ok
insert: 3
update: 1
rows: 1=one;2=two!;3=three
loop: 110
prepared: 1
deny-drop: ERROR 42501 guardrails: DROP statements are not allowed on this connection (statement 1)
deny-truncate: ERROR 42501 guardrails: TRUNCATE statements are not allowed on this connection (statement 1)
deny-delete: ERROR 42501 guardrails: DELETE without a WHERE clause is not allowed on this connection (statement 1)
after-denials: 3
loop-again: 12
deny-in-tx: ERROR 42501 guardrails: DROP statements are not allowed on this connection (statement 1)
tx-commit: 2
final: 3
masked: ***|plain
done
";

/// How many statements of the loop (`select $1::int * 2`) are prepared in
/// the upstream session: the driver's named statement is really there.
const PREPARED: &str =
    "select count(*)::int from pg_prepared_statements where statement like 'select $1::int * 2%'";

/// A gateway with guardrails and one masking rows, for one client.
struct Gateways {
    guarded: TestGateway,
    masking: TestGateway,
}

impl Gateways {
    async fn start() -> Self {
        let (guarded, masking) = tokio::join!(
            TestGateway::start(&[GUARDRAILS]),
            TestGateway::start(&[MASK])
        );
        Self { guarded, masking }
    }

    /// The scripts' arguments: HOST PORT USER PASSWORD DBNAME MASK_PORT
    /// MASK_PASSWORD.
    fn args(&self) -> Vec<String> {
        vec![
            "127.0.0.1".into(),
            self.guarded.port().to_string(),
            USER.into(),
            self.guarded.token.clone(),
            "pg.test".into(),
            self.masking.port().to_string(),
            self.masking.token.clone(),
        ]
    }
}

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compat")
}

/// Run a client to completion (bounded); its stdout when it succeeds, a
/// panic naming `what` and showing both streams otherwise.
async fn run_client(what: &str, command: &mut Command) -> String {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let child = command.spawn().unwrap_or_else(|e| {
        panic!(
            "{what}: cannot start {command:?}: {e} (`cargo xtask test` installs the compat tools)"
        )
    });
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what}: still running after 120 s"))
        .expect("client output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    eprintln!("{what}: {:.1?}", started.elapsed());
    stdout
}

/// `stdout` is the common transcript, plus `extras` (lines starting with
/// `prefix`, in order), less the lines labelled in `left_out`.
fn assert_transcript(client: &str, stdout: &str, prefix: &str, extras: &[&str], left_out: &[&str]) {
    let (own, common): (Vec<&str>, Vec<&str>) = stdout
        .lines()
        .partition(|l| !prefix.is_empty() && l.starts_with(prefix));
    let common = common.join("\n") + "\n";
    let expected: String = TRANSCRIPT
        .lines()
        .filter(|l| {
            !left_out
                .iter()
                .any(|label| l.starts_with(&format!("{label}: ")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    if common != expected {
        panic!(
            "{client}: transcript differs\n{}",
            line_diff(&expected, &common, "expected", client)
        );
    }
    assert_eq!(own, extras, "{client}: its own lines");
}

/// The first differing line of two texts, with context, for a readable
/// failure.
fn line_diff(left: &str, right: &str, left_name: &str, right_name: &str) -> String {
    let a: Vec<&str> = left.lines().collect();
    let b: Vec<&str> = right.lines().collect();
    let first = (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .unwrap_or(a.len().min(b.len()));
    let from = first.saturating_sub(3);
    let show = |lines: &[&str]| -> String {
        lines
            .iter()
            .enumerate()
            .skip(from)
            .take(10)
            .map(|(i, l)| {
                let marker = if i == first { '>' } else { ' ' };
                // A 2 MB line is shown by its start.
                let cut = l.char_indices().nth(200).map_or(l.len(), |(at, _)| at);
                let more = if cut < l.len() { " …" } else { "" };
                format!("{marker}{:>5} {}{more}\n", i + 1, &l[..cut])
            })
            .collect()
    };
    format!(
        "first difference at line {} ({} vs {} lines)\n--- {left_name}\n{}--- {right_name}\n{}",
        first + 1,
        a.len(),
        b.len(),
        show(&a),
        show(&b)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlx_works_through_the_gateway() {
    use sqlx::postgres::{PgConnectOptions, PgSslMode};
    use sqlx::{Connection, Executor, PgConnection, Row};

    let gw = TestGateway::start(&[GUARDRAILS]).await;
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(gw.port())
        .username(USER)
        .password(&gw.token)
        .database("pg.test")
        .ssl_mode(PgSslMode::Disable);
    let denial =
        |label: &str, result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>| match result {
            Ok(_) => format!("{label}: ran (expected a denial)"),
            Err(sqlx::Error::Database(db)) => format!(
                "{label}: ERROR {} {}",
                db.code().unwrap_or_default(),
                db.message()
            ),
            Err(other) => panic!("{label}: {other}"),
        };
    let mut out = Vec::new();
    let mut conn = PgConnection::connect_with(&options)
        .await
        .expect("sqlx connects through the gateway");

    // A parameterised SELECT: sqlx prepares a named statement and asks for
    // binary results.
    let row = sqlx::query("select $1::int + 1 as n, $2::text as t, $3::bool as b")
        .bind(41i32)
        .bind("grüße ✓")
        .bind(true)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    out.push(format!(
        "select: {}|{}|{}",
        row.get::<i32, _>(0),
        row.get::<String, _>(1),
        row.get::<bool, _>(2)
    ));
    let v: Option<String> = sqlx::query_scalar("select $1::text as v")
        .bind(None::<String>)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    out.push(format!("null-param: {}", v.as_deref().unwrap_or("<null>")));

    // DDL and DML on a temp table.
    conn.execute("create temp table compat_t (id int primary key, note text, at timestamptz)")
        .await
        .unwrap();
    out.push("create: ok".into());
    let mut inserted = 0;
    for (id, note) in [(1, "one"), (2, "two"), (3, "three")] {
        inserted += sqlx::query("insert into compat_t values ($1, $2, now())")
            .bind(id)
            .bind(note)
            .execute(&mut conn)
            .await
            .unwrap()
            .rows_affected();
    }
    out.push(format!("insert: {inserted}"));
    let updated = sqlx::query("update compat_t set note = note || '!' where id = $1")
        .bind(2)
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
    out.push(format!("update: {updated}"));
    let rows = sqlx::query("select id, note from compat_t order by id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let rows: Vec<String> = rows
        .iter()
        .map(|r| format!("{}={}", r.get::<i32, _>(0), r.get::<String, _>(1)))
        .collect();
    out.push(format!("rows: {}", rows.join(";")));

    // One cached named statement, executed ten times.
    async fn doubled(conn: &mut PgConnection, n: i32) -> i32 {
        let mut total = 0;
        for i in 1..=n {
            total += sqlx::query_scalar::<_, i32>("select $1::int * 2")
                .bind(i)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        }
        total
    }
    out.push(format!("loop: {}", doubled(&mut conn, 10).await));
    let prepared: i32 = sqlx::query_scalar(PREPARED)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    out.push(format!("prepared: {prepared}"));

    // Denials: the simple protocol (a bare string), a named prepared
    // statement, an unnamed one with a parameter.
    out.push(denial(
        "deny-drop",
        conn.execute("drop table compat_t").await,
    ));
    out.push(denial(
        "deny-truncate",
        sqlx::query("truncate compat_t").execute(&mut conn).await,
    ));
    out.push(denial(
        "deny-delete",
        sqlx::query("delete from compat_t returning id + $1::int")
            .bind(1)
            .persistent(false)
            .execute(&mut conn)
            .await,
    ));
    let count: i64 = sqlx::query_scalar("select count(*) from compat_t")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    out.push(format!("after-denials: {count}"));
    out.push(format!("loop-again: {}", doubled(&mut conn, 3).await));

    // A denial inside a transaction: the transaction goes on.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("insert into compat_t values ($1, $2, now())")
        .bind(4)
        .bind("four")
        .execute(&mut *tx)
        .await
        .unwrap();
    out.push(denial(
        "deny-in-tx",
        tx.execute("drop table compat_t").await,
    ));
    sqlx::query("insert into compat_t values ($1, $2, now())")
        .bind(5)
        .bind("five")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let deleted = sqlx::query("delete from compat_t where id > $1")
        .bind(3)
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
    out.push(format!("tx-commit: {deleted}"));
    let count: i64 = sqlx::query_scalar("select count(*) from compat_t")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    out.push(format!("final: {count}"));
    conn.close().await.unwrap();
    out.push("done".into());
    // The masked result is `sqlx_results_go_through_the_result_hooks`.
    assert_transcript("sqlx", &(out.join("\n") + "\n"), "", &[], &["masked"]);
}

/// sqlx closes the unnamed portal in the same batch as its Execute; the
/// rows must still be masked.
#[tokio::test(flavor = "multi_thread")]

async fn sqlx_results_go_through_the_result_hooks() {
    use sqlx::postgres::{PgConnectOptions, PgSslMode};
    use sqlx::{Connection, PgConnection, Row};

    let gw = TestGateway::start(&[MASK]).await;
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(gw.port())
        .username(USER)
        .password(&gw.token)
        .database("pg.test")
        .ssl_mode(PgSslMode::Disable);
    let mut conn = PgConnection::connect_with(&options).await.unwrap();
    let row = sqlx::query("select $1::text as email, 'plain'::text as note")
        .bind("eve@example.com")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let masked = format!(
        "masked: {}|{}",
        row.get::<String, _>(0),
        row.get::<String, _>(1)
    );
    conn.close().await.unwrap();
    assert_eq!(masked, "masked: ***|plain");
}

#[tokio::test(flavor = "multi_thread")]
async fn psycopg_works_through_the_gateway() {
    let gws = Gateways::start().await;
    let stdout = run_client(
        "psycopg",
        Command::new("python3")
            .arg(compat_dir().join("psycopg_check.py"))
            .args(gws.args())
            .env("PYTHONIOENCODING", "utf-8"),
    )
    .await;
    assert_transcript("psycopg", &stdout, "", &[], &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn node_postgres_works_through_the_gateway() {
    let gws = Gateways::start().await;
    let dir = compat_dir().join("node");
    assert!(
        dir.join("node_modules/pg").is_dir(),
        "node-postgres is not installed: run `npm ci --prefix tests/compat/node` (or `cargo xtask test`)"
    );
    let stdout = run_client(
        "node-postgres",
        Command::new("node")
            .arg(dir.join("check.js"))
            .args(gws.args())
            .current_dir(&dir),
    )
    .await;
    assert_transcript("node-postgres", &stdout, "", &[], &[]);
}

/// The pgJDBC jar Debian's `libpostgresql-jdbc-java` installs.
const JDBC_JAR: &str = "/usr/share/java/postgresql.jar";

#[tokio::test(flavor = "multi_thread")]
async fn pgjdbc_works_through_the_gateway() {
    assert!(
        Path::new(JDBC_JAR).is_file(),
        "{JDBC_JAR} is missing: apt-get install libpostgresql-jdbc-java (or run `cargo xtask test`)"
    );
    let classes = tempfile::tempdir().unwrap();
    let (gws, _) = tokio::join!(Gateways::start(), async {
        run_client(
            "javac",
            Command::new("javac")
                .args(["-encoding", "UTF-8", "-nowarn", "-d"])
                .arg(classes.path())
                .args(["-cp", JDBC_JAR])
                .arg(compat_dir().join("jdbc/Check.java")),
        )
        .await
    });
    let classpath = format!("{}:{JDBC_JAR}", classes.path().display());
    let stdout = run_client(
        "pgJDBC",
        Command::new("java")
            // A short-lived JVM: no tiered JIT warm-up worth paying for.
            .args(["-XX:TieredStopAtLevel=1", "-cp", &classpath, "Check"])
            .args(gws.args()),
    )
    .await;
    assert_transcript(
        "pgJDBC",
        &stdout,
        "jdbc-",
        &["jdbc-server-prepared: true", "jdbc-metadata: id,note,at"],
        &[],
    );
}

/// Lines that legitimately differ between a direct session and one
/// through the gateway, made comparable: psql names the PID of the backend
/// that sent a notification. Bytes, not text: binary COPY output is
/// compared exactly.
fn normalise(output: &[u8]) -> Vec<u8> {
    const PID: &[u8] = b"received from server process with PID ";
    let mut normalised = Vec::with_capacity(output.len());
    for (i, line) in output.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            normalised.push(b'\n');
        }
        match line.windows(PID.len()).position(|w| w == PID) {
            Some(at) => {
                let rest = &line[at + PID.len()..];
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                normalised.extend_from_slice(&line[..at + PID.len()]);
                normalised.extend_from_slice(b"<pid>");
                normalised.extend_from_slice(&rest[digits..]);
            }
            None => normalised.extend_from_slice(line),
        }
    }
    normalised
}

async fn psql_script(conninfo: &str, script: &Path) -> (Vec<u8>, Vec<u8>) {
    let output = Command::new("psql")
        .arg(conninfo)
        .args(["-X", "-A", "-F|", "-v", "ON_ERROR_STOP=0", "-f"])
        .arg(script)
        // Startup parameters, shown at the top of the script.
        .env("PGCLIENTENCODING", "UTF8")
        .env("PGTZ", "Pacific/Chatham")
        .env("PGDATESTYLE", "SQL, DMY")
        .env("PGAPPNAME", "compat-startup")
        .env("PGOPTIONS", "-c statement_timeout=12345")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("psql finishes")
        .expect("psql runs");
    (normalise(&output.stdout), normalise(&output.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_output_is_identical_directly_and_through_the_gateway() {
    let gw = TestGateway::start(&[]).await;
    let script = compat_dir().join("differential.sql");
    let direct = "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable";
    let through = gw.conninfo(USER, "pg.test", "disable");
    // One after the other: the script listens on and notifies a channel,
    // and a run listening while the other notifies would print one
    // notification more (seen once, the direct run).
    let (direct_out, direct_err) = psql_script(direct, &script).await;
    let (gw_out, gw_err) = psql_script(&through, &script).await;
    // The script exercises what it means to: errors and notices come out.
    let direct_text = String::from_utf8_lossy(&direct_out);
    let direct_errors = String::from_utf8_lossy(&direct_err);
    for expected in [
        "ERROR:  division by zero",
        "ERROR:  custom failure",
        "HINT:  a hint",
        "NOTICE:  a notice: 42",
        "WARNING:  a warning ✓",
        "ERROR:  relation \"no_such_table\" does not exist",
        "has no equivalent in encoding \"LATIN1\"",
    ] {
        assert!(
            direct_errors.contains(expected),
            "{expected}:\n{direct_errors}"
        );
    }
    for expected in [
        "finished\ndone\n",
        "TimeZone\nPacific/Chatham\n",
        "application_name\ncompat-startup\n",
        "statement_timeout\n12345ms\n",
        "big_query\n2000000\n",
    ] {
        assert!(direct_text.contains(expected), "{expected}:\n{direct_text}");
    }
    assert!(
        direct_text.contains("with payload \"payload ✓\""),
        "{direct_text}"
    );
    for (stream, direct, through) in [
        ("stdout", &direct_out, &gw_out),
        ("stderr", &direct_err, &gw_err),
    ] {
        if direct != through {
            panic!(
                "{stream} differs\n{}",
                line_diff(
                    &String::from_utf8_lossy(direct),
                    &String::from_utf8_lossy(through),
                    "direct",
                    "gateway"
                )
            );
        }
    }
}

/// A raw protocol session through a gateway, so a test sends exactly the
/// message sequence a driver does.
struct Raw {
    stream: tokio::net::TcpStream,
    buf: bytes::BytesMut,
}

impl Raw {
    async fn connect(gw: &TestGateway) -> Self {
        use gatehouse::pg::wire::backend::BackendMessage;
        use gatehouse::pg::wire::frontend::auth::encode_password;
        use gatehouse::pg::wire::startup::encode_startup;
        use tokio::io::AsyncWriteExt;
        let stream = tokio::net::TcpStream::connect(gw.gateway.postgres_addr)
            .await
            .unwrap();
        let mut raw = Raw {
            stream,
            buf: bytes::BytesMut::new(),
        };
        let mut out = bytes::BytesMut::new();
        encode_startup(&mut out, &[("user", USER), ("database", "pg.test")]).unwrap();
        raw.stream.write_all(&out).await.unwrap();
        assert!(matches!(
            raw.read().await,
            BackendMessage::Authentication(_)
        ));
        out.clear();
        encode_password(&mut out, &gw.token).unwrap();
        raw.stream.write_all(&out).await.unwrap();
        raw.until_ready().await;
        raw
    }

    async fn read(&mut self) -> gatehouse::pg::wire::backend::BackendMessage {
        let message =
            gatehouse::pg::wire::framing::read_message(&mut self.stream, &mut self.buf, 1 << 20);
        let raw = tokio::time::timeout(Duration::from_secs(10), message)
            .await
            .expect("a reply in time")
            .unwrap()
            .expect("a message");
        gatehouse::pg::wire::backend::BackendMessage::decode(&raw).unwrap()
    }

    /// Every message up to and including `ReadyForQuery`.
    async fn until_ready(&mut self) -> Vec<gatehouse::pg::wire::backend::BackendMessage> {
        use gatehouse::pg::wire::backend::BackendMessage;
        let mut replies = Vec::new();
        loop {
            let message = self.read().await;
            let done = matches!(message, BackendMessage::ReadyForQuery { .. });
            replies.push(message);
            if done {
                return replies;
            }
        }
    }

    async fn send(&mut self, messages: Vec<gatehouse::pg::wire::frontend::FrontendMessage>) {
        use tokio::io::AsyncWriteExt;
        let mut out = bytes::BytesMut::new();
        for message in messages {
            message.encode(&mut out).unwrap();
        }
        self.stream.write_all(&out).await.unwrap();
    }
}

/// The cells of every DataRow in `replies`, as text.
fn data_rows(replies: &[gatehouse::pg::wire::backend::BackendMessage]) -> Vec<Vec<String>> {
    use gatehouse::pg::wire::backend::BackendMessage;
    replies
        .iter()
        .filter_map(|m| match m {
            BackendMessage::DataRow(row) => Some(
                row.cells()
                    .map(|c| c.map_or("<null>".into(), |v| String::from_utf8_lossy(v).into_owned()))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// sqlx sends `Bind`, `Execute`, `Close` (portal), `Sync` in one batch:
/// the gateway drops the portal (and its columns) when it reads the Close,
/// before the Execute's reply is relayed, so the rows go out uninspected
/// and the record names no statement.
#[tokio::test(flavor = "multi_thread")]

async fn a_portal_closed_in_the_batch_of_its_execute_still_goes_through_the_hooks() {
    use gatehouse::pg::wire::frontend::{FrontendMessage, Target};
    let gw = TestGateway::start(&[MASK]).await;
    let mut raw = Raw::connect(&gw).await;
    raw.send(vec![
        FrontendMessage::Parse {
            statement: "s1".into(),
            sql: "select 'zed@example.com'::text, 'plain'::text".into(),
            param_types: vec![],
        },
        FrontendMessage::Describe {
            target: Target::Statement,
            name: "s1".into(),
        },
        FrontendMessage::Sync,
    ])
    .await;
    raw.until_ready().await;
    raw.send(vec![
        FrontendMessage::Bind {
            portal: String::new(),
            statement: "s1".into(),
            param_formats: vec![],
            params: vec![],
            result_formats: vec![],
        },
        FrontendMessage::Execute {
            portal: String::new(),
            max_rows: 0,
        },
        FrontendMessage::Close {
            target: Target::Portal,
            name: String::new(),
        },
        FrontendMessage::Sync,
    ])
    .await;
    let replies = raw.until_ready().await;
    let names: Vec<&str> = replies.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "BindComplete",
            "DataRow",
            "CommandComplete",
            "CloseComplete",
            "ReadyForQuery"
        ]
    );
    assert_eq!(data_rows(&replies), [["***", "plain"]]);
    drop(raw);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        gw.recorder.events().iter().any(|e| matches!(
            e,
            SessionEvent::Query { text, rows: 1, .. } if text.starts_with("select 'zed@")
        )),
        "the record names the statement the rows came from"
    );
}

/// Two portals bound under one name in one batch (a pipelining driver that
/// reuses the unnamed portal): each Execute's rows are judged with the
/// columns of its own statement. The gateway looks the columns up when the
/// reply arrives, by then those of the second Bind, and the session task
/// panics encoding a 1-cell row as 3 columns (results.rs).
#[tokio::test(flavor = "multi_thread")]

async fn a_portal_name_reused_in_one_batch_keeps_each_executes_columns() {
    use gatehouse::pg::wire::frontend::{FrontendMessage, Target};
    let gw = TestGateway::start(&[MASK]).await;
    let mut raw = Raw::connect(&gw).await;
    let mut prepare = Vec::new();
    for (name, sql) in [
        ("one", "select 'a@x.org'::text as email"),
        (
            "two",
            "select 7::int as n, 'b@x.org'::text as email, 'plain'::text as note",
        ),
    ] {
        prepare.push(FrontendMessage::Parse {
            statement: name.into(),
            sql: sql.into(),
            param_types: vec![],
        });
        prepare.push(FrontendMessage::Describe {
            target: Target::Statement,
            name: name.into(),
        });
    }
    prepare.push(FrontendMessage::Sync);
    raw.send(prepare).await;
    raw.until_ready().await;
    let mut batch = Vec::new();
    for name in ["one", "two"] {
        batch.push(FrontendMessage::Bind {
            portal: String::new(),
            statement: name.into(),
            param_formats: vec![],
            params: vec![],
            result_formats: vec![],
        });
        batch.push(FrontendMessage::Execute {
            portal: String::new(),
            max_rows: 0,
        });
    }
    batch.push(FrontendMessage::Sync);
    raw.send(batch).await;
    let replies = raw.until_ready().await;
    let names: Vec<&str> = replies.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "BindComplete",
            "DataRow",
            "CommandComplete",
            "BindComplete",
            "DataRow",
            "CommandComplete",
            "ReadyForQuery"
        ]
    );
    assert_eq!(
        data_rows(&replies),
        [vec!["***"], vec!["7", "***", "plain"]]
    );
}
