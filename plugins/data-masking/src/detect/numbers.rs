//! Digit-run entities: payment cards, US SSNs and phone numbers.
//!
//! One pass finds *candidates*: a digit run, optionally led by `+` or `(`,
//! continued across short separator runs (` `, `-`, `.`, `(`, `)`) while a
//! digit follows. Each candidate is then classified once, in priority
//! order card → SSN → phone, so a digit string is never two entities.
//!
//! * **card**: 12–19 digits, written bare or in the printed groupings
//!   (4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3 …) with one separator kind, an
//!   issuer prefix whose length fits (Visa, Mastercard, Amex, Discover,
//!   JCB, Diners, UnionPay, Maestro, Mir), and a valid Luhn check digit.
//! * **ssn**: `AAA-GG-SSSS` or `AAA GG SSSS` with a valid area (001–899, not
//!   666), group (01–99) and serial (0001–9999). Nine bare digits are not
//!   taken for an SSN (they are as often an order or account number): mask
//!   such columns by name with a column rule.
//! * **phone**: E.164 (`+` and 8–15 digits); an international `00` prefix;
//!   a parenthesised area code; a national trunk `0` (UK, DE, FR, NL, ES …
//!   groupings); North American 3-3-4 with separators; Spanish nine-digit
//!   3-3-3 / 3-2-2-2. An extension (`x123`, `ext. 123`) is part of the
//!   match. Bare digit strings without `+`, `0` or grouping are not taken
//!   (order numbers look the same); neither are mobiles written like
//!   Italy's bare `3420837783`.
//!
//! Boundaries keep look-alikes out: a candidate glued to letters or to a
//! token (`ORD-1234…`, `v1.2`, `#1001`, `A1B2`), followed by `:` and a digit
//! (times), `@` (e-mail), `%`, or `,`/`-` and a digit (prices, ranges), is
//! no entity. A phone's last group has at least two digits (ISBNs end in a
//! one-digit check group).

use super::Span;
use crate::entity::Entity;

const MAX_DIGITS: usize = 24;
const MAX_GROUPS: usize = 8;

const SEP_SPACE: u8 = 1;
const SEP_DASH: u8 = 2;
const SEP_DOT: u8 = 4;
const SEP_PAREN: u8 = 8;

struct Candidate {
    start: usize,
    end: usize,
    digits: [u8; MAX_DIGITS],
    nd: usize,
    groups: [u8; MAX_GROUPS],
    ng: usize,
    plus: bool,
    seps: u8,
    /// A `)` inside the number (an area code in parentheses).
    closed: bool,
    overflow: bool,
}

impl Candidate {
    fn digits(&self) -> &[u8] {
        &self.digits[..self.nd.min(MAX_DIGITS)]
    }

    fn groups(&self) -> &[u8] {
        &self.groups[..self.ng.min(MAX_GROUPS)]
    }

    /// One separator kind, space or dash (how cards and SSNs are printed).
    fn plain_separators(&self) -> bool {
        self.seps == SEP_SPACE || self.seps == SEP_DASH
    }
}

#[inline]
fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// May a number start at `i`? Not inside a word or a token.
fn left_ok(text: &[u8], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let p = text[i - 1];
    if is_alnum(p) || p == b'#' || p == b'$' || p == b'+' {
        return false;
    }
    if matches!(p, b'-' | b'.' | b'/' | b',' | b'_') && i >= 2 && is_alnum(text[i - 2]) {
        return false;
    }
    true
}

fn scan(text: &[u8], start: usize) -> Candidate {
    let n = text.len();
    let mut c = Candidate {
        start,
        end: start,
        digits: [0; MAX_DIGITS],
        nd: 0,
        groups: [0; MAX_GROUPS],
        ng: 0,
        plus: false,
        seps: 0,
        closed: false,
        overflow: false,
    };
    let mut j = start;
    if text[j] == b'+' {
        c.plus = true;
        j += 1;
    } else if text[j] == b'(' {
        c.seps |= SEP_PAREN;
        j += 1;
        if j < n && text[j] == b'+' {
            c.plus = true;
            j += 1;
        }
    }
    loop {
        let run = j;
        while j < n && text[j].is_ascii_digit() {
            if c.nd < MAX_DIGITS {
                c.digits[c.nd] = text[j];
            }
            c.nd += 1;
            j += 1;
        }
        let len = j - run;
        if len == 0 {
            break;
        }
        if c.ng < MAX_GROUPS {
            c.groups[c.ng] = len.min(255) as u8;
        } else {
            c.overflow = true;
        }
        c.ng += 1;
        c.end = j;
        // A short separator run continues the number if a digit follows.
        let mut k = j;
        let mut kinds = 0u8;
        while k < n && k - j < 3 {
            let kind = match text[k] {
                b' ' => SEP_SPACE,
                b'-' => SEP_DASH,
                b'.' => SEP_DOT,
                b'(' | b')' => SEP_PAREN,
                _ => break,
            };
            kinds |= kind;
            k += 1;
        }
        if k > j && k < n && text[k].is_ascii_digit() && c.nd < 40 {
            c.seps |= kinds;
            c.closed |= text[j..k].contains(&b')');
            j = k;
        } else {
            break;
        }
    }
    c.overflow |= c.nd > MAX_DIGITS;
    c
}

