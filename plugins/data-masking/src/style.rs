//! Mask styles and how a masked value's replacement text is made.
//!
//! | style | replacement |
//! | --- | --- |
//! | `redact` | a fixed text, by default `<entity>` (`<email>`, `<card>` …) |
//! | `partial` | the last `keep` letters/digits kept, the others replaced by `mask_char`; separators kept (`**** **** **** 1111`) |
//! | `hash` | the first `length` hex digits of HMAC-SHA256(salt, normalised value) |
//! | `null` | the whole cell becomes SQL NULL |
//!
//! Hashing normalises first, so the same entity written two ways hashes
//! the same: e-mail addresses are lower-cased; cards, SSNs and phones keep
//! only their digits; IBANs keep only letters and digits, upper-cased.
//! Everything else hashes as written.
//!
//! In config a style is a name (`"partial"`) or an object with its options
//! (`{ "style": "partial", "keep": 2 }`); unknown names and options are
//! errors that list what is valid.

use crate::entity::Entity;
use crate::keyed_hash::KeyedHash;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;

pub const DEFAULT_KEEP: u32 = 4;
pub const DEFAULT_MASK_CHAR: char = '*';
pub const DEFAULT_HASH_LENGTH: u32 = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// A fixed text; `None` means `<entity>`.
    Redact {
        text: Option<String>,
    },
    Partial {
        keep: u32,
        mask_char: char,
    },
    Hash {
        length: u32,
    },
    Null,
}

impl Default for Style {
    fn default() -> Self {
        Style::Redact { text: None }
    }
}

impl Style {
    pub fn name(&self) -> &'static str {
        match self {
            Style::Redact { .. } => "redact",
            Style::Partial { .. } => "partial",
            Style::Hash { .. } => "hash",
            Style::Null => "null",
        }
    }

    /// What serde cannot check.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Style::Redact { text: Some(text) } if text.is_empty() || text.len() > 256 => {
                Err("redact `text` must be 1 to 256 bytes".into())
            }
            Style::Partial { keep, mask_char } => {
                if *keep > 64 {
                    return Err(format!("partial `keep` is {keep}; at most 64"));
                }
                if mask_char.is_control() || mask_char.is_alphanumeric() {
                    return Err(format!(
                        "partial `mask_char` {mask_char:?} must be a visible non-alphanumeric character"
                    ));
                }
                Ok(())
            }
            Style::Hash { length } if !(8..=64).contains(length) => Err(format!(
                "hash `length` is {length}; it must be 8 to 64 hex digits"
            )),
            _ => Ok(()),
        }
    }
}

const STYLE_NAMES: &[&str] = &["redact", "partial", "hash", "null"];

/// The object form of a style.
#[derive(Deserialize)]
#[serde(tag = "style", rename_all = "kebab-case", deny_unknown_fields)]
enum StyleObject {
    Redact {
        #[serde(default)]
        text: Option<String>,
    },
    Partial {
        #[serde(default)]
        keep: Option<u32>,
        #[serde(default)]
        mask_char: Option<char>,
    },
    Hash {
        #[serde(default)]
        length: Option<u32>,
    },
    Null {},
}

impl From<StyleObject> for Style {
    fn from(object: StyleObject) -> Self {
        match object {
            StyleObject::Redact { text } => Style::Redact { text },
            StyleObject::Partial { keep, mask_char } => Style::Partial {
                keep: keep.unwrap_or(DEFAULT_KEEP),
                mask_char: mask_char.unwrap_or(DEFAULT_MASK_CHAR),
            },
            StyleObject::Hash { length } => Style::Hash {
                length: length.unwrap_or(DEFAULT_HASH_LENGTH),
            },
            StyleObject::Null {} => Style::Null,
        }
    }
}

impl<'de> Deserialize<'de> for Style {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StyleVisitor;
        impl<'de> Visitor<'de> for StyleVisitor {
            type Value = Style;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a style name (redact, partial, hash, null) or an object with `style`")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Style, E> {
                Ok(match name {
                    "redact" => Style::Redact { text: None },
                    "partial" => Style::Partial {
                        keep: DEFAULT_KEEP,
                        mask_char: DEFAULT_MASK_CHAR,
                    },
                    "hash" => Style::Hash {
                        length: DEFAULT_HASH_LENGTH,
                    },
                    "null" => Style::Null,
                    other => return Err(E::unknown_variant(other, STYLE_NAMES)),
                })
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Style, M::Error> {
                StyleObject::deserialize(de::value::MapAccessDeserializer::new(map)).map(Into::into)
            }
        }
        deserializer.deserialize_any(StyleVisitor)
    }
}

