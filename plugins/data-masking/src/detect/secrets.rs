//! Secrets: JWTs, API-key-like tokens and private-key blocks.
//!
//! * **jwt**: three base64url segments (`header.payload.signature`; the
//!   signature may be empty for `alg: none`) whose header decodes to a JSON
//!   object naming an `alg`.
//! * **private_key**: a PEM block `-----BEGIN … PRIVATE KEY-----` (RSA, EC,
//!   DSA, OpenSSH, encrypted PKCS#8, PGP `PRIVATE KEY BLOCK`) through its
//!   matching `-----END …-----`, or to the end of the value when the end
//!   line is missing (a truncated key is still a key).
//! * **api_key**: tokens with a vendor's published prefix and shape (AWS
//!   access key ids, GitHub, GitLab, Slack, Stripe, OpenAI, Google, npm,
//!   SendGrid, Shopify, Hugging Face, DigitalOcean, PyPI), and, after a
//!   credential-like name (`api_key=`, `"client_secret": "`, `token:`,
//!   `password=`, `Authorization: Bearer `), a value of 16+ token characters
//!   holding both letters and digits. Only the value is masked, so
//!   `api_key=` stays readable. Hex ids, UUIDs and hashes without such a
//!   name are not secrets.

use super::Span;
use crate::entity::Entity;

#[inline]
fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[inline]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn b64_value(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'-' | b'+' => 62,
        b'_' | b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decode the first bytes of base64url `input` into `out`; returns how many.
fn b64_decode_prefix(input: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in input {
        let Some(v) = b64_value(b) else { break };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if n == out.len() {
                break;
            }
            out[n] = (acc >> bits) as u8;
            n += 1;
        }
    }
    n
}

fn segment_end(text: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < text.len() && is_b64url(text[j]) {
        j += 1;
    }
    j
}

fn jwt_at(text: &[u8], i: usize) -> Option<usize> {
    let h_end = segment_end(text, i);
    if h_end - i < 10 || text.get(h_end) != Some(&b'.') {
        return None;
    }
    let p_end = segment_end(text, h_end + 1);
    if p_end - (h_end + 1) < 4 || text.get(p_end) != Some(&b'.') {
        return None;
    }
    let s_end = segment_end(text, p_end + 1);
    let continues = match text.get(s_end) {
        Some(&b'.') => text.get(s_end + 1).is_some_and(|&b| is_b64url(b)),
        Some(&b) => is_word(b),
        None => false,
    };
    if continues {
        return None;
    }
    let mut header = [0u8; 96];
    let n = b64_decode_prefix(&text[i..h_end], &mut header);
    let header = &header[..n];
    let object = header.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let alg = header.windows(5).any(|w| w == b"\"alg\"");
    (object && alg).then_some(s_end)
}

pub fn find_jwts(text: &[u8], out: &mut Vec<Span>) {
    let mut from = 0;
    while let Some(offset) = find(&text[from..], b"eyJ") {
        let i = from + offset;
        from = i + 3;
        if i > 0 && is_b64url(text[i - 1]) {
            continue;
        }
        if let Some(end) = jwt_at(text, i) {
            out.push(Span::new(i, end, Entity::Jwt.label()));
            from = end;
        }
    }
}

/// Position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(offset) = haystack[from..].iter().position(|&b| b == first) {
        let i = from + offset;
        if haystack[i..].starts_with(needle) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

pub fn find_private_keys(text: &[u8], out: &mut Vec<Span>) {
    let mut from = 0;
    while let Some(offset) = find(&text[from..], b"-----BEGIN ") {
        let start = from + offset;
        let label_start = start + 11;
        from = label_start;
        let Some(label_len) = find(&text[label_start..], b"-----").filter(|&l| l <= 48) else {
            continue;
        };
        let label = &text[label_start..label_start + label_len];
        if !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")) {
            continue;
        }
        let body = label_start + label_len + 5;
        let end = match find(&text[body..], b"-----END ") {
            Some(offset) => {
                let end_label = body + offset + 9;
                match find(&text[end_label..], b"-----") {
                    Some(l) if l <= 48 => end_label + l + 5,
                    _ => text.len(),
                }
            }
            None => text.len(),
        };
        out.push(Span::new(start, end, Entity::PrivateKey.label()));
        from = end;
    }
}