/// Nothing after the number that makes it part of something else.
fn right_ok(text: &[u8], end: usize) -> bool {
    let Some(&next) = text.get(end) else {
        return true;
    };
    let after = text.get(end + 1).copied().unwrap_or(b' ');
    if is_alnum(next) || next == b'@' || next == b'%' {
        return false;
    }
    if matches!(next, b':' | b',' | b'-' | b'/') && after.is_ascii_digit() {
        return false;
    }
    if matches!(next, b'-' | b'/' | b'.') && is_alnum(after) {
        return false;
    }
    true
}

/// The end of a phone extension (`x123`, ` ext. 123`, `#123`) at `end`.
fn extension_end(text: &[u8], end: usize) -> Option<usize> {
    let rest = &text[end..];
    let lead = [
        &b"x"[..],
        b" x",
        b" x ",
        b"ext",
        b"ext.",
        b" ext",
        b" ext.",
        b" ext ",
        b" ext. ",
    ];
    let mut best = None;
    for l in lead {
        if rest.len() > l.len() && rest[..l.len()].eq_ignore_ascii_case(l) {
            let digits = rest[l.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if (1..=6).contains(&digits) {
                let e = end + l.len() + digits;
                if best.is_none_or(|b| e > b) {
                    best = Some(e);
                }
            }
        }
    }
    best.filter(|&e| text.get(e).is_none_or(|&b| !is_alnum(b)))
}

pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = (d - b'0') as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn prefix(digits: &[u8], n: usize) -> u32 {
    digits[..n]
        .iter()
        .fold(0, |acc, d| acc * 10 + (d - b'0') as u32)
}

/// An issuer prefix whose card length fits.
pub fn issuer_ok(d: &[u8]) -> bool {
    let len = d.len();
    if !(12..=19).contains(&len) {
        return false;
    }
    let (p1, p2, p3, p4) = (prefix(d, 1), prefix(d, 2), prefix(d, 3), prefix(d, 4));
    let visa = p1 == 4 && matches!(len, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16;
    let amex = matches!(p2, 34 | 37) && len == 15;
    let diners =
        ((300..=305).contains(&p3) || p3 == 309 || matches!(p2, 36 | 38 | 39)) && len >= 14;
    let discover =
        (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65) && (16..=19).contains(&len);
    // JCB is 3528-3589; test data generators (Faker) use all of 35xx.
    let jcb = (p2 == 35 && len >= 16) || (matches!(p4, 2131 | 1800) && len == 15);
    let unionpay = p2 == 62 && len >= 16;
    let maestro = (matches!(
        p4,
        5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763 | 604 | 6390
    ) || matches!(p2, 56..=58))
        && len >= 12;
    let mir = (2200..=2204).contains(&p4) && len == 16;
    visa || mastercard || amex || diners || discover || jcb || unionpay || maestro || mir
}

/// How cards are printed: bare, or groups of four (the last may be short),
/// or Amex/Diners 4-6-5 / 4-6-4.
fn card_grouping(groups: &[u8]) -> bool {
    match groups {
        [_] => true,
        [4, 6, 5] | [4, 6, 4] => true,
        [init @ .., last] => init.iter().all(|&g| g == 4) && (1..=4).contains(last),
        [] => false,
    }
}

fn is_card(c: &Candidate) -> bool {
    !c.plus
        && c.seps & (SEP_PAREN | SEP_DOT) == 0
        && (c.ng == 1 || c.plain_separators())
        && !c.overflow
        && card_grouping(c.groups())
        && issuer_ok(c.digits())
        && luhn(c.digits())
}

pub fn ssn_valid(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let area = prefix(d, 3);
    let group = prefix(&d[3..], 2);
    let serial = prefix(&d[5..], 4);
    (1..=899).contains(&area) && area != 666 && group != 0 && serial != 0
}

fn is_ssn(c: &Candidate) -> bool {
    !c.plus && c.groups() == [3, 2, 4] && c.plain_separators() && ssn_valid(c.digits())
}

fn is_phone(c: &Candidate) -> bool {
    let d = c.digits();
    let g = c.groups();
    let nd = c.nd;
    if c.overflow || c.ng > 7 || !(8..=15).contains(&nd) {
        return false;
    }
    if c.ng > 1 && g[g.len() - 1] < 2 {
        return false;
    }
    if c.plus {
        return d[0] != b'0';
    }
    if d[0] == b'0' && d[1] == b'0' {
        // International prefix: 00 + country code.
        return d[2] != b'0' && nd >= 11;
    }
    if c.seps & SEP_PAREN != 0 {
        return nd <= 13;
    }
    if d[0] == b'0' {
        // National trunk prefix. Not US ZIP+4 (`02134-1234`), and the
        // first group is an area code (FR writes 01 23 45 67 89, NL 06-…).
        let zip4 = g == [5, 4];
        let area = c.ng == 1 || g[0] >= 3 || g == [2, 2, 2, 2, 2] || (g[0] == 2 && c.ng == 2);
        return (9..=12).contains(&nd) && !zip4 && area;
    }
    let separated = c.ng > 1;
    let nanp = separated && (g == [3, 3, 4] || (g == [1, 3, 3, 4] && d[0] == b'1'));
    let spanish = nd == 9 && (b'6'..=b'9').contains(&d[0]) && (g == [3, 3, 3] || g == [3, 2, 2, 2]);
    nanp || spanish
}

/// Cards, SSNs and phones in `text`, as enabled.
pub fn find(text: &[u8], card: bool, ssn: bool, phone: bool, out: &mut Vec<Span>) {
    let n = text.len();
    let mut i = 0;
    while i < n {
        let b = text[i];
        let opener = (b == b'+' || b == b'(')
            && text
                .get(i + 1)
                .is_some_and(|&x| x.is_ascii_digit() || (b == b'(' && x == b'+'));
        if !(b.is_ascii_digit() || opener) {
            i += 1;
            continue;
        }
        if !left_ok(text, i) {
            // Skip the rest of this token.
            i += 1;
            while i < n && (text[i].is_ascii_digit() || is_alnum(text[i])) {
                i += 1;
            }
            continue;
        }
        let c = scan(text, i);
        if c.nd == 0 || (b == b'(' && !c.closed) {
            // A '(' that opens no area code is punctuation: start after it.
            i += 1;
            continue;
        }
        // A '(' that led nothing may still precede a number: retry after it.
        let next = if b == b'(' { i + 1 } else { c.end.max(i + 1) };
        if card && c.nd >= 12 && right_ok(text, c.end) && is_card(&c) {
            out.push(Span::new(c.start, c.end, Entity::Card.label()));
        } else if ssn && c.nd == 9 && right_ok(text, c.end) && is_ssn(&c) {
            out.push(Span::new(c.start, c.end, Entity::Ssn.label()));
        } else if phone && c.nd >= 8 && is_phone(&c) {
            let end = extension_end(text, c.end).unwrap_or(c.end);
            if right_ok(text, end) {
                out.push(Span::new(c.start, end, Entity::Phone.label()));
                i = end;
                continue;
            }
        }
        i = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        find(text.as_bytes(), true, true, true, &mut out);
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
    fn cards() {
        assert_eq!(found("4111111111111111"), [("card", "4111111111111111")]);
        assert_eq!(
            found("paid with 4111 1111 1111 1111."),
            [("card", "4111 1111 1111 1111")]
        );
        assert_eq!(
            found("amex 3782-822463-10005"),
            [("card", "3782-822463-10005")]
        );
        assert_eq!(
            found("(4111 1111 1111 1111)"),
            [("card", "4111 1111 1111 1111")]
        );
        assert_eq!(found("note (123-45-6789) ok"), [("ssn", "123-45-6789")]);
        // Luhn fails; a token; a different grouping.
        assert!(found("4111111111111112").is_empty());
        assert!(found("INV4111111111111111").is_empty());
        assert!(found("ORD-4111111111111111").is_empty());
        assert!(found("4111.1111.1111.1111").is_empty());
    }

    #[test]
    fn ssns() {
        assert_eq!(found("SSN 123-45-6789"), [("ssn", "123-45-6789")]);
        assert_eq!(found("078 05 1120"), [("ssn", "078 05 1120")]);
        assert!(found("666-12-3456").is_empty());
        assert!(found("123-00-6789").is_empty());
        assert!(found("900-12-3456").is_empty());
        assert!(found("123456789").is_empty());
    }

    #[test]
    fn phones() {
        for p in [
            "+1-780-563-6083",
            "(591)341-7776",
            "206.269.0743x9150",
            "+44(0)115 4960914",
            "(01632) 960391",
            "+49 (0) 9141 777631",
            "07 88 35 33 74",
            "+33 (0)1 41 63 60 83",
            "0837 783533",
            "(0406)-812415",
            "+34 920000806",
            "912 345 678",
            "001-780-563-6083",
            "06-12345678",
            "0612345678",
        ] {
            assert_eq!(found(p), [("phone", p)], "{p}");
        }
        assert_eq!(
            found("call 415-555-2671 ext. 12 now"),
            [("phone", "415-555-2671 ext. 12")]
        );
    }

    #[test]
    fn look_alikes() {
        for s in [
            "2024-01-15 12:30:45",
            "2024-01-15T12:30:45Z",
            "15.01.2024",
            "1705321845",
            "1705321845123",
            "978-3-16-148410-0",
            "0-306-40615-2",
            "9783161484100",
            "02134-1234",
            "94107",
            "$1,234.56",
            "1.299,00 €",
            "v1.2.3",
            "550e8400-e29b-41d4-a716-446655440000",
            "ORD-2024-004512",
            "#100234",
            "100-2938475-1234567",
            "1Z999AA10123456784",
            "9400111899223197428490",
            "10 20 30 40 50",
            "192.168.1.1",
            "0000123456",
        ] {
            assert!(found(s).is_empty(), "{s}: {:?}", found(s));
        }
    }
}
