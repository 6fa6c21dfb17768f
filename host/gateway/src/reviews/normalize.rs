//! "The same query": the normalized text whose hash matches a re-sent
//! query to its approved one-time review.
//!
//! **The rule** (PostgreSQL's lexical structure):
//! * runs of whitespace become one space; leading and trailing whitespace
//!   goes;
//! * comments (`-- …` to the end of the line, `/* … */`, nested) are
//!   removed (they stand for one space);
//! * ASCII letters outside quotes are lower-cased (PostgreSQL folds
//!   unquoted keywords and identifiers the same way);
//! * the inside of string literals (`'…'`, `E'…'`), quoted identifiers
//!   (`"…"`) and dollar-quoted strings (`$tag$…$tag$`) is kept byte for
//!   byte.
//!
//! So `SELECT  *\n FROM T -- why` and `select * from t` are the same query;
//! `select 'A'` and `select 'a'` are not.
//!
//! **Invariant: two texts that normalize the same mean the same** — an
//! approval of one must never let another run. Everything above preserves
//! meaning *if* the text is tokenized as the server does. The one setting
//! that changes PostgreSQL's tokenizing is `standard_conforming_strings =
//! off` (a backslash then escapes a quote in `'…'`), so a text containing a
//! backslash outside a dollar-quoted string is not normalized at all: it
//! only matches itself, byte for byte.
//!
//! The hash is the SHA-256 of the normalized text, in hex.

use sha2::{Digest, Sha256};