#[derive(Clone, Copy)]
enum Charset {
    /// `A-Z0-9`
    UpperDigit,
    /// `A-Za-z0-9`
    Alnum,
    /// `A-Za-z0-9_-`
    Url,
    /// `A-Za-z0-9_-.`
    UrlDot,
    /// `0-9a-f`
    Hex,
}

impl Charset {
    fn contains(self, b: u8) -> bool {
        match self {
            Charset::UpperDigit => b.is_ascii_uppercase() || b.is_ascii_digit(),
            Charset::Alnum => b.is_ascii_alphanumeric(),
            Charset::Url => is_b64url(b),
            Charset::UrlDot => is_b64url(b) || b == b'.',
            Charset::Hex => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        }
    }
}

/// Vendor prefixes: (prefix, body charset, minimum body length, maximum).
const PREFIXES: &[(&[u8], Charset, usize, usize)] = &[
    (b"AKIA", Charset::UpperDigit, 16, 16),
    (b"ASIA", Charset::UpperDigit, 16, 16),
    (b"AGPA", Charset::UpperDigit, 16, 16),
    (b"AIDA", Charset::UpperDigit, 16, 16),
    (b"AROA", Charset::UpperDigit, 16, 16),
    (b"ANPA", Charset::UpperDigit, 16, 16),
    (b"AIza", Charset::Url, 35, 35),
    (b"ghp_", Charset::Alnum, 30, 255),
    (b"gho_", Charset::Alnum, 30, 255),
    (b"ghu_", Charset::Alnum, 30, 255),
    (b"ghs_", Charset::Alnum, 30, 255),
    (b"ghr_", Charset::Alnum, 30, 255),
    (b"github_pat_", Charset::Url, 22, 255),
    (b"glpat-", Charset::Url, 20, 255),
    (b"xoxb-", Charset::Url, 10, 255),
    (b"xoxp-", Charset::Url, 10, 255),
    (b"xoxa-", Charset::Url, 10, 255),
    (b"xoxr-", Charset::Url, 10, 255),
    (b"xoxs-", Charset::Url, 10, 255),
    (b"xapp-", Charset::Url, 10, 255),
    (b"sk_live_", Charset::Alnum, 16, 255),
    (b"sk_test_", Charset::Alnum, 16, 255),
    (b"pk_live_", Charset::Alnum, 16, 255),
    (b"pk_test_", Charset::Alnum, 16, 255),
    (b"rk_live_", Charset::Alnum, 16, 255),
    (b"rk_test_", Charset::Alnum, 16, 255),
    (b"whsec_", Charset::Alnum, 16, 255),
    (b"sk-", Charset::Url, 32, 255),
    (b"npm_", Charset::Alnum, 36, 36),
    (b"SG.", Charset::UrlDot, 60, 80),
    (b"shpat_", Charset::Hex, 32, 32),
    (b"shpss_", Charset::Hex, 32, 32),
    (b"shpca_", Charset::Hex, 32, 32),
    (b"shppa_", Charset::Hex, 32, 32),
    (b"hf_", Charset::Alnum, 30, 40),
    (b"dop_v1_", Charset::Hex, 64, 64),
    (b"pypi-", Charset::Url, 50, 255),
];

/// Whether a byte can start one of [`PREFIXES`].
const fn prefix_starts() -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < PREFIXES.len() {
        table[PREFIXES[i].0[0] as usize] = true;
        i += 1;
    }
    table
}

static PREFIX_START: [bool; 256] = prefix_starts();

fn has_letter_and_digit(body: &[u8]) -> bool {
    body.iter().any(u8::is_ascii_digit) && body.iter().any(u8::is_ascii_alphabetic)
}

