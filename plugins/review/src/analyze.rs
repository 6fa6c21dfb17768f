//! Does a query need a one-time review? The first rule whose conditions
//! the query meets says yes, and names why.
//!
//! A query text is looked at lazily and at most once per kind of look:
//! patterns run on the raw text; tables need tokens; statement classes need
//! a parse. Both are skipped when a cheap scan of the raw text shows they
//! cannot match (no rule's table name, no trigger keyword of a rule's
//! classes: see [`crate::classify::trigger_keywords`]). Within a rule the
//! cheap conditions run first and the first one that fails ends the rule.
//!
//! Parsing follows the connection's dialect. When the whole text does not
//! parse, each `;`-separated statement is parsed on its own, so one
//! statement the parser does not know cannot hide the others; a statement
//! that does not parse (or a text that does not tokenise) makes the text
//! *unparsed*, which meets a rule's class condition when `on_unparsed` is
//! `review` (the default) and the text has one of the rule's class
//! keywords: it cannot be shown not to need review.

use std::cell::OnceCell;
use std::ops::Range;

use regex::{Regex, RegexBuilder};
use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::classify::{Kinds, classify, trigger_keywords};
use crate::config::{Config, OnUnparsed, Rule, StatementClass};
use crate::tables::{TableName, contains_ignore_ascii_case, first_named};

/// Largest compiled size of one pattern (as in guardrails).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

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
}

/// Why a query needs review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needed {
    /// Index of the rule in the config.
    pub rule: usize,
    /// What met each condition, e.g. "statement class `delete`",
    /// "table `payments`".
    pub because: Vec<String>,
}

impl Needed {
    /// The reason approvers and the user read.
    pub fn reason(&self, prefix: &str, approver_groups: &[String]) -> String {
        format!(
            "{prefix}: this query needs approval from {} ({}, rule {})",
            approver_groups.join(" or "),
            self.because.join(", "),
            self.rule + 1
        )
    }
}

/// The rules in matchable form, built on the first query.
#[derive(Debug)]
pub struct Compiled {
    rules: Vec<CompiledRule>,
}

#[derive(Debug)]
struct CompiledRule {
    all: bool,
    classes: Vec<StatementClass>,
    /// Lowercase trigger keywords of `classes`.
    keywords: Vec<&'static str>,
    tables: Vec<TableName>,
    patterns: Vec<(String, Regex)>,
}

impl Compiled {
    pub fn new(config: &Config) -> Result<Self, String> {
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| CompiledRule::new(i, rule))
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }
}

impl CompiledRule {
    fn new(i: usize, rule: &Rule) -> Result<Self, String> {
        let mut keywords: Vec<&'static str> = rule
            .statements
            .iter()
            .flat_map(|c| trigger_keywords(*c).iter().copied())
            .collect();
        keywords.sort_unstable();
        keywords.dedup();
        let tables = rule
            .tables
            .iter()
            .map(|t| TableName::parse(t).map_err(|e| format!("rules[{i}].tables: {e}")))
            .collect::<Result<_, _>>()?;
        let patterns = rule
            .patterns
            .iter()
            .enumerate()
            .map(|(j, p)| {
                RegexBuilder::new(p)
                    .size_limit(PATTERN_SIZE_LIMIT)
                    .build()
                    .map(|r| (p.clone(), r))
                    .map_err(|e| {
                        format!("rules[{i}].patterns[{j}] `{p}` is not a valid regex: {e}")
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            all: rule.statements.contains(&StatementClass::All),
            classes: rule
                .statements
                .iter()
                .copied()
                .filter(|c| *c != StatementClass::All)
                .collect(),
            keywords,
            tables,
            patterns,
        })
    }
}

/// Whether `sql` needs review, and why: the first matching rule.
pub fn needs_review(
    config: &Config,
    compiled: &Compiled,
    dialect: SqlDialect,
    sql: &str,
) -> Option<Needed> {
    let text = Text {
        sql,
        dialect,
        tokens: OnceCell::new(),
        kinds: OnceCell::new(),
    };
    compiled.rules.iter().enumerate().find_map(|(i, rule)| {
        text.meets(rule, config.on_unparsed)
            .map(|because| Needed { rule: i, because })
    })
}

/// One query text and what has been learnt about it.
struct Text<'a> {
    sql: &'a str,
    dialect: SqlDialect,
    /// `None`: the text does not tokenise.
    tokens: OnceCell<Option<Vec<TokenWithSpan>>>,
    kinds: OnceCell<Analysis>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Analysis {
    kinds: Kinds,
    /// Some statement (or the whole text) could not be parsed.
    unparsed: bool,
}

impl Text<'_> {
    /// What met each of `rule`'s conditions, or `None` if one failed.
    fn meets(&self, rule: &CompiledRule, on_unparsed: OnUnparsed) -> Option<Vec<String>> {
        let pattern = if rule.patterns.is_empty() {
            None
        } else {
            let (source, _) = rule.patterns.iter().find(|(_, r)| r.is_match(self.sql))?;
            Some(format!("pattern `{source}`"))
        };
        let table = if rule.tables.is_empty() {
            None
        } else {
            Some(format!("table `{}`", self.named_table(&rule.tables)?))
        };
        let class = if rule.all {
            Some("every query".to_string())
        } else if rule.classes.is_empty() {
            None
        } else {
            Some(self.class(rule, on_unparsed)?)
        };
        Some([class, table, pattern].into_iter().flatten().collect())
    }

    fn named_table<'t>(&self, tables: &'t [TableName]) -> Option<&'t str> {
        let mut candidates = tables.iter().filter(|t| t.could_appear_in(self.sql));
        let first_candidate = candidates.next()?;
        let found = match self.tokens() {
            Some(tokens) => first_named(tables, tokens)?,
            // Untokenisable text: the raw scan is all there is; match more.
            None => first_candidate,
        };
        Some(found.configured.as_str())
    }

    fn class(&self, rule: &CompiledRule, on_unparsed: OnUnparsed) -> Option<String> {
        if !rule
            .keywords
            .iter()
            .any(|k| contains_ignore_ascii_case(self.sql, k))
        {
            return None;
        }
        let analysis = self.analysis();
        if let Some(class) = rule.classes.iter().find(|c| analysis.kinds.in_class(**c)) {
            return Some(format!("statement class `{class}`"));
        }
        (analysis.unparsed && on_unparsed == OnUnparsed::Review)
            .then(|| "SQL that could not be parsed to rule it out".to_string())
    }

    fn tokens(&self) -> Option<&Vec<TokenWithSpan>> {
        self.tokens
            .get_or_init(|| {
                Tokenizer::new(self.dialect.dialect(), self.sql)
                    .tokenize_with_location()
                    .ok()
            })
            .as_ref()
    }

    fn analysis(&self) -> Analysis {
        *self.kinds.get_or_init(|| {
            let Some(tokens) = self.tokens() else {
                return Analysis {
                    unparsed: true,
                    ..Analysis::default()
                };
            };
            let mut analysis = Analysis::default();
            if let Ok(statements) = parse(self.dialect, tokens.clone()) {
                for statement in &statements {
                    analysis.kinds = analysis.kinds.union(classify(statement));
                }
                return analysis;
            }
            // One statement the parser does not know must not hide the others.
            for range in split_statements(tokens) {
                match parse(self.dialect, tokens[range].to_vec()) {
                    Ok(statements) => {
                        for statement in &statements {
                            analysis.kinds = analysis.kinds.union(classify(statement));
                        }
                    }
                    Err(_) => analysis.unparsed = true,
                }
            }
            analysis
        })
    }
}

