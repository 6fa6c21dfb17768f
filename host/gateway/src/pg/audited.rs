//! The front door's audit points (see `crate::audit` for the guarantee):
//! refusals are recorded durably before the client is answered, and a
//! session whose audit event cannot be written ends with a FATAL error
//! rather than being answered as if it had been recorded.

use crate::audit::{AuditError, SessionAudit, events};
use crate::pg::FrontDoor;
use crate::pg::reply;
use crate::pg::stream::ClientStream;
use crate::record::SessionEvent;
use bytes::BytesMut;
use gatehouse_runtime::PluginFault;
use gatehouse_runtime::types::Identity;
use gatehouse_store::audit::NewAuditEvent;
use tokio::io::AsyncWriteExt;

/// SQLSTATE of "the audit log is unavailable" (`system_error`).
const AUDIT_UNAVAILABLE: &str = "58000";

impl FrontDoor {
    /// Record a refusal: the session record, and `audit` committed before
    /// this returns (the caller answers the client after). A store that
    /// cannot be written is logged; the client is refused all the same.
    async fn refused(&self, record: SessionEvent, audit: NewAuditEvent) {
        self.recorder.record(record);
        if let Err(err) = self.audit.append(audit).await {
            tracing::error!(error = %err, "a refusal could not be audited");
        }
    }

    /// A database login refused before a session exists
    /// (`authentication/session.refused`); `actor` once the token checked.
    pub(super) async fn refuse_login(&self, record: SessionEvent, actor: Option<&Identity>) {
        let SessionEvent::Refused {
            client,
            user,
            connection,
            reason,
            ..
        } = &record
        else {
            unreachable!("refuse_login records refusals");
        };
        let audit = events::login_refused(client, user, connection, reason, actor);
        self.refused(record, audit).await;
    }

    /// A session refused once its user is known: `action` is
    /// `session.denied`, `session.review_required` or `session.refused`;
    /// a fault behind it is recorded first (`plugin.fault`).
    pub(super) async fn refuse_session(
        &self,
        record: SessionEvent,
        audit: &SessionAudit,
        action: &str,
        plugin: Option<&str>,
        fault: Option<&PluginFault>,
    ) {
        let reason = match &record {
            SessionEvent::Refused { reason, .. } => reason.clone(),
            _ => unreachable!("refuse_session records refusals"),
        };
        if let Some(fault) = fault {
            self.audit.submit(audit.context.fault(fault));
        }
        let plugin = plugin.or(fault.map(|f| f.plugin.as_str()));
        let event = audit.context.refused(action, &reason, plugin);
        self.refused(record, event).await;
    }
}

/// Admit the session only once `session.start` is committed; `Err` after
/// telling the client (FATAL) when it cannot be.
pub(super) async fn admit(
    audit: &SessionAudit,
    stream: &mut ClientStream,
    out: &mut BytesMut,
) -> anyhow::Result<()> {
    match audit.log.append(audit.context.started()).await {
        Ok(_) => Ok(()),
        Err(err) => {
            tracing::error!(error = %err, "session.start could not be audited; refusing the session");
            out.clear();
            reply::fatal(
                out,
                AUDIT_UNAVAILABLE,
                &format!("{err}; the session cannot start"),
            );
            let _ = stream.write_all(out).await;
            Err(err.into())
        }
    }
}

/// If the session ended because an audit event could not be written, say
/// so to the client (FATAL) before the connection closes.
pub(super) async fn tell_if_unaudited(
    result: &anyhow::Result<()>,
    stream: &mut ClientStream,
    out: &mut BytesMut,
) {
    if let Err(err) = result
        && let Some(audit) = err.downcast_ref::<AuditError>()
    {
        tracing::error!(error = %audit, "ending the session: its audit events cannot be recorded");
        out.clear();
        reply::fatal(
            out,
            AUDIT_UNAVAILABLE,
            &format!("{audit}; ending the session"),
        );
        let _ = stream.write_all(out).await;
    }
}
