//! E-mail addresses, found from each `@`.
//!
//! Local part: letters, digits, `.`, `_`, `%`, `+`, `-`, `'` and any
//! non-ASCII (internationalised addresses), 1–64 bytes, starting with a
//! letter or digit (leading punctuation such as a quote is left out) and
//! not ending with `.`. Domain: at least two labels of letters, digits and
//! `-` (non-ASCII allowed), no label starting with `-`; the last label (the
//! TLD) is at least two letters or a punycode `xn--` label. A trailing
//! sentence `.` is not part of the address.
//!
//! Look-alikes refused: `user@host` (no TLD), `pkg@1.2.3` (numeric TLD),
//! `@mention`, `logo@2x.png` (a file extension is not a TLD).

use super::Span;
use crate::entity::Entity;

#[inline]
fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'') || b >= 0x80
}

#[inline]
fn is_label(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Extensions seen after `@2x`-style file names that are not TLDs.
const FILE_EXTENSIONS: &[&[u8]] = &[
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"bmp", b"ico", b"tif", b"tiff", b"js",
    b"mjs", b"css", b"ts", b"tsx", b"jsx", b"map", b"html", b"htm", b"json", b"xml", b"yml",
    b"yaml", b"md", b"txt", b"log", b"csv", b"pdf", b"woff", b"woff2", b"ttf", b"mp4", b"mp3",
    b"wav",
];

/// The end of the domain starting at `start`, if it is a plausible one.
fn domain_end(text: &[u8], start: usize) -> Option<usize> {
    let n = text.len();
    let mut j = start;
    let mut label_start = start;
    let mut last_label = (start, start);
    let mut labels = 0;
    loop {
        while j < n && (is_label(text[j]) || (text[j] == b'-' && j > label_start)) {
            j += 1;
        }
        // Trailing hyphens are not part of a label.
        let mut end = j;
        while end > label_start && text[end - 1] == b'-' {
            end -= 1;
        }
        if end == label_start || end - label_start > 63 {
            break;
        }
        labels += 1;
        last_label = (label_start, end);
        if end == j && j + 1 < n && text[j] == b'.' && is_label(text[j + 1]) {
            j += 1;
            label_start = j;
            continue;
        }
        break;
    }
    let (tld_start, end) = last_label;
    if labels < 2 || end - start > 253 {
        return None;
    }
    let tld = &text[tld_start..end];
    let punycode = tld.len() > 4 && tld[..4].eq_ignore_ascii_case(b"xn--");
    let alphabetic = tld.len() >= 2 && tld.iter().all(|&b| b.is_ascii_alphabetic() || b >= 0x80);
    if !(punycode || alphabetic) {
        return None;
    }
    if labels == 2
        && FILE_EXTENSIONS
            .iter()
            .any(|ext| ext.eq_ignore_ascii_case(tld))
    {
        return None;
    }
    Some(end)
}

pub fn find(text: &[u8], out: &mut Vec<Span>) {
    let n = text.len();
    let mut from = 0;
    while let Some(offset) = text[from..].iter().position(|&b| b == b'@') {
        let at = from + offset;
        from = at + 1;
        if at == 0 || at + 1 >= n {
            continue;
        }
        let mut start = at;
        while start > 0 && at - start < 80 && is_local(text[start - 1]) {
            start -= 1;
        }
        while start < at && !(text[start].is_ascii_alphanumeric() || text[start] >= 0x80) {
            start += 1;
        }
        if start == at || at - start > 64 || text[at - 1] == b'.' {
            continue;
        }
        if start > 0 && (text[start - 1].is_ascii_alphanumeric() || text[start - 1] == b'@') {
            // The local part ran past 80 bytes or into another address.
            continue;
        }
        let Some(end) = domain_end(text, at + 1) else {
            continue;
        };
        out.push(Span::new(start, end, Entity::Email.label()));
        from = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find(text.as_bytes(), &mut out);
        out.iter()
            .map(|s| &text[s.start as usize..s.end as usize])
            .collect()
    }

    #[test]
    fn addresses() {
        assert_eq!(found("ann@example.com"), ["ann@example.com"]);
        assert_eq!(
            found("Mail 'j.o-e+tag@mail.sub.example.co.uk'."),
            ["j.o-e+tag@mail.sub.example.co.uk"]
        );
        assert_eq!(found("<bob@x.org>, eve@y.io"), ["bob@x.org", "eve@y.io"]);
        assert_eq!(found("jürgen@müller.de"), ["jürgen@müller.de"]);
        assert_eq!(
            found(r#"{"email":"a_b@ex-ample.net"}"#),
            ["a_b@ex-ample.net"]
        );
        assert_eq!(found("x@xn--bcher-kva.ch"), ["x@xn--bcher-kva.ch"]);
    }

    #[test]
    fn look_alikes() {
        for s in [
            "user@localhost",
            "lodash@4.17.21",
            "@mention",
            "logo@2x.png",
            "price @ 5.00",
            "a@b",
            "a.@b.com",
            "x@-a.com",
        ] {
            assert!(found(s).is_empty(), "{s}: {:?}", found(s));
        }
    }
}
