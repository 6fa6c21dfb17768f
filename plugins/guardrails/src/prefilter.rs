//! The fast path: which checks a query text can possibly fail, decided by
//! a substring scan of the raw text, so that ordinary queries skip the
//! tokenizer and the parser.
//!
//! One ASCII-case-insensitive multi-substring scanner ([`Needles`]) is
//! built per instance, on its first query, over:
//!
//! * the trigger keywords of the **configured** statement classes only
//!   ([`trigger_keywords`]: `drop`; `truncate`; `alter`/`rename`;
//!   `grant`/`deny`; `revoke`; `delete`; `update`; `copy`+`program`;
//!   `create`+(`replace`/`alter`); (`create`/`alter`/`drop`)+
//!   (`role`/`user`/`group`));
//! * the configured `deny_words`, lowercased (when all of them can be
//!   vouched for, see below);
//! * `prepare`, whenever classes or words are configured.
//!
//! A scan of the text gives a [`Scan`]: whether a statement class can be
//! found (then the text is parsed) and whether a word can match (then it is
//! tokenised). In **non-strict** mode a text that triggers neither is
//! allowed as soon as the patterns (always run on the raw text) pass; in
//! **strict** mode every text is parsed, since strict promises to deny what
//! does not parse, which no substring scan can tell.
//!
//! ## Why skipping is sound
//!
//! The fast path never changes a decision; it only skips work that could
//! not have denied.
//!
//! * **Classes.** [`classify`](fn@crate::classify) reports a class only for
//!   statement variants that the parser builds after seeing certain
//!   keywords: it dispatches on `Keyword` values (`DROP`, `ALTER`, `OR
//!   REPLACE` …), never on identifier text or string contents. The
//!   tokenizer gives a word a keyword only if it is unquoted and its bytes
//!   equal the keyword, ASCII case aside (`keyword_lookup` compares
//!   byte-wise with `to_ascii_uppercase`, lengths equal, so no Unicode
//!   look-alike such as `ſ` or `ı` spells one). An unquoted word is a
//!   contiguous slice of the text. So a statement of a class has, for each
//!   of the class's trigger groups, one of the group's keywords in the raw
//!   text as an ASCII-case-insensitive substring. Comments, whitespace and
//!   case between tokens do not matter: `DrOp/**/TABLE x` contains `DrOp`.
//!   The converse does not hold, and need not: `select 'drop table'`
//!   triggers a parse, which then allows it. Wrappers (`PREPARE … AS`,
//!   `EXPLAIN ANALYZE`, CTEs, `INSERT … SELECT`, `CREATE TABLE … AS`,
//!   `COPY (…)`) only look through to another statement, whose own
//!   keywords are in the text. The list per class is [`trigger_keywords`],
//!   next to the classifier, with the parser paths it was derived from; its
//!   tests check it against statements of every class in every dialect.
//! * **MySQL `PREPARE name FROM '<sql>'`.** The one place where checked
//!   SQL is not a slice of the text: the quoted SQL is unescaped
//!   (`'DR\OP TABLE t'` is `DROP TABLE t` in MySQL), so its keywords and
//!   words need not appear in the raw text. It is only recognised after a
//!   `PREPARE` keyword token, so `prepare` in the text turns every check on.
//! * **Several statements** (`select 1; drop table t`) are one text: the
//!   scan covers all of them, and any trigger sends the whole text to the
//!   full check, which numbers statements as before.
//! * **Words.** A word matches an identifier token (or, for text that does
//!   not tokenise, an identifier-like run of the raw text) whose Unicode
//!   lowercase is the word's. Unquoted identifiers and runs are slices of
//!   the text; a quoted identifier's value is the text between its quotes
//!   with doubled closing quotes collapsed, so it is a slice unless it
//!   holds a closing quote (`"`, `` ` `` or `]`). The fast path is
//!   therefore only used when every word is ASCII, two bytes or longer and
//!   free of those characters; a config with another word tokenises every
//!   text, as before. A candidate whose Unicode lowercase is an ASCII word
//!   equals it up to ASCII case, except through the one non-ASCII
//!   character whose lowercase is ASCII, the Kelvin sign `K` (U+212A →
//!   `k`): a text holding it is tokenised when a word has a `k`
//!   ([`LOWERCASE_TO_ASCII`], checked against all of Unicode by a test).
//! * **Patterns** are not affected: they always run on the raw text, first.
//! * **The scanner** finds every occurrence a naive search finds (the
//!   argument is on [`Needles`]; a randomised test compares the two), and
//!   `tests::prefilter_agrees_with_the_full_check` compares decisions with
//!   and without the fast path over a corpus, for every class and dialect.
//!
//! Text that does not tokenise (an unterminated string) is allowed in
//! non-strict mode unless a word matches its raw runs: skipping it when no
//! word is in its raw text does not change that either.

