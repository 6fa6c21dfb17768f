//! The sandbox holds and faults fail closed.
//!
//! Each test drives the misbehaving guest (`tests/guests/sandbox`) through
//! the real runtime and checks that the misbehaviour is stopped, reported
//! with a clear reason, and turned into a deny (or an aborted result), while
//! the runtime keeps serving other sessions.

use gatehouse_sdk::QueryVerdict;
use gatehouse_sdk::harness::{Grants, TestColumn, TestPlugin};
use gatehouse_tests::{guest_wasm, sandbox_plugin};
use std::time::{Duration, Instant};

fn config(mode: &str) -> String {
    format!(r#"{{"mode": "{mode}"}}"#)
}

fn deny_reason(verdict: QueryVerdict) -> String {
    match verdict {
        QueryVerdict::Deny(reason) => reason,
        other => panic!("expected a deny, got {other:?}"),
    }
}

/// A looping hook, called after the session was idle for `idle`, is denied
/// at its 50 ms deadline, naming the plugin.
fn a_loop_is_stopped_at_its_deadline(idle: Duration) {
    let plugin = sandbox_plugin();
    let mut session = plugin
        .session(&config("loop"))
        .deadline(Duration::from_millis(50))
        .open()
        .unwrap();
    std::thread::sleep(idle);
    let started = Instant::now();
    let reason = deny_reason(session.query("select 1"));
    let elapsed = started.elapsed();
    assert!(reason.contains("ran past its 50ms deadline"), "{reason}");
    assert!(
        elapsed >= Duration::from_millis(50),
        "stopped before its deadline: {elapsed:?}"
    );
    assert!(
        reason.contains("sandbox-guest"),
        "the reason names the plugin: {reason}"
    );
    assert!(
        elapsed < Duration::from_millis(400),
        "stopped late: {elapsed:?}"
    );
}

#[test]
fn an_infinite_loop_is_stopped_at_its_deadline() {
    a_loop_is_stopped_at_its_deadline(Duration::ZERO);
}

#[test]
fn an_infinite_loop_after_an_idle_spell_is_stopped_at_its_deadline() {
    // Longer than the epoch ticker's idle window: it may have parked, and
    // the call must wake it.
    a_loop_is_stopped_at_its_deadline(Duration::from_millis(300));
}

#[test]
fn a_faulted_instance_stays_closed_for_the_rest_of_the_session() {
    let plugin = sandbox_plugin();
    let mut session = plugin
        .session(&config("loop"))
        .deadline(Duration::from_millis(20))
        .open()
        .unwrap();
    deny_reason(session.query("select 1"));
    let reason = deny_reason(session.query("select 2"));
    assert!(reason.contains("disabled for this session"), "{reason}");
}

#[test]
fn a_memory_bomb_traps_at_the_cap() {
    let plugin = sandbox_plugin();
    let mut session = plugin
        .session(&config("memory-bomb"))
        .memory_cap(16 << 20)
        .open()
        .unwrap();
    let reason = deny_reason(session.query("select 1"));
    assert!(reason.contains("memory cap of 16777216 bytes"), "{reason}");
}

#[test]
fn a_panic_fails_closed_and_quotes_the_message() {
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("panic")).open().unwrap();
    let reason = deny_reason(session.query("select 42"));
    assert!(
        reason.contains("trapped") && reason.contains("boom on select 42"),
        "{reason}"
    );
}

#[test]
fn a_plugin_that_fails_to_start_refuses_the_session() {
    let plugin = sandbox_plugin();
    let err = plugin
        .session(&config("fail-init"))
        .open()
        .err()
        .expect("session must not open");
    assert!(
        err.contains("failed to initialise: refusing to start"),
        "{err}"
    );
}

