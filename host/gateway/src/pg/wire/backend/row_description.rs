//! RowDescription (the columns of a result) and ParameterDescription (the
//! parameter types of a prepared statement).
//!
//! Invariants: the field count is checked against the remaining bytes (each
//! field takes at least 19) before the vector is allocated; the whole body is
//! read. Column names must be UTF-8 (plugins see them as WIT strings).
//!
//! Failure modes: [`WireError::Truncated`], [`WireError::TrailingBytes`],
//! [`WireError::MissingNul`], [`WireError::InvalidUtf8`],
//! [`WireError::Invalid`] (a negative count).

use bytes::{BufMut, Bytes, BytesMut};

use super::super::cursor::{Cursor, begin_message, check_count, finish_message, put_cstr};
use super::super::error::WireError;
use super::super::tags::backend::{PARAMETER_DESCRIPTION, ROW_DESCRIPTION};

/// Name NUL plus the fixed 18 bytes.
const MIN_FIELD_LEN: usize = 19;

/// One column of a RowDescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDescription {
    pub name: String,
    /// The table's OID if the column is a plain table column, else 0.
    pub table_oid: u32,
    /// The column's attribute number if `table_oid` is set, else 0.
    pub column_id: i16,
    pub type_oid: u32,
    /// `pg_type.typlen` (negative for variable width).
    pub type_size: i16,
    /// `pg_attribute.atttypmod`.
    pub type_modifier: i32,
    /// 0 text, 1 binary.
    pub format: i16,
}

/// Decodes a RowDescription body.
pub fn decode_row_description(body: &Bytes) -> Result<Vec<FieldDescription>, WireError> {
    let mut c = Cursor::new(body, "RowDescription");
    let n = c.count("field", MIN_FIELD_LEN)?;
    let mut fields = Vec::with_capacity(n);
    for _ in 0..n {
        fields.push(FieldDescription {
            name: c.cstr("field name")?,
            table_oid: c.u32()?,
            column_id: c.i16()?,
            type_oid: c.u32()?,
            type_size: c.i16()?,
            type_modifier: c.i32()?,
            format: c.i16()?,
        });
    }
    c.finish()?;
    Ok(fields)
}

/// Appends a RowDescription message.
///
/// # Panics
/// With more than 32767 fields, which the protocol cannot carry.
pub fn encode_row_description(out: &mut BytesMut, fields: &[FieldDescription]) {
    let at = begin_message(out, ROW_DESCRIPTION);
    out.put_i16(
        check_count("RowDescription", "fields", fields.len()).expect("at most 32767 fields"),
    );
    for f in fields {
        put_cstr(out, &f.name);
        out.put_u32(f.table_oid);
        out.put_i16(f.column_id);
        out.put_u32(f.type_oid);
        out.put_i16(f.type_size);
        out.put_i32(f.type_modifier);
        out.put_i16(f.format);
    }
    finish_message(out, at);
}

/// Decodes a ParameterDescription body: the parameter type OIDs.
pub fn decode_parameter_description(body: &Bytes) -> Result<Vec<u32>, WireError> {
    let mut c = Cursor::new(body, "ParameterDescription");
    let n = c.count("parameter", 4)?;
    let mut types = Vec::with_capacity(n);
    for _ in 0..n {
        types.push(c.u32()?);
    }
    c.finish()?;
    Ok(types)
}

/// Appends a ParameterDescription message.
///
/// # Panics
/// With more than 32767 types, which the protocol cannot carry.
pub fn encode_parameter_description(out: &mut BytesMut, types: &[u32]) {
    let at = begin_message(out, PARAMETER_DESCRIPTION);
    out.put_i16(
        check_count("ParameterDescription", "types", types.len()).expect("at most 32767 types"),
    );
    for t in types {
        out.put_u32(*t);
    }
    finish_message(out, at);
}
