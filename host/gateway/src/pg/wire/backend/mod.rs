//! Messages a server sends, as far as a proxy must understand them, and the
//! encoders for everything the gateway sends to clients itself.
//!
//! Sub-modules by sub-protocol: [`auth`] (authentication), [`error_fields`]
//! (ErrorResponse/NoticeResponse bodies), [`row_description`] and
//! [`data_row`] (results), [`encode`] (one function per message the gateway
//! writes).
//!
//! Invariants:
//! * [`BackendMessage::decode`] reads the whole body of the messages it
//!   parses field by field; COPY, notifications, NegotiateProtocolVersion and
//!   function results stay raw [`Bytes`], relayed as they came.
//! * DataRow and CopyData are zero-copy slices of the read buffer.
//! * `decode` then `encode` gives back the same bytes for every message
//!   (ErrorResponse/NoticeResponse too, unless a value was not UTF-8).
//!
//! Failure modes: [`WireError::UnknownBackendTag`], and the body errors of
//! each message (truncated, trailing bytes, bad counts or codes).

pub mod auth;
pub mod data_row;
pub mod encode;
pub mod error_fields;
pub mod row_description;

use bytes::{BufMut, Bytes, BytesMut};

pub use auth::Authentication;
pub use data_row::{Cells, DataRow, encode_batch, encode_data_row};
pub use error_fields::{ErrorFields, Severity};
pub use row_description::{
    FieldDescription, decode_parameter_description, decode_row_description,
    encode_parameter_description, encode_row_description,
};

use super::cursor::{Cursor, begin_message, finish_message};
use super::error::WireError;
use super::framing::{RawMessage, write_message};
use super::tags::{backend as tag, transaction_status as status};

/// The transaction state reported by ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    /// `'I'`: not in a transaction block.
    Idle,
    /// `'T'`: in a transaction block.
    InTransaction,
    /// `'E'`: in a failed transaction block (queries rejected until it ends).
    Failed,
}

impl TransactionStatus {
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            status::IDLE => Some(TransactionStatus::Idle),
            status::IN_TRANSACTION => Some(TransactionStatus::InTransaction),
            status::FAILED => Some(TransactionStatus::Failed),
            _ => None,
        }
    }

    pub fn byte(self) -> u8 {
        match self {
            TransactionStatus::Idle => status::IDLE,
            TransactionStatus::InTransaction => status::IN_TRANSACTION,
            TransactionStatus::Failed => status::FAILED,
        }
    }
}

/// A server-to-client message of protocol 3.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendMessage {
    Authentication(Authentication),
    ParameterStatus { name: String, value: String },
    BackendKeyData { process_id: i32, secret_key: i32 },
    ReadyForQuery { status: TransactionStatus },
    RowDescription(Vec<FieldDescription>),
    DataRow(DataRow),
    CommandComplete { tag: String },
    EmptyQueryResponse,
    ErrorResponse(ErrorFields),
    NoticeResponse(ErrorFields),
    ParseComplete,
    BindComplete,
    CloseComplete,
    NoData,
    ParameterDescription(Vec<u32>),
    PortalSuspended,
    CopyInResponse(Bytes),
    CopyOutResponse(Bytes),
    CopyBothResponse(Bytes),
    CopyData(Bytes),
    CopyDone,
    NotificationResponse(Bytes),
    NegotiateProtocolVersion(Bytes),
    FunctionCallResponse(Bytes),
}