#[test]
fn the_query_filter_spares_calls_for_texts_without_its_keywords() {
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("deny-seen-drops")).open().unwrap();
    // The plugin denies every query it sees: allowed means not called.
    assert_eq!(session.query("select 1"), QueryVerdict::Allow);
    assert_eq!(
        session.query("SELECT * FROM t WHERE id = $1"),
        QueryVerdict::Allow
    );
    for seen in [
        "DROP TABLE t",
        "select 1; dRoP table t",
        "select 'backdrop'",
    ] {
        let reason = deny_reason(session.query(seen));
        assert!(
            reason.contains(&format!("sandbox saw {seen:?}")),
            "{reason}"
        );
    }
}

#[test]
fn a_malformed_or_failing_query_filter_refuses_the_session() {
    let plugin = sandbox_plugin();
    for (mode, expected) in [
        ("bad-keywords", "keyword \"drop table\" must be"),
        ("panic-keywords", "no keywords today"),
    ] {
        let err = plugin
            .session(&config(mode))
            .open()
            .err()
            .expect("session must not open");
        assert!(err.contains("on-query-keywords"), "{mode}: {err}");
        assert!(err.contains(expected), "{mode}: {err}");
    }
}

#[test]
fn an_empty_rewrite_is_a_malformed_answer_and_denies() {
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("rewrite-empty")).open().unwrap();
    let reason = deny_reason(session.query("select 1"));
    assert!(
        reason.contains("malformed answer: rewrite to an empty query"),
        "{reason}"
    );
}

#[test]
fn a_rewrite_is_what_runs() {
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("rewrite")).open().unwrap();
    assert_eq!(
        session.query("select secret from vault"),
        QueryVerdict::Rewrite("select 1".into())
    );
}

#[test]
fn edits_outside_the_batch_abort_the_result() {
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("bad-edits")).open().unwrap();
    let err = session
        .result(&[TestColumn::text("email")], &[vec![Some("a@b.c")]])
        .unwrap_err();
    assert!(err.contains("outside the 1x1 batch"), "{err}");
}

#[test]
fn result_edits_reach_the_client_and_counters_the_record() {
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("mask-rows")).open().unwrap();
    let rows = session
        .result(
            &[TestColumn::text("id"), TestColumn::text("email")],
            &[
                vec![Some("1"), Some("ann@example.com")],
                vec![Some("2"), None],
                vec![Some("3"), Some("bob@x.org")],
            ],
        )
        .unwrap();
    assert_eq!(
        rows,
        vec![
            vec![Some("1".into()), Some("***".into())],
            vec![Some("2".into()), None],
            vec![Some("3".into()), Some("***".into())]
        ]
    );
    assert_eq!(
        session.counters(),
        &[("sandbox-guest.masked".to_string(), 2)]
    );
}

#[test]
fn no_file_can_be_read_without_a_grant() {
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("read-file")).open().unwrap();
    for path in [
        "/etc/passwd",
        "../../../../etc/passwd",
        "/data/x",
        "Cargo.toml",
    ] {
        let reason = deny_reason(session.query(path));
        assert!(reason.starts_with("read failed"), "{path}: {reason}");
    }
}

#[test]
fn a_files_grant_opens_one_directory_and_nothing_beside_it() {
    let granted = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
    let plugin = sandbox_plugin();
    let grants = Grants {
        files: Some(granted.path().to_path_buf()),
        ..Grants::default()
    };
    let mut writer = plugin
        .session(&config("write-file"))
        .grants(grants.clone())
        .open()
        .unwrap();
    assert!(deny_reason(writer.query("/data/audit.log")).starts_with("write ok"));
    assert_eq!(
        std::fs::read_to_string(granted.path().join("audit.log")).unwrap(),
        "written by plugin"
    );

    let mut reader = plugin
        .session(&config("read-file"))
        .grants(grants)
        .open()
        .unwrap();
    let escape = format!(
        "/data/../{}/secret",
        outside.path().file_name().unwrap().to_str().unwrap()
    );
    let absolute = outside.path().join("secret").display().to_string();
    for path in [escape.as_str(), absolute.as_str(), "/etc/passwd"] {
        let reason = deny_reason(reader.query(path));
        assert!(reason.starts_with("read failed"), "{path}: {reason}");
    }
}

