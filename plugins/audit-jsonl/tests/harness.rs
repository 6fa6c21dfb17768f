//! audit-jsonl in the real runtime: a service instance with a temporary
//! directory granted as the `files` capability, written through WASI.

use std::path::Path;
use std::time::Duration;

use gatehouse_sdk::harness::{Grants, TestPlugin, TestService};
use gatehouse_sdk::{AuditEvent, AuditOutcome, Hook, Identity, Role};
use serde_json::Value;

/// 2025-01-18T09:12:00Z
const DAY1: u64 = 1_737_191_520_000;
const DAY: u64 = 86_400_000;

fn event(id: &str, time: u64) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        sequence: 1,
        time,
        category: "query".into(),
        action: "query.allowed".into(),
        outcome: AuditOutcome::Success,
        actor: Some(Identity {
            user_id: "17".into(),
            email: "ada@example.com".into(),
            groups: vec!["dev".into()],
            role: Role::User,
        }),
        connection: Some("billing.read-only".into()),
        session_id: Some("s-1".into()),
        client_address: Some("10.0.0.5:51234".into()),
        reason: None,
        attributes: vec![("query.id".into(), "3".into())],
    }
}

fn open<'a>(plugin: &'a TestPlugin, config: &str, dir: &Path) -> TestService<'a> {
    plugin
        .service(config)
        .grants(Grants {
            files: Some(dir.to_path_buf()),
            ..Grants::default()
        })
        // fsync on a loaded CI machine can take longer than the default 100 ms.
        .deadline(Duration::from_secs(5))
        .open()
        .expect("service starts")
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn declares_the_audit_hook_and_files() {
    let plugin = gatehouse_sdk::test_plugin!();
    assert!(plugin.implements(Hook::OnAuditEvent));
    assert!(!plugin.implements(Hook::OnQuery));
    let capabilities = &plugin.manifest().capabilities;
    assert_eq!(capabilities.len(), 1);
    assert_eq!(capabilities[0].wit_name(), "files");
}

#[test]
fn writes_one_ecs_line_per_event() {
    let plugin = gatehouse_sdk::test_plugin!();
    let dir = tempfile::tempdir().unwrap();
    let mut service = open(&plugin, "{}", dir.path());
    service.audit_event(&event("e1", DAY1)).unwrap();
    service.audit_event(&event("e2", DAY1 + 1)).unwrap();
    // A retry of the event just written is acknowledged, not duplicated.
    service.audit_event(&event("e2", DAY1 + 1)).unwrap();
    assert_eq!(files(dir.path()), ["audit-2025-01-18.jsonl"]);
    let lines = lines(&dir.path().join("audit-2025-01-18.jsonl"));
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["@timestamp"], "2025-01-18T09:12:00.000Z");
    assert_eq!(first["event"]["id"], "e1");
    assert_eq!(first["event"]["category"][0], "database");
    assert_eq!(first["user"]["email"], "ada@example.com");
    assert_eq!(first["user"]["group"]["name"][0], "dev");
    assert_eq!(first["source"]["ip"], "10.0.0.5");
    assert_eq!(first["gatehouse"]["connection"], "billing.read-only");
    assert_eq!(first["gatehouse"]["attributes"]["query.id"], "3");
}

#[test]
fn rotates_by_day_and_size_and_keeps_the_newest() {
    let plugin = gatehouse_sdk::test_plugin!();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("unrelated.txt"), "left alone").unwrap();
    // Each line is ~600 bytes: two a file.
    let config = r#"{"prefix": "gh", "max_bytes": 1300, "keep_files": 3, "fsync": false}"#;
    let mut service = open(&plugin, config, dir.path());
    for i in 0..5 {
        service
            .audit_event(&event(&format!("a{i}"), DAY1 + i))
            .unwrap();
    }
    assert_eq!(
        files(dir.path()),
        [
            "gh-2025-01-18.1.jsonl",
            "gh-2025-01-18.2.jsonl",
            "gh-2025-01-18.jsonl",
            "unrelated.txt"
        ]
    );
    service.audit_event(&event("b0", DAY1 + DAY)).unwrap();
    // Retention: three files of ours remain, the oldest went.
    assert_eq!(
        files(dir.path()),
        [
            "gh-2025-01-18.1.jsonl",
            "gh-2025-01-18.2.jsonl",
            "gh-2025-01-19.jsonl",
            "unrelated.txt"
        ]
    );
    let ids: Vec<Value> = lines(&dir.path().join("gh-2025-01-18.1.jsonl"))
        .iter()
        .map(|l| l["event"]["id"].clone())
        .collect();
    assert_eq!(ids, ["a2", "a3"]);
}

