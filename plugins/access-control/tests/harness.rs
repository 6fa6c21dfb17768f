//! access-control in the real runtime, through the SDK harness.

use gatehouse_sdk::{ConnectVerdict, ConnectionKind, Hook, Role};

const CONFIG: &str = r#"{"allowed_groups": ["dba", "sre"]}"#;

fn connect(config: &str, role: Role, groups: &[&str]) -> ConnectVerdict {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = plugin
        .session(config)
        .user("alice@example.com", groups)
        .role(role)
        .connection("billing-db.read-only", ConnectionKind::Postgres)
        .open()
        .expect("session opens");
    session.connect()
}

#[test]
fn members_of_an_allowed_group_connect() {
    assert_eq!(
        connect(CONFIG, Role::User, &["eng", "sre"]),
        ConnectVerdict::Allow
    );
}

#[test]
fn users_outside_the_groups_are_denied_with_a_reason() {
    let ConnectVerdict::Deny(reason) = connect(CONFIG, Role::User, &["eng"]) else {
        panic!("expected a deny")
    };
    assert!(reason.contains("alice@example.com"), "{reason}");
    assert!(reason.contains("billing-db.read-only"), "{reason}");
    assert!(
        !reason.contains("dba"),
        "the reason must not list the allowed groups: {reason}"
    );
}

#[test]
fn approvers_are_denied_even_in_an_allowed_group() {
    let verdict = connect(CONFIG, Role::Approver, &["dba"]);
    assert!(
        matches!(verdict, ConnectVerdict::Deny(ref r) if r.contains("approvers")),
        "{verdict:?}"
    );
}

#[test]
fn admins_connect_unless_the_config_says_otherwise() {
    assert_eq!(connect(CONFIG, Role::Admin, &[]), ConnectVerdict::Allow);
    let strict = r#"{"allowed_groups": ["dba"], "allow_admins": false}"#;
    assert!(matches!(
        connect(strict, Role::Admin, &[]),
        ConnectVerdict::Deny(_)
    ));
    assert_eq!(
        connect(strict, Role::Admin, &["dba"]),
        ConnectVerdict::Allow
    );
}

#[test]
fn an_empty_group_list_allows_no_user() {
    assert!(matches!(
        connect(r#"{"allowed_groups": []}"#, Role::User, &["dba"]),
        ConnectVerdict::Deny(_)
    ));
}

#[test]
fn bad_configs_are_refused_at_bind_time_with_the_field() {
    let plugin = gatehouse_sdk::test_plugin!();
    let err = plugin
        .validate_config(r#"{"allowed_group": ["dba"]}"#)
        .unwrap_err();
    assert!(err.contains("unknown field `allowed_group`"), "{err}");
    let err = plugin
        .validate_config(r#"{"allowed_groups": ["dba", " "]}"#)
        .unwrap_err();
    assert!(err.contains("blank group name"), "{err}");
    let err = plugin.validate_config("{}").unwrap_err();
    assert!(err.contains("missing field `allowed_groups`"), "{err}");
    assert!(plugin.validate_config(CONFIG).is_ok());
}

#[test]
fn declares_only_on_connect() {
    let plugin = gatehouse_sdk::test_plugin!();
    assert_eq!(plugin.manifest().name, "access-control");
    assert!(plugin.implements(Hook::OnConnect));
    assert!(!plugin.implements(Hook::OnQuery));
    assert!(!plugin.implements(Hook::OnResult));
}
