//! One function per message the gateway writes to a client itself: its own
//! authentication exchange, errors and notices, and results it synthesises
//! or re-encodes after a plugin edited them.
//!
//! Invariants: every function appends exactly one framed message (the batch
//! function one per row) and never fails; string fields are cut at a NUL
//! byte, so no text can change the framing (these go to the client, so a cut
//! can only shorten what the client is shown).
//!
//! Failure modes: none, except [`data_rows_from_batch`], which checks the
//! batch first; list encoders panic only past the protocol's 32767 elements.

use bytes::{BufMut, BytesMut};

use super::super::cursor::{begin_message, finish_message, put_cstr};
use super::super::framing::write_message;
use super::super::tags::backend as tag;
use super::{Authentication, ErrorFields, TransactionStatus, string_message, two_i32_message};

pub use super::data_row::{encode_batch as data_rows_from_batch, encode_data_row as data_row};
pub use super::row_description::{
    encode_parameter_description as parameter_description,
    encode_row_description as row_description,
};

/// ErrorResponse.
pub fn error_response(out: &mut BytesMut, fields: &ErrorFields) {
    let at = begin_message(out, tag::ERROR_RESPONSE);
    fields.encode_body(out);
    finish_message(out, at);
}

/// NoticeResponse.
pub fn notice_response(out: &mut BytesMut, fields: &ErrorFields) {
    let at = begin_message(out, tag::NOTICE_RESPONSE);
    fields.encode_body(out);
    finish_message(out, at);
}

/// ReadyForQuery.
pub fn ready_for_query(out: &mut BytesMut, status: TransactionStatus) {
    write_message(out, tag::READY_FOR_QUERY, &[status.byte()]);
}

/// AuthenticationOk.
pub fn authentication_ok(out: &mut BytesMut) {
    Authentication::Ok.encode(out);
}

/// AuthenticationCleartextPassword.
pub fn authentication_cleartext_password(out: &mut BytesMut) {
    Authentication::CleartextPassword.encode(out);
}

/// AuthenticationMD5Password.
pub fn authentication_md5_password(out: &mut BytesMut, salt: [u8; 4]) {
    Authentication::Md5Password { salt }.encode(out);
}

/// AuthenticationSASL offering `mechanisms`.
pub fn authentication_sasl(out: &mut BytesMut, mechanisms: &[&str]) {
    let at = begin_message(out, tag::AUTHENTICATION);
    out.put_i32(super::super::tags::auth::SASL);
    for m in mechanisms
        .iter()
        .filter(|m| !m.is_empty() && !m.starts_with('\0'))
    {
        put_cstr(out, m);
    }
    out.put_u8(0);
    finish_message(out, at);
}

/// AuthenticationSASLContinue.
pub fn authentication_sasl_continue(out: &mut BytesMut, data: &[u8]) {
    auth_with_data(out, super::super::tags::auth::SASL_CONTINUE, data);
}

/// AuthenticationSASLFinal.
pub fn authentication_sasl_final(out: &mut BytesMut, data: &[u8]) {
    auth_with_data(out, super::super::tags::auth::SASL_FINAL, data);
}

fn auth_with_data(out: &mut BytesMut, code: i32, data: &[u8]) {
    let at = begin_message(out, tag::AUTHENTICATION);
    out.put_i32(code);
    out.put_slice(data);
    finish_message(out, at);
}

/// ParameterStatus.
pub fn parameter_status(out: &mut BytesMut, name: &str, value: &str) {
    let at = begin_message(out, tag::PARAMETER_STATUS);
    put_cstr(out, name);
    put_cstr(out, value);
    finish_message(out, at);
}

/// BackendKeyData (the gateway's own keys, for cancel requests it routes).
pub fn backend_key_data(out: &mut BytesMut, process_id: i32, secret_key: i32) {
    two_i32_message(out, tag::BACKEND_KEY_DATA, process_id, secret_key);
}

/// CommandComplete with its command tag (`SELECT 1`, `INSERT 0 3`, ...).
pub fn command_complete(out: &mut BytesMut, command_tag: &str) {
    string_message(out, tag::COMMAND_COMPLETE, command_tag);
}

/// EmptyQueryResponse.
pub fn empty_query_response(out: &mut BytesMut) {
    write_message(out, tag::EMPTY_QUERY_RESPONSE, &[]);
}

/// ParseComplete.
pub fn parse_complete(out: &mut BytesMut) {
    write_message(out, tag::PARSE_COMPLETE, &[]);
}

/// BindComplete.
pub fn bind_complete(out: &mut BytesMut) {
    write_message(out, tag::BIND_COMPLETE, &[]);
}

/// CloseComplete.
pub fn close_complete(out: &mut BytesMut) {
    write_message(out, tag::CLOSE_COMPLETE, &[]);
}

/// NoData.
pub fn no_data(out: &mut BytesMut) {
    write_message(out, tag::NO_DATA, &[]);
}

/// PortalSuspended.
pub fn portal_suspended(out: &mut BytesMut) {
    write_message(out, tag::PORTAL_SUSPENDED, &[]);
}

/// CopyData.
pub fn copy_data(out: &mut BytesMut, data: &[u8]) {
    write_message(out, tag::COPY_DATA, data);
}

/// CopyDone.
pub fn copy_done(out: &mut BytesMut) {
    write_message(out, tag::COPY_DONE, &[]);
}

/// NegotiateProtocolVersion: the newest protocol version the gateway speaks
/// as a full version number (`major << 16 | minor`, what PostgreSQL and
/// libpq put there: [`PROTOCOL_3_0`](super::super::tags::startup::PROTOCOL_3_0)),
/// and the `_pq_.` options it did not recognise.
pub fn negotiate_protocol_version(
    out: &mut BytesMut,
    newest_version: u32,
    unrecognized_options: &[&str],
) {
    let at = begin_message(out, tag::NEGOTIATE_PROTOCOL_VERSION);
    out.put_u32(newest_version);
    out.put_i32(unrecognized_options.len() as i32);
    for option in unrecognized_options {
        put_cstr(out, option);
    }
    finish_message(out, at);
}