use crate::classify::trigger_keywords;
use crate::config::Config;

/// Non-ASCII characters whose Unicode lowercase is ASCII: an identifier
/// holding one can equal an ASCII word once lowercased without containing
/// it. `tests::lowercase_to_ascii_is_complete` checks the list against
/// every character.
pub const LOWERCASE_TO_ASCII: &[char] = &['\u{212A}'];

/// Closing quotes of quoted identifiers in the supported dialects: a word
/// holding one may be spelt with it doubled.
const CLOSING_QUOTES: &[char] = &['"', '`', ']'];

/// What a text needs checked beyond the patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// A `deny_words` word may be in the text: tokenise and look.
    pub words: bool,
    /// A configured statement class may be in the text (or strict mode):
    /// parse and classify.
    pub parse: bool,
}

/// What one needle stands for.
#[derive(Debug, Clone, Copy)]
enum Signal {
    /// A trigger keyword, as a bit of [`Prefilter::class_groups`] masks.
    Keyword(u64),
    /// A `deny_words` word.
    Word,
    /// `prepare`: MySQL `PREPARE … FROM '<sql>'` hides unescaped SQL.
    Prepare,
}

/// How the words are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Words {
    /// No words configured.
    None,
    /// Words are needles of the scanner.
    Matched,
    /// A word the scan cannot vouch for: always tokenise.
    Always,
}

/// The per-instance scanner, built once from the config.
#[derive(Debug)]
pub struct Prefilter {
    strict: bool,
    /// The needles, when a host scan for them may stand in for `scan`
    /// (see [`Prefilter::host_keywords`]).
    host_keywords: Option<Vec<String>>,
    needles: Needles,
    /// Per needle, what it signals.
    signals: Vec<Signal>,
    /// Per configured class, its trigger groups as masks of keyword bits:
    /// the class may be present when every mask has a bit found.
    class_groups: Vec<Vec<u64>>,
    words: Words,
    /// Whether a word could be matched through [`LOWERCASE_TO_ASCII`].
    words_fold: bool,
}

impl Prefilter {
    pub fn new(config: &Config) -> Self {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        let mut signals = Vec::new();
        let mut keywords: Vec<&'static str> = Vec::new();
        let mut class_groups = Vec::new();
        for class in &config.deny_statements {
            let groups = trigger_keywords(*class)
                .iter()
                .map(|group| {
                    group.iter().fold(0u64, |mask, keyword| {
                        let bit = match keywords.iter().position(|k| k == keyword) {
                            Some(i) => i,
                            None => {
                                keywords.push(keyword);
                                needles.push(keyword.as_bytes().to_vec());
                                signals.push(Signal::Keyword(1 << (keywords.len() - 1)));
                                keywords.len() - 1
                            }
                        };
                        mask | 1 << bit
                    })
                })
                .collect();
            class_groups.push(groups);
        }
        // At most 16 distinct keywords (see `trigger_keywords`): the masks fit.
        debug_assert!(keywords.len() <= 64);

        // Words of one character cannot be needles; they match nearly
        // every text anyway.
        let words = if config.deny_words.is_empty() {
            Words::None
        } else if config
            .deny_words
            .iter()
            .all(|w| w.is_ascii() && w.len() >= 2 && !w.contains(CLOSING_QUOTES))
        {
            for word in &config.deny_words {
                needles.push(word.to_ascii_lowercase().into_bytes());
                signals.push(Signal::Word);
            }
            Words::Matched
        } else {
            Words::Always
        };
        let words_fold = words == Words::Matched
            && config.deny_words.iter().any(|w| {
                LOWERCASE_TO_ASCII
                    .iter()
                    .flat_map(|c| c.to_lowercase())
                    .any(|l| w.to_ascii_lowercase().contains(l))
            });

        if !class_groups.is_empty() || words != Words::None {
            needles.push(b"prepare".to_vec());
            signals.push(Signal::Prepare);
        }

        // The host may scan for the needles in our place when a text
        // without any of them is skipped by `scan` whatever else it holds
        // (no strict mode, no word the scan cannot vouch for, no Kelvin
        // sign to fold) and the needles are keywords the host accepts.
        let host_keywords = (!config.strict
            && words != Words::Always
            && !words_fold
            && needles.len() <= gatehouse_sdk::MAX_QUERY_KEYWORDS)
            .then(|| {
                needles
                    .iter()
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect::<Vec<_>>()
            })
            .filter(|keywords| keywords.iter().all(|k| gatehouse_sdk::is_query_keyword(k)));

        Self {
            strict: config.strict,
            host_keywords,
            needles: Needles::new(needles),
            signals,
            class_groups,
            words,
            words_fold,
        }
    }

