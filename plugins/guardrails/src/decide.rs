//! The decision on one query text: patterns, then words, then statement
//! classes, then (in strict mode) parseability.
//!
//! Words and classes are only looked for when the raw text can hold them
//! (see [`crate::prefilter`]): outside strict mode, most queries are
//! decided without being tokenised.
//!
//! The text is tokenised once with the connection's dialect. Words are
//! checked on those tokens; the same tokens are then parsed as a whole.
//! When the whole text does not parse, it is split at top-level `;` (the
//! tokenizer already knows which `;` sit in strings and comments) and each
//! statement is parsed on its own, so that one statement the parser does
//! not know cannot hide a `DROP` after it. Statements are numbered from 1
//! in the order they appear.
//!
//! MySQL's `PREPARE name FROM '<sql>'` (which the parser does not know) is
//! recognised by its tokens, and the quoted SQL is checked like a query of
//! its own (words and classes), as it will run when executed.

use std::ops::Range;

use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::classify::{Finding, classify};
use crate::config::{Config, StatementClass};
use crate::prefilter::Scan;
use crate::rules::Compiled;

/// The SQL dialect a connection speaks, from its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    Postgres,
    MySql,
    Generic,
}

impl SqlDialect {
    fn dialect(self) -> &'static dyn Dialect {
        match self {
            SqlDialect::Postgres => &PostgreSqlDialect {},
            SqlDialect::MySql => &MySqlDialect {},
            SqlDialect::Generic => &GenericDialect,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SqlDialect::Postgres => "PostgreSQL",
            SqlDialect::MySql => "MySQL",
            SqlDialect::Generic => "generic",
        }
    }
}

/// Why a query is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The raw text matches a `deny_patterns` regex.
    Pattern { pattern: String },
    /// A token is a `deny_words` word. `statement` is unknown when the text
    /// could not be tokenised.
    Word {
        word: String,
        statement: Option<usize>,
    },
    /// A statement belongs to a denied class.
    Class {
        class: StatementClass,
        statement: usize,
        via: Option<&'static str>,
    },
    /// Strict mode, and a statement (or the whole text) does not parse.
    Unparseable {
        statement: Option<usize>,
        dialect: &'static str,
        error: String,
    },
    /// The rules themselves could not be built (fails closed).
    Rules { error: String },
}

impl Denial {
    /// The deny reason shown to the user, after `prefix: `.
    pub fn reason(&self, prefix: &str) -> String {
        let at = |statement: &Option<usize>| match statement {
            Some(n) => format!(" (statement {n})"),
            None => String::new(),
        };
        match self {
            Denial::Pattern { pattern } => format!(
                "{prefix}: queries matching the pattern `{pattern}` are not allowed on this connection"
            ),
            Denial::Word { word, statement } => format!(
                "{prefix}: `{word}` is not allowed on this connection{}",
                at(statement)
            ),
            Denial::Class {
                class,
                statement,
                via,
            } => {
                let inside = via.map(|v| format!(", inside {v}")).unwrap_or_default();
                format!(
                    "{prefix}: {} not allowed on this connection (statement {statement}{inside})",
                    class.refusal()
                )
            }
            Denial::Unparseable {
                statement,
                dialect,
                error,
            } => format!(
                "{prefix}: the query could not be parsed as {dialect} SQL{}, and this connection \
                 only allows SQL it can check: {error}",
                at(statement)
            ),
            Denial::Rules { error } => {
                format!("{prefix}: the guardrails rules could not be built: {error}")
            }
        }
    }
}

/// Decide on one query text.
pub fn decide(
    config: &Config,
    rules: &Compiled,
    dialect: SqlDialect,
    sql: &str,
) -> Result<(), Denial> {
    if let Some(pattern) = rules.matching_pattern(sql) {
        return Err(Denial::Pattern {
            pattern: pattern.to_string(),
        });
    }
    checks(config, rules, dialect, sql, rules.prefilter.scan(sql))
}

/// Words, classes and parseability, as far as `scan` asks.
fn checks(
    config: &Config,
    rules: &Compiled,
    dialect: SqlDialect,
    sql: &str,
    scan: Scan,
) -> Result<(), Denial> {
    if !scan.words && !scan.parse {
        return Ok(());
    }
    Checker {
        config,
        rules,
        dialect,
        scan,
    }
    .text(sql, None, None)
}

/// [`decide`] without the prefilter: words whenever some are configured,
/// a parse whenever classes are (or strict mode). The reference the fast
/// path is tested against.
#[cfg(test)]
pub(crate) fn decide_without_prefilter(
    config: &Config,
    rules: &Compiled,
    dialect: SqlDialect,
    sql: &str,
) -> Result<(), Denial> {
    if let Some(pattern) = rules.matching_pattern(sql) {
        return Err(Denial::Pattern {
            pattern: pattern.to_string(),
        });
    }
    let scan = Scan {
        words: !rules.words.is_empty(),
        parse: config.needs_parse(),
    };
    checks(config, rules, dialect, sql, scan)
}

struct Checker<'a> {
    config: &'a Config,
    rules: &'a Compiled,
    dialect: SqlDialect,
    /// Which checks the text can fail (all of them for nested text, which
    /// only exists when `prepare` triggered every check).
    scan: Scan,
}