fn vendor_token_at(text: &[u8], i: usize) -> Option<usize> {
    for &(prefix, charset, min, max) in PREFIXES {
        if !text[i..].starts_with(prefix) {
            continue;
        }
        let body = i + prefix.len();
        let mut j = body;
        while j < text.len() && j - body <= max && charset.contains(text[j]) {
            j += 1;
        }
        let len = j - body;
        if len < min || len > max || text.get(j).is_some_and(|&b| is_b64url(b)) {
            continue;
        }
        // Fixed-length shapes (AWS key ids, npm, Shopify …) are distinctive
        // on their own; open-ended ones must look random.
        if min != max && !has_letter_and_digit(&text[body..j]) {
            continue;
        }
        return Some(j);
    }
    None
}

/// Names after which a value is a credential.
fn credential_name(word: &[u8]) -> bool {
    let mut lower = [0u8; 40];
    let n = word.len().min(40);
    for (l, b) in lower.iter_mut().zip(&word[word.len() - n..]) {
        *l = b.to_ascii_lowercase();
    }
    let w = &lower[..n];
    const SUFFIXES: &[&[u8]] = &[
        b"token",
        b"secret",
        b"password",
        b"passwd",
        b"pwd",
        b"apikey",
        b"api_key",
        b"api-key",
        b"_key",
        b"-key",
        b".key",
        b"secretkey",
        b"accesskey",
        b"privatekey",
        b"credential",
        b"credentials",
        b"authorization",
        b"auth",
    ];
    w == b"key" || SUFFIXES.iter().any(|s| w.ends_with(s))
}

#[inline]
fn is_value(b: u8) -> bool {
    is_b64url(b) || matches!(b, b'+' | b'/' | b'=' | b'.' | b'~')
}

/// A credential value starting at `i`: its end.
fn value_at(text: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while j < text.len() && j - i <= 512 && is_value(text[j]) {
        j += 1;
    }
    // Trailing sentence punctuation is not part of the value.
    while j > i && matches!(text[j - 1], b'.' | b',') {
        j -= 1;
    }
    let value = &text[i..j];
    (value.len() >= 16 && value.len() <= 512 && has_letter_and_digit(value)).then_some(j)
}

fn skip_quotes_and_spaces(text: &[u8], mut i: usize) -> usize {
    let mut skipped = 0;
    while i < text.len() && skipped < 4 && matches!(text[i], b' ' | b'"' | b'\'' | b'\t') {
        i += 1;
        skipped += 1;
    }
    i
}

fn contextual(text: &[u8], out: &mut Vec<Span>) {
    let n = text.len();
    for k in 0..n {
        let b = text[k];
        if b != b'=' && b != b':' {
            if (b == b'b' || b == b'B')
                && k + 7 < n
                && text[k..k + 7].eq_ignore_ascii_case(b"bearer ")
                && (k == 0 || !is_word(text[k - 1]))
            {
                let v = skip_quotes_and_spaces(text, k + 7);
                if let Some(end) = value_at(text, v) {
                    out.push(Span::new(v, end, Entity::ApiKey.label()));
                }
            }
            continue;
        }
        // The name before the separator, past closing quotes and spaces.
        let mut e = k;
        let mut skipped = 0;
        while e > 0 && skipped < 3 && matches!(text[e - 1], b' ' | b'"' | b'\'') {
            e -= 1;
            skipped += 1;
        }
        let mut s = e;
        while s > 0 && e - s < 64 && (is_word(text[s - 1]) || matches!(text[s - 1], b'-' | b'.')) {
            s -= 1;
        }
        if s == e || !credential_name(&text[s..e]) {
            continue;
        }
        let v = skip_quotes_and_spaces(text, k + 1);
        if text[v..].len() >= 7 && text[v..v + 7].eq_ignore_ascii_case(b"bearer ") {
            continue; // the `bearer ` branch takes the value
        }
        if let Some(end) = value_at(text, v) {
            out.push(Span::new(v, end, Entity::ApiKey.label()));
        }
    }
}

