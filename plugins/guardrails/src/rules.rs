//! Word and pattern rules: the checks that do not need a parsed statement.
//!
//! * **Patterns** are regexes matched against the raw query text, string
//!   literals and comments included: they are the tool for "this text must
//!   not appear anywhere".
//! * **Words** match whole SQL tokens that are identifiers or keywords
//!   (quoted identifiers included: `"pg_sleep"` and `` `pg_sleep` `` count),
//!   case-insensitively. String literals, comments and placeholders are not
//!   words, so `select 'pg_sleep'` does not match `pg_sleep`. When the text
//!   cannot be tokenised (an unterminated string or comment) words fall back
//!   to a scan of the raw text for identifier-like runs, literals and
//!   comments included: unlexable text is matched more, not less.

use regex::{Regex, RegexBuilder};
use sqlparser::tokenizer::Token;

use crate::config::Config;
use crate::prefilter::Prefilter;

/// Largest compiled size of one pattern. Patterns are short; the cap keeps a
/// pathological pattern (`\w{1000}{1000}`) from eating the instance's memory.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Check every pattern's syntax, naming the first bad one by index and
/// text. Cheap (the regex parser alone, a few µs a pattern), because
/// `validate` also runs at every session's init; the compile proper, which
/// can cost 100 µs for a `(?i)` pattern, waits for the first query. The one
/// error this does not see, a pattern compiling past the size limit, is
/// reported by [`compile_patterns`] then, and denies the query.
pub fn check_patterns(patterns: &[String]) -> Result<(), String> {
    for (i, pattern) in patterns.iter().enumerate() {
        if pattern.is_empty() {
            return Err(empty_pattern(i));
        }
        regex_syntax::Parser::new()
            .parse(pattern)
            .map_err(|err| invalid_pattern(i, pattern, &err))?;
    }
    Ok(())
}

/// Compile every pattern; the error names the first bad one by index and
/// text.
pub fn compile_patterns(patterns: &[String]) -> Result<Vec<Regex>, String> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, pattern)| {
            if pattern.is_empty() {
                return Err(empty_pattern(i));
            }
            RegexBuilder::new(pattern)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|err| invalid_pattern(i, pattern, &err))
        })
        .collect()
}

fn empty_pattern(i: usize) -> String {
    format!("deny_patterns[{i}] is empty: it would match every query")
}

fn invalid_pattern(i: usize, pattern: &str, err: &dyn std::fmt::Display) -> String {
    format!("deny_patterns[{i}] `{pattern}` is not a valid regex: {err}")
}

/// The rules in their matchable form, built once per instance on first use.
#[derive(Debug)]
pub struct Compiled {
    /// Each pattern's source (for deny reasons) and its regex.
    pub patterns: Vec<(String, Regex)>,
    /// Denied words as configured (for deny reasons) and lowercased.
    pub words: Vec<(String, String)>,
    /// Which checks a text can fail, from a scan of its raw text.
    pub prefilter: Prefilter,
}

impl Compiled {
    /// The rules of `config`: only ever use them with that config.
    pub fn new(config: &Config) -> Result<Self, String> {
        let regexes = compile_patterns(&config.deny_patterns)?;
        Ok(Self {
            patterns: config.deny_patterns.iter().cloned().zip(regexes).collect(),
            words: config
                .deny_words
                .iter()
                .map(|w| (w.clone(), w.to_lowercase()))
                .collect(),
            prefilter: Prefilter::new(config),
        })
    }

    /// The first pattern found in `text`, as configured.
    pub fn matching_pattern(&self, text: &str) -> Option<&str> {
        self.patterns
            .iter()
            .find(|(_, regex)| regex.is_match(text))
            .map(|(source, _)| source.as_str())
    }

    /// The configured word that `token` is, if any. Only identifiers and
    /// keywords are words.
    pub fn denied_word(&self, token: &Token) -> Option<&str> {
        match token {
            Token::Word(word) => self.word_named(&word.value),
            _ => None,
        }
    }

    /// The first denied word in raw text, scanning identifier-like runs
    /// (letters, digits, `_`, `$`). For text the tokenizer refused.
    pub fn denied_word_in_raw(&self, text: &str) -> Option<&str> {
        text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .filter(|run| !run.is_empty())
            .find_map(|run| self.word_named(run))
    }

    fn word_named(&self, candidate: &str) -> Option<&str> {
        if self.words.is_empty() {
            return None;
        }
        let lower = candidate.to_lowercase();
        self.words
            .iter()
            .find(|(_, w)| *w == lower)
            .map(|(configured, _)| configured.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(words: &[&str], patterns: &[&str]) -> Compiled {
        Compiled::new(&Config {
            deny_words: words.iter().map(|s| s.to_string()).collect(),
            deny_patterns: patterns.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        })
        .unwrap()
    }

    #[test]
    fn patterns_match_raw_text() {
        let rules = compiled(&[], &["(?i)password", r"\bssn\b"]);
        assert_eq!(
            rules.matching_pattern("select 'PassWord' -- x"),
            Some("(?i)password")
        );
        assert_eq!(
            rules.matching_pattern("select ssn from t"),
            Some(r"\bssn\b")
        );
        assert_eq!(rules.matching_pattern("select ssns from t"), None);
    }

    #[test]
    fn bad_pattern_error_names_index_and_text() {
        let err = compile_patterns(&["a".into(), "(unclosed".into()]).unwrap_err();
        assert!(
            err.starts_with("deny_patterns[1] `(unclosed` is not a valid regex"),
            "{err}"
        );
    }

    #[test]
    fn syntax_check_agrees_with_the_compiler() {
        for pattern in ["(?i)password", r"\bssn\b", r"\w+@\w+", "a{2,3}"] {
            check_patterns(&[pattern.into()]).unwrap();
            compile_patterns(&[pattern.into()]).unwrap();
        }
        for pattern in ["(", "a{3,2}", r"\p{Nope}", "[z-a]", "(?x", r"(?-u:\xff)"] {
            let checked = check_patterns(&["ok".into(), pattern.into()]).unwrap_err();
            let compiled = compile_patterns(&["ok".into(), pattern.into()]).unwrap_err();
            let head = format!("deny_patterns[1] `{pattern}` is not a valid regex: ");
            assert!(checked.starts_with(&head), "{checked}");
            assert!(compiled.starts_with(&head), "{compiled}");
        }
    }

    #[test]
    fn oversized_pattern_is_refused_when_compiled() {
        let pattern = r"\w{1000}{1000}".to_string();
        check_patterns(std::slice::from_ref(&pattern)).unwrap();
        let err = compile_patterns(&[pattern]).unwrap_err();
        assert!(err.contains("deny_patterns[0]"), "{err}");
    }

    #[test]
    fn raw_scan_matches_whole_runs_only() {
        let rules = compiled(&["PG_SLEEP"], &[]);
        assert_eq!(
            rules.denied_word_in_raw("select pg_sleep(1"),
            Some("PG_SLEEP")
        );
        assert_eq!(rules.denied_word_in_raw("select 'xpg_sleep"), None);
    }
}
