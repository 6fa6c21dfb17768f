//! data-masking in the real runtime, through the SDK harness: the component
//! as the gateway loads it, with the sandbox's deadlines and memory cap.
//! (Binary-format results are covered end to end in
//! tests/tests/masking.rs, through the gateway and PostgreSQL.)

use gatehouse_sdk::Hook;
use gatehouse_sdk::harness::{TestColumn, TestPlugin, TestSession};

fn open<'a>(plugin: &'a TestPlugin, config: &str) -> TestSession<'a> {
    plugin.session(config).open().expect("session opens")
}

fn column<'a>(name: &'a str, type_name: &'a str, type_oid: u32) -> TestColumn<'a> {
    TestColumn {
        name,
        type_name,
        type_oid,
    }
}

type Rows = Vec<Vec<Option<String>>>;

fn owned(rows: &[&[Option<&str>]]) -> Rows {
    rows.iter()
        .map(|r| r.iter().map(|c| c.map(str::to_string)).collect())
        .collect()
}

#[test]
fn declares_only_the_result_hooks() {
    let plugin = gatehouse_sdk::test_plugin!();
    assert!(plugin.implements(Hook::OnResult));
    assert!(!plugin.implements(Hook::OnQuery));
    assert!(!plugin.implements(Hook::OnConnect));
    assert_eq!(plugin.manifest().name, "data-masking");
}

#[test]
fn masks_text_cells_and_counts_per_entity() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(&plugin, "{}");
    let rows = session
        .result(
            &[
                TestColumn::text("name"),
                TestColumn::text("contact"),
                column("id", "int4", 23),
                column("created", "timestamptz", 1184),
            ],
            &[
                vec![
                    Some("Ann"),
                    Some("ann@example.com"),
                    Some("4111111111111111"),
                    Some("2024-01-15 12:30:45+00"),
                ],
                vec![
                    Some("Bob"),
                    Some("card 4111 1111 1111 1111, ssn 123-45-6789"),
                    Some("2"),
                    None,
                ],
                vec![None, Some("+44 20 7946 0958 or bob@x.org"), Some("3"), None],
            ],
        )
        .unwrap();
    assert_eq!(
        rows,
        owned(&[
            &[
                Some("Ann"),
                Some("<email>"),
                Some("4111111111111111"),
                Some("2024-01-15 12:30:45+00")
            ],
            &[Some("Bob"), Some("card <card>, ssn <ssn>"), Some("2"), None],
            &[None, Some("<phone> or <email>"), Some("3"), None],
        ]),
        "int4 and timestamptz columns are never scanned"
    );
    let mut counters = session.counters().to_vec();
    counters.sort();
    let names: Vec<(&str, u64)> = counters.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    assert_eq!(
        names,
        [
            ("data-masking.masked.card", 1),
            ("data-masking.masked.email", 2),
            ("data-masking.masked.phone", 1),
            ("data-masking.masked.ssn", 1)
        ]
    );
    // Counters are per result: a clean result reports none.
    session
        .result(&[TestColumn::text("note")], &[vec![Some("all clear")]])
        .unwrap();
    assert_eq!(session.counters().len(), 4);
}

#[test]
fn column_rules_mask_exempt_and_restrict() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(
        &plugin,
        r#"{
            "salt": "a-long-enough-salt-value",
            "columns": [
                { "name": "public_*", "action": "exempt" },
                { "name": "*ssn*", "action": "mask", "entity": "ssn", "style": "partial" },
                { "name": "customer_id", "action": "mask", "style": "hash" },
                { "name": "notes", "action": "detect", "entities": ["email"] }
            ]
        }"#,
    );
    let rows = session
        .result(
            &[
                TestColumn::text("public_email"),
                TestColumn::text("SSN_plain"),
                column("customer_id", "int8", 20),
                TestColumn::text("notes"),
            ],
            &[vec![
                Some("ann@example.com"),
                Some("123456789"),
                Some("42"),
                Some("ann@example.com, 4111111111111111"),
            ]],
        )
        .unwrap();
    let row = &rows[0];
    assert_eq!(row[0].as_deref(), Some("ann@example.com"));
    assert_eq!(row[1].as_deref(), Some("*****6789"));
    let hashed: i64 = row[2]
        .as_deref()
        .unwrap()
        .parse()
        .expect("an int8 stays an int8");
    assert!(hashed >= 0 && hashed != 42);
    assert_eq!(row[3].as_deref(), Some("<email>, 4111111111111111"));

    // Deterministic: the same value hashes alike in another session.
    let mut again = open(
        &plugin,
        r#"{"salt": "a-long-enough-salt-value", "columns": [{"name": "customer_id", "action": "mask", "style": "hash"}]}"#,
    );
    let rows = again
        .result(
            &[column("customer_id", "int8", 20)],
            &[vec![Some("42")], vec![None]],
        )
        .unwrap();
    assert_eq!(
        rows[0][0].as_deref().unwrap().parse::<i64>().unwrap(),
        hashed
    );
    assert_eq!(rows[1][0], None, "NULL stays NULL");
}

