//! The review plugin's per-connection configuration and its checks.
//!
//! Parsing (serde, unknown fields refused) is the SDK's job; this module
//! adds what serde cannot see: an empty approver list, a rule without a
//! condition, a pattern that is not a regex, a table name that is not one,
//! approval counts and JIT durations out of range. Statement classes are a
//! closed enum, so an unknown class is refused by serde with the list of
//! valid names.
//!
//! `validate` runs at bind time *and* at every session's init, so it only
//! checks pattern syntax (the regex parser, a few µs a pattern); regexes are
//! compiled on the first query that needs them.

use serde::Deserialize;
use std::fmt;

/// Prefix of review reasons when the config sets no `message`.
pub const DEFAULT_PREFIX: &str = "review";

/// Most approvals a review can require (more is a typo, not a policy).
pub const MAX_APPROVALS: u32 = 20;

/// Longest just-in-time grant: one week.
pub const MAX_JIT_MINUTES: u32 = 7 * 24 * 60;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Groups whose members decide this connection's reviews.
    pub approver_groups: Vec<String>,
    /// Approvals from distinct approvers (never the requester) that approve
    /// a review.
    #[serde(default = "one")]
    pub min_approvals: u32,
    /// Which queries need a one-time review: the first rule that matches
    /// holds the query. No rules: no query is held.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// What a query that might belong to a reviewed statement class but
    /// cannot be parsed gets.
    #[serde(default)]
    pub on_unparsed: OnUnparsed,
    /// Present: connecting needs an approved just-in-time review.
    #[serde(default)]
    pub jit: Option<Jit>,
    /// Prefix of review reasons, instead of `review`.
    #[serde(default)]
    pub message: Option<String>,
}

fn one() -> u32 {
    1
}

/// One condition set: a query matches when it meets **every** condition the
/// rule gives (statement class, table, pattern).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The query has a statement of one of these classes.
    #[serde(default)]
    pub statements: Vec<StatementClass>,
    /// The query names one of these tables (`payments`, `billing.invoices`).
    #[serde(default)]
    pub tables: Vec<String>,
    /// The raw query text matches one of these regexes.
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// Just-in-time access: connecting needs an approved, unexpired JIT review.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jit {
    /// Longest access a requester may ask for, in minutes.
    pub max_minutes: u32,
    /// Approvals a JIT review needs, instead of `min_approvals`.
    #[serde(default)]
    pub min_approvals: Option<u32>,
}

/// What an unparseable query that might be reviewed gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnUnparsed {
    /// Held for review: it cannot be shown not to need one.
    #[default]
    Review,
    /// Passed: statement-class conditions do not match it.
    Allow,
}

impl Config {
    /// The prefix of every reason.
    pub fn prefix(&self) -> &str {
        self.message.as_deref().unwrap_or(DEFAULT_PREFIX)
    }

    /// Approvals a review of this kind needs.
    pub fn approvals_needed(&self, jit: bool) -> u32 {
        match (&self.jit, jit) {
            (
                Some(Jit {
                    min_approvals: Some(n),
                    ..
                }),
                true,
            ) => *n,
            _ => self.min_approvals,
        }
    }

    /// Everything serde cannot check. Cheap: the SDK also runs it at every
    /// session's init.
    pub fn validate(&self) -> Result<(), String> {
        if self.approver_groups.is_empty() {
            return Err(
                "approver_groups is empty: name at least one group whose members \
                        decide reviews"
                    .into(),
            );
        }
        for (i, group) in self.approver_groups.iter().enumerate() {
            if group.trim().is_empty() {
                return Err(format!("approver_groups[{i}] is blank"));
            }
        }
        check_approvals("min_approvals", self.min_approvals)?;
        for (i, rule) in self.rules.iter().enumerate() {
            rule.validate(i)?;
        }
        if let Some(jit) = &self.jit {
            if jit.max_minutes == 0 || jit.max_minutes > MAX_JIT_MINUTES {
                return Err(format!(
                    "jit.max_minutes must be between 1 and {MAX_JIT_MINUTES} (one week), not {}",
                    jit.max_minutes
                ));
            }
            if let Some(n) = jit.min_approvals {
                check_approvals("jit.min_approvals", n)?;
            }
        }
        if let Some(message) = &self.message
            && message.trim().is_empty()
        {
            return Err("message is blank: leave it out to use the default prefix".into());
        }
        Ok(())
    }
}