    /// Keywords for the host's query filter (`on_query_keywords`): a text
    /// holding none of them, in any ASCII case, needs no check beyond the
    /// patterns (`scan` finds no needle, so it asks for neither words nor
    /// parse). `None` when that cannot be promised: strict mode parses every
    /// text; a word the scan cannot vouch for, or one that a non-ASCII
    /// character can spell, is looked for in every text; a needle the host
    /// would refuse. Patterns are the caller's to rule out.
    pub fn host_keywords(&self) -> Option<&[String]> {
        self.host_keywords.as_deref()
    }

    /// What `text` needs checked beyond the patterns.
    pub fn scan(&self, text: &str) -> Scan {
        let mut keywords = 0u64;
        let mut word = false;
        let mut prepare = false;
        self.needles
            .each_found(text.as_bytes(), |i| match self.signals[i] {
                Signal::Keyword(bit) => keywords |= bit,
                Signal::Word => word = true,
                Signal::Prepare => prepare = true,
            });
        let words = match self.words {
            Words::None => false,
            Words::Always => true,
            Words::Matched => {
                word || prepare
                    || (self.words_fold && !text.is_ascii() && text.contains(LOWERCASE_TO_ASCII))
            }
        };
        let class = !self.class_groups.is_empty()
            && (prepare
                || self
                    .class_groups
                    .iter()
                    .any(|groups| groups.iter().all(|mask| keywords & mask != 0)));
        Scan {
            words,
            parse: self.strict || class,
        }
    }

    /// Whether `text` must be parsed: strict mode, or a configured class
    /// may be in it.
    pub fn needs_parse(&self, text: &str) -> bool {
        self.scan(text).parse
    }
}

/// ASCII-case-insensitive search for several needles (lowercase ASCII, two
/// bytes or more) at once, reporting every needle that occurs, overlapping
/// occurrences included.
///
/// With `m` the length of the shortest needle, the text is probed only at
/// every `m - 1`th byte: an occurrence of a needle of length `L >= m`
/// covers `L - 1 >= m - 1` consecutive two-byte windows, so exactly one of
/// its first `m - 1` windows starts at a probed offset `p`. The probe
/// looks the window up in a 4096-bit set of the windows at offsets
/// `0..m-1` of every needle (case folded: `b | 0x20`, low six bits, which
/// equal ASCII letters of either case share); on a hit, each needle that
/// could start at `p - k` for those offsets `k` is compared in full. A
/// 100-byte query with the trigger keywords (`m = 4`) costs about 34
/// probes, which Aho-Corasick (in any of its forms, with or without
/// prefilter) was 3-4 times slower than here, since the sandbox has no SIMD.
#[derive(Debug)]
struct Needles {
    needles: Vec<Vec<u8>>,
    /// Shortest needle length minus one (0 when there are no needles).
    stride: usize,
    windows: [u64; 64],
}

