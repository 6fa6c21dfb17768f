//! IBANs (ISO 13616): a country code, two check digits and the BBAN, of the
//! exact length registered for the country, written compact
//! (`DE89370400440532013000`) or in groups of four
//! (`DE89 3704 0044 0532 0130 00`), with the mod-97 checksum equal to 1.
//! Upper-case letters only, as IBANs are printed.

use super::Span;
use crate::entity::Entity;

/// Registered IBAN lengths by country (SWIFT IBAN registry).
const LENGTHS: &[(&[u8; 2], u8)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

pub fn length_for(country: &[u8]) -> Option<usize> {
    LENGTHS
        .iter()
        .find(|(cc, _)| &cc[..] == country)
        .map(|&(_, len)| len as usize)
}

/// The ISO 7064 mod-97 checksum of a compact IBAN is 1.
pub fn checksum_ok(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let mut r = 0u32;
    for &b in iban[4..].iter().chain(&iban[..4]) {
        r = match b {
            b'0'..=b'9' => (r * 10 + (b - b'0') as u32) % 97,
            b'A'..=b'Z' => (r * 100 + (b - b'A' + 10) as u32) % 97,
            _ => return false,
        };
    }
    r == 1
}

#[inline]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The IBAN starting at `i` (already known to be `LLdd`): its end.
fn at(text: &[u8], i: usize) -> Option<usize> {
    let len = length_for(&text[i..i + 2])?;
    let mut compact = [0u8; 34];
    let mut count = 0;
    let mut j = i;
    while count < len && j < text.len() {
        let b = text[j];
        if b.is_ascii_digit() || b.is_ascii_uppercase() {
            compact[count] = b;
            count += 1;
            j += 1;
        } else if b == b' ' && count % 4 == 0 && count > 0 {
            j += 1;
        } else {
            return None;
        }
    }
    if count != len || text.get(j).is_some_and(|&b| is_word(b)) {
        return None;
    }
    checksum_ok(&compact[..len]).then_some(j)
}

pub fn find(text: &[u8], out: &mut Vec<Span>) {
    let n = text.len();
    if n < 15 {
        return;
    }
    let mut i = 0;
    while i + 4 <= n {
        let candidate = text[i].is_ascii_uppercase()
            && text[i + 1].is_ascii_uppercase()
            && text[i + 2].is_ascii_digit()
            && text[i + 3].is_ascii_digit()
            && (i == 0 || !is_word(text[i - 1]));
        if candidate && let Some(end) = at(text, i) {
            out.push(Span::new(i, end, Entity::Iban.label()));
            i = end;
            continue;
        }
        i += 1;
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
    fn ibans() {
        assert_eq!(found("DE89370400440532013000"), ["DE89370400440532013000"]);
        assert_eq!(
            found("IBAN: DE89 3704 0044 0532 0130 00."),
            ["DE89 3704 0044 0532 0130 00"]
        );
        assert_eq!(found("GB82WEST12345698765432"), ["GB82WEST12345698765432"]);
        assert_eq!(found("NL91ABNA0417164300"), ["NL91ABNA0417164300"]);
        // Wrong check digits, wrong length, glued to a word.
        assert!(found("DE88370400440532013000").is_empty());
        assert!(found("DE8937040044053201300").is_empty());
        assert!(found("XDE89370400440532013000").is_empty());
        assert!(found("DE89370400440532013000X").is_empty());
    }
}
