//! Retention: sessions (with their events) and audit events older than the
//! configured number of days, and access tokens that expired more than
//! [`EXPIRED_TOKEN_GRACE`] ago (always: every web-console login mints a
//! token, so they would pile up forever), are deleted at startup and then
//! every [`INTERVAL`].
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

/// How long an expired token stays listed (as expired) before it is
/// deleted: long enough for an admin to see why a login stopped working.
pub const EXPIRED_TOKEN_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

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
    pub expired_tokens: u64,
}

impl Retention {
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
        let token_cutoff = now - EXPIRED_TOKEN_GRACE.as_millis() as i64;
        match store.tokens().delete_expired(token_cutoff).await {
            Ok(n) => deleted.expired_tokens = n,
            Err(err) => tracing::error!(error = %err, "deleting expired access tokens failed"),
        }
        if deleted != Deleted::default() {
            tracing::info!(
                sessions = deleted.sessions,
                audit_events = deleted.audit_events,
                expired_tokens = deleted.expired_tokens,
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
                (
                    "access_tokens_deleted".into(),
                    deleted.expired_tokens.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_store::users::NewUser;
    use gatehouse_store::{Role, SecretKeys};

    /// With sessions and audit events kept forever, a run still deletes
    /// tokens past their grace, keeps the rest, and says so in one event.
    #[tokio::test]
    async fn a_run_purges_tokens_expired_past_the_grace_only() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
        let store = Store::open(&url, SecretKeys::generate()).await.unwrap();
        let admin = Actor::system("test");
        let user = store
            .users()
            .create(&admin, NewUser::new("web@example.com", Role::User))
            .await
            .unwrap();
        // Tokens are created expiring in the future; the run happens 30
        // days later: one expired 29 days before it, one 5 days before.
        let created = crate::clock::now_ms();
        let now = created + 30 * DAY_MS;
        for (name, expires_at) in [
            ("web-old", Some(created + DAY_MS)),
            ("web-recent", Some(created + 25 * DAY_MS)),
            ("cli", None),
        ] {
            store
                .tokens()
                .create(&admin, user.id, name, expires_at)
                .await
                .unwrap();
        }
        let log = AuditLog::start(store.clone());
        let deleted = Retention::default().run_once(&store, &log, now).await;
        assert_eq!(
            deleted,
            Deleted {
                expired_tokens: 1,
                ..Deleted::default()
            }
        );
        let left: Vec<String> = store
            .tokens()
            .list(user.id)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(left, ["cli", "web-recent"]);
        log.flush().await;
        let last = store.audit().latest_sequence().await.unwrap();
        let event = store.audit().get(last).await.unwrap();
        assert_eq!(event.action, "retention.run");
        assert!(
            event
                .attributes
                .contains(&("access_tokens_deleted".to_string(), "1".to_string()))
        );
        // Nothing left to delete: no event.
        let again = Retention::default().run_once(&store, &log, now).await;
        assert_eq!(again, Deleted::default());
    }
}
