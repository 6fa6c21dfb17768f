//! The plugin's per-connection configuration and its checks.
//!
//! Parsing (serde, unknown fields refused) is the SDK's job; this module
//! adds what serde cannot see: blank or multi-word entries in `deny_words`,
//! regexes that do not compile, a blank `message`. Statement classes are a
//! closed enum, so an unknown class name is refused by serde with the list
//! of valid names.

use serde::Deserialize;
use std::fmt;

use crate::rules;

/// Prefix of deny reasons when the config sets no `message`.
pub const DEFAULT_PREFIX: &str = "guardrails";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Statement classes denied on this connection.
    #[serde(default)]
    pub deny_statements: Vec<StatementClass>,
    /// Words (identifiers or keywords) denied anywhere in the SQL, outside
    /// string literals and comments. Case-insensitive, whole tokens.
    #[serde(default)]
    pub deny_words: Vec<String>,
    /// Regexes (Rust `regex` syntax) denied anywhere in the raw query text,
    /// string literals and comments included.
    #[serde(default)]
    pub deny_patterns: Vec<String>,
    /// Deny SQL that cannot be parsed (it cannot be checked).
    #[serde(default)]
    pub strict: bool,
    /// Prefix of deny reasons, instead of `guardrails`.
    #[serde(default)]
    pub message: Option<String>,
}

impl Config {
    /// The prefix of every deny reason.
    pub fn prefix(&self) -> &str {
        self.message.as_deref().unwrap_or(DEFAULT_PREFIX)
    }

    /// Whether the plugin has nothing to check (every query is allowed
    /// without being tokenised).
    pub fn is_empty(&self) -> bool {
        self.deny_statements.is_empty()
            && self.deny_words.is_empty()
            && self.deny_patterns.is_empty()
            && !self.strict
    }

    /// Whether any statement may need parsing (classes, or strict mode).
    /// Which texts do is for the prefilter to say
    /// ([`Prefilter::needs_parse`](crate::Prefilter::needs_parse)).
    pub fn needs_parse(&self) -> bool {
        !self.deny_statements.is_empty() || self.strict
    }

    pub fn denies(&self, class: StatementClass) -> bool {
        self.deny_statements.contains(&class)
    }

    /// Everything serde cannot check, including every pattern's syntax, so
    /// that a bad regex is reported when the admin binds the plugin. Cheap:
    /// the SDK also runs this at every session's init.
    pub fn validate(&self) -> Result<(), String> {
        for (i, word) in self.deny_words.iter().enumerate() {
            if word.trim().is_empty() {
                return Err(format!("deny_words[{i}] is blank"));
            }
            if word.chars().any(|c| c.is_whitespace() || c == '.') {
                return Err(format!(
                    "deny_words[{i}] {word:?} is not a single word: words match one identifier or \
                     keyword (write `pg_sleep`, not `pg_catalog.pg_sleep`); use deny_patterns for \
                     anything longer"
                ));
            }
        }
        rules::check_patterns(&self.deny_patterns)?;
        if let Some(message) = &self.message
            && message.trim().is_empty()
        {
            return Err("message is blank: leave it out to use the default prefix".into());
        }
        Ok(())
    }
}

/// A class of statement that a connection can deny. The config names are
/// the kebab-case forms (`delete-without-where`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatementClass {
    /// Any `DROP …`: table, view, index, schema, database, function,
    /// procedure, trigger, role, user, extension …
    Drop,
    /// `TRUNCATE`.
    Truncate,
    /// Any `ALTER …` (table, index, view, schema, function, role, user,
    /// default privileges …) and MySQL `RENAME TABLE`.
    Alter,
    /// `GRANT` of privileges or roles (and MS SQL `DENY`), including
    /// `ALTER DEFAULT PRIVILEGES … GRANT`.
    Grant,
    /// `REVOKE` of privileges or roles, including
    /// `ALTER DEFAULT PRIVILEGES … REVOKE`.
    Revoke,
    /// `DELETE` with no `WHERE`, or a `WHERE` made only of constants
    /// (`WHERE 1=1`, `WHERE true`).
    DeleteWithoutWhere,
    /// `UPDATE` with no `WHERE`, or a `WHERE` made only of constants.
    UpdateWithoutWhere,
    /// `COPY … TO PROGRAM` / `COPY … FROM PROGRAM` (runs a shell command on
    /// the database server).
    CopyProgram,
    /// `CREATE OR REPLACE …` (and `CREATE OR ALTER …`): silently replaces an
    /// existing view, function, procedure, trigger, table …
    CreateOrReplace,
    /// `CREATE`/`ALTER`/`DROP` of a `ROLE`, `USER` or `GROUP`.
    RoleManagement,
}

