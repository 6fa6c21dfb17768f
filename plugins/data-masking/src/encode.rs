//! Writing masked values so that they stay valid for their column's type
//! and wire format.
//!
//! * [`edit_spans`]: entities found inside a value are replaced in place;
//!   the replacement is escaped for the value's syntax (JSON, XML, array
//!   literal). An entity that is a bare JSON number becomes a JSON string.
//!   Opaque encodings, the `null` style, and anything that cannot be edited
//!   safely (a match cutting a JSON number in two) give NULL.
//! * [`whole`]: a column rule masks the whole value. What each type gets:
//!
//! | column type | `redact` / `partial` | `hash` | `null` |
//! | --- | --- | --- | --- |
//! | text, varchar, bpchar, name | the text | hex digits | NULL |
//! | json, jsonb | a JSON string | a JSON string of hex digits | NULL |
//! | xml | escaped text | hex digits | NULL |
//! | bytea | the text's bytes | the hex digits' bytes | NULL |
//! | int2, int4, int8 | NULL | a non-negative integer from the MAC | NULL |
//! | uuid | NULL | a UUID (version 8) from the MAC | NULL |
//! | unknown types, text format | the text | hex digits | NULL |
//! | anything else (numeric, dates, inet, arrays, unknown binary …) | NULL | NULL | NULL |
//!
//! Hashes of integers and UUIDs are taken over their text form, so a value
//! hashes the same whether it was sent as text or binary.

use crate::config::Policy;
use crate::detect::Span;
use crate::entity::Label;
use crate::plan::Encoding;
use crate::style::{Render, Style, push_hex};
use crate::types::TypeClass;

/// Scratch buffers reused across cells.
#[derive(Default)]
pub struct Buffers {
    pub replacement: Vec<u8>,
    pub normalised: Vec<u8>,
    pub canonical: Vec<u8>,
}

fn escape_json(text: &[u8], out: &mut Vec<u8>) {
    for &b in text {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                out.extend_from_slice(b"\\u00");
                push_hex(&[b], 2, out);
            }
            _ => out.push(b),
        }
    }
}

fn escape_xml(text: &[u8], out: &mut Vec<u8>) {
    for &b in text {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' => out.extend_from_slice(b"&apos;"),
            _ => out.push(b),
        }
    }
}

fn sanitise_array(text: &[u8], out: &mut Vec<u8>) {
    for &b in text {
        out.push(match b {
            b'{' | b'}' | b'"' | b',' | b'\\' => b'_',
            b if b.is_ascii_whitespace() => b'_',
            b => b,
        });
    }
}

#[inline]
fn json_number_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-')
}

/// Replace `spans` (sorted, non-overlapping) of `text` into `out`, or
/// `None` for NULL.
pub fn edit_spans(
    policy: &Policy,
    text: &[u8],
    spans: &[Span],
    encoding: Encoding,
    buffers: &mut Buffers,
    out: &mut Vec<u8>,
) -> Option<()> {
    let (text, encoding) = match encoding {
        Encoding::Opaque => return None,
        Encoding::JsonbBinary => {
            if text.first() != Some(&1) {
                return None;
            }
            out.push(1);
            (&text[1..], Encoding::Json)
        }
        other => (text, other),
    };
    let Buffers {
        replacement,
        normalised,
        ..
    } = buffers;
    let mut render = Render {
        hasher: policy.hasher.as_ref(),
        scratch: normalised,
    };
    // JSON string state, carried forward across spans.
    let (mut json_pos, mut in_string, mut escaped) = (0usize, false, false);
    let mut copied = 0usize;
    for span in spans {
        let (start, end) = (span.start as usize, span.end as usize);
        let style = policy.style_of(span.label);
        if matches!(style, Style::Null) {
            return None;
        }
        replacement.clear();
        render.text(
            style,
            policy.labels.name(span.label),
            span.label.builtin(),
            &text[start..end],
            replacement,
        );
        out.extend_from_slice(&text[copied..start]);
        match encoding {
            Encoding::Json => {
                for &b in &text[json_pos..start] {
                    if escaped {
                        escaped = false;
                    } else if in_string && b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = !in_string;
                    }
                }
                json_pos = start;
                if in_string {
                    escape_json(replacement, out);
                } else {
                    let whole_token = (start == 0 || !json_number_byte(text[start - 1]))
                        && text.get(end).is_none_or(|&b| !json_number_byte(b));
                    if !whole_token {
                        return None;
                    }
                    out.push(b'"');
                    escape_json(replacement, out);
                    out.push(b'"');
                }
            }
            Encoding::Xml => escape_xml(replacement, out),
            Encoding::Array => sanitise_array(replacement, out),
            _ => out.extend_from_slice(replacement),
        }
        copied = end;
    }
    out.extend_from_slice(&text[copied..]);
    Some(())
}

