//! # audit-jsonl
//!
//! An audit sink: every audit event the gateway delivers becomes one line of
//! JSON (the ECS document of `gatehouse-audit-ecs`, see
//! `docs/audit-events.md`) appended to a file in the directory an admin
//! granted with the `files` capability (preopened as `/data`).
//!
//! ```json
//! { "prefix": "audit", "max_bytes": 104857600, "keep_files": 30, "fsync": true }
//! ```
//!
//! * Files: `<prefix>-YYYY-MM-DD.jsonl` (UTC day of the event), then
//!   `<prefix>-YYYY-MM-DD.1.jsonl`, `.2.jsonl` … when a file reaches
//!   `max_bytes`. Never renamed; only the newest is appended to.
//! * Retention: when a file is started, the oldest files beyond
//!   `keep_files` are deleted (`0` keeps all).
//! * Durability: with `fsync` (the default) a line is on stable storage
//!   before the event is acknowledged; the host advances its delivery
//!   cursor only then.
//! * Failure: any error (no grant, disk full, permissions) returns `Err`,
//!   so the host retries the event later (with backoff, then dead-letters
//!   it); a failed write leaves no partial line. See `sink.rs` for the
//!   invariants.

mod config;
mod files;
mod sink;

use gatehouse_sdk::prelude::*;
use gatehouse_sdk::{AuditEvent, Capability};

pub use config::Config;
pub use files::{Segment, enforce_retention, list};
pub use sink::{Report, Sink, granted_dir};

pub struct AuditJsonl {
    sink: Sink,
}

#[gatehouse_sdk::plugin]
impl Plugin for AuditJsonl {
    type Config = Config;
    const DESCRIPTION: &'static str = "Append every audit event as a JSON line (ECS field names) to files in a granted directory, rotated by day and size.";
    const CAPABILITIES: &'static [Capability] = &[Capability::Files];

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self {
            sink: Sink::new(granted_dir(), config),
        })
    }

    fn validate(config: &Config) -> Result<(), String> {
        config.validate()
    }

    fn on_audit_event(&mut self, event: &AuditEvent) -> Result<(), String> {
        let line = gatehouse_audit_ecs::line(event);
        let day = gatehouse_audit_ecs::day_stamp(gatehouse_audit_ecs::day_number(event.time));
        let report = self.sink.append(&event.id, &day, &line).map_err(|error| {
            format!(
                "audit-jsonl: could not write event {} to /data (is the files capability \
                 granted and the directory writable?): {error}",
                event.id
            )
        })?;
        let id = event.id.as_str();
        if report.duplicate {
            log::info(
                "event already written; retry acknowledged",
                &[("event", id)],
            );
        }
        if report.repaired > 0 {
            let bytes = report.repaired.to_string();
            log::warn(
                "cut a torn last line off the newest audit file",
                &[("bytes", bytes.as_str())],
            );
        }
        if let Some(file) = &report.opened {
            log::info("started audit file", &[("file", file.as_str())]);
        }
        for file in &report.deleted {
            log::info("deleted audit file (retention)", &[("file", file.as_str())]);
        }
        if let Some(error) = &report.retention_error {
            log::warn("retention failed", &[("error", error.as_str())]);
        }
        Ok(())
    }
}
