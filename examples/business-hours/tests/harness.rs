//! The plugin in the real Gatehouse runtime: built as a component, loaded
//! into the same sandbox the gateway uses, with the host clock fixed per
//! test.

use gatehouse_sdk::harness::TestPlugin;
use gatehouse_sdk::{ConnectVerdict, ConnectionKind, Hook, QueryVerdict};

const OFFICE: &str = r#"{
    "time_zone": "Europe/Berlin",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "08:00",
    "end": "18:00",
    "enforce_on": "both",
    "exempt_groups": ["oncall"]
}"#;

/// Unix milliseconds of an RFC 3339 instant.
fn millis(utc: &str) -> u64 {
    let ts: jiff::Timestamp = utc.parse().unwrap();
    ts.as_millisecond() as u64
}

fn plugin() -> TestPlugin {
    gatehouse_sdk::test_plugin!()
}

fn denied(verdict: &ConnectVerdict) -> &str {
    match verdict {
        ConnectVerdict::Deny(reason) => reason,
        other => panic!("expected a deny, got {other:?}"),
    }
}

#[test]
fn declares_connect_and_query_and_no_capabilities() {
    let plugin = plugin();
    assert!(plugin.implements(Hook::OnConnect));
    assert!(plugin.implements(Hook::OnQuery));
    assert!(!plugin.implements(Hook::OnResult));
    assert!(plugin.manifest().capabilities.is_empty());
}

#[test]
fn allows_within_hours_and_denies_outside() {
    let plugin = plugin();
    let open = |at: &str| {
        plugin
            .session(OFFICE)
            .user("ada@example.com", &["dev"])
            .connection("prod-db", ConnectionKind::Postgres)
            .clock_millis(millis(at))
            .open()
            .unwrap()
    };
    // Wednesday 10:00 CET.
    assert_eq!(
        open("2025-01-15T09:00:00Z").connect(),
        ConnectVerdict::Allow
    );
    // Saturday 10:12 CET.
    let verdict = open("2025-01-18T09:12:00Z").connect();
    assert_eq!(
        denied(&verdict),
        "business-hours: connections to 'prod-db' are allowed Mon–Fri 08:00–18:00 \
         Europe/Berlin; it is Sat 10:12 there"
    );
}

#[test]
fn follows_daylight_saving_time() {
    let plugin = plugin();
    let connect = |at: &str| {
        let mut session = plugin
            .session(OFFICE)
            .clock_millis(millis(at))
            .open()
            .unwrap();
        session.connect()
    };
    // Berlin switches to CEST on Sunday 30 March 2025.
    assert_eq!(connect("2025-03-28T16:30:00Z"), ConnectVerdict::Allow); // Fri 17:30 CET
    let verdict = connect("2025-03-31T16:30:00Z"); // Mon 18:30 CEST
    assert!(
        denied(&verdict).ends_with("it is Mon 18:30 there"),
        "{verdict:?}"
    );
    assert_eq!(connect("2025-03-31T06:30:00Z"), ConnectVerdict::Allow); // Mon 08:30 CEST
}

#[test]
fn queries_stop_when_the_window_closes() {
    let plugin = plugin();
    // Wednesday 17:55 CEST: connecting is fine.
    let mut session = plugin
        .session(OFFICE)
        .connection("prod-db", ConnectionKind::Postgres)
        .clock_millis(millis("2025-07-16T15:55:00Z"))
        .open()
        .unwrap();
    assert_eq!(session.connect(), ConnectVerdict::Allow);
    assert_eq!(session.query("select 1"), QueryVerdict::Allow);
    // 18:00 CEST: the same session may no longer query.
    session.set_clock_millis(millis("2025-07-16T16:00:00Z"));
    assert_eq!(
        session.query("select 1"),
        QueryVerdict::Deny(
            "business-hours: queries on 'prod-db' are allowed Mon–Fri 08:00–18:00 \
             Europe/Berlin; it is Wed 18:00 there"
                .into()
        )
    );
}

#[test]
fn connect_only_leaves_queries_alone() {
    let plugin = plugin();
    let config = r#"{ "time_zone": "UTC", "start": "09:00", "end": "17:00" }"#;
    let mut session = plugin
        .session(config)
        .clock_millis(millis("2025-01-18T12:00:00Z")) // Saturday
        .open()
        .unwrap();
    assert!(matches!(session.connect(), ConnectVerdict::Deny(_)));
    assert_eq!(session.query("select 1"), QueryVerdict::Allow);
}

#[test]
fn exempt_groups_may_work_outside_hours() {
    let plugin = plugin();
    let mut session = plugin
        .session(OFFICE)
        .user("oncall@example.com", &["dev", "oncall"])
        .clock_millis(millis("2025-01-19T03:00:00Z")) // Sunday 04:00 CET
        .open()
        .unwrap();
    assert_eq!(session.connect(), ConnectVerdict::Allow);
    assert_eq!(session.query("select 1"), QueryVerdict::Allow);
}

#[test]
fn overnight_windows_span_midnight() {
    let plugin = plugin();
    let config = r#"{ "time_zone": "America/New_York", "days": ["fri"],
                      "start": "22:00", "end": "06:00" }"#;
    let connect = |at: &str| {
        let mut session = plugin
            .session(config)
            .clock_millis(millis(at))
            .open()
            .unwrap();
        session.connect()
    };
    assert_eq!(connect("2025-01-18T04:00:00Z"), ConnectVerdict::Allow); // Fri 23:00 EST
    assert_eq!(connect("2025-01-18T10:59:00Z"), ConnectVerdict::Allow); // Sat 05:59 EST
    let verdict = connect("2025-01-18T11:00:00Z"); // Sat 06:00 EST
    assert!(
        denied(&verdict).contains("allowed Fri 22:00–06:00 (next day) America/New_York"),
        "{verdict:?}"
    );
}

#[test]
fn bad_configs_are_refused_at_bind_time() {
    let plugin = plugin();
    assert_eq!(plugin.validate_config(OFFICE), Ok(()));
    for (config, expected) in [
        (
            r#"{ "time_zone": "Europe/Berln", "start": "08:00", "end": "18:00" }"#,
            "time_zone: unknown time zone \"Europe/Berln\"",
        ),
        (
            r#"{ "time_zone": "UTC", "start": "8am", "end": "18:00" }"#,
            "start: \"8am\" is not a time of day",
        ),
        (
            r#"{ "time_zone": "UTC", "days": ["mon", "thurs"], "start": "08:00", "end": "18:00" }"#,
            "days[1]: unknown day \"thurs\"",
        ),
        (
            r#"{ "time_zone": "UTC", "start": "08:00", "end": "18:00", "timezone": "UTC" }"#,
            "unknown field `timezone`",
        ),
    ] {
        let err = plugin.validate_config(config).expect_err(config);
        assert!(err.contains(expected), "{config}: {err}");
        // A session cannot be opened with it either.
        assert!(plugin.session(config).open().is_err(), "{config}");
    }
}
