//! The per-connection configuration, its checks, and the [`Policy`] it
//! resolves to.
//!
//! Parsing (serde, unknown fields refused) is the SDK's job. [`Config::policy`]
//! checks what serde cannot and resolves names once: entity names to
//! labels and bit sets, styles to one table, column rules to lower-case
//! globs. It is cheap (no regex is compiled) and runs at every session's
//! `new`; [`Config::validate`] (bind time) also parses every pattern.
//! Errors name the field (`columns[2].entities[0]: …`).

use crate::entity::{BUILTIN_COUNT, Entity, EntityName, Label, Labels, is_valid_name};
use crate::keyed_hash::KeyedHash;
use crate::style::Style;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Shortest salt accepted for the `hash` style (bytes).
pub const MIN_SALT_BYTES: usize = 16;

/// Label of column rules that name no entity.
pub const COLUMN_LABEL: &str = "column";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Built-in entities (or the groups `ip`, `secrets`) to detect in
    /// scanned columns. Default: all of them.
    #[serde(default)]
    pub entities: Option<Vec<String>>,
    /// Default style for every entity.
    #[serde(default)]
    pub style: Option<Style>,
    /// Style per entity name (built-in, custom, deny list or column label).
    #[serde(default)]
    pub styles: BTreeMap<String, Style>,
    /// Key of the `hash` style (at least 16 bytes). Required if any style
    /// is `hash`.
    #[serde(default)]
    pub salt: Option<String>,
    /// Admin-defined entities by regex.
    #[serde(default)]
    pub custom: Vec<CustomEntity>,
    /// Admin-defined entities by word list.
    #[serde(default)]
    pub deny_lists: Vec<DenyList>,
    /// Column rules by name pattern; the first that matches a column wins.
    #[serde(default)]
    pub columns: Vec<ColumnRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomEntity {
    pub name: String,
    /// A regex (Rust `regex` syntax) matched against cell text.
    pub pattern: String,
    #[serde(default)]
    pub style: Option<Style>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyList {
    pub name: String,
    /// Words or phrases masked wherever they occur as whole words.
    pub terms: Vec<String>,
    #[serde(default)]
    pub case_sensitive: bool,
    #[serde(default)]
    pub style: Option<Style>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Mask every non-NULL value of the column.
    Mask,
    /// Never mask the column.
    Exempt,
    /// Scan the column for these `entities` only.
    Detect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRule {
    /// Column name pattern: `*` any run, `?` one character,
    /// case-insensitive.
    pub name: String,
    pub action: Action,
    /// `mask`: the entity the column counts as (default `column`).
    #[serde(default)]
    pub entity: Option<String>,
    /// `detect`: the entities to scan for.
    #[serde(default)]
    pub entities: Option<Vec<String>>,
    /// `mask`: the style (default: the entity's style).
    #[serde(default)]
    pub style: Option<Style>,
}

/// A regex to compile, with the label its matches count as.
#[derive(Debug, Clone)]
pub struct PatternSource {
    pub label: Label,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    Exempt,
    /// Mask the whole column: label, index into [`Policy::styles`].
    Mask {
        label: Label,
        style: usize,
    },
    Detect(u64),
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// Lower-case glob.
    pub glob: String,
    pub action: RuleAction,
}

/// A config resolved for use: names to labels, styles to a table.
#[derive(Debug, Clone)]
pub struct Policy {
    pub labels: Labels,
    /// Every style in use; referred to by index.
    pub styles: Vec<Style>,
    /// Per label: index into `styles`.
    pub label_style: Vec<usize>,
    /// What scanned columns are scanned for, unless a rule says otherwise.
    pub detect: u64,
    pub patterns: Vec<PatternSource>,
    pub rules: Vec<Rule>,
    pub hasher: Option<KeyedHash>,
}

impl Policy {
    pub fn style_of(&self, label: Label) -> &Style {
        &self.styles[self.label_style[label.index()]]
    }
}

fn all_builtins() -> u64 {
    (1u64 << BUILTIN_COUNT) - 1
}

/// An admin-chosen entity name: valid, and not a built-in or group.
fn check_new_name(path: &str, name: &str) -> Result<(), String> {
    if !is_valid_name(name) {
        return Err(format!(
            "{path}: {name:?} is not a valid entity name (lower-case letters, digits and `_`, \
             starting with a letter, at most 32)"
        ));
    }
    if !matches!(EntityName::parse(name), EntityName::Custom(_)) || name == COLUMN_LABEL {
        return Err(format!(
            "{path}: {name:?} is a built-in entity name; pick another"
        ));
    }
    Ok(())
}

/// Bits of the entities named in `names` (built-ins, groups, and
/// admin-defined names when `allow_custom`).
fn entity_set(
    path: &str,
    names: &[String],
    labels: &Labels,
    custom_labels: u64,
    allow_custom: bool,
) -> Result<u64, String> {
    let mut set = 0u64;
    for (i, name) in names.iter().enumerate() {
        match EntityName::parse(name) {
            EntityName::Builtin(entity) => set |= entity.label().bit(),
            EntityName::Group(group) => {
                set |= group.iter().fold(0, |acc, e| acc | e.label().bit());
            }
            EntityName::Custom(name) => match labels.get(&name) {
                Some(label) if allow_custom && custom_labels & label.bit() != 0 => {
                    set |= label.bit()
                }
                Some(_) if !allow_custom => {
                    return Err(format!(
                        "{path}[{i}]: {name:?} is a custom entity or deny list; those are always \
                         detected, list only built-ins here"
                    ));
                }
                _ => {
                    let builtins: Vec<&str> = Entity::ALL.iter().map(|e| e.name()).collect();
                    return Err(format!(
                        "{path}[{i}]: unknown entity {name:?}; built-ins are {}, groups `ip` and \
                         `secrets`{}",
                        builtins.join(", "),
                        if allow_custom {
                            ", or the name of a custom entity or deny list"
                        } else {
                            ""
                        }
                    ));
                }
            },
        }
    }
    Ok(set)
}

/// A deny list as one regex: whole words, escaped, case-folded unless
/// `case_sensitive`.
pub fn deny_list_source(list: &DenyList) -> String {
    let mut source = String::from(if list.case_sensitive { "(?:" } else { "(?i:" });
    for (i, term) in list.terms.iter().enumerate() {
        if i > 0 {
            source.push('|');
        }
        let term = term.trim();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        if word(term.chars().next()) {
            source.push_str(r"\b");
        }
        source.push_str(&regex_syntax::escape(term));
        if word(term.chars().last()) {
            source.push_str(r"\b");
        }
    }
    source.push(')');
    source
}

impl Config {
    /// Resolve names and styles; every check that needs no regex parse.
    pub fn policy(&self) -> Result<Policy, String> {
        let mut labels = Labels::default();
        let mut own_styles: BTreeMap<Label, (String, Style)> = BTreeMap::new();
        let mut patterns = Vec::new();
        let mut custom_labels = 0u64;

        for (i, custom) in self.custom.iter().enumerate() {
            let path = format!("custom[{i}]");
            check_new_name(&format!("{path}.name"), &custom.name)?;
            if labels.get(&custom.name).is_some() {
                return Err(format!("{path}.name: {:?} is defined twice", custom.name));
            }
            if custom.pattern.is_empty() {
                return Err(format!("{path}.pattern is empty"));
            }
            let label = labels.intern(&custom.name)?;
            custom_labels |= label.bit();
            if let Some(style) = &custom.style {
                own_styles.insert(label, (format!("{path}.style"), style.clone()));
            }
            patterns.push(PatternSource {
                label,
                source: custom.pattern.clone(),
            });
        }
        for (i, list) in self.deny_lists.iter().enumerate() {
            let path = format!("deny_lists[{i}]");
            check_new_name(&format!("{path}.name"), &list.name)?;
            if labels.get(&list.name).is_some() {
                return Err(format!("{path}.name: {:?} is defined twice", list.name));
            }
            if list.terms.is_empty() {
                return Err(format!("{path}.terms is empty"));
            }
            if let Some(t) = list.terms.iter().position(|t| t.trim().is_empty()) {
                return Err(format!("{path}.terms[{t}] is blank"));
            }
            let label = labels.intern(&list.name)?;
            custom_labels |= label.bit();
            if let Some(style) = &list.style {
                own_styles.insert(label, (format!("{path}.style"), style.clone()));
            }
            patterns.push(PatternSource {
                label,
                source: deny_list_source(list),
            });
        }

        let mut styles: Vec<Style> = Vec::new();
        let mut rules = Vec::new();
        let mut rule_styles = Vec::new();
        for (i, rule) in self.columns.iter().enumerate() {
            let path = format!("columns[{i}]");
            if rule.name.trim().is_empty() {
                return Err(format!("{path}.name is empty"));
            }
            if rule.action != Action::Mask && (rule.entity.is_some() || rule.style.is_some()) {
                return Err(format!(
                    "{path}: `entity` and `style` apply only to action `mask`"
                ));
            }
            if rule.action != Action::Detect && rule.entities.is_some() {
                return Err(format!(
                    "{path}: `entities` applies only to action `detect`"
                ));
            }
            let action = match rule.action {
                Action::Exempt => RuleAction::Exempt,
                Action::Detect => {
                    let names = rule.entities.as_deref().unwrap_or_default();
                    if names.is_empty() {
                        return Err(format!(
                            "{path}.entities: action `detect` needs the entities to scan for"
                        ));
                    }
                    RuleAction::Detect(entity_set(
                        &format!("{path}.entities"),
                        names,
                        &labels,
                        custom_labels,
                        true,
                    )?)
                }
                Action::Mask => {
                    let name = rule.entity.as_deref().unwrap_or(COLUMN_LABEL);
                    let label = match EntityName::parse(name) {
                        EntityName::Builtin(entity) => entity.label(),
                        EntityName::Group(_) => {
                            return Err(format!(
                                "{path}.entity: {name:?} is a group; name one entity"
                            ));
                        }
                        _ if name == COLUMN_LABEL || labels.get(name).is_some() => {
                            labels.intern(name)?
                        }
                        _ => {
                            if !is_valid_name(name) {
                                return Err(format!(
                                    "{path}.entity: {name:?} is not a valid entity name \
                                     (lower-case letters, digits and `_`)"
                                ));
                            }
                            labels.intern(name)?
                        }
                    };
                    if let Some(style) = &rule.style {
                        style.validate().map_err(|e| format!("{path}.style: {e}"))?;
                        rule_styles.push(styles.len());
                        styles.push(style.clone());
                        RuleAction::Mask {
                            label,
                            style: styles.len() - 1,
                        }
                    } else {
                        // Resolved to the label's style below.
                        RuleAction::Mask {
                            label,
                            style: usize::MAX,
                        }
                    }
                }
            };
            rules.push(Rule {
                glob: rule.name.trim().to_ascii_lowercase(),
                action,
            });
        }

        let builtins = match &self.entities {
            None => all_builtins(),
            Some(names) => entity_set("entities", names, &labels, custom_labels, false)?,
        };

        for (name, style) in &self.styles {
            let Some(label) = labels
                .get(name)
                .or_else(|| Entity::from_name(name).map(Entity::label))
            else {
                return Err(format!(
                    "styles.{name}: no entity is called {name:?} (built-ins, custom entities, \
                     deny lists and column-rule entities can be styled)"
                ));
            };
            if let Some((path, _)) = own_styles.get(&label) {
                return Err(format!(
                    "styles.{name}: {path} already sets this entity's style; set it once"
                ));
            }
            style
                .validate()
                .map_err(|e| format!("styles.{name}: {e}"))?;
        }
        if let Some(style) = &self.style {
            style.validate().map_err(|e| format!("style: {e}"))?;
        }
        for (path, style) in own_styles.values() {
            style.validate().map_err(|e| format!("{path}: {e}"))?;
        }

        let default_style = styles.len();
        styles.push(self.style.clone().unwrap_or_default());
        let mut label_style = Vec::with_capacity(labels.len());
        for i in 0..labels.len() {
            let label = Label(i as u8);
            let name = labels.name(label);
            let chosen = own_styles
                .get(&label)
                .map(|(_, s)| s)
                .or_else(|| self.styles.get(name));
            match chosen {
                Some(style) => {
                    label_style.push(styles.len());
                    styles.push(style.clone());
                }
                None => label_style.push(default_style),
            }
        }
        for rule in &mut rules {
            if let RuleAction::Mask { label, style } = &mut rule.action
                && *style == usize::MAX
            {
                *style = label_style[label.index()];
            }
        }

        let hashing = label_style
            .iter()
            .chain(&rule_styles)
            .any(|&i| matches!(styles[i], Style::Hash { .. }));
        let hasher = match &self.salt {
            Some(salt) if salt.len() < MIN_SALT_BYTES => {
                return Err(format!(
                    "salt is {} bytes; use at least {MIN_SALT_BYTES} random bytes (a short salt \
                     lets anyone recompute hashes of guessed values)",
                    salt.len()
                ));
            }
            Some(salt) => Some(KeyedHash::new(salt.as_bytes())),
            None if hashing => {
                return Err(format!(
                    "the `hash` style needs `salt` (at least {MIN_SALT_BYTES} random bytes, the \
                     same on every connection whose hashes must join)"
                ));
            }
            None => None,
        };

        Ok(Policy {
            labels,
            styles,
            label_style,
            detect: builtins | custom_labels,
            patterns,
            rules,
            hasher,
        })
    }

    /// Everything [`Config::policy`] checks, plus every pattern's syntax.
    pub fn validate(&self) -> Result<(), String> {
        let policy = self.policy()?;
        for (i, custom) in self.custom.iter().enumerate() {
            regex_syntax::parse(&custom.pattern).map_err(|e| {
                format!(
                    "custom[{i}].pattern {:?} is not a valid regex: {e}",
                    custom.pattern
                )
            })?;
        }
        for (i, pattern) in policy.patterns.iter().enumerate().skip(self.custom.len()) {
            regex_syntax::parse(&pattern.source).map_err(|e| {
                format!(
                    "deny_lists[{}]: the terms do not form a valid pattern: {e}",
                    i - self.custom.len()
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_sdk::parse_config;

    fn policy(json: &str) -> Result<Policy, String> {
        let config: Config = parse_config(json).map_err(|e| e.to_string())?;
        config.validate()?;
        config.policy()
    }

    #[test]
    fn empty_config_detects_every_builtin_with_redaction() {
        let p = policy("{}").unwrap();
        assert_eq!(p.detect, all_builtins());
        assert_eq!(
            p.style_of(Entity::Email.label()),
            &Style::Redact { text: None }
        );
        assert!(p.hasher.is_none());
    }

    #[test]
    fn styles_resolve_by_precedence() {
        let p = policy(
            r#"{
                "style": "partial",
                "styles": { "email": "null", "badge": {"style": "redact", "text": "[badge]"} },
                "custom": [ { "name": "badge", "pattern": "B-\\d{4}" },
                            { "name": "emp", "pattern": "E\\d+", "style": {"style": "hash", "length": 8} } ],
                "salt": "0123456789abcdef"
            }"#,
        )
        .unwrap();
        assert_eq!(p.style_of(Entity::Email.label()), &Style::Null);
        assert!(matches!(
            p.style_of(Entity::Card.label()),
            Style::Partial { keep: 4, .. }
        ));
        let badge = p.labels.get("badge").unwrap();
        assert_eq!(
            p.style_of(badge),
            &Style::Redact {
                text: Some("[badge]".into())
            }
        );
        let emp = p.labels.get("emp").unwrap();
        assert_eq!(p.style_of(emp), &Style::Hash { length: 8 });
        assert_ne!(p.detect & emp.bit(), 0);
    }

    #[test]
    fn column_rules_resolve() {
        let p = policy(
            r#"{
                "entities": ["email", "ip"],
                "columns": [
                    { "name": "*SSN*", "action": "mask", "entity": "ssn" },
                    { "name": "public_*", "action": "exempt" },
                    { "name": "notes", "action": "detect", "entities": ["card", "secrets"] },
                    { "name": "salary", "action": "mask", "style": "null" }
                ]
            }"#,
        )
        .unwrap();
        assert_eq!(
            p.detect,
            Entity::Email.label().bit() | Entity::Ipv4.label().bit() | Entity::Ipv6.label().bit()
        );
        assert_eq!(p.rules[0].glob, "*ssn*");
        assert!(
            matches!(p.rules[0].action, RuleAction::Mask { label, .. } if label == Entity::Ssn.label())
        );
        assert_eq!(p.rules[1].action, RuleAction::Exempt);
        let RuleAction::Detect(set) = p.rules[2].action else {
            panic!()
        };
        assert_eq!(set.count_ones(), 4);
        let RuleAction::Mask { label, style } = p.rules[3].action else {
            panic!()
        };
        assert_eq!(p.labels.name(label), "column");
        assert_eq!(p.styles[style], Style::Null);
    }

    #[test]
    fn errors_name_the_field() {
        let err = |json: &str| policy(json).unwrap_err();
        assert!(err(r#"{"style": "hash"}"#).contains("needs `salt`"));
        assert!(err(r#"{"style": "hash", "salt": "short"}"#).contains("at least 16"));
        assert!(
            err(r#"{"entities": ["emial"]}"#).contains("entities[0]: unknown entity \"emial\"")
        );
        assert!(err(r#"{"custom": [{"name": "email", "pattern": "x"}]}"#).contains("built-in"));
        assert!(
            err(r#"{"custom": [{"name": "Bad Name", "pattern": "x"}]}"#).contains("custom[0].name")
        );
        assert!(
            err(r#"{"custom": [{"name": "a", "pattern": "("}]}"#).contains("custom[0].pattern")
        );
        assert!(
            err(r#"{"custom": [{"name": "a", "pattern": "x"}, {"name": "a", "pattern": "y"}]}"#)
                .contains("defined twice")
        );
        assert!(
            err(r#"{"deny_lists": [{"name": "w", "terms": [" "]}]}"#).contains("terms[0] is blank")
        );
        assert!(err(r#"{"styles": {"nope": "null"}}"#).contains("styles.nope"));
        assert!(
            err(r#"{"columns": [{"name": "x", "action": "exempt", "style": "null"}]}"#)
                .contains("columns[0]")
        );
        assert!(
            err(r#"{"columns": [{"name": "x", "action": "detect"}]}"#)
                .contains("columns[0].entities")
        );
        assert!(
            err(r#"{"columns": [{"name": "x", "action": "detect", "entities": ["zz"]}]}"#)
                .contains("columns[0].entities[0]")
        );
        assert!(
            err(r#"{"styles": {"email": {"style": "partial", "keep": 100}}}"#)
                .contains("styles.email")
        );
        assert!(err(r#"{"colums": []}"#).contains("unknown field `colums`"));
        assert!(
            err(r#"{"columns": [{"name": "x", "action": "hide"}]}"#)
                .contains("unknown variant `hide`")
        );
    }

    #[test]
    fn deny_lists_become_whole_word_patterns() {
        let list = DenyList {
            name: "w".into(),
            terms: vec!["Bluebird".into(), "C++".into(), "a.b".into()],
            case_sensitive: false,
            style: None,
        };
        let source = deny_list_source(&list);
        assert_eq!(source, r"(?i:\bBluebird\b|\bC\+\+|\ba\.b\b)");
    }
}