#[test]
fn no_socket_can_be_opened() {
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("open-socket")).open().unwrap();
    // The local PostgreSQL is listening here; the plugin still cannot reach it.
    for address in ["127.0.0.1:5432", "localhost:5432", "[::1]:5432"] {
        let reason = deny_reason(session.query(address));
        assert!(reason.starts_with("connect failed"), "{address}: {reason}");
    }
}

#[test]
fn no_environment_or_arguments_leak_in() {
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("GATEHOUSE_TEST_SECRET", "hunter2") };
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("env")).open().unwrap();
    assert_eq!(deny_reason(session.query("env")), "env: [] args: []");
}

#[test]
fn the_clock_is_the_hosts_for_both_apis() {
    let plugin = sandbox_plugin();
    let mut session = plugin
        .session(&config("clock"))
        .clock_millis(1_700_000_000_123)
        .open()
        .unwrap();
    assert_eq!(
        deny_reason(session.query("now")),
        "host 1700000000123 std 1700000000123"
    );
}

#[test]
fn http_is_refused_without_a_grant_and_off_the_allowlist() {
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("http")).open().unwrap();
    let reason = deny_reason(session.query("http://127.0.0.1:9/"));
    assert!(
        reason.contains("NotAllowed") && reason.contains("not granted"),
        "{reason}"
    );

    let grants = Grants {
        http: vec!["http://127.0.0.1:9/hooks/".into()],
        ..Grants::default()
    };
    let mut session = plugin
        .session(&config("http"))
        .grants(grants)
        .open()
        .unwrap();
    let reason = deny_reason(session.query("http://127.0.0.1:9/admin"));
    assert!(
        reason.contains("NotAllowed") && reason.contains("allowlist"),
        "{reason}"
    );
}

#[test]
fn http_reaches_an_allowlisted_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 2048];
        let _ = stream.read(&mut buf).unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
            .unwrap();
    });
    let plugin = sandbox_plugin();
    let grants = Grants {
        http: vec![format!("http://127.0.0.1:{port}/hooks")],
        ..Grants::default()
    };
    let mut session = plugin
        .session(&config("http"))
        .grants(grants)
        .open()
        .unwrap();
    let reason = deny_reason(session.query(&format!("http://127.0.0.1:{port}/hooks/a")));
    assert_eq!(reason, "http ok: 200 hello");
    server.join().unwrap();
}

/// An outbound request to a server that never answers is cut at the
/// hook's own deadline (the host gives the request what is left of it),
/// not later and not sooner, and the call fails closed as one that ran
/// past its deadline.
#[test]
fn http_to_a_server_that_never_answers_ends_at_the_hooks_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        use std::io::Read;
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 2048];
        let _ = stream.read(&mut buf);
        // Hold the connection open, silent, until the test is over.
        let _ = finished.recv();
    });
    let plugin = sandbox_plugin();
    let grants = Grants {
        http: vec![format!("http://127.0.0.1:{port}/hooks")],
        ..Grants::default()
    };
    let deadline = Duration::from_millis(100);
    let mut session = plugin
        .session(&config("http"))
        .grants(grants)
        .deadline(deadline)
        .open()
        .unwrap();
    let started = Instant::now();
    let reason = deny_reason(session.query(&format!("http://127.0.0.1:{port}/hooks/a")));
    let elapsed = started.elapsed();
    done.send(()).unwrap();
    server.join().unwrap();
    assert!(reason.contains("ran past its 100ms deadline"), "{reason}");
    assert!(elapsed >= deadline, "cut before the deadline: {elapsed:?}");
    // Before the runtime's backstop (the deadline plus 250 ms) would
    // have ended it: the request itself was bounded.
    assert!(
        elapsed < Duration::from_millis(300),
        "cut late: {elapsed:?}"
    );
}