/// Shortest vendor token (prefix and body): `xoxb-` and 10.
const MIN_VENDOR_TOKEN: usize = 15;

/// API keys in `text`. `separators`: whether `text` holds `=` or `:` (the
/// credential-name form needs one, or a leading `Bearer `).
pub fn find_api_keys(text: &[u8], separators: bool, out: &mut Vec<Span>) {
    let n = text.len();
    let mut i = 0;
    while i < n {
        if !is_b64url(text[i]) {
            i += 1;
            continue;
        }
        // One token: words shorter than any vendor token are skipped whole.
        let mut end = i;
        while end < n && (is_b64url(text[end]) || text[end] == b'.') {
            end += 1;
        }
        if end - i >= MIN_VENDOR_TOKEN
            && PREFIX_START[text[i] as usize]
            && let Some(key_end) = vendor_token_at(text, i)
        {
            out.push(Span::new(i, key_end, Entity::ApiKey.label()));
            i = key_end;
            continue;
        }
        i = end;
    }
    if separators || (n >= 7 && text[..7].eq_ignore_ascii_case(b"bearer ")) {
        contextual(text, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_api_keys(text: &[u8], out: &mut Vec<Span>) {
        let separators = text.iter().any(|&b| b == b'=' || b == b':');
        super::find_api_keys(text, separators, out)
    }

    fn run(f: fn(&[u8], &mut Vec<Span>), text: &str) -> Vec<String> {
        let mut out = Vec::new();
        f(text.as_bytes(), &mut out);
        out.iter()
            .map(|s| text[s.start as usize..s.end as usize].to_string())
            .collect()
    }

    const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

    #[test]
    fn jwts() {
        assert_eq!(run(find_jwts, &format!("Bearer {JWT}.")), [JWT]);
        assert!(run(find_jwts, "eyJub3QiOiJqd3QifQ.eyJhIjoxfQ.sig").is_empty());
        assert!(run(find_jwts, "eyJhbGciOiJIUzI1NiJ9").is_empty());
    }

    #[test]
    fn private_keys() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----";
        assert_eq!(run(find_private_keys, &format!("k: {key}\nok")), [key]);
        let cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNz";
        assert_eq!(run(find_private_keys, cut), [cut]);
        assert!(run(find_private_keys, "-----BEGIN CERTIFICATE-----\nMII=").is_empty());
        assert!(run(find_private_keys, "-----BEGIN PUBLIC KEY-----\nMII=").is_empty());
    }

    #[test]
    fn api_keys() {
        for key in [
            "AKIAIOSFODNN7EXAMPLE",
            "AKIAIOSFODNNQEXAMPLE",
            "ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "glpat-xxxx1234yyyy5678zzzz",
        ] {
            assert_eq!(
                run(find_api_keys, &format!("key {key} here")),
                [key],
                "{key}"
            );
        }
        assert_eq!(
            run(find_api_keys, "api_key=Zm9vYmFyYmF6cXV4MTIzNDU2"),
            ["Zm9vYmFyYmF6cXV4MTIzNDU2"]
        );
        assert_eq!(
            run(find_api_keys, r#"{"client_secret": "8f3kD9sL2mQ7xP4v"}"#),
            ["8f3kD9sL2mQ7xP4v"]
        );
        assert_eq!(
            run(
                find_api_keys,
                "Authorization: Bearer abcdef0123456789abcdef"
            ),
            ["abcdef0123456789abcdef"]
        );
        for s in [
            "550e8400-e29b-41d4-a716-446655440000",
            "bbf4210f87052c36b5d57ce037968ac08ee0dcb3",
            "monkey=abcdefgh12345678",
            "task-force-one-two-three-four-five-six-7",
            "AKIAIOSFODNN7EXAMPLE1",
            "token=short1",
        ] {
            assert!(
                run(find_api_keys, s).is_empty(),
                "{s}: {:?}",
                run(find_api_keys, s)
            );
        }
    }
}