impl Checker<'_> {
    /// Words, classes and parseability of `sql`. `within` is the number of
    /// the outer statement when `sql` is nested (MySQL `PREPARE … FROM`).
    fn text(
        &self,
        sql: &str,
        via: Option<&'static str>,
        within: Option<usize>,
    ) -> Result<(), Denial> {
        #[cfg(test)]
        counters::bump(&counters::TOKENIZED);
        let tokens = match Tokenizer::new(self.dialect.dialect(), sql).tokenize_with_location() {
            Ok(tokens) => tokens,
            Err(err) => {
                if self.scan.words
                    && let Some(word) = self.rules.denied_word_in_raw(sql)
                {
                    return Err(Denial::Word {
                        word: word.to_string(),
                        statement: within,
                    });
                }
                return self.unparseable(within, err.to_string());
            }
        };
        let statements = split_statements(&tokens);
        let number = |i: usize| within.unwrap_or(i + 1);

        if self.scan.words {
            for (i, range) in statements.iter().enumerate() {
                if let Some(word) = tokens[range.clone()]
                    .iter()
                    .find_map(|t| self.rules.denied_word(&t.token))
                {
                    return Err(Denial::Word {
                        word: word.to_string(),
                        statement: Some(number(i)),
                    });
                }
            }
        }
        if !self.scan.parse || statements.is_empty() {
            return Ok(());
        }

        let parsed = self.parse(tokens.clone());
        if let Ok(parsed) = parsed {
            for (i, statement) in parsed.iter().enumerate() {
                self.classes(&classify(statement), number(i), via)?;
            }
            return Ok(());
        }
        // One statement the parser does not know must not hide the others.
        for (i, range) in statements.into_iter().enumerate() {
            let chunk = &tokens[range];
            match self.parse(chunk.to_vec()) {
                Ok(parsed) => {
                    for statement in &parsed {
                        self.classes(&classify(statement), number(i), via)?;
                    }
                }
                Err(err) => match mysql_prepare_from(chunk) {
                    Some(inner) => self.text(inner, Some("PREPARE"), Some(number(i)))?,
                    None => self.unparseable(Some(number(i)), err.to_string())?,
                },
            }
        }
        Ok(())
    }

    fn parse(
        &self,
        tokens: Vec<TokenWithSpan>,
    ) -> Result<Vec<sqlparser::ast::Statement>, ParserError> {
        #[cfg(test)]
        counters::bump(&counters::PARSED);
        Parser::new(self.dialect.dialect())
            .with_tokens_with_locations(tokens)
            .parse_statements()
    }

    fn classes(
        &self,
        findings: &[Finding],
        statement: usize,
        outer_via: Option<&'static str>,
    ) -> Result<(), Denial> {
        match findings.iter().find(|f| self.config.denies(f.class)) {
            Some(finding) => Err(Denial::Class {
                class: finding.class,
                statement,
                via: outer_via.or(finding.via),
            }),
            None => Ok(()),
        }
    }

    fn unparseable(&self, statement: Option<usize>, error: String) -> Result<(), Denial> {
        if !self.config.strict {
            return Ok(());
        }
        let error = error
            .strip_prefix("sql parser error: ")
            .map(str::to_string)
            .unwrap_or(error);
        Err(Denial::Unparseable {
            statement,
            dialect: self.dialect.name(),
            error,
        })
    }
}

/// The token ranges of the statements in `tokens`: split at `;`, without
/// the `;`, leaving out those with nothing but whitespace and comments.
fn split_statements(tokens: &[TokenWithSpan]) -> Vec<Range<usize>> {
    let mut statements = Vec::new();
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if token.token == Token::SemiColon {
            statements.push(start..i);
            start = i + 1;
        }
    }
    statements.push(start..tokens.len());
    statements.retain(|range| {
        tokens[range.clone()]
            .iter()
            .any(|t| is_significant(&t.token))
    });
    statements
}

fn is_significant(token: &Token) -> bool {
    !matches!(token, Token::Whitespace(_) | Token::EOF)
}

/// The quoted SQL of MySQL's `PREPARE name FROM '<sql>'`.
fn mysql_prepare_from(tokens: &[TokenWithSpan]) -> Option<&str> {
    let mut significant = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| is_significant(t));
    let is_keyword = |token: Option<&Token>, keyword| matches!(token, Some(Token::Word(w)) if w.keyword == keyword);
    if !is_keyword(significant.next(), Keyword::PREPARE) {
        return None;
    }
    if !matches!(significant.next(), Some(Token::Word(_))) {
        return None;
    }
    if !is_keyword(significant.next(), Keyword::FROM) {
        return None;
    }
    let sql = match significant.next()? {
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.as_str(),
        _ => return None,
    };
    significant.next().is_none().then_some(sql)
}

/// How many texts were tokenised and token lists parsed on this thread,
/// for tests of the fast path.
#[cfg(test)]
pub(crate) mod counters {
    use std::cell::Cell;

    thread_local! {
        pub static TOKENIZED: Cell<usize> = const { Cell::new(0) };
        pub static PARSED: Cell<usize> = const { Cell::new(0) };
    }

    pub fn bump(counter: &'static std::thread::LocalKey<Cell<usize>>) {
        counter.with(|c| c.set(c.get() + 1));
    }

    /// (tokenised, parsed) so far.
    pub fn get() -> (usize, usize) {
        (TOKENIZED.with(Cell::get), PARSED.with(Cell::get))
    }
}
