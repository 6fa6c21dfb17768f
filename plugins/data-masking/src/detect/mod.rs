//! Finding entities in one cell's bytes.
//!
//! [`scan`] runs the detectors a column's plan enabled over a value and
//! leaves non-overlapping [`Span`]s, sorted by position, in a caller-owned
//! vector (cleared first; no allocation once it has grown).
//!
//! Cost control, per cell:
//! 1. one pass over the bytes ORs a class bit per byte ([`byte_classes`]):
//!    `@`, digit, `:`, `.`, `-`, `=`, upper-case letter;
//! 2. each detector runs only if the classes it needs are present (no `@`:
//!    no e-mail scan; no digit: no card/SSN/phone/IBAN/IPv4 scan …), so a
//!    name or a status word costs the class pass and nothing else;
//! 3. detectors are hand-written scanners with validators (Luhn, mod-97,
//!    SSN ranges, JWT header); regexes are only used for admins' custom
//!    entities and deny lists.
//!
//! Overlaps: detectors run in priority order (private key, JWT, API key,
//! e-mail, IBAN, IPv6, IPv4, card/SSN/phone, custom entities, deny lists)
//! and a span overlapping an earlier one is dropped.
//!
//! Detectors match ASCII structure, so spans start and end on UTF-8
//! character boundaries of valid UTF-8 input; custom patterns run on
//! bytes (`regex::bytes`), which keeps them on boundaries too.

pub mod email;
pub mod iban;
pub mod ip;
pub mod numbers;
pub mod secrets;

use crate::entity::{Entity, Label};

/// An entity found in a value: bytes `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
    pub label: Label,
}

impl Span {
    pub fn new(start: usize, end: usize, label: Label) -> Self {
        Self {
            start: start as u32,
            end: end as u32,
            label,
        }
    }

    fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

const AT: u8 = 1;
const DIGIT: u8 = 2;
const COLON: u8 = 4;
const DOT: u8 = 8;
const DASH: u8 = 16;
const UPPER: u8 = 32;
const EQ: u8 = 64;

const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    t[b'@' as usize] = AT;
    t[b':' as usize] = COLON;
    t[b'.' as usize] = DOT;
    t[b'-' as usize] = DASH;
    t[b'=' as usize] = EQ;
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = DIGIT;
        d += 1;
    }
    let mut u = b'A';
    while u <= b'Z' {
        t[u as usize] = UPPER;
        u += 1;
    }
    t
}

static CLASSES: [u8; 256] = class_table();

/// The classes of bytes present in `text`.
#[inline]
pub fn byte_classes(text: &[u8]) -> u8 {
    let mut flags = 0u8;
    for chunk in text.chunks(16) {
        for &b in chunk {
            flags |= CLASSES[b as usize];
        }
        if flags == AT | DIGIT | COLON | DOT | DASH | UPPER | EQ {
            break;
        }
    }
    flags
}

/// Admins' patterns, compiled: (label, regex), in config order.
pub type Patterns = [(Label, regex::bytes::Regex)];

/// Whether `set` enables `entity`.
#[inline]
fn on(set: u64, entity: Entity) -> bool {
    set & entity.label().bit() != 0
}

/// Find the entities of `set` in `text` into `out` (cleared first).
pub fn scan(text: &[u8], set: u64, patterns: &Patterns, out: &mut Vec<Span>) {
    out.clear();
    if text.is_empty() {
        return;
    }
    let flags = byte_classes(text);
    let has = |f: u8| flags & f != 0;
    if on(set, Entity::PrivateKey) && has(DASH) && text.len() >= 30 {
        secrets::find_private_keys(text, out);
    }
    if on(set, Entity::Jwt) && has(DOT) && text.len() >= 30 {
        secrets::find_jwts(text, out);
    }
    if on(set, Entity::ApiKey) && text.len() >= 16 {
        secrets::find_api_keys(text, has(COLON | EQ), out);
    }
    if on(set, Entity::Email) && has(AT) {
        email::find(text, out);
    }
    if on(set, Entity::Iban) && has(DIGIT) && has(UPPER) {
        iban::find(text, out);
    }
    if on(set, Entity::Ipv6) && has(COLON) {
        ip::find_v6(text, out);
    }
    if has(DIGIT) {
        if on(set, Entity::Ipv4) && has(DOT) {
            ip::find_v4(text, out);
        }
        let (card, ssn, phone) = (
            on(set, Entity::Card),
            on(set, Entity::Ssn),
            on(set, Entity::Phone),
        );
        if card || ssn || phone {
            numbers::find(text, card, ssn, phone, out);
        }
    }
    for (label, regex) in patterns {
        if set & label.bit() == 0 {
            continue;
        }
        for m in regex.find_iter(text) {
            if m.start() < m.end() {
                out.push(Span::new(m.start(), m.end(), *label));
            }
        }
    }
    resolve_overlaps(out);
}

/// Keep the earliest-found span of overlapping ones; sort by position.
fn resolve_overlaps(spans: &mut Vec<Span>) {
    if spans.len() < 2 {
        return;
    }
    let mut kept = 0;
    for i in 0..spans.len() {
        let span = spans[i];
        if spans[..kept].iter().all(|k| !k.overlaps(&span)) {
            spans[kept] = span;
            kept += 1;
        }
    }
    spans.truncate(kept);
    spans.sort_unstable_by_key(|s| s.start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::BUILTIN_COUNT;

    fn all() -> u64 {
        (1u64 << BUILTIN_COUNT) - 1
    }

    fn found(text: &str) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        scan(text.as_bytes(), all(), &[], &mut out);
        out.iter()
            .map(|s| {
                (
                    Entity::ALL[s.label.index()].name(),
                    &text[s.start as usize..s.end as usize],
                )
            })
            .collect()
    }

    #[test]
    fn mixed_text() {
        assert_eq!(
            found(
                "Ann <ann@example.com>, +44 20 7946 0958, card 4111 1111 1111 1111 from 10.1.2.3"
            ),
            [
                ("email", "ann@example.com"),
                ("phone", "+44 20 7946 0958"),
                ("card", "4111 1111 1111 1111"),
                ("ipv4", "10.1.2.3"),
            ]
        );
        assert_eq!(found("::ffff:192.0.2.1"), [("ipv6", "::ffff:192.0.2.1")]);
        assert!(found("Alice Johnson").is_empty());
    }

    #[test]
    fn disabled_detectors_find_nothing() {
        let mut out = Vec::new();
        scan(
            b"ann@example.com 4111111111111111",
            Entity::Card.label().bit(),
            &[],
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].label, Entity::Card.label());
    }

    #[test]
    fn byte_classes_see_everything() {
        assert_eq!(byte_classes(b"abc"), 0);
        assert_eq!(byte_classes(b"a@b"), AT);
        assert_eq!(byte_classes(b"Z9:.-"), UPPER | DIGIT | COLON | DOT | DASH);
    }
}
