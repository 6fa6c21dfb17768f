//! What the gateway itself says to a client, in PostgreSQL's terms: its
//! errors (with the SQLSTATE codes the gateway uses) and the
//! `ReadyForQuery` it sends after answering a query on its own.
//!
//! SQLSTATEs used: `28P01` bad credentials, `28000` access refused (TLS
//! required, connect denied, replication), `3D000` unknown connection,
//! `42501` query denied / held for review / result withheld, `0A000` not
//! supported, `08001` upstream unreachable, `08006` upstream lost, `08P01`
//! protocol violation.

use crate::pg::wire::backend::encode;
use crate::pg::wire::backend::{ErrorFields, Severity, TransactionStatus};
use crate::record::Verdict;
use bytes::BytesMut;
use gatehouse_runtime::types::QueryVerdict;

/// An `ERROR`: the statement failed, the session goes on.
pub fn error(out: &mut BytesMut, sqlstate: &str, message: &str) {
    encode::error_response(out, &ErrorFields::new(Severity::Error, sqlstate, message));
}

/// A `FATAL`: the session ends after this message.
pub fn fatal(out: &mut BytesMut, sqlstate: &str, message: &str) {
    encode::error_response(out, &ErrorFields::new(Severity::Fatal, sqlstate, message));
}

/// `ReadyForQuery` with a status byte as the upstream reported it
/// (`I`, `T` or `E`; anything else is sent as idle).
pub fn ready_for_query(out: &mut BytesMut, status: u8) {
    encode::ready_for_query(
        out,
        TransactionStatus::from_byte(status).unwrap_or(TransactionStatus::Idle),
    );
}

/// What a query decision means for the record, and the message a refused
/// query answers with (`None` when the query runs).
pub fn judge(verdict: &QueryVerdict) -> (Verdict, Option<String>) {
    match verdict {
        QueryVerdict::Allow => (Verdict::Allowed, None),
        QueryVerdict::Rewrite(_) => (Verdict::Rewritten, None),
        QueryVerdict::Deny(reason) => (
            Verdict::Denied {
                reason: reason.clone(),
            },
            Some(reason.clone()),
        ),
        QueryVerdict::Review(request) => (
            Verdict::Review {
                reason: request.reason.clone(),
            },
            Some(format!(
                "query held for review: {} (approvers: {})",
                request.reason,
                request.approver_groups.join(", ")
            )),
        ),
    }
}