/// The normalized form of `sql` (see the module docs).
pub fn normalize(sql: &str) -> String {
    let bytes = sql.as_bytes();
    if has_unquoted_backslash(bytes) {
        return sql.to_string();
    }
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    // A separator is owed before the next token.
    let mut space = false;
    let mut i = 0;
    let push_space = |out: &mut Vec<u8>, space: &mut bool| {
        if *space && !out.is_empty() {
            out.push(b' ');
        }
        *space = false;
    };
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                space = true;
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                space = true;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(bytes, i);
                space = true;
            }
            b'\'' | b'"' => {
                push_space(&mut out, &mut space);
                let end = quoted_end(bytes, i, c);
                out.extend_from_slice(&bytes[i..end]);
                i = end;
            }
            b'$' => {
                push_space(&mut out, &mut space);
                match dollar_tag(bytes, i) {
                    Some(tag_len) => {
                        let end = dollar_end(bytes, i, tag_len);
                        out.extend_from_slice(&bytes[i..end]);
                        i = end;
                    }
                    None => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            _ => {
                push_space(&mut out, &mut space);
                if is_ident_char(c) {
                    let end = word_end(bytes, i);
                    out.extend(bytes[i..end].iter().map(u8::to_ascii_lowercase));
                    i = end;
                } else {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }
    // Only whole UTF-8 sequences were copied or ASCII bytes changed.
    String::from_utf8(out).unwrap_or_else(|_| sql.to_string())
}

/// SHA-256 (hex) of the normalized text: what reviews store as
/// `query_hash`.
pub fn query_hash(sql: &str) -> String {
    hex::encode(Sha256::digest(normalize(sql).as_bytes()))
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// End (exclusive) of the word (identifier, keyword or number) at
/// `start`. A `$` inside an identifier (`a$b`) is part of it, not a quote;
/// after a number it starts one (as in the server's lexer).
fn word_end(bytes: &[u8], start: usize) -> usize {
    let number = bytes[start].is_ascii_digit();
    let mut i = start;
    while i < bytes.len() && (is_ident_char(bytes[i]) || (bytes[i] == b'$' && !number)) {
        i += 1;
    }
    i
}

/// Whether a backslash occurs outside dollar-quoted strings (and outside
/// comments, which cannot hide one from the server either way: the check
/// is deliberately coarse and errs towards exact matching).
fn has_unquoted_backslash(bytes: &[u8]) -> bool {
    if !bytes.contains(&b'\\') {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => return true,
            b'$' => match dollar_tag(bytes, i) {
                Some(tag_len) => i = dollar_end(bytes, i, tag_len),
                None => i += 1,
            },
            c if is_ident_char(c) => i = word_end(bytes, i),
            _ => i += 1,
        }
    }
    false
}

/// End (exclusive) of the `quote`-quoted token starting at `start`; a
/// doubled quote is part of it. Unterminated: the rest of the text.
fn quoted_end(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// End (exclusive) of a block comment starting at `start` (`/*`), nesting.
fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// The length of the opening `$tag$` at `start`, if a dollar quote starts
/// there (`$1` is a parameter, not a quote).
fn dollar_tag(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if let Some(&c) = bytes.get(i)
        && c.is_ascii_digit()
    {
        return None;
    }
    while i < bytes.len() && is_ident_char(bytes[i]) {
        i += 1;
    }
    (bytes.get(i) == Some(&b'$')).then_some(i + 1 - start)
}

/// End (exclusive) of the dollar-quoted string opened by the `tag_len`
/// bytes at `start`. Unterminated: the rest of the text.
fn dollar_end(bytes: &[u8], start: usize, tag_len: usize) -> usize {
    let tag = &bytes[start..start + tag_len];
    let body = start + tag_len;
    bytes[body..]
        .windows(tag_len)
        .position(|w| w == tag)
        .map_or(bytes.len(), |p| body + p + tag_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_case_and_comments_do_not_count() {
        let same = [
            "select * from t where id = 7",
            "SELECT * FROM T WHERE ID = 7",
            "  select\t*\n  from t   where id = 7  ",
            "select * -- all of it\nfrom t /* the table */ where id = 7",
            "select * from t /* nested /* comment */ still */ where id = 7",
        ];
        for text in same {
            assert_eq!(normalize(text), same[0], "{text:?}");
            assert_eq!(query_hash(text), query_hash(same[0]));
        }
    }

    #[test]
    fn literals_and_quoted_names_are_kept() {
        assert_eq!(normalize("SELECT 'A  B'"), "select 'A  B'");
        assert_eq!(normalize("select 'it''s  X'"), "select 'it''s  X'");
        assert_eq!(
            normalize("SELECT \"My  Col\" FROM T"),
            "select \"My  Col\" from t"
        );
        assert_eq!(
            normalize("SELECT $$ Body  X $$, $fn$ a $$ b $fn$"),
            "select $$ Body  X $$, $fn$ a $$ b $fn$"
        );
        assert_eq!(normalize("SELECT $1 ,  A$B"), "select $1 , a$b");
        // After a number, `$x$` opens a dollar quote (kept as is).
        assert_eq!(normalize("SELECT 1$x$ A  B $x$"), "select 1$x$ A  B $x$");
        assert_ne!(query_hash("select 'A'"), query_hash("select 'a'"));
        assert_ne!(query_hash("select \"T\""), query_hash("select \"t\""));
    }

    #[test]
    fn a_comment_never_hides_text_that_runs() {
        // The line comment ends at the newline: ", 2" runs in one of them.
        assert_ne!(
            normalize("select 1 -- x\n, 2"),
            normalize("select 1 -- x , 2")
        );
        assert_eq!(normalize("select 1 -- x , 2"), "select 1");
        // Comment markers inside literals are text.
        assert_eq!(normalize("select '--x',  '/*'"), "select '--x', '/*'");
    }

    #[test]
    fn a_backslash_means_exact_match_only() {
        let text = "SELECT 'a\\' ,  'B'";
        assert_eq!(normalize(text), text);
        assert_ne!(query_hash(text), query_hash("select 'a\\' , 'B'"));
        // Inside a dollar quote it changes nothing.
        assert_eq!(normalize("SELECT $$a\\b$$"), "select $$a\\b$$");
    }

    #[test]
    fn unicode_is_kept() {
        assert_eq!(
            normalize("SELECT  'ÄÖ', Größe FROM T"),
            "select 'ÄÖ', größe from t"
        );
    }
}
