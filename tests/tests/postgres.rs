//! The PostgreSQL front door end to end: real clients (psql,
//! tokio-postgres) through an in-process gateway to the machine's real
//! PostgreSQL, with real plugins deciding.

use gatehouse::record::{SessionEvent, Verdict};
use gatehouse_tests::gateway::{TestGateway, USER};

const GUARDRAILS: &str = r#"plugin = "guardrails"
config = { deny_statements = ["drop", "truncate", "delete-without-where"] }"#;
const ACCESS: &str = r#"plugin = "access-control"
config = { allowed_groups = ["dba"] }"#;
const MASK: &str = r#"plugin = "sandbox-guest"
config = { mode = "mask-rows" }"#;
const REWRITE: &str = r#"plugin = "sandbox-guest"
config = { mode = "rewrite" }"#;

fn db_error(err: &tokio_postgres::Error) -> (String, String) {
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("expected a server error, got {err}"));
    (db.code().code().to_string(), db.message().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_queries_run_and_dangerous_ones_are_denied() {
    let gw = TestGateway::start(&[ACCESS, GUARDRAILS]).await;
    let conn = gw.conninfo(USER, "pg.test", "disable");
    let (ok, out, err) = gw
        .psql(
            &conn,
            &[
                "-c",
                "select 1 as one, 'x' as two",
                "-c",
                "DrOp/**/TABLE nope",
                "-c",
                "select 'drop table' as s",
            ],
        )
        .await;
    assert!(ok, "{err}");
    assert!(
        out.contains(" one | two") && out.contains("   1 | x"),
        "{out}"
    );
    assert!(
        err.contains("ERROR:  guardrails: DROP statements are not allowed"),
        "{err}"
    );
    assert!(
        out.contains(" drop table"),
        "a DROP inside a string literal runs: {out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_meta_commands_transactions_and_tls_work() {
    let gw = TestGateway::start(&[GUARDRAILS]).await;
    let conn = gw.conninfo(USER, "pg.test", "require");
    let script = "create temp table t(id int, note text);\n\
                  insert into t values (1, 'a'), (2, 'b');\n\
                  \\d t\n\
                  begin;\n\
                  drop table t;\n\
                  select count(*) as n from t;\n\
                  commit;\n\
                  show ssl;\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script.sql");
    std::fs::write(&file, script).unwrap();
    let (_, out, err) = gw.psql(&conn, &["-f", file.to_str().unwrap()]).await;
    assert!(
        out.contains("Table \"pg_temp") && out.contains("note"),
        "\\d works: {out}"
    );
    assert!(err.contains("DROP statements are not allowed"), "{err}");
    assert!(
        out.contains("2\n") || out.contains(" 2"),
        "the transaction survives a denied statement: {out}"
    );
    assert!(out.contains("COMMIT"), "{out}");
    assert!(out.contains(" on"), "the session is encrypted: {out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_token_unknown_user_and_unknown_connection_are_refused() {
    let gw = TestGateway::start(&[]).await;
    let wrong = format!(
        "host=127.0.0.1 port={} user={USER} dbname=pg.test password=ghat_wrong sslmode=disable",
        gw.port()
    );
    let (ok, _, err) = gw.psql(&wrong, &["-c", "select 1"]).await;
    assert!(
        !ok && err.contains("password authentication failed"),
        "{err}"
    );
    let unknown = gw.conninfo("mallory@example.com", "pg.test", "disable");
    let (_, _, err2) = gw.psql(&unknown, &["-c", "select 1"]).await;
    assert!(
        err2.contains("password authentication failed"),
        "unknown user looks like a bad token: {err2}"
    );
    let nodb = gw.conninfo(USER, "pg.nope", "disable");
    let (_, _, err3) = gw.psql(&nodb, &["-c", "select 1"]).await;
    assert!(
        err3.contains("database \"pg.nope\" does not exist"),
        "{err3}"
    );
    let refused = gw
        .recorder
        .events()
        .iter()
        .filter(|e| matches!(e, SessionEvent::Refused { .. }))
        .count();
    assert!(refused >= 3, "every refusal is recorded");
}

#[tokio::test(flavor = "multi_thread")]
async fn approvers_and_outsiders_cannot_connect() {
    let gw = TestGateway::start(&[ACCESS]).await;
    let approver = gw.conninfo("approver@example.com", "pg.test", "disable");
    let (ok, _, err) = gw.psql(&approver, &["-c", "select 1"]).await;
    assert!(
        !ok && err.contains("approvers cannot open sessions"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokio_postgres_simple_queries_and_denials_in_sqlstate_42501() {
    let gw = TestGateway::start(&[GUARDRAILS]).await;
    let client = gw.client().await;
    let rows = client
        .simple_query("select 41 + 1 as answer")
        .await
        .unwrap();
    let row = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap().to_string()),
        _ => None,
    });
    assert_eq!(row.as_deref(), Some("42"));
    let err = client.simple_query("truncate pg_class").await.unwrap_err();
    let (code, message) = db_error(&err);
    assert_eq!(code, "42501");
    assert!(message.contains("TRUNCATE"), "{message}");
    // The session goes on.
    assert!(client.simple_query("select 1").await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn prepared_statements_run_with_parameters() {
    let gw = TestGateway::start(&[GUARDRAILS]).await;
    let client = gw.client().await;
    let row = client
        .query_one("select $1::int + 1 as n, $2::text as t", &[&41i32, &"hi"])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    assert_eq!(row.get::<_, &str>(1), "hi");
    let statement = client
        .prepare("select generate_series(1, $1::int) as g")
        .await
        .unwrap();
    for n in [1, 3, 10] {
        assert_eq!(
            client.query(&statement, &[&n]).await.unwrap().len(),
            n as usize
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_prepared_statements_get_42501_and_the_session_recovers() {
    let gw = TestGateway::start(&[GUARDRAILS]).await;
    let client = gw.client().await;
    let err = client
        .query("drop table if exists x", &[])
        .await
        .unwrap_err();
    let (code, message) = db_error(&err);
    assert_eq!(code, "42501");
    assert!(message.contains("DROP"), "{message}");
    let err = client.prepare("delete from pg_class").await.unwrap_err();
    assert_eq!(db_error(&err).0, "42501");
    let row = client.query_one("select 1::int", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    // SQL-level PREPARE is decided like any other text.
    let err = client
        .simple_query("prepare p as drop table x")
        .await
        .unwrap_err();
    assert_eq!(db_error(&err).0, "42501");
}

#[tokio::test(flavor = "multi_thread")]
async fn prepared_results_go_through_the_result_hooks() {
    let gw = TestGateway::start(&[MASK]).await;
    let client = gw.client().await;
    let rows = client
        .query(
            "select $1::text as email, 'ok'::text as note",
            &[&"eve@example.com"],
        )
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, &str>(0), "***");
    assert_eq!(rows[0].get::<_, &str>(1), "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn pgbench_runs_in_simple_and_prepared_modes() {
    let gw = TestGateway::start(&[GUARDRAILS]).await;
    let env = [
        ("PGHOST", "127.0.0.1".to_string()),
        ("PGPORT", gw.port().to_string()),
        ("PGUSER", USER.to_string()),
        ("PGPASSWORD", gw.token.clone()),
        ("PGDATABASE", "pg.test".to_string()),
        ("PGSSLMODE", "disable".to_string()),
    ];
    // Initialise directly (pgbench -i drops tables, which guardrails denies).
    let init = tokio::process::Command::new("pgbench")
        .args([
            "-i",
            "-q",
            "-s",
            "1",
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
            "test",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    for mode in ["simple", "prepared"] {
        let run = tokio::process::Command::new("pgbench")
            .args(["-S", "-t", "200", "-M", mode])
            .envs(env.clone())
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{mode}: {stdout} {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(
            stdout.contains("number of transactions actually processed: 200/200"),
            "{mode}: {stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn result_hooks_mask_rows_and_count_into_the_record() {
    let gw = TestGateway::start(&[MASK]).await;
    let client = gw.client().await;
    let messages = client
        .simple_query("select 'ann@example.com' as email, 'plain' as note union all select 'bob@x.org', 'n@te'")
        .await
        .unwrap();
    let cells: Vec<(String, String)> = messages
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => {
                Some((row.get(0)?.to_string(), row.get(1)?.to_string()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        cells,
        vec![("***".into(), "plain".into()), ("***".into(), "***".into())]
    );
    drop(client);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let counters = gw.recorder.events().into_iter().find_map(|e| match e {
        SessionEvent::Query {
            counters, rows: 2, ..
        } => Some(counters),
        _ => None,
    });
    assert_eq!(counters, Some(vec![("sandbox-guest.masked".into(), 3)]));
}

#[tokio::test(flavor = "multi_thread")]
async fn big_results_stream_in_batches_through_the_hooks() {
    let gw = TestGateway::start(&[MASK]).await;
    let client = gw.client().await;
    let messages = client
        .simple_query("select g, case when g % 1000 = 0 then g || '@x.org' else 'row ' || g end from generate_series(1, 20000) g")
        .await
        .unwrap();
    let rows: Vec<_> = messages
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(1).unwrap().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len(), 20000);
    assert_eq!(rows.iter().filter(|r| *r == "***").count(), 20);
    assert_eq!(rows[0], "row 1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rewrite_is_what_runs() {
    let gw = TestGateway::start(&[REWRITE]).await;
    let client = gw.client().await;
    let messages = client.simple_query("select 'secret' as s").await.unwrap();
    let value = messages.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap().to_string()),
        _ => None,
    });
    assert_eq!(value.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_in_and_out_pass_through_after_the_statement_is_decided() {
    let gw = TestGateway::start(&[GUARDRAILS]).await;
    let conn = gw.conninfo(USER, "pg.test", "disable");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "1,one\n2,two\n3,three\n").unwrap();
    let output = dir.path().join("out.csv");
    let script = format!(
        "create temp table c(id int, name text);\n\\copy c from '{}' csv\n\\copy (select * from c order by id) to '{}' csv\n",
        input.display(),
        output.display()
    );
    let script_file = dir.path().join("copy.sql");
    std::fs::write(&script_file, &script).unwrap();
    let (ok, out, err2) = gw.psql(&conn, &["-f", script_file.to_str().unwrap()]).await;
    assert!(ok && err2.is_empty(), "{err2} / {out}");
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "1,one\n2,two\n3,three\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_are_recorded_with_verdict_and_deciding_plugin() {
    let gw = TestGateway::start(&[GUARDRAILS]).await;
    let client = gw.client().await;
    client.simple_query("select 1").await.unwrap();
    let _ = client.simple_query("drop table x").await;
    drop(client);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let events = gw.recorder.events();
    let queries: Vec<(String, Verdict, Option<String>)> = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Query {
                text,
                verdict,
                decided_by,
                ..
            } => Some((text.clone(), verdict.clone(), decided_by.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(queries[0], ("select 1".into(), Verdict::Allowed, None));
    assert_eq!(queries[1].0, "drop table x");
    assert!(matches!(&queries[1].1, Verdict::Denied { reason } if reason.contains("DROP")));
    assert_eq!(queries[1].2.as_deref(), Some("guardrails"));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SessionEvent::Connected { .. }))
    );
    assert!(events.iter().any(|e| matches!(
        e,
        SessionEvent::Disconnected {
            queries: 2,
            denied: 1,
            ..
        }
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_vanishing_mid_result_leaves_the_gateway_serving() {
    let gw = TestGateway::start(&[]).await;
    {
        let client = gw.client().await;
        let query = client.simple_query("select repeat('x', 1000) from generate_series(1, 200000)");
        // Give the result time to start streaming, then drop the client.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(50), query).await;
    }
    let client = gw.client().await;
    assert!(client.simple_query("select 1").await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_requests_reach_the_right_backend() {
    let gw = TestGateway::start(&[]).await;
    let client = gw.client().await;
    let token = client.cancel_token();
    let slow = tokio::spawn(async move { client.simple_query("select pg_sleep(20)").await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    token
        .cancel_query(tokio_postgres::NoTls)
        .await
        .expect("cancel sent");
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), slow)
        .await
        .expect("cancelled in time")
        .unwrap();
    let err = result.unwrap_err();
    assert_eq!(db_error(&err).0, "57014", "query_canceled");
}

/// A client that never sends Describe still has its rows shown to the
/// result hooks: the gateway describes the portal itself and hides the
/// reply. Raw protocol, so no driver can do the describing for us.
#[tokio::test(flavor = "multi_thread")]
async fn results_of_undescribed_portals_still_go_through_the_hooks() {
    use bytes::BytesMut;
    use gatehouse::pg::wire::backend::BackendMessage;
    use gatehouse::pg::wire::framing::read_message;
    use gatehouse::pg::wire::frontend::FrontendMessage;
    use gatehouse::pg::wire::frontend::auth::encode_password;
    use gatehouse::pg::wire::startup::encode_startup;
    use tokio::io::AsyncWriteExt;

    let gw = TestGateway::start(&[MASK]).await;
    let mut stream = tokio::net::TcpStream::connect(gw.gateway.postgres_addr)
        .await
        .unwrap();
    let mut out = BytesMut::new();
    encode_startup(&mut out, &[("user", USER), ("database", "pg.test")]).unwrap();
    stream.write_all(&out).await.unwrap();
    let mut buf = BytesMut::new();
    let read = async |stream: &mut tokio::net::TcpStream, buf: &mut BytesMut| {
        let raw = read_message(stream, buf, 1 << 20)
            .await
            .unwrap()
            .expect("a message");
        BackendMessage::decode(&raw).unwrap()
    };
    assert!(matches!(
        read(&mut stream, &mut buf).await,
        BackendMessage::Authentication(_)
    ));
    out.clear();
    encode_password(&mut out, &gw.token).unwrap();
    stream.write_all(&out).await.unwrap();
    while !matches!(
        read(&mut stream, &mut buf).await,
        BackendMessage::ReadyForQuery { .. }
    ) {}

    out.clear();
    for message in [
        FrontendMessage::Parse {
            statement: String::new(),
            sql: "select 'zed@example.com'::text, 'plain'::text".into(),
            param_types: vec![],
        },
        FrontendMessage::Bind {
            portal: String::new(),
            statement: String::new(),
            param_formats: vec![],
            params: vec![],
            result_formats: vec![],
        },
        FrontendMessage::Execute {
            portal: String::new(),
            max_rows: 0,
        },
        FrontendMessage::Sync,
    ] {
        message.encode(&mut out).unwrap();
    }
    stream.write_all(&out).await.unwrap();
    let mut replies = Vec::new();
    loop {
        let message = read(&mut stream, &mut buf).await;
        let done = matches!(message, BackendMessage::ReadyForQuery { .. });
        replies.push(message);
        if done {
            break;
        }
    }
    let names: Vec<&str> = replies.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "ParseComplete",
            "BindComplete",
            "DataRow",
            "CommandComplete",
            "ReadyForQuery"
        ],
        "the hidden Describe's reply is not forwarded"
    );
    let BackendMessage::DataRow(row) = &replies[2] else {
        unreachable!()
    };
    let cells: Vec<Option<&[u8]>> = row.cells().collect();
    assert_eq!(cells, vec![Some(&b"***"[..]), Some(&b"plain"[..])]);
}

/// Rows the server produced before failing still reach the client, through
/// the hooks, before the error (raw protocol: drivers drop them).
#[tokio::test(flavor = "multi_thread")]
async fn rows_before_an_error_mid_result_still_arrive_first() {
    use gatehouse::pg::wire::backend::BackendMessage;
    use gatehouse::pg::wire::frontend::FrontendMessage;
    use tokio::io::AsyncWriteExt;

    let gw = TestGateway::start(&[MASK]).await;
    let (mut stream, mut buf) = raw_login(&gw).await;
    let mut out = bytes::BytesMut::new();
    // Rows 1..3 are produced, then 10 / 0 fails on row 4.
    FrontendMessage::Query {
        sql: "select g || '@x.org' as e, 10 / (4 - g) as v from generate_series(1, 5) g".into(),
    }
    .encode(&mut out)
    .unwrap();
    stream.write_all(&out).await.unwrap();
    let replies = raw_until_ready(&mut stream, &mut buf).await;
    let names: Vec<&str> = replies.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "RowDescription",
            "DataRow",
            "DataRow",
            "DataRow",
            "ErrorResponse",
            "ReadyForQuery"
        ]
    );
    let BackendMessage::DataRow(row) = &replies[1] else {
        unreachable!()
    };
    assert_eq!(
        row.cells().next().unwrap(),
        Some(&b"***"[..]),
        "the rows went through the hooks"
    );
    let BackendMessage::ErrorResponse(error) = &replies[4] else {
        unreachable!()
    };
    assert_eq!(error.code(), Some("22012"));
}

/// Log in over the raw protocol with the test user's token.
async fn raw_login(gw: &TestGateway) -> (tokio::net::TcpStream, bytes::BytesMut) {
    use gatehouse::pg::wire::backend::BackendMessage;
    use gatehouse::pg::wire::frontend::auth::encode_password;
    use gatehouse::pg::wire::startup::encode_startup;
    use tokio::io::AsyncWriteExt;

    let mut stream = tokio::net::TcpStream::connect(gw.gateway.postgres_addr)
        .await
        .unwrap();
    let mut out = bytes::BytesMut::new();
    encode_startup(&mut out, &[("user", USER), ("database", "pg.test")]).unwrap();
    stream.write_all(&out).await.unwrap();
    let mut buf = bytes::BytesMut::new();
    assert!(matches!(
        raw_read(&mut stream, &mut buf).await,
        BackendMessage::Authentication(_)
    ));
    out.clear();
    encode_password(&mut out, &gw.token).unwrap();
    stream.write_all(&out).await.unwrap();
    raw_until_ready(&mut stream, &mut buf).await;
    (stream, buf)
}

async fn raw_read(
    stream: &mut tokio::net::TcpStream,
    buf: &mut bytes::BytesMut,
) -> gatehouse::pg::wire::backend::BackendMessage {
    let raw = gatehouse::pg::wire::framing::read_message(stream, buf, 1 << 20)
        .await
        .unwrap()
        .expect("a message");
    gatehouse::pg::wire::backend::BackendMessage::decode(&raw).unwrap()
}

/// Every message up to and including ReadyForQuery.
async fn raw_until_ready(
    stream: &mut tokio::net::TcpStream,
    buf: &mut bytes::BytesMut,
) -> Vec<gatehouse::pg::wire::backend::BackendMessage> {
    let mut replies = Vec::new();
    loop {
        let message = raw_read(stream, buf).await;
        let done = matches!(
            message,
            gatehouse::pg::wire::backend::BackendMessage::ReadyForQuery { .. }
        );
        replies.push(message);
        if done {
            return replies;
        }
    }
}

const REVIEW: &str = r#"plugin = "sandbox-guest"
config = { mode = "review" }"#;

#[tokio::test(flavor = "multi_thread")]
async fn held_queries_name_the_review_in_both_protocols() {
    let gw = TestGateway::start(&[REVIEW]).await;
    let client = gw.client().await;
    let err = client.simple_query("select 1").await.unwrap_err();
    let (code, message) = db_error(&err);
    assert_eq!(code, "42501");
    assert!(
        message.contains("held for review ")
            && message.contains(": production data; approvers: dba-approvers"),
        "{message}"
    );
    let err = client.query("select 1", &[]).await.unwrap_err();
    let (code, message) = db_error(&err);
    assert_eq!(code, "42501");
    assert!(message.contains("held for review"), "{message}");
    drop(client);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let reviews = gw
        .recorder
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                SessionEvent::Query {
                    verdict: Verdict::Review { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(reviews, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rewrite_is_what_gets_prepared() {
    let gw = TestGateway::start(&[REWRITE]).await;
    let client = gw.client().await;
    let row = client
        .query_one("select 'secret'::text", &[])
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, i32>(0),
        1,
        "the rewritten `select 1` was prepared and run"
    );
}

/// This machine's first address that is not loopback (`hostname -I`), if it
/// has one.
fn non_loopback_address() -> Option<std::net::IpAddr> {
    let output = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|word| word.parse::<std::net::IpAddr>().ok())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback())
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_in_plaintext_off_loopback_are_refused_unless_allowed() {
    let Some(address) = non_loopback_address() else {
        eprintln!("skipped: this machine has no non-loopback IPv4 address");
        return;
    };
    let conninfo = |port: u16, token: &str, sslmode: &str| {
        format!(
            "host={address} port={port} user={USER} dbname=pg.test password={token} sslmode={sslmode}"
        )
    };

    // Default: plaintext from another host is refused before the password
    // is even asked for; TLS from the same host works.
    let gw = TestGateway::start_on("0.0.0.0:0", "", &[]).await;
    let refused = tokio_postgres::connect(
        &conninfo(gw.port(), &gw.token, "disable"),
        tokio_postgres::NoTls,
    )
    .await
    .err()
    .expect("plaintext off loopback is refused");
    let (code, message) = db_error(&refused);
    assert_eq!(code, "28000");
    assert!(message.contains("must use TLS"), "{message}");
    assert!(gw.recorder.events().iter().any(|event| matches!(
        event,
        SessionEvent::Refused { reason, .. } if reason.contains("plaintext connection off loopback")
    )));
    let (ok, out, err) = gw
        .psql(
            &conninfo(gw.port(), &gw.token, "require"),
            &["-Atc", "select 'over tls'"],
        )
        .await;
    assert!(ok && out.trim() == "over tls", "{out} {err}");

    // The operator's opt-out lets plaintext through.
    let gw = TestGateway::start_on(
        "0.0.0.0:0",
        "allow_plaintext_password_off_loopback = true",
        &[],
    )
    .await;
    let (client, connection) = tokio_postgres::connect(
        &conninfo(gw.port(), &gw.token, "disable"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("allowed by configuration");
    tokio::spawn(connection);
    let row = client.query_one("select 2", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
}