/// The text form of a binary value, for hashing (see module docs).
fn canonical<'a>(
    class: TypeClass,
    binary: bool,
    value: &'a [u8],
    buf: &'a mut Vec<u8>,
) -> &'a [u8] {
    if !binary {
        return value;
    }
    buf.clear();
    match (class, value.len()) {
        (TypeClass::Int2, 2) => {
            let v = i16::from_be_bytes([value[0], value[1]]);
            buf.extend_from_slice(v.to_string().as_bytes());
        }
        (TypeClass::Int4, 4) => {
            let v = i32::from_be_bytes(value.try_into().unwrap());
            buf.extend_from_slice(v.to_string().as_bytes());
        }
        (TypeClass::Int8, 8) => {
            let v = i64::from_be_bytes(value.try_into().unwrap());
            buf.extend_from_slice(v.to_string().as_bytes());
        }
        (TypeClass::Uuid, 16) => format_uuid(value, buf),
        (TypeClass::Jsonb, n) if n > 0 && value[0] == 1 => return &value[1..],
        _ => return value,
    }
    buf
}

fn format_uuid(bytes: &[u8], out: &mut Vec<u8>) {
    for (i, chunk) in [0..4, 4..6, 6..8, 8..10, 10..16].into_iter().enumerate() {
        if i > 0 {
            out.push(b'-');
        }
        push_hex(&bytes[chunk.clone()], chunk.len() * 2, out);
    }
}