/// Write the normalised form of `value` (see the module docs) to `out`.
pub fn normalise(entity: Option<Entity>, value: &[u8], out: &mut Vec<u8>) {
    out.clear();
    match entity {
        Some(Entity::Email) => out.extend(value.iter().map(u8::to_ascii_lowercase)),
        Some(Entity::Card | Entity::Ssn | Entity::Phone) => {
            out.extend(value.iter().copied().filter(u8::is_ascii_digit))
        }
        Some(Entity::Iban) => out.extend(
            value
                .iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .map(u8::to_ascii_uppercase),
        ),
        _ => out.extend_from_slice(value),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub fn push_hex(bytes: &[u8], digits: usize, out: &mut Vec<u8>) {
    for (i, b) in bytes.iter().enumerate() {
        if 2 * i < digits {
            out.push(HEX[(b >> 4) as usize]);
        }
        if 2 * i + 1 < digits {
            out.push(HEX[(b & 15) as usize]);
        }
    }
}

/// What a masked value is replaced by.
pub struct Render<'a> {
    pub hasher: Option<&'a KeyedHash>,
    /// Scratch for normalised values.
    pub scratch: &'a mut Vec<u8>,
}

impl Render<'_> {
    /// Append the replacement of `value` to `out`; `false` for `null`.
    pub fn text(
        &mut self,
        style: &Style,
        label_name: &str,
        entity: Option<Entity>,
        value: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        match style {
            Style::Redact { text: Some(text) } => out.extend_from_slice(text.as_bytes()),
            Style::Redact { text: None } => {
                out.push(b'<');
                out.extend_from_slice(label_name.as_bytes());
                out.push(b'>');
            }
            Style::Partial { keep, mask_char } => partial(value, *keep, *mask_char, out),
            Style::Hash { length } => {
                let mac = self.mac(entity, value);
                push_hex(&mac, *length as usize, out);
            }
            Style::Null => return false,
        }
        true
    }

    /// The keyed hash of the normalised value.
    pub fn mac(&mut self, entity: Option<Entity>, value: &[u8]) -> [u8; 32] {
        normalise(entity, value, self.scratch);
        // Validation refuses a hash style without a salt; if one got here
        // anyway, hashing with an empty key would be guessable: trap.
        let hasher = self
            .hasher
            .expect("data-masking: hash style without a salt (config was not validated)");
        hasher.mac(&[self.scratch])
    }
}

/// Keep the last `keep` letters/digits; mask the others; keep separators.
pub fn partial(value: &[u8], keep: u32, mask_char: char, out: &mut Vec<u8>) {
    let mut mask = [0u8; 4];
    let mask = mask_char.encode_utf8(&mut mask).as_bytes();
    match std::str::from_utf8(value) {
        Ok(text) => {
            let total = text.chars().filter(|c| c.is_alphanumeric()).count();
            let masked = total.saturating_sub(keep as usize);
            let mut seen = 0;
            for c in text.chars() {
                if c.is_alphanumeric() {
                    seen += 1;
                    if seen <= masked {
                        out.extend_from_slice(mask);
                        continue;
                    }
                }
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        Err(_) => {
            let total = value.iter().filter(|b| b.is_ascii_alphanumeric()).count();
            let masked = total.saturating_sub(keep as usize);
            let mut seen = 0;
            for &b in value {
                if b.is_ascii_alphanumeric() {
                    seen += 1;
                    if seen <= masked {
                        out.extend_from_slice(mask);
                        continue;
                    }
                }
                out.push(if b.is_ascii() { b } else { b'?' });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_keeps_the_last_characters_and_separators() {
        let mut out = Vec::new();
        partial(b"4111 1111 1111 1234", 4, '*', &mut out);
        assert_eq!(out, b"**** **** **** 1234");
        out.clear();
        partial("jürgen@x.de".as_bytes(), 2, '#', &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "######@#.de");
    }

    #[test]
    fn styles_parse_from_names_and_objects() {
        let parse = |s: &str| gatehouse_sdk::parse_config::<Style>(s);
        assert_eq!(parse(r#""null""#).unwrap(), Style::Null);
        assert_eq!(
            parse(r#"{"style": "partial", "keep": 2}"#).unwrap(),
            Style::Partial {
                keep: 2,
                mask_char: '*'
            }
        );
        assert_eq!(
            parse(r#"{"style": "hash"}"#).unwrap(),
            Style::Hash { length: 16 }
        );
        let err = parse(r#""mask""#).unwrap_err().to_string();
        assert!(
            err.contains("unknown variant `mask`") && err.contains("partial"),
            "{err}"
        );
        let err = parse(r#"{"style": "hash", "keep": 2}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `keep`"), "{err}");
    }

    #[test]
    fn normalised_values_hash_alike() {
        let key = KeyedHash::new(b"0123456789abcdef");
        let mut scratch = Vec::new();
        let mut render = Render {
            hasher: Some(&key),
            scratch: &mut scratch,
        };
        let a = render.mac(Some(Entity::Card), b"4111 1111 1111 1111");
        let b = render.mac(Some(Entity::Card), b"4111-1111-1111-1111");
        assert_eq!(a, b);
        let a = render.mac(Some(Entity::Email), b"Ann@Example.com");
        let b = render.mac(Some(Entity::Email), b"ann@example.com");
        assert_eq!(a, b);
    }
}