impl Needles {
    fn new(needles: Vec<Vec<u8>>) -> Self {
        debug_assert!(needles.iter().all(|n| n.len() >= 2 && n.is_ascii()));
        let stride = needles.iter().map(|n| n.len() - 1).min().unwrap_or(0);
        let mut windows = [0u64; 64];
        for needle in &needles {
            for k in 0..stride {
                let key = window(needle[k], needle[k + 1]);
                windows[key >> 6] |= 1 << (key & 63);
            }
        }
        Self {
            needles,
            stride,
            windows,
        }
    }

    /// Calls `found` with the index of each needle occurring in `text`
    /// (once per occurrence).
    fn each_found(&self, text: &[u8], mut found: impl FnMut(usize)) {
        if self.stride == 0 {
            return;
        }
        let mut p = 0;
        while p + 1 < text.len() {
            let key = window(text[p], text[p + 1]);
            if self.windows[key >> 6] & (1 << (key & 63)) != 0 {
                for (i, needle) in self.needles.iter().enumerate() {
                    for k in 0..self.stride.min(p + 1) {
                        if text
                            .get(p - k..p - k + needle.len())
                            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
                        {
                            found(i);
                        }
                    }
                }
            }
            p += self.stride;
        }
    }
}

/// The set index of the two-byte window `a b`, the same for any ASCII case.
fn window(a: u8, b: u8) -> usize {
    (usize::from((a | 0x20) & 0x3F) << 6) | usize::from((b | 0x20) & 0x3F)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_sdk::parse_config;

    fn prefilter(json: &str) -> Prefilter {
        Prefilter::new(&parse_config::<Config>(json).unwrap())
    }

    const NONE: Scan = Scan {
        words: false,
        parse: false,
    };

    #[test]
    fn keyword_free_text_needs_nothing() {
        let p = prefilter(r#"{"deny_statements": ["drop", "truncate", "delete-without-where"]}"#);
        let sql = "SELECT id, email, total FROM invoices WHERE customer_id = $1 \
                   AND status = 'open' ORDER BY id LIMIT 50";
        assert_eq!(p.scan(sql), NONE);
        assert!(!p.needs_parse(sql));
        assert!(!p.needs_parse(""));
        assert!(!p.needs_parse("this is not sql at all"));
        // Keywords of classes that are not configured do not count.
        assert!(!p.needs_parse("update t set a = 1"));
        assert!(!p.needs_parse("grant all on t to bob"));
    }

    #[test]
    fn keywords_in_any_case_position_or_quoting_need_a_parse() {
        let p = prefilter(r#"{"deny_statements": ["drop", "truncate", "delete-without-where"]}"#);
        for sql in [
            "DrOp/**/TABLE x",
            "select 1; drop table t",
            "select 'drop table'",
            "select 1 -- drop",
            "select \"DROP\" from t",
            "select * from backdrops",
            "TRUNCATE t",
            "with d as (DELETE from t returning *) select * from d",
            "prepare p as delete from t",
            // MySQL unescapes the prepared text: `DR\OP` is `DROP`.
            r"PREPARE s FROM 'DR\OP TABLE t'",
        ] {
            assert!(p.needs_parse(sql), "{sql}");
        }
    }

    #[test]
    fn classes_with_two_groups_need_both() {
        let p = prefilter(
            r#"{"deny_statements": ["copy-program", "create-or-replace", "role-management"]}"#,
        );
        for sql in [
            "select * from users group by role",
            "select replace(a, 'x', 'y') from t",
            "select created_at from programs",
            "copy t to stdout",
        ] {
            assert!(!p.needs_parse(sql), "{sql}");
        }
        for sql in [
            "copy t to program 'cat'",
            "create or replace view v as select 1",
            "CREATE OR ALTER VIEW v AS SELECT 1",
            "drop user u",
            "alter role r login",
            "create group g",
        ] {
            assert!(p.needs_parse(sql), "{sql}");
        }
    }

    #[test]
    fn strict_always_parses() {
        let p = prefilter(r#"{"deny_statements": ["drop"], "strict": true}"#);
        assert!(p.needs_parse("select 1"));
        assert!(p.needs_parse("this is not sql at all"));
        assert!(prefilter(r#"{"strict": true}"#).needs_parse("select 1"));
    }

    #[test]
    fn words_are_found_as_substrings() {
        let p = prefilter(r#"{"deny_words": ["PG_SLEEP", "Salary"]}"#);
        assert_eq!(p.scan("select 1"), NONE);
        let words = Scan {
            words: true,
            parse: false,
        };
        assert_eq!(p.scan("select Pg_Sleep(1)"), words);
        assert_eq!(p.scan("select 'salary'"), words);
        assert_eq!(p.scan("prepare s from 'x'"), words);
        // Only words are configured: no class can be found.
        assert_eq!(p.scan("drop table t"), NONE);
    }

    #[test]
    fn words_the_scan_cannot_vouch_for_always_tokenise() {
        for json in [
            r#"{"deny_words": ["ok", "straße"]}"#,
            r#"{"deny_words": ["a\"b"]}"#,
            r#"{"deny_words": ["a`b"]}"#,
            r#"{"deny_words": ["a]b"]}"#,
        ] {
            assert!(prefilter(json).scan("select 1").words, "{json}");
        }
    }

    #[test]
    fn kelvin_sign_can_spell_k() {
        let p = prefilter(r#"{"deny_words": ["kill"]}"#);
        assert!(p.scan("select \u{212A}ILL(1)").words);
        assert!(!p.scan("select 'café'").words);
        // A word without `k` cannot be spelt with it.
        let p = prefilter(r#"{"deny_words": ["sleep"]}"#);
        assert!(!p.scan("select \u{212A}ILL(1)").words);
    }

    #[test]
    fn lowercase_to_ascii_is_complete() {
        let found: Vec<char> = (0x80..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| c.to_lowercase().all(|l| l.is_ascii()))
            .collect();
        assert_eq!(found, LOWERCASE_TO_ASCII);
    }

    /// Every needle occurring in `text`, found naively.
    fn naive(needles: &[Vec<u8>], text: &[u8]) -> Vec<usize> {
        (0..needles.len())
            .filter(|&i| {
                text.windows(needles[i].len())
                    .any(|w| w.eq_ignore_ascii_case(&needles[i]))
            })
            .collect()
    }

    fn found(needles: &Needles, text: &[u8]) -> Vec<usize> {
        let mut found = vec![];
        needles.each_found(text, |i| found.push(i));
        found.sort_unstable();
        found.dedup();
        found
    }

    #[test]
    fn needles_find_what_a_naive_search_finds() {
        // A small xorshift: texts over a tiny alphabet, so that needles
        // occur often, overlap, and sit at every offset and at both ends.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let alphabet = b"aAbB_ \xe9";
        for _ in 0..2_000 {
            let needles: Vec<Vec<u8>> = (0..1 + next(4))
                .map(|_| {
                    (0..2 + next(5))
                        .map(|_| alphabet[next(5)].to_ascii_lowercase())
                        .collect()
                })
                .collect();
            let scanner = Needles::new(needles.clone());
            for _ in 0..20 {
                let text: Vec<u8> = (0..next(24))
                    .map(|_| alphabet[next(alphabet.len())])
                    .collect();
                assert_eq!(
                    found(&scanner, &text),
                    naive(&needles, &text),
                    "{needles:?} in {:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }

    #[test]
    fn needles_at_the_edges_and_overlapping() {
        let needles = Needles::new(vec![
            b"drop".to_vec(),
            b"create".to_vec(),
            b"alter".to_vec(),
        ]);
        assert_eq!(found(&needles, b"DROP"), [0]);
        assert_eq!(found(&needles, b"x drop"), [0]);
        assert_eq!(found(&needles, b"dro"), [] as [usize; 0]);
        assert_eq!(found(&needles, b"CREATE OR ALTER"), [1, 2]);
        assert_eq!(found(&needles, b"createalterdrop"), [0, 1, 2]);
        assert_eq!(found(&Needles::new(vec![]), b"drop"), [] as [usize; 0]);
    }
}
