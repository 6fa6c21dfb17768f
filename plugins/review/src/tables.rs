//! Table conditions: does a query name a configured table?
//!
//! Matched on SQL **tokens**, not on the AST: a table named anywhere (a
//! `FROM`, a `JOIN`, a subquery in a `WHERE`, an `INSERT INTO`, a qualified
//! column `invoices.total`) is an identifier token, so no statement shape
//! can hide it; string literals and comments are not identifiers and do
//! not match. The price is the other direction: a column or alias spelled
//! like a configured table also matches. For a review policy that errs the
//! safe way (more review, never less).
//!
//! Names compare case-insensitively, quoted or not. A configured
//! `schema.table` matches `table` unqualified (the search path may lead to
//! it) and `schema.table`, but not `other.table`; a configured bare
//! `table` matches it under any schema. Only the last two parts of a name
//! count (`db.schema.table` compares `schema` and `table`).
//!
//! What tokens cannot see: a table reached through a view, a function, a
//! synonym, or SQL built at run time.

use sqlparser::tokenizer::{Token, TokenWithSpan};

/// A configured table name, lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// As configured, for reasons.
    pub configured: String,
    qualifier: Option<String>,
    name: String,
}

impl TableName {
    /// `table`, `schema.table` or `db.schema.table`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() > 3 {
            return Err("a table name has at most three dot-separated parts".into());
        }
        for part in &parts {
            if part.is_empty() {
                return Err("a part of the name is empty".into());
            }
            if part
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '"' | '`' | '[' | ']' | ';' | '\''))
            {
                return Err(
                    "write the bare name, without quotes, brackets or spaces (names match \
                     case-insensitively, quoted or not)"
                        .into(),
                );
            }
        }
        let name = parts[parts.len() - 1].to_lowercase();
        let qualifier = (parts.len() > 1).then(|| parts[parts.len() - 2].to_lowercase());
        Ok(Self {
            configured: text.to_string(),
            qualifier,
            name,
        })
    }

    /// Whether the raw text can name this table at all (a cheap scan that
    /// lets most queries skip tokenising). Never wrong in the unsafe way:
    /// non-ASCII names always answer yes.
    pub fn could_appear_in(&self, text: &str) -> bool {
        !self.name.is_ascii() || contains_ignore_ascii_case(text, &self.name)
    }

    /// Whether the identifier token at `tokens[i]` names this table.
    fn named_at(&self, tokens: &[TokenWithSpan], i: usize) -> bool {
        let Token::Word(word) = &tokens[i].token else {
            return false;
        };
        if word.value.to_lowercase() != self.name {
            return false;
        }
        let Some(wanted) = &self.qualifier else {
            return true;
        };
        let mut before = tokens[..i]
            .iter()
            .rev()
            .map(|t| &t.token)
            .filter(|t| !matches!(t, Token::Whitespace(_)));
        if before.next() != Some(&Token::Period) {
            return true;
        }
        match before.next() {
            Some(Token::Word(qualifier)) => qualifier.value.to_lowercase() == *wanted,
            _ => true,
        }
    }
}

/// The first of `tables` that `tokens` name.
pub fn first_named<'a>(tables: &'a [TableName], tokens: &[TokenWithSpan]) -> Option<&'a TableName> {
    (0..tokens.len()).find_map(|i| tables.iter().find(|t| t.named_at(tokens, i)))
}

/// ASCII case-insensitive substring search; `needle` must be lowercase.
pub fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (hay, needle) = (haystack.as_bytes(), needle.as_bytes());
    if needle.is_empty() {
        return true;
    }
    hay.windows(needle.len()).any(|window| {
        window
            .iter()
            .zip(needle)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};
    use sqlparser::tokenizer::Tokenizer;

    fn names(config: &[&str], sql: &str) -> Option<String> {
        let tables: Vec<TableName> = config
            .iter()
            .map(|t| TableName::parse(t).unwrap())
            .collect();
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize_with_location()
            .unwrap();
        first_named(&tables, &tokens).map(|t| t.configured.clone())
    }

    #[test]
    fn tables_anywhere_but_not_in_literals() {
        let t = &["payments"];
        assert!(names(t, "select * from payments").is_some());
        assert!(names(t, "SELECT * FROM \"Payments\" p").is_some());
        assert!(names(t, "select 1 where exists (select 1 from public.payments)").is_some());
        assert!(names(t, "insert into payments values (1)").is_some());
        assert!(names(t, "select 'payments' -- payments").is_none());
        assert!(names(t, "select * from payments_archive").is_none());
    }

    #[test]
    fn qualified_names() {
        let t = &["billing.invoices"];
        assert!(names(t, "select * from invoices").is_some());
        assert!(names(t, "select * from billing.invoices").is_some());
        assert!(names(t, "select * from BILLING . \"invoices\"").is_some());
        assert!(names(t, "select * from archive.invoices").is_none());
        assert!(names(t, "select * from db.billing.invoices").is_some());
    }

    #[test]
    fn mysql_backticks() {
        let tables = [TableName::parse("payments").unwrap()];
        let tokens = Tokenizer::new(&MySqlDialect {}, "delete from `shop`.`Payments`")
            .tokenize_with_location()
            .unwrap();
        assert!(first_named(&tables, &tokens).is_some());
    }

    #[test]
    fn bad_names() {
        for bad in ["", "a..b", "\"a\"", "a b", "a.b.c.d"] {
            assert!(TableName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefilter() {
        let t = TableName::parse("Billing.Invoices").unwrap();
        assert!(t.could_appear_in("SELECT * FROM INVOICES"));
        assert!(!t.could_appear_in("select 1"));
        assert!(
            TableName::parse("zählung")
                .unwrap()
                .could_appear_in("select 1")
        );
    }
}