/// Mask a whole value of a column of `class` into `out`, or `None` for
/// NULL (see the table in the module docs).
#[allow(clippy::too_many_arguments)]
pub fn whole(
    policy: &Policy,
    label: Label,
    style: usize,
    class: TypeClass,
    binary: bool,
    value: &[u8],
    buffers: &mut Buffers,
    out: &mut Vec<u8>,
) -> Option<()> {
    let style = &policy.styles[style];
    if matches!(style, Style::Null) {
        return None;
    }
    let Buffers {
        replacement,
        normalised,
        canonical: canonical_buf,
    } = buffers;
    let value = canonical(class, binary, value, canonical_buf);
    let mut render = Render {
        hasher: policy.hasher.as_ref(),
        scratch: normalised,
    };
    let entity = label.builtin();
    match class {
        TypeClass::Int2 | TypeClass::Int4 | TypeClass::Int8 => {
            let Style::Hash { .. } = style else {
                return None;
            };
            let mac = render.mac(entity, value);
            let raw = u64::from_be_bytes(mac[..8].try_into().unwrap());
            match class {
                TypeClass::Int2 => {
                    let v = (raw & 0x7fff) as i16;
                    if binary {
                        out.extend_from_slice(&v.to_be_bytes());
                    } else {
                        out.extend_from_slice(v.to_string().as_bytes());
                    }
                }
                TypeClass::Int4 => {
                    let v = (raw & 0x7fff_ffff) as i32;
                    if binary {
                        out.extend_from_slice(&v.to_be_bytes());
                    } else {
                        out.extend_from_slice(v.to_string().as_bytes());
                    }
                }
                _ => {
                    let v = (raw & 0x7fff_ffff_ffff_ffff) as i64;
                    if binary {
                        out.extend_from_slice(&v.to_be_bytes());
                    } else {
                        out.extend_from_slice(v.to_string().as_bytes());
                    }
                }
            }
        }
        TypeClass::Uuid => {
            let Style::Hash { .. } = style else {
                return None;
            };
            let mut bytes: [u8; 16] = render.mac(entity, value)[..16].try_into().unwrap();
            bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8: custom
            bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
            if binary {
                out.extend_from_slice(&bytes);
            } else {
                format_uuid(&bytes, out);
            }
        }
        TypeClass::Text
        | TypeClass::Json
        | TypeClass::Jsonb
        | TypeClass::Xml
        | TypeClass::Bytea => {
            replacement.clear();
            render.text(style, policy.labels.name(label), entity, value, replacement);
            match class {
                TypeClass::Json | TypeClass::Jsonb => {
                    if class == TypeClass::Jsonb && binary {
                        out.push(1);
                    }
                    out.push(b'"');
                    escape_json(replacement, out);
                    out.push(b'"');
                }
                TypeClass::Xml => escape_xml(replacement, out),
                TypeClass::Bytea if !binary => {
                    out.extend_from_slice(b"\\x");
                    push_hex(replacement, replacement.len() * 2, out);
                }
                _ => out.extend_from_slice(replacement),
            }
        }
        TypeClass::Unknown if !binary => {
            render.text(style, policy.labels.name(label), entity, value, out);
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::entity::Entity;

    fn policy(json: &str) -> Policy {
        let config: Config = gatehouse_sdk::parse_config(json).unwrap();
        config.policy().unwrap()
    }

    fn edit(
        policy: &Policy,
        text: &str,
        spans: &[(usize, usize, Entity)],
        encoding: Encoding,
    ) -> Option<String> {
        let spans: Vec<Span> = spans
            .iter()
            .map(|&(s, e, entity)| Span::new(s, e, entity.label()))
            .collect();
        let mut out = Vec::new();
        edit_spans(
            policy,
            text.as_bytes(),
            &spans,
            encoding,
            &mut Buffers::default(),
            &mut out,
        )?;
        Some(String::from_utf8(out).unwrap())
    }

    #[test]
    fn spans_are_replaced_with_escaping() {
        let p = policy(r#"{"styles": {"email": {"style": "redact", "text": "a\"<b>"}}}"#);
        let e = Entity::Email;
        assert_eq!(
            edit(&p, "to x@y.io!", &[(3, 9, e)], Encoding::Plain).unwrap(),
            "to a\"<b>!"
        );
        assert_eq!(
            edit(&p, r#"{"m": "x@y.io"}"#, &[(7, 13, e)], Encoding::Json).unwrap(),
            r#"{"m": "a\"<b>"}"#
        );
        assert_eq!(
            edit(&p, "<m>x@y.io</m>", &[(3, 9, e)], Encoding::Xml).unwrap(),
            "<m>a&quot;&lt;b&gt;</m>"
        );
        assert_eq!(
            edit(&p, "{x@y.io,b}", &[(1, 7, e)], Encoding::Array).unwrap(),
            "{a_<b>,b}"
        );
        assert_eq!(edit(&p, "x@y.io", &[(0, 6, e)], Encoding::Opaque), None);
    }

    #[test]
    fn json_numbers_become_strings() {
        let p = policy("{}");
        let c = Entity::Card;
        assert_eq!(
            edit(
                &p,
                r#"{"c": 4111111111111111}"#,
                &[(6, 22, c)],
                Encoding::Json
            )
            .unwrap(),
            r#"{"c": "<card>"}"#
        );
        // A match inside a longer number cannot be edited safely.
        assert_eq!(
            edit(&p, "[14111111111111111]", &[(2, 18, c)], Encoding::Json),
            None
        );
        let mut out = Vec::new();
        let spans = [Span::new(6, 12, Entity::Email.label())];
        edit_spans(
            &p,
            b"\x01{\"a\":\"x@y.io\"}",
            &spans,
            Encoding::JsonbBinary,
            &mut Buffers::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, b"\x01{\"a\":\"<email>\"}");
    }

    #[test]
    fn null_style_nulls_the_cell() {
        let p = policy(r#"{"styles": {"email": "null"}}"#);
        assert_eq!(
            edit(&p, "x@y.io", &[(0, 6, Entity::Email)], Encoding::Plain),
            None
        );
    }

    fn masked_whole(p: &Policy, class: TypeClass, binary: bool, value: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        whole(
            p,
            Label(0),
            p.label_style[0],
            class,
            binary,
            value,
            &mut Buffers::default(),
            &mut out,
        )?;
        Some(out)
    }

    #[test]
    fn whole_values_keep_their_type() {
        let p = policy(r#"{"style": "hash", "salt": "0123456789abcdef0123"}"#);
        let text = masked_whole(&p, TypeClass::Int8, false, b"42").unwrap();
        let binary = masked_whole(&p, TypeClass::Int8, true, &42i64.to_be_bytes()).unwrap();
        let n: i64 = std::str::from_utf8(&text).unwrap().parse().unwrap();
        assert!(n >= 0);
        assert_eq!(binary, n.to_be_bytes(), "text and binary hash alike");
        let uuid = masked_whole(
            &p,
            TypeClass::Uuid,
            false,
            b"550e8400-e29b-41d4-a716-446655440000",
        )
        .unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid[14], b'8');
        let json = masked_whole(&p, TypeClass::Jsonb, true, b"\x01{\"a\": 1}").unwrap();
        assert_eq!(json[0], 1);
        assert_eq!(json.len(), 1 + 16 + 2);
        assert_eq!(
            masked_whole(&p, TypeClass::NoEntities, false, b"12.5"),
            None
        );

        let p = policy("{}");
        assert_eq!(masked_whole(&p, TypeClass::Int4, true, &[0, 0, 0, 1]), None);
        assert_eq!(
            masked_whole(&p, TypeClass::Text, false, b"x").unwrap(),
            b"<email>"
        );
        assert_eq!(
            masked_whole(&p, TypeClass::Bytea, false, b"x").unwrap(),
            b"\\x3c656d61696c3e"
        );
        assert_eq!(masked_whole(&p, TypeClass::Unknown, true, b"x"), None);
    }
}