#[test]
fn styles_per_entity() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(
        &plugin,
        r#"{
            "salt": "a-long-enough-salt-value",
            "style": "partial",
            "styles": { "email": { "style": "hash", "length": 12 }, "ssn": "null",
                        "iban": { "style": "redact", "text": "[IBAN]" } }
        }"#,
    );
    let rows = session
        .result(
            &[TestColumn::text("v")],
            &[
                vec![Some("4111-1111-1111-1111")],
                vec![Some("Ann@Example.com")],
                vec![Some("ann@example.com")],
                vec![Some("ssn 123-45-6789")],
                vec![Some("IBAN DE89 3704 0044 0532 0130 00")],
            ],
        )
        .unwrap();
    assert_eq!(rows[0][0].as_deref(), Some("****-****-****-1111"));
    let email = rows[1][0].clone().unwrap();
    assert_eq!(email.len(), 12);
    assert!(email.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        rows[2][0].as_deref(),
        Some(email.as_str()),
        "case-normalised hash"
    );
    assert_eq!(rows[3][0], None, "null style nulls the cell");
    assert_eq!(rows[4][0].as_deref(), Some("IBAN [IBAN]"));
}

#[test]
fn json_xml_and_arrays_stay_valid() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(&plugin, "{}");
    let rows = session
        .result(
            &[
                column("doc", "json", 114),
                column("x", "xml", 142),
                column("tags", "_text", 1009),
            ],
            &[vec![
                Some(r#"{"email": "ann@example.com", "card": 4111111111111111}"#),
                Some("<c>ann@example.com</c>"),
                Some(r#"{ann@example.com,"x y"}"#),
            ]],
        )
        .unwrap();
    assert_eq!(
        rows[0][0].as_deref(),
        Some(r#"{"email": "<email>", "card": "<card>"}"#)
    );
    assert_eq!(rows[0][1].as_deref(), Some("<c>&lt;email&gt;</c>"));
    assert_eq!(rows[0][2].as_deref(), Some(r#"{<email>,"x y"}"#));
}

#[test]
fn custom_entities_and_deny_lists() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(
        &plugin,
        r#"{
            "entities": ["email"],
            "custom": [{ "name": "employee_id", "pattern": "\\bEMP-\\d{6}\\b" }],
            "deny_lists": [{ "name": "codename", "terms": ["Bluebird"], "style": { "style": "redact", "text": "[project]" } }]
        }"#,
    );
    let rows = session
        .result(
            &[TestColumn::text("v")],
            &[vec![Some("EMP-004211 on BLUEBIRD, card 4111111111111111")]],
        )
        .unwrap();
    assert_eq!(
        rows[0][0].as_deref(),
        Some("<employee_id> on [project], card 4111111111111111"),
        "only the listed built-ins, plus every custom entity"
    );
}

#[test]
fn bad_configs_are_refused_at_bind_time() {
    let plugin = gatehouse_sdk::test_plugin!();
    for (config, expected) in [
        (r#"{"style": "hash"}"#, "needs `salt`"),
        (r#"{"entities": ["mail"]}"#, "entities[0]: unknown entity"),
        (
            r#"{"custom": [{"name": "x", "pattern": "(unclosed"}]}"#,
            "custom[0].pattern",
        ),
        (
            r#"{"columns": [{"name": "a", "action": "blur"}]}"#,
            "unknown variant `blur`",
        ),
        (
            r#"{"styles": {"email": "scramble"}}"#,
            "unknown variant `scramble`",
        ),
        (r#"{"salt": "short", "style": "hash"}"#, "at least 16"),
    ] {
        let err = plugin.validate_config(config).unwrap_err();
        assert!(err.contains(expected), "{config}: {err}");
    }
    plugin.validate_config("{}").unwrap();
}

#[test]
fn a_pattern_too_big_to_compile_aborts_the_result() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = plugin
        .session(r#"{"custom": [{"name": "huge", "pattern": "(?:\\w{300}){300}"}]}"#)
        .memory_cap(128 << 20)
        .deadline(std::time::Duration::from_secs(10))
        .open()
        .expect("syntax is fine, so the session opens");
    let err = session
        .result(
            &[TestColumn::text("v")],
            &[vec![Some("secret@example.com")]],
        )
        .unwrap_err();
    assert!(err.contains("data-masking"), "{err}");
    assert!(
        err.contains("cannot be masked"),
        "the compile error, not a deadline: {err}"
    );
}

#[test]
fn a_large_result_masks_within_the_deadline() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = open(&plugin, "{}");
    let cells: Vec<[String; 4]> = (0..2_000)
        .map(|i| {
            [
                format!("Customer {i}"),
                format!("user{i}@example.com"),
                format!("order ORD-2024-{i:06} shipped"),
                format!("call +1 415 555 {:04}", i % 10_000),
            ]
        })
        .collect();
    let rows: Vec<Vec<Option<&str>>> = cells
        .iter()
        .map(|r| r.iter().map(|c| Some(c.as_str())).collect())
        .collect();
    let columns = ["name", "email", "note", "phone"].map(TestColumn::text);
    let masked = session.result(&columns, &rows).unwrap();
    assert!(masked.iter().all(|r| r[1].as_deref() == Some("<email>")));
    assert!(
        masked
            .iter()
            .all(|r| r[3].as_deref() == Some("call <phone>"))
    );
    assert_eq!(
        masked[7][2].as_deref(),
        Some("order ORD-2024-000007 shipped")
    );
}
