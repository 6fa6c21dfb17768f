//! Retention: sessions (with their events) and audit events older than the
//! configured number of days are deleted at startup and then every
//! [`INTERVAL`].
//!
//! Sessions go by when they ended (or, never ended, started): see
//! `Sessions::delete_older_than`. Audit events go by their time, but the
//! store never deletes one that some registered sink has not yet delivered
//! or dead-lettered, so retention cannot lose an undelivered event. A run
//! that deletes something records `retention.run` (category `admin`, actor
//! `system:retention`) with the counts. Failures are logged and retried at
//! the next run; they never stop the gateway.

use super::log::AuditLog;
use gatehouse_store::audit::{NewAuditEvent, Outcome};
use gatehouse_store::{Actor, Store};
use std::time::Duration;

/// Time between runs.
pub const INTERVAL: Duration = Duration::from_secs(24 * 3600);

const DAY_MS: i64 = 24 * 3600 * 1000;

/// What to keep, in days (`None`: keep everything).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub sessions_days: Option<u32>,
    pub audit_days: Option<u32>,
}

/// What one run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    pub sessions: u64,
    pub audit_events: u64,
}

impl Retention {
    pub fn is_off(&self) -> bool {
        self.sessions_days.is_none() && self.audit_days.is_none()
    }

    /// Delete what is older than the settings allow, as of `now` (Unix ms).
    pub async fn run_once(&self, store: &Store, log: &AuditLog, now: i64) -> Deleted {
        let cutoff = |days: u32| now - i64::from(days) * DAY_MS;
        let mut deleted = Deleted::default();
        if let Some(days) = self.sessions_days {
            match store.sessions().delete_older_than(cutoff(days)).await {
                Ok(n) => deleted.sessions = n,
                Err(err) => tracing::error!(error = %err, "session retention failed"),
            }
        }
        if let Some(days) = self.audit_days {
            match store.audit().delete_older_than(cutoff(days)).await {
                Ok(n) => deleted.audit_events = n,
                Err(err) => tracing::error!(error = %err, "audit retention failed"),
            }
        }
        if deleted != Deleted::default() {
            tracing::info!(
                sessions = deleted.sessions,
                audit_events = deleted.audit_events,
                "retention deleted old records"
            );
            let actor = Actor::system("retention");
            let mut event = NewAuditEvent::new("admin", "retention.run", Outcome::Success);
            event.actor = Some(actor.identity);
            event.target = Some("retention".into());
            event.attributes = vec![
                ("sessions_deleted".into(), deleted.sessions.to_string()),
                (
                    "audit_events_deleted".into(),
                    deleted.audit_events.to_string(),
                ),
            ];
            if let Some(days) = self.sessions_days {
                event
                    .attributes
                    .push(("sessions_days".into(), days.to_string()));
            }
            if let Some(days) = self.audit_days {
                event
                    .attributes
                    .push(("audit_days".into(), days.to_string()));
            }
            log.submit(event);
        }
        deleted
    }

    /// Run now and every [`INTERVAL`] until the task is aborted.
    pub async fn run(self, store: Store, log: AuditLog) {
        loop {
            self.run_once(&store, &log, crate::clock::now_ms()).await;
            tokio::time::sleep(INTERVAL).await;
        }
    }
}