#[test]
fn a_new_instance_continues_the_newest_file() {
    let plugin = gatehouse_sdk::test_plugin!();
    let dir = tempfile::tempdir().unwrap();
    open(&plugin, "{}", dir.path())
        .audit_event(&event("e1", DAY1))
        .unwrap();
    let mut again = open(&plugin, "{}", dir.path());
    // The retry after a restart is recognised from the file's last line.
    again.audit_event(&event("e1", DAY1)).unwrap();
    again.audit_event(&event("e2", DAY1)).unwrap();
    let ids: Vec<Value> = lines(&dir.path().join("audit-2025-01-18.jsonl"))
        .iter()
        .map(|l| l["event"]["id"].clone())
        .collect();
    assert_eq!(ids, ["e1", "e2"]);
}

#[test]
fn failures_are_errors_so_the_host_retries() {
    let plugin = gatehouse_sdk::test_plugin!();
    let dir = tempfile::tempdir().unwrap();
    // Something in the way of today's file: the write fails.
    let blocker = dir.path().join("audit-2025-01-18.jsonl");
    std::fs::create_dir(&blocker).unwrap();
    let mut service = open(&plugin, "{}", dir.path());
    let err = service.audit_event(&event("e1", DAY1)).unwrap_err();
    assert!(err.contains("could not write event e1"), "{err}");
    // Cleared: the retry succeeds, once.
    std::fs::remove_dir(&blocker).unwrap();
    service.audit_event(&event("e1", DAY1)).unwrap();
    assert_eq!(lines(&blocker).len(), 1);

    // Without the files grant there is nowhere to write.
    let mut ungranted = plugin
        .service("{}")
        .open()
        .expect("binding without a grant is allowed");
    assert!(ungranted.audit_event(&event("e1", DAY1)).is_err());
}

#[test]
fn bad_configs_are_refused_at_bind_time() {
    let plugin = gatehouse_sdk::test_plugin!();
    let err = plugin
        .validate_config(r#"{"prefix": "../etc"}"#)
        .unwrap_err();
    assert!(err.contains("prefix"), "{err}");
}

/// A restart on a file of many lines (tens of KiB, under the tail window)
/// keeps every line: only a torn last line is ever cut.
#[test]
fn a_new_instance_keeps_every_line_of_a_long_file() {
    let plugin = gatehouse_sdk::test_plugin!();
    let dir = tempfile::tempdir().unwrap();
    {
        let mut first = open(&plugin, r#"{"fsync": false}"#, dir.path());
        for n in 0..150 {
            first.audit_event(&event(&format!("e{n}"), DAY1)).unwrap();
        }
    }
    let path = dir.path().join("audit-2025-01-18.jsonl");
    let before = std::fs::metadata(&path).unwrap().len();
    assert!(before > 32 << 10, "{before} bytes");
    let mut again = open(&plugin, r#"{"fsync": false}"#, dir.path());
    again.audit_event(&event("e149", DAY1)).unwrap();
    again.audit_event(&event("e150", DAY1)).unwrap();
    let ids: Vec<String> = lines(&path)
        .iter()
        .map(|l| l["event"]["id"].as_str().unwrap().to_string())
        .collect();
    let wanted: Vec<String> = (0..=150).map(|n| format!("e{n}")).collect();
    assert_eq!(ids, wanted);
}