impl StatementClass {
    /// Every class, in the order of the documentation.
    pub const ALL: &'static [StatementClass] = &[
        StatementClass::Drop,
        StatementClass::Truncate,
        StatementClass::Alter,
        StatementClass::Grant,
        StatementClass::Revoke,
        StatementClass::DeleteWithoutWhere,
        StatementClass::UpdateWithoutWhere,
        StatementClass::CopyProgram,
        StatementClass::CreateOrReplace,
        StatementClass::RoleManagement,
    ];

    /// The name used in the config.
    pub fn name(self) -> &'static str {
        match self {
            StatementClass::Drop => "drop",
            StatementClass::Truncate => "truncate",
            StatementClass::Alter => "alter",
            StatementClass::Grant => "grant",
            StatementClass::Revoke => "revoke",
            StatementClass::DeleteWithoutWhere => "delete-without-where",
            StatementClass::UpdateWithoutWhere => "update-without-where",
            StatementClass::CopyProgram => "copy-program",
            StatementClass::CreateOrReplace => "create-or-replace",
            StatementClass::RoleManagement => "role-management",
        }
    }

    /// What is refused, as the subject of "… not allowed".
    pub fn refusal(self) -> &'static str {
        match self {
            StatementClass::Drop => "DROP statements are",
            StatementClass::Truncate => "TRUNCATE statements are",
            StatementClass::Alter => "ALTER statements are",
            StatementClass::Grant => "GRANT statements are",
            StatementClass::Revoke => "REVOKE statements are",
            StatementClass::DeleteWithoutWhere => "DELETE without a WHERE clause is",
            StatementClass::UpdateWithoutWhere => "UPDATE without a WHERE clause is",
            StatementClass::CopyProgram => "COPY to or from a PROGRAM is",
            StatementClass::CreateOrReplace => "CREATE OR REPLACE statements are",
            StatementClass::RoleManagement => "creating, altering or dropping roles and users is",
        }
    }
}

impl fmt::Display for StatementClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_sdk::parse_config;

    fn parse(json: &str) -> Result<Config, String> {
        let config: Config = parse_config(json).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn empty_config_checks_nothing() {
        let config = parse("{}").unwrap();
        assert!(config.is_empty());
        assert_eq!(config.prefix(), "guardrails");
        assert!(!config.strict);
    }

    #[test]
    fn full_config_parses() {
        let config = parse(
            r#"{ "deny_statements": ["drop","truncate","alter","grant","revoke",
                   "delete-without-where","update-without-where","copy-program",
                   "create-or-replace","role-management"],
                 "deny_words": ["pg_sleep"], "deny_patterns": ["(?i)password"],
                 "strict": true, "message": "DBA policy" }"#,
        )
        .unwrap();
        assert_eq!(config.deny_statements, StatementClass::ALL);
        assert_eq!(config.prefix(), "DBA policy");
        assert!(config.strict);
    }

    #[test]
    fn class_names_match_serde() {
        for class in StatementClass::ALL {
            let json = format!(r#"{{"deny_statements": ["{}"]}}"#, class.name());
            assert_eq!(parse(&json).unwrap().deny_statements, [*class]);
        }
    }

    #[test]
    fn unknown_class_lists_the_valid_ones() {
        let err = parse(r#"{"deny_statements": ["drop", "dorp"]}"#).unwrap_err();
        assert!(err.contains("deny_statements[1]"), "{err}");
        assert!(err.contains("unknown variant `dorp`"), "{err}");
        for class in StatementClass::ALL {
            assert!(
                err.contains(&format!("`{}`", class.name())),
                "{class} missing: {err}"
            );
        }
    }

    #[test]
    fn unknown_field_is_refused() {
        let err = parse(r#"{"deny_statement": ["drop"]}"#).unwrap_err();
        assert!(err.contains("unknown field `deny_statement`"), "{err}");
    }

    #[test]
    fn bad_regex_names_the_pattern() {
        let err = parse(r#"{"deny_patterns": ["ok", "pass(word"]}"#).unwrap_err();
        assert!(err.contains("deny_patterns[1]"), "{err}");
        assert!(err.contains("pass(word"), "{err}");
    }

    #[test]
    fn empty_regex_is_refused() {
        let err = parse(r#"{"deny_patterns": [""]}"#).unwrap_err();
        assert!(
            err.contains("deny_patterns[0]") && err.contains("every query"),
            "{err}"
        );
    }

    #[test]
    fn bad_words_are_refused() {
        let err = parse(r#"{"deny_words": [" "]}"#).unwrap_err();
        assert!(err.contains("deny_words[0] is blank"), "{err}");
        let err = parse(r#"{"deny_words": ["ok", "pg_catalog.pg_sleep"]}"#).unwrap_err();
        assert!(
            err.contains("deny_words[1]") && err.contains("single word"),
            "{err}"
        );
        let err = parse(r#"{"deny_words": ["drop table"]}"#).unwrap_err();
        assert!(err.contains("single word"), "{err}");
    }

    #[test]
    fn blank_message_is_refused() {
        let err = parse(r#"{"message": "  "}"#).unwrap_err();
        assert!(err.contains("message is blank"), "{err}");
    }
}