fn check_approvals(field: &str, n: u32) -> Result<(), String> {
    if n == 0 || n > MAX_APPROVALS {
        return Err(format!(
            "{field} must be between 1 and {MAX_APPROVALS}, not {n}"
        ));
    }
    Ok(())
}

impl Rule {
    fn validate(&self, i: usize) -> Result<(), String> {
        if self.statements.is_empty() && self.tables.is_empty() && self.patterns.is_empty() {
            return Err(format!(
                "rules[{i}] has no condition: give statements, tables or patterns \
                 (use {{\"statements\": [\"all\"]}} to review every query)"
            ));
        }
        for (j, table) in self.tables.iter().enumerate() {
            crate::tables::TableName::parse(table)
                .map_err(|e| format!("rules[{i}].tables[{j}] {table:?}: {e}"))?;
        }
        for (j, pattern) in self.patterns.iter().enumerate() {
            if pattern.is_empty() {
                return Err(format!(
                    "rules[{i}].patterns[{j}] is empty: it would match every query \
                     (use {{\"statements\": [\"all\"]}} for that)"
                ));
            }
            regex_syntax::Parser::new().parse(pattern).map_err(|e| {
                format!("rules[{i}].patterns[{j}] `{pattern}` is not a valid regex: {e}")
            })?;
        }
        Ok(())
    }
}

/// A class of statement that can need review. A statement may be in
/// several (`TRUNCATE` is `truncate`, `ddl` and `dml-write`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatementClass {
    /// Every query, whatever it is (parsed or not).
    All,
    /// Data definition: `CREATE`, `ALTER`, `DROP`, `TRUNCATE`, `RENAME`,
    /// `COMMENT ON`.
    Ddl,
    /// Writes to data: `INSERT`, `UPDATE`, `DELETE`, `MERGE`, `TRUNCATE`,
    /// `COPY … FROM`, `LOAD DATA`, `REFRESH MATERIALIZED VIEW`.
    DmlWrite,
    /// Privileges and roles: `GRANT`, `REVOKE`, `CREATE`/`ALTER`/`DROP`
    /// `ROLE`/`USER`.
    Dcl,
    Insert,
    Update,
    Delete,
    Merge,
    Truncate,
    Drop,
    /// `ALTER …` and `RENAME TABLE`.
    Alter,
    Create,
    Grant,
    Revoke,
    /// `COPY` in either direction.
    Copy,
    /// `DELETE` with no `WHERE`, or one made only of constants.
    DeleteWithoutWhere,
    /// `UPDATE` with no `WHERE`, or one made only of constants.
    UpdateWithoutWhere,
}