impl BackendMessage {
    /// The message's name as in the protocol documentation.
    pub fn name(&self) -> &'static str {
        match self {
            BackendMessage::Authentication(_) => "Authentication",
            BackendMessage::ParameterStatus { .. } => "ParameterStatus",
            BackendMessage::BackendKeyData { .. } => "BackendKeyData",
            BackendMessage::ReadyForQuery { .. } => "ReadyForQuery",
            BackendMessage::RowDescription(_) => "RowDescription",
            BackendMessage::DataRow(_) => "DataRow",
            BackendMessage::CommandComplete { .. } => "CommandComplete",
            BackendMessage::EmptyQueryResponse => "EmptyQueryResponse",
            BackendMessage::ErrorResponse(_) => "ErrorResponse",
            BackendMessage::NoticeResponse(_) => "NoticeResponse",
            BackendMessage::ParseComplete => "ParseComplete",
            BackendMessage::BindComplete => "BindComplete",
            BackendMessage::CloseComplete => "CloseComplete",
            BackendMessage::NoData => "NoData",
            BackendMessage::ParameterDescription(_) => "ParameterDescription",
            BackendMessage::PortalSuspended => "PortalSuspended",
            BackendMessage::CopyInResponse(_) => "CopyInResponse",
            BackendMessage::CopyOutResponse(_) => "CopyOutResponse",
            BackendMessage::CopyBothResponse(_) => "CopyBothResponse",
            BackendMessage::CopyData(_) => "CopyData",
            BackendMessage::CopyDone => "CopyDone",
            BackendMessage::NotificationResponse(_) => "NotificationResponse",
            BackendMessage::NegotiateProtocolVersion(_) => "NegotiateProtocolVersion",
            BackendMessage::FunctionCallResponse(_) => "FunctionCallResponse",
        }
    }

    /// Decodes one framed message.
    pub fn decode(raw: &RawMessage) -> Result<Self, WireError> {
        let body = &raw.body;
        Ok(match raw.tag {
            tag::AUTHENTICATION => BackendMessage::Authentication(Authentication::decode(body)?),
            tag::PARAMETER_STATUS => {
                let mut c = Cursor::new(body, "ParameterStatus");
                let name = c.cstr("parameter name")?;
                let value = c.cstr("parameter value")?;
                c.finish()?;
                BackendMessage::ParameterStatus { name, value }
            }
            tag::BACKEND_KEY_DATA => {
                let mut c = Cursor::new(body, "BackendKeyData");
                let process_id = c.i32()?;
                let secret_key = c.i32()?;
                c.finish()?;
                BackendMessage::BackendKeyData {
                    process_id,
                    secret_key,
                }
            }
            tag::READY_FOR_QUERY => {
                let mut c = Cursor::new(body, "ReadyForQuery");
                let byte = c.u8()?;
                c.finish()?;
                let status = TransactionStatus::from_byte(byte).ok_or_else(|| {
                    WireError::invalid(
                        "ReadyForQuery",
                        format!(
                            "unknown transaction status {}",
                            super::error::show_tag(byte)
                        ),
                    )
                })?;
                BackendMessage::ReadyForQuery { status }
            }
            tag::ROW_DESCRIPTION => {
                BackendMessage::RowDescription(row_description::decode_row_description(body)?)
            }
            tag::DATA_ROW => BackendMessage::DataRow(DataRow::decode(body.clone())?),
            tag::COMMAND_COMPLETE => {
                let mut c = Cursor::new(body, "CommandComplete");
                let tag = c.cstr("command tag")?;
                c.finish()?;
                BackendMessage::CommandComplete { tag }
            }
            tag::EMPTY_QUERY_RESPONSE => empty(
                body,
                "EmptyQueryResponse",
                BackendMessage::EmptyQueryResponse,
            )?,
            tag::ERROR_RESPONSE => {
                BackendMessage::ErrorResponse(ErrorFields::decode(body, "ErrorResponse")?)
            }
            tag::NOTICE_RESPONSE => {
                BackendMessage::NoticeResponse(ErrorFields::decode(body, "NoticeResponse")?)
            }
            tag::PARSE_COMPLETE => empty(body, "ParseComplete", BackendMessage::ParseComplete)?,
            tag::BIND_COMPLETE => empty(body, "BindComplete", BackendMessage::BindComplete)?,
            tag::CLOSE_COMPLETE => empty(body, "CloseComplete", BackendMessage::CloseComplete)?,
            tag::NO_DATA => empty(body, "NoData", BackendMessage::NoData)?,
            tag::PORTAL_SUSPENDED => {
                empty(body, "PortalSuspended", BackendMessage::PortalSuspended)?
            }
            tag::COPY_DONE => empty(body, "CopyDone", BackendMessage::CopyDone)?,
            tag::PARAMETER_DESCRIPTION => BackendMessage::ParameterDescription(
                row_description::decode_parameter_description(body)?,
            ),
            tag::COPY_IN_RESPONSE => BackendMessage::CopyInResponse(body.clone()),
            tag::COPY_OUT_RESPONSE => BackendMessage::CopyOutResponse(body.clone()),
            tag::COPY_BOTH_RESPONSE => BackendMessage::CopyBothResponse(body.clone()),
            tag::COPY_DATA => BackendMessage::CopyData(body.clone()),
            tag::NOTIFICATION_RESPONSE => BackendMessage::NotificationResponse(body.clone()),
            tag::NEGOTIATE_PROTOCOL_VERSION => {
                BackendMessage::NegotiateProtocolVersion(body.clone())
            }
            tag::FUNCTION_CALL_RESPONSE => BackendMessage::FunctionCallResponse(body.clone()),
            other => return Err(WireError::UnknownBackendTag(other)),
        })
    }

    /// Appends the framed message to `out`.
    ///
    /// # Panics
    /// Only for lists over 32767 elements, which no decoded message has.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            BackendMessage::Authentication(a) => a.encode(out),
            BackendMessage::ParameterStatus { name, value } => {
                encode::parameter_status(out, name, value)
            }
            BackendMessage::BackendKeyData {
                process_id,
                secret_key,
            } => encode::backend_key_data(out, *process_id, *secret_key),
            BackendMessage::ReadyForQuery { status } => encode::ready_for_query(out, *status),
            BackendMessage::RowDescription(fields) => encode::row_description(out, fields),
            BackendMessage::DataRow(row) => row.encode(out),
            BackendMessage::CommandComplete { tag } => encode::command_complete(out, tag),
            BackendMessage::EmptyQueryResponse => {
                write_message(out, tag::EMPTY_QUERY_RESPONSE, &[])
            }
            BackendMessage::ErrorResponse(fields) => encode::error_response(out, fields),
            BackendMessage::NoticeResponse(fields) => encode::notice_response(out, fields),
            BackendMessage::ParseComplete => write_message(out, tag::PARSE_COMPLETE, &[]),
            BackendMessage::BindComplete => write_message(out, tag::BIND_COMPLETE, &[]),
            BackendMessage::CloseComplete => write_message(out, tag::CLOSE_COMPLETE, &[]),
            BackendMessage::NoData => write_message(out, tag::NO_DATA, &[]),
            BackendMessage::ParameterDescription(types) => {
                encode::parameter_description(out, types)
            }
            BackendMessage::PortalSuspended => write_message(out, tag::PORTAL_SUSPENDED, &[]),
            BackendMessage::CopyInResponse(b) => write_message(out, tag::COPY_IN_RESPONSE, b),
            BackendMessage::CopyOutResponse(b) => write_message(out, tag::COPY_OUT_RESPONSE, b),
            BackendMessage::CopyBothResponse(b) => write_message(out, tag::COPY_BOTH_RESPONSE, b),
            BackendMessage::CopyData(b) => write_message(out, tag::COPY_DATA, b),
            BackendMessage::CopyDone => write_message(out, tag::COPY_DONE, &[]),
            BackendMessage::NotificationResponse(b) => {
                write_message(out, tag::NOTIFICATION_RESPONSE, b)
            }
            BackendMessage::NegotiateProtocolVersion(b) => {
                write_message(out, tag::NEGOTIATE_PROTOCOL_VERSION, b)
            }
            BackendMessage::FunctionCallResponse(b) => {
                write_message(out, tag::FUNCTION_CALL_RESPONSE, b)
            }
        }
    }
}

fn empty(
    body: &Bytes,
    name: &'static str,
    message: BackendMessage,
) -> Result<BackendMessage, WireError> {
    Cursor::new(body, name).finish().map(|()| message)
}

/// Appends a message whose body is one string, cut at a NUL.
fn string_message(out: &mut BytesMut, tag: u8, s: &str) {
    let at = begin_message(out, tag);
    super::cursor::put_cstr(out, s);
    finish_message(out, at);
}

/// Appends a message whose body is two Int32s.
fn two_i32_message(out: &mut BytesMut, tag: u8, a: i32, b: i32) {
    let at = begin_message(out, tag);
    out.put_i32(a);
    out.put_i32(b);
    finish_message(out, at);
}
