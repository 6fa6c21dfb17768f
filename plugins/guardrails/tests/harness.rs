//! guardrails in the real runtime, through the SDK harness: the component
//! as the gateway loads it, with the sandbox's stack, memory cap and
//! deadlines.

use gatehouse_sdk::harness::TestPlugin;
use gatehouse_sdk::harness::TestSession;
use gatehouse_sdk::{ConnectionKind, Hook, QueryVerdict};

const DBA: &str = r#"{
    "deny_statements": ["drop", "truncate", "alter", "grant", "revoke",
                        "delete-without-where", "update-without-where", "copy-program"],
    "deny_words": ["pg_sleep"],
    "deny_patterns": ["(?i)\\bpassword\\b"]
}"#;

fn open<'a>(plugin: &'a TestPlugin, config: &str, kind: ConnectionKind) -> TestSession<'a> {
    plugin
        .session(config)
        .user("ada@example.com", &["dba"])
        .connection("billing-db.admin", kind)
        .open()
        .expect("session opens")
}

/// The plugin's own deny reason (a fault would also deny, with another text).
#[track_caller]
fn reason(verdict: QueryVerdict) -> String {
    match verdict {
        QueryVerdict::Deny(reason) => reason,
        other => panic!("expected a deny, got {other:?}"),
    }
}

#[test]
fn declares_only_on_query() {
    let plugin = gatehouse_sdk::test_plugin!();
    assert!(plugin.implements(Hook::OnQuery));
    assert!(!plugin.implements(Hook::OnConnect));
    assert!(!plugin.implements(Hook::OnResult));
}

#[test]
fn parsed_sql_not_substrings() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(&plugin, DBA, ConnectionKind::Postgres);
    assert_eq!(session.query("select 'drop table'"), QueryVerdict::Allow);
    // No keyword of a denied class: the fast path allows it unparsed.
    assert_eq!(
        session.query("select id from invoices where status = 'open'"),
        QueryVerdict::Allow
    );
    assert_eq!(
        reason(session.query("DrOp/**/TABLE x")),
        "guardrails: DROP statements are not allowed on this connection (statement 1)"
    );
    assert_eq!(
        reason(session.query("select 1; drop table t")),
        "guardrails: DROP statements are not allowed on this connection (statement 2)"
    );
    assert_eq!(
        session.query("delete from t where id = 1"),
        QueryVerdict::Allow
    );
    assert!(
        reason(session.query("explain analyze delete from t")).contains("inside EXPLAIN ANALYZE")
    );
    assert!(reason(session.query("prepare p as update t set a = 1")).contains("inside PREPARE"));
    // The session goes on after denies.
    assert_eq!(session.query("select 2"), QueryVerdict::Allow);
}

#[test]
fn words_and_patterns() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(&plugin, DBA, ConnectionKind::Postgres);
    assert!(reason(session.query("select pg_sleep(10)")).contains("`pg_sleep`"));
    assert_eq!(session.query("select 'pg_sleep'"), QueryVerdict::Allow);
    assert!(reason(session.query("select 'Password' from t")).contains("pattern"));
    assert_eq!(
        session.query("select passwords from t"),
        QueryVerdict::Allow
    );
}

#[test]
fn mysql_connections_use_the_mysql_dialect() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(&plugin, DBA, ConnectionKind::Mysql);
    assert_eq!(
        session.query("select `drop table` from t # drop table t"),
        QueryVerdict::Allow
    );
    assert!(reason(session.query("DROP TABLE `orders`")).contains("DROP"));
    assert!(reason(session.query("PREPARE s FROM 'TRUNCATE t'")).contains("TRUNCATE"));
    // MySQL unescapes `\O`: the raw text has no `drop`, the prepared SQL does.
    assert!(reason(session.query(r"PREPARE s FROM 'DR\OP TABLE t'")).contains("DROP"));
}

#[test]
fn strict_mode_denies_what_it_cannot_parse() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut lenient = open(&plugin, DBA, ConnectionKind::Postgres);
    assert_eq!(lenient.query("frobnicate everything"), QueryVerdict::Allow);
    let mut strict = open(
        &plugin,
        r#"{"deny_statements": ["drop"], "strict": true}"#,
        ConnectionKind::Postgres,
    );
    assert!(reason(strict.query("frobnicate everything")).contains("could not be parsed"));
    assert_eq!(strict.query("select 1"), QueryVerdict::Allow);
}

#[test]
fn deep_nesting_does_not_overflow_the_sandbox_stack() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(&plugin, DBA, ConnectionKind::Postgres);
    let deep = format!("select {}1{}", "(".repeat(5_000), ")".repeat(5_000));
    // Allowed by the plugin (non-strict), not denied by a trap.
    assert_eq!(session.query(&deep), QueryVerdict::Allow);
    assert!(reason(session.query(&format!("{deep}; drop table t"))).contains("(statement 2)"));
}

#[test]
fn many_queries_within_the_deadline() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(&plugin, DBA, ConnectionKind::Postgres);
    let query = "select a.id, b.total from accounts a join orders b on a.id = b.account_id \
                 where a.id = $1 and b.created_at > now() - interval '1 day' order by 2 desc limit 50";
    for _ in 0..200 {
        assert_eq!(session.query(query), QueryVerdict::Allow);
    }
}

#[test]
fn bad_configs_are_refused_at_bind_time() {
    let plugin = gatehouse_sdk::test_plugin!();
    plugin.validate_config(DBA).unwrap();
    plugin.validate_config("{}").unwrap();
    let err = plugin
        .validate_config(r#"{"deny_statements": ["dorp"]}"#)
        .unwrap_err();
    assert!(
        err.contains("deny_statements[0]") && err.contains("unknown variant `dorp`"),
        "{err}"
    );
    assert!(
        err.contains("`delete-without-where`") && err.contains("`copy-program`"),
        "{err}"
    );
    let err = plugin
        .validate_config(r#"{"deny_patterns": ["pass(word"]}"#)
        .unwrap_err();
    assert!(
        err.contains("deny_patterns[0] `pass(word` is not a valid regex"),
        "{err}"
    );
    let err = plugin
        .validate_config(r#"{"deny_word": ["x"]}"#)
        .unwrap_err();
    assert!(err.contains("unknown field `deny_word`"), "{err}");
    // A session with a bad config does not open.
    assert!(plugin.session(r#"{"strict": "yes"}"#).open().is_err());
}
