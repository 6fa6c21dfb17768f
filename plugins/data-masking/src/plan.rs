//! Per-column decisions, made once per result at `on-result-start`.
//!
//! A column is, in this order:
//! 1. ruled by the first column rule whose name pattern matches it
//!    (`exempt`: skipped; `mask`: every value masked whole; `detect`: the
//!    rule's entities replace the default set);
//! 2. skipped if its type cannot hold entities ([`TypeClass::scannable`]);
//!    `inet`/`cidr` columns are addresses by definition and are masked
//!    whole when IP detection is on;
//! 3. otherwise scanned for the enabled entities, with an [`Encoding`]
//!    that says how an edit keeps the value valid for its type and format.
//!
//! When every column is skipped the plugin answers `pass` and never sees
//! the rows.

use crate::config::{Policy, RuleAction};
use crate::entity::{Entity, Label};
use crate::types::TypeClass;
use gatehouse_sdk::{CellFormat, Column, ConnectionKind};

/// How found entities are replaced inside a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 text: replace the bytes.
    Plain,
    /// JSON text: replacements are JSON-escaped; an entity outside a
    /// string (a number) becomes a JSON string.
    Json,
    /// jsonb binary: a version byte 1 then JSON text.
    JsonbBinary,
    /// XML: replacements are XML-escaped.
    Xml,
    /// A text-format array literal: replacements lose the characters that
    /// are special in array syntax.
    Array,
    /// An encoding we cannot edit safely: a hit masks the cell to NULL.
    Opaque,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnPlan {
    Skip,
    /// Mask every non-NULL value.
    Whole {
        label: Label,
        style: usize,
        class: TypeClass,
        binary: bool,
    },
    /// `inet`/`cidr`: each value is an address of one family.
    Addresses {
        binary: bool,
        v4: bool,
        v6: bool,
    },
    Scan {
        set: u64,
        encoding: Encoding,
    },
}

impl ColumnPlan {
    pub fn inspects(&self) -> bool {
        !matches!(self, ColumnPlan::Skip)
    }
}

/// `*` matches any run, `?` one character; ASCII case is ignored.
pub fn glob_match(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == name[n].to_ascii_lowercase()) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// The plan of one column.
pub fn plan_column(
    policy: &Policy,
    globs: &[Vec<char>],
    kind: ConnectionKind,
    column: &Column,
) -> ColumnPlan {
    let class = TypeClass::classify(kind, column.type_oid, &column.type_name);
    let binary = column.format == CellFormat::Binary;
    let mut set = policy.detect;
    if !policy.rules.is_empty() {
        let name: Vec<char> = column.name.chars().collect();
        for (rule, glob) in policy.rules.iter().zip(globs) {
            if !glob_match(glob, &name) {
                continue;
            }
            match rule.action {
                RuleAction::Exempt => return ColumnPlan::Skip,
                RuleAction::Mask { label, style } => {
                    return ColumnPlan::Whole {
                        label,
                        style,
                        class,
                        binary,
                    };
                }
                RuleAction::Detect(rule_set) => {
                    set = rule_set;
                    break;
                }
            }
        }
    }
    if set == 0 {
        return ColumnPlan::Skip;
    }
    let encoding = match class {
        TypeClass::Inet => {
            let v4 = set & Entity::Ipv4.label().bit() != 0;
            let v6 = set & Entity::Ipv6.label().bit() != 0;
            return if v4 || v6 {
                ColumnPlan::Addresses { binary, v4, v6 }
            } else {
                ColumnPlan::Skip
            };
        }
        _ if !class.scannable() => return ColumnPlan::Skip,
        TypeClass::Text => Encoding::Plain,
        TypeClass::Json => Encoding::Json,
        TypeClass::Jsonb if binary => Encoding::JsonbBinary,
        TypeClass::Jsonb => Encoding::Json,
        TypeClass::Xml => Encoding::Xml,
        TypeClass::TextArray if !binary => Encoding::Array,
        TypeClass::Unknown if !binary => Encoding::Plain,
        _ => Encoding::Opaque,
    };
    ColumnPlan::Scan { set, encoding }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn globs() {
        let m = |p: &str, n: &str| glob_match(&chars(p), &chars(n));
        assert!(m("*ssn*", "customer_SSN_hash"));
        assert!(m("email", "EMAIL"));
        assert!(!m("email", "emails"));
        assert!(m("e?ail", "email"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("pub*_*", "public_notes"));
    }

    fn column(name: &str, oid: u32, binary: bool) -> Column {
        Column {
            name: name.into(),
            type_oid: oid,
            type_name: String::new(),
            format: if binary {
                CellFormat::Binary
            } else {
                CellFormat::Text
            },
        }
    }

    #[test]
    fn plans_follow_rules_then_types() {
        let config: Config = gatehouse_sdk::parse_config(
            r#"{"columns": [
                {"name": "public_*", "action": "exempt"},
                {"name": "*ssn*", "action": "mask", "entity": "ssn"},
                {"name": "notes", "action": "detect", "entities": ["email"]}
            ]}"#,
        )
        .unwrap();
        let policy = config.policy().unwrap();
        let globs: Vec<Vec<char>> = policy.rules.iter().map(|r| chars(&r.glob)).collect();
        let plan = |name, oid, binary| {
            plan_column(
                &policy,
                &globs,
                ConnectionKind::Postgres,
                &column(name, oid, binary),
            )
        };
        assert_eq!(plan("public_email", 25, false), ColumnPlan::Skip);
        assert!(matches!(
            plan("ssn", 20, true),
            ColumnPlan::Whole {
                class: TypeClass::Int8,
                binary: true,
                ..
            }
        ));
        assert_eq!(
            plan("notes", 25, false),
            ColumnPlan::Scan {
                set: Entity::Email.label().bit(),
                encoding: Encoding::Plain
            }
        );
        assert_eq!(plan("id", 23, false), ColumnPlan::Skip);
        assert_eq!(plan("at", 1184, true), ColumnPlan::Skip);
        assert!(matches!(
            plan("doc", 3802, true),
            ColumnPlan::Scan {
                encoding: Encoding::JsonbBinary,
                ..
            }
        ));
        assert!(matches!(
            plan("tags", 1009, true),
            ColumnPlan::Scan {
                encoding: Encoding::Opaque,
                ..
            }
        ));
        assert!(matches!(
            plan("tags", 1009, false),
            ColumnPlan::Scan {
                encoding: Encoding::Array,
                ..
            }
        ));
        assert!(matches!(
            plan("ip", 869, true),
            ColumnPlan::Addresses {
                v4: true,
                v6: true,
                ..
            }
        ));
        assert!(matches!(
            plan("mood", 16_390, true),
            ColumnPlan::Scan {
                encoding: Encoding::Opaque,
                ..
            }
        ));
    }
}