#[test]
fn https_is_attempted_and_never_unverified() {
    // A server that does not speak TLS: the request gets as far as the
    // handshake, which fails (no plaintext fallback, no unverified mode).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 2048];
        let _ = stream.read(&mut buf);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nno");
    });
    let plugin = sandbox_plugin();
    let grants = Grants {
        http: vec![format!("https://127.0.0.1:{port}/hooks")],
        ..Grants::default()
    };
    let mut session = plugin
        .session(&config("http"))
        .grants(grants)
        .open()
        .unwrap();
    let reason = deny_reason(session.query(&format!("https://127.0.0.1:{port}/hooks/a")));
    assert!(
        reason.contains("Transport") && !reason.contains("not supported"),
        "{reason}"
    );
    server.join().unwrap();
}

#[test]
fn key_value_needs_its_grant() {
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("kv")).open().unwrap();
    let reason = deny_reason(session.query("v1"));
    assert!(
        reason.starts_with("kv failed") && reason.contains("NotAllowed"),
        "{reason}"
    );
    let grants = Grants {
        key_value: true,
        ..Grants::default()
    };
    let mut session = plugin.session(&config("kv")).grants(grants).open().unwrap();
    assert_eq!(deny_reason(session.query("v1")), "kv ok: v1");
}

#[test]
fn grants_of_undeclared_capabilities_are_refused() {
    let plugin = gatehouse_tests::guest("access-control", "../plugins/access-control");
    let grants = Grants {
        key_value: true,
        ..Grants::default()
    };
    let err = plugin
        .session(r#"{"allowed_groups": []}"#)
        .grants(grants)
        .open()
        .err()
        .unwrap();
    assert!(
        err.contains("does not declare the key-value capability"),
        "{err}"
    );
}

#[test]
fn a_wrong_world_component_is_refused_at_load() {
    let wasm = guest_wasm("wrong-world-guest", "guests/wrong-world");
    let err = TestPlugin::load_file(&wasm).err().expect("must be refused");
    assert!(
        err.contains("does not target the gatehouse:plugin@0.1 world"),
        "{err}"
    );
    assert!(
        err.contains("other:thing/secrets"),
        "the error names the missing import: {err}"
    );
}

#[test]
fn malformed_bytes_are_refused_at_load() {
    let err = TestPlugin::load_bytes(b"\0asm garbage").err().unwrap();
    assert!(err.contains("not a valid WebAssembly component"), "{err}");
    // A core module is not a component.
    let core_module = b"\0asm\x01\0\0\0";
    let err = TestPlugin::load_bytes(core_module).err().unwrap();
    assert!(err.contains("not a valid WebAssembly component"), "{err}");
}

#[test]
fn other_sessions_keep_being_served_while_one_plugin_spins() {
    let spinner = std::thread::spawn(|| {
        let plugin = sandbox_plugin();
        for _ in 0..5 {
            let mut session = plugin
                .session(&config("loop"))
                .deadline(Duration::from_millis(100))
                .open()
                .unwrap();
            deny_reason(session.query("spin"));
        }
    });
    let plugin = sandbox_plugin();
    let mut session = plugin.session(&config("allow")).open().unwrap();
    let mut worst = Duration::ZERO;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(400) {
        let t = Instant::now();
        assert_eq!(session.query("select 1"), QueryVerdict::Allow);
        worst = worst.max(t.elapsed());
    }
    spinner.join().unwrap();
    assert!(
        worst < Duration::from_millis(50),
        "a healthy session waited {worst:?} behind a spinning one"
    );
}

#[test]
fn a_hook_within_its_deadline_is_not_interrupted() {
    let plugin = sandbox_plugin();
    let mut session = plugin
        .session(&config("busy"))
        .deadline(Duration::from_millis(200))
        .open()
        .unwrap();
    assert_eq!(session.query("30"), QueryVerdict::Allow);
}