fn parse(
    dialect: SqlDialect,
    tokens: Vec<TokenWithSpan>,
) -> Result<Vec<sqlparser::ast::Statement>, ParserError> {
    Parser::new(dialect.dialect())
        .with_tokens_with_locations(tokens)
        .parse_statements()
}

/// The token ranges of the statements in `tokens`: split at `;`, leaving
/// out those with nothing but whitespace and comments.
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
            .any(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
    });
    statements
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_sdk::parse_config;

    fn check(config: &str, sql: &str) -> Option<String> {
        let config: Config = parse_config(config).unwrap();
        config.validate().unwrap();
        let compiled = Compiled::new(&config).unwrap();
        needs_review(&config, &compiled, SqlDialect::Postgres, sql)
            .map(|n| n.reason(config.prefix(), &config.approver_groups))
    }

    const RULES: &str = r#"{
        "approver_groups": ["dba", "lead"],
        "rules": [
            {"statements": ["ddl", "delete"]},
            {"statements": ["dml-write"], "tables": ["billing.invoices"]},
            {"patterns": ["(?i)\\bsalary\\b"]}
        ]
    }"#;

    #[test]
    fn classes_tables_patterns() {
        assert_eq!(check(RULES, "select * from t"), None);
        assert_eq!(
            check(RULES, "drop table t").unwrap(),
            "review: this query needs approval from dba or lead (statement class `ddl`, rule 1)"
        );
        assert!(
            check(RULES, "delete from t where id = 1")
                .unwrap()
                .contains("`delete`, rule 1")
        );
        assert_eq!(check(RULES, "update t set a = 1"), None);
        assert_eq!(
            check(
                RULES,
                "update billing.invoices set paid = true where id = 1"
            )
            .unwrap(),
            "review: this query needs approval from dba or lead (statement class `dml-write`, \
             table `billing.invoices`, rule 2)"
        );
        assert_eq!(check(RULES, "select * from billing.invoices"), None);
        assert_eq!(
            check(RULES, "update archive.invoices set a = 1 where id = 2"),
            None
        );
        assert!(
            check(RULES, "select SALARY from staff")
                .unwrap()
                .contains("pattern")
        );
        // Literals are not statements: parsed, not substring-matched.
        assert_eq!(check(RULES, "select 'drop table t'"), None);
    }

    #[test]
    fn all_reviews_everything() {
        let config = r#"{"approver_groups": ["dba"], "rules": [{"statements": ["all"]}]}"#;
        assert!(check(config, "select 1").unwrap().contains("every query"));
        assert!(check(config, "DO $$ garbage").is_some());
    }

    #[test]
    fn unparsed_text_is_reviewed_unless_allowed() {
        let review = r#"{"approver_groups": ["dba"], "rules": [{"statements": ["delete"]}]}"#;
        let allow = r#"{"approver_groups": ["dba"], "rules": [{"statements": ["delete"]}],
                        "on_unparsed": "allow"}"#;
        let sql = "do $$ begin delete from t; end $$";
        assert!(
            check(review, sql).unwrap().contains("could not be parsed"),
            "{:?}",
            check(review, sql)
        );
        assert_eq!(check(allow, sql), None);
        // Without a class keyword the text cannot be in the class: not parsed.
        assert_eq!(check(review, "do $$ begin perform 1; end $$"), None);
        // One unknown statement does not hide a known one after it.
        assert!(
            check(allow, "frobnicate; delete from t")
                .unwrap()
                .contains("`delete`")
        );
    }
}