impl StatementClass {
    /// Every class, in the order of the documentation.
    pub const ALL: &'static [StatementClass] = &[
        StatementClass::All,
        StatementClass::Ddl,
        StatementClass::DmlWrite,
        StatementClass::Dcl,
        StatementClass::Insert,
        StatementClass::Update,
        StatementClass::Delete,
        StatementClass::Merge,
        StatementClass::Truncate,
        StatementClass::Drop,
        StatementClass::Alter,
        StatementClass::Create,
        StatementClass::Grant,
        StatementClass::Revoke,
        StatementClass::Copy,
        StatementClass::DeleteWithoutWhere,
        StatementClass::UpdateWithoutWhere,
    ];

    /// The name used in the config.
    pub fn name(self) -> &'static str {
        match self {
            StatementClass::All => "all",
            StatementClass::Ddl => "ddl",
            StatementClass::DmlWrite => "dml-write",
            StatementClass::Dcl => "dcl",
            StatementClass::Insert => "insert",
            StatementClass::Update => "update",
            StatementClass::Delete => "delete",
            StatementClass::Merge => "merge",
            StatementClass::Truncate => "truncate",
            StatementClass::Drop => "drop",
            StatementClass::Alter => "alter",
            StatementClass::Create => "create",
            StatementClass::Grant => "grant",
            StatementClass::Revoke => "revoke",
            StatementClass::Copy => "copy",
            StatementClass::DeleteWithoutWhere => "delete-without-where",
            StatementClass::UpdateWithoutWhere => "update-without-where",
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
    fn minimal_config() {
        let config = parse(r#"{"approver_groups": ["dba"]}"#).unwrap();
        assert_eq!(config.min_approvals, 1);
        assert!(config.rules.is_empty() && config.jit.is_none());
        assert_eq!(config.on_unparsed, OnUnparsed::Review);
        assert_eq!(config.prefix(), "review");
        assert_eq!(config.approvals_needed(true), 1);
    }

    #[test]
    fn full_config() {
        let config = parse(
            r#"{ "approver_groups": ["dba", "security"], "min_approvals": 2,
                 "rules": [ {"statements": ["ddl", "delete-without-where"]},
                            {"statements": ["dml-write"], "tables": ["billing.invoices"]},
                            {"patterns": ["(?i)\\bsalary\\b"]} ],
                 "on_unparsed": "allow",
                 "jit": {"max_minutes": 240, "min_approvals": 1},
                 "message": "DBA review" }"#,
        )
        .unwrap();
        assert_eq!(config.rules.len(), 3);
        assert_eq!(config.approvals_needed(false), 2);
        assert_eq!(config.approvals_needed(true), 1);
        assert_eq!(config.prefix(), "DBA review");
    }

    #[test]
    fn class_names_match_serde() {
        for class in StatementClass::ALL {
            let json = format!(
                r#"{{"approver_groups": ["g"], "rules": [{{"statements": ["{class}"]}}]}}"#
            );
            assert_eq!(parse(&json).unwrap().rules[0].statements, [*class]);
        }
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (r#"{}"#, "missing field `approver_groups`"),
            (r#"{"approver_groups": []}"#, "approver_groups is empty"),
            (
                r#"{"approver_groups": [" "]}"#,
                "approver_groups[0] is blank",
            ),
            (
                r#"{"approver_groups": ["g"], "min_approvals": 0}"#,
                "min_approvals must be between 1",
            ),
            (
                r#"{"approver_groups": ["g"], "rules": [{}]}"#,
                "rules[0] has no condition",
            ),
            (
                r#"{"approver_groups": ["g"], "rules": [{"statements": ["dorp"]}]}"#,
                "unknown variant `dorp`",
            ),
            (
                r#"{"approver_groups": ["g"], "rules": [{"patterns": ["a("]}]}"#,
                "rules[0].patterns[0] `a(` is not a valid regex",
            ),
            (
                r#"{"approver_groups": ["g"], "rules": [{"patterns": [""]}]}"#,
                "rules[0].patterns[0] is empty",
            ),
            (
                r#"{"approver_groups": ["g"], "rules": [{"tables": ["a..b"]}]}"#,
                "rules[0].tables[0]",
            ),
            (
                r#"{"approver_groups": ["g"], "jit": {"max_minutes": 0}}"#,
                "jit.max_minutes must be between 1",
            ),
            (
                r#"{"approver_groups": ["g"], "jit": {"max_minutes": 60, "min_approvals": 99}}"#,
                "jit.min_approvals must be between 1",
            ),
            (
                r#"{"approver_groups": ["g"], "message": " "}"#,
                "message is blank",
            ),
            (
                r#"{"approver_groups": ["g"], "rule": []}"#,
                "unknown field `rule`",
            ),
        ];
        for (json, expected) in cases {
            let err = parse(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
