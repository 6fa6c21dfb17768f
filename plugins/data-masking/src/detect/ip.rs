//! IP addresses.
//!
//! * **IPv4**: four dotted decimal octets 0–255 without leading zeros,
//!   optionally with a `/prefix` (0–32). Not glued to letters, `_` or
//!   another dotted number: `v1.2.3.4`, `1.2.3.4.5`, `10.0.19041.1` and
//!   `1.2.3` are versions, not addresses.
//! * **IPv6**: a maximal run of hex digits, `:` and `.` holding at least two
//!   colons, that the standard library parses as an IPv6 address (all the
//!   RFC 4291 forms, `::` compression and an embedded IPv4 tail), optionally
//!   with a `/prefix`. Times (`12:30:45`), MAC addresses and `Foo::bar` paths
//!   do not parse or are glued to letters.

use super::Span;
use crate::entity::Entity;
use std::net::Ipv6Addr;
use std::str::FromStr;

#[inline]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// A decimal octet at `i`: (value, end).
fn octet(text: &[u8], i: usize) -> Option<(u32, usize)> {
    let mut j = i;
    let mut v = 0u32;
    while j < text.len() && j - i < 3 && text[j].is_ascii_digit() {
        v = v * 10 + (text[j] - b'0') as u32;
        j += 1;
    }
    let len = j - i;
    if len == 0 || v > 255 || (len > 1 && text[i] == b'0') {
        return None;
    }
    if text.get(j).is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((v, j))
}

/// A `/prefix` of at most `max` at `i`: its end.
fn prefix_end(text: &[u8], i: usize, max: u32) -> Option<usize> {
    if text.get(i) != Some(&b'/') {
        return None;
    }
    let digits = text[i + 1..]
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let value: u32 = std::str::from_utf8(&text[i + 1..i + 1 + digits])
        .ok()?
        .parse()
        .ok()?;
    (value <= max).then_some(i + 1 + digits)
}

fn v4_at(text: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for k in 0..4 {
        if k > 0 {
            if text.get(j) != Some(&b'.') {
                return None;
            }
            j += 1;
        }
        j = octet(text, j)?.1;
    }
    let end = prefix_end(text, j, 32).unwrap_or(j);
    let after_ok = match text.get(end) {
        None => true,
        Some(&b) if is_word(b) => false,
        Some(b'.') => !text.get(end + 1).is_some_and(|b| b.is_ascii_digit()),
        Some(_) => true,
    };
    after_ok.then_some(end)
}

pub fn find_v4(text: &[u8], out: &mut Vec<Span>) {
    let n = text.len();
    let mut i = 0;
    while i + 7 <= n {
        let b = text[i];
        if !b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let glued = i > 0 && (is_word(text[i - 1]) || text[i - 1] == b'.');
        if !glued && let Some(end) = v4_at(text, i) {
            out.push(Span::new(i, end, Entity::Ipv4.label()));
            i = end;
            continue;
        }
        // Skip the rest of this number.
        while i < n && (text[i].is_ascii_digit() || text[i] == b'.') {
            i += 1;
        }
    }
}

#[inline]
fn is_v6(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

pub fn find_v6(text: &[u8], out: &mut Vec<Span>) {
    let n = text.len();
    let mut from = 0;
    while let Some(offset) = text[from..].iter().position(|&b| b == b':') {
        let colon = from + offset;
        let mut start = colon;
        while start > 0 && is_v6(text[start - 1]) {
            start -= 1;
        }
        let mut end = colon;
        while end < n && is_v6(text[end]) {
            end += 1;
        }
        from = end.max(colon + 1);
        // A sentence's full stop or a trailing label colon is not part of it.
        while end > start && matches!(text[end - 1], b'.' | b':') && !text[..end].ends_with(b"::") {
            end -= 1;
        }
        let glued_left = start > 0 && is_word(text[start - 1]);
        let glued_right = end < n && is_word(text[end]);
        let candidate = &text[start..end];
        if glued_left
            || glued_right
            || candidate.iter().filter(|&&b| b == b':').count() < 2
            || candidate.len() < 3
        {
            continue;
        }
        let Ok(s) = std::str::from_utf8(candidate) else {
            continue;
        };
        if Ipv6Addr::from_str(s).is_ok() {
            let end = prefix_end(text, end, 128).unwrap_or(end);
            if text.get(end).is_some_and(|&b| is_word(b)) {
                continue;
            }
            out.push(Span::new(start, end, Entity::Ipv6.label()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find_v4(text.as_bytes(), &mut out);
        out.iter()
            .map(|s| &text[s.start as usize..s.end as usize])
            .collect()
    }

    fn v6(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find_v6(text.as_bytes(), &mut out);
        out.iter()
            .map(|s| &text[s.start as usize..s.end as usize])
            .collect()
    }

    #[test]
    fn ipv4() {
        assert_eq!(v4("from 192.168.1.10."), ["192.168.1.10"]);
        assert_eq!(v4("10.0.0.0/8, 8.8.8.8"), ["10.0.0.0/8", "8.8.8.8"]);
        assert_eq!(v4("10.0.0.1-10.0.0.5"), ["10.0.0.1", "10.0.0.5"]);
        assert_eq!(v4("host 10.1.2.3:5432"), ["10.1.2.3"]);
        for s in [
            "v1.2.3.4",
            "1.2.3.4.5",
            "10.0.19041.1",
            "1.2.3",
            "256.1.1.1",
            "01.2.3.4",
            "6.2.9200.16384",
            "a1.2.3.4",
        ] {
            assert!(v4(s).is_empty(), "{s}: {:?}", v4(s));
        }
    }

    #[test]
    fn ipv6() {
        assert_eq!(v6("2001:db8::1"), ["2001:db8::1"]);
        assert_eq!(
            v6("addr fe80::1ff:fe23:4567:890a."),
            ["fe80::1ff:fe23:4567:890a"]
        );
        assert_eq!(
            v6("89d9:bf02:67:dba8:5898:9009:6a17:b9af"),
            ["89d9:bf02:67:dba8:5898:9009:6a17:b9af"]
        );
        assert_eq!(v6("::ffff:192.0.2.1"), ["::ffff:192.0.2.1"]);
        assert_eq!(v6("net 2001:db8::/32"), ["2001:db8::/32"]);
        for s in [
            "12:30:45",
            "2024-01-15T12:30:45Z",
            "00:1A:2B:3C:4D:5E",
            "std::vec::Vec",
            "Foo::bar",
            "a:b",
        ] {
            assert!(v6(s).is_empty(), "{s}: {:?}", v6(s));
        }
    }
}
