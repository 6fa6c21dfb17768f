//! [`Masker`]: one session's masking state. Plans columns at the start of
//! each result, masks cells, and counts what it masked per entity until
//! the result ends.
//!
//! Invariants: a cell with nothing to mask allocates nothing (spans and
//! scratch buffers are reused); admins' patterns are compiled on the first
//! cell that needs them, once per session; a pattern that fails to compile
//! (past the compiled-size limit, which syntax checks cannot see) panics,
//! which the host turns into an aborted result: rows are never passed on
//! unmasked because masking could not run.

use crate::config::Policy;
use crate::detect::{self, Span};
use crate::encode::{self, Buffers};
use crate::entity::{Entity, Label};
use crate::plan::{ColumnPlan, Encoding, plan_column};
use gatehouse_sdk::{CellFormat, Column, ConnectionKind};
use regex::bytes::{Regex, RegexBuilder};

/// Compiled-size limit of one admin pattern (a deny list of a few thousand
/// terms fits).
const PATTERN_SIZE_LIMIT: usize = 8 << 20;

/// What happens to one cell.
pub type CellOutcome = Option<Option<Vec<u8>>>;

pub struct Masker {
    policy: Policy,
    globs: Vec<Vec<char>>,
    patterns: Option<Vec<(Label, Regex)>>,
    custom_bits: u64,
    plans: Vec<ColumnPlan>,
    counts: Vec<u64>,
    spans: Vec<Span>,
    buffers: Buffers,
}

impl Masker {
    pub fn new(policy: Policy) -> Self {
        let globs = policy
            .rules
            .iter()
            .map(|r| r.glob.chars().collect())
            .collect();
        let custom_bits = policy.patterns.iter().fold(0, |acc, p| acc | p.label.bit());
        let counts = vec![0; policy.labels.len()];
        Self {
            policy,
            globs,
            patterns: None,
            custom_bits,
            plans: Vec::new(),
            counts,
            spans: Vec::new(),
            buffers: Buffers::default(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Plan the columns of a new result; whether any needs inspecting.
    pub fn start(&mut self, kind: ConnectionKind, columns: &[Column]) -> bool {
        self.plans.clear();
        for column in columns {
            let plan = plan_column(&self.policy, &self.globs, kind, column);
            self.plans.push(plan);
        }
        self.plans.iter().any(ColumnPlan::inspects)
    }

    /// The plans of the current result (for tests and diagnostics).
    pub fn plans(&self) -> &[ColumnPlan] {
        &self.plans
    }

    fn compile_patterns(&mut self) {
        if self.patterns.is_some() {
            return;
        }
        let compiled = self
            .policy
            .patterns
            .iter()
            .map(|p| {
                RegexBuilder::new(&p.source)
                    .size_limit(PATTERN_SIZE_LIMIT)
                    .build()
                    .map(|regex| (p.label, regex))
                    .unwrap_or_else(|e| {
                        panic!(
                            "data-masking: the pattern of `{}` cannot be used, so this result \
                             cannot be masked: {e}",
                            self.policy.labels.name(p.label)
                        )
                    })
            })
            .collect();
        self.patterns = Some(compiled);
    }

    /// Mask one cell of the current result: `None` leaves it as it is,
    /// `Some(None)` sets NULL, `Some(Some(bytes))` replaces it.
    pub fn mask(&mut self, column: usize, value: Option<&[u8]>) -> CellOutcome {
        let plan = *self.plans.get(column)?;
        let value = value?;
        match plan {
            ColumnPlan::Skip => None,
            ColumnPlan::Whole {
                label,
                style,
                class,
                binary,
            } => {
                self.counts[label.index()] += 1;
                let mut out = Vec::with_capacity(value.len().max(16) + 8);
                let masked = encode::whole(
                    &self.policy,
                    label,
                    style,
                    class,
                    binary,
                    value,
                    &mut self.buffers,
                    &mut out,
                );
                Some(masked.map(|()| out))
            }
            ColumnPlan::Addresses { binary, v4, v6 } => {
                // Binary inet: family byte 2 (AF_INET) or 3 (AF_INET6).
                let is_v6 = if binary {
                    value.first() == Some(&3)
                } else {
                    value.contains(&b':')
                };
                let (on, entity) = if is_v6 {
                    (v6, Entity::Ipv6)
                } else {
                    (v4, Entity::Ipv4)
                };
                if !on {
                    return None;
                }
                self.counts[entity.label().index()] += 1;
                Some(None)
            }
            ColumnPlan::Scan { set, encoding } => {
                if set & self.custom_bits != 0 {
                    self.compile_patterns();
                }
                let patterns = self.patterns.as_deref().unwrap_or_default();
                let text = match encoding {
                    Encoding::JsonbBinary if value.first() == Some(&1) => &value[1..],
                    _ => value,
                };
                detect::scan(text, set, patterns, &mut self.spans);
                if self.spans.is_empty() {
                    return None;
                }
                for span in &self.spans {
                    self.counts[span.label.index()] += 1;
                }
                let mut out = Vec::with_capacity(value.len() + 16);
                let edited = encode::edit_spans(
                    &self.policy,
                    value,
                    &self.spans,
                    encoding,
                    &mut self.buffers,
                    &mut out,
                );
                Some(edited.map(|()| out))
            }
        }
    }

    /// The spans found in the last scanned cell.
    pub fn last_spans(&self) -> &[Span] {
        &self.spans
    }

    /// Counts since the last call, as `masked.<entity>` counters; zeroes
    /// them.
    pub fn take_counters(&mut self) -> Vec<(String, u64)> {
        let mut counters = Vec::new();
        for (i, count) in self.counts.iter_mut().enumerate() {
            if *count > 0 {
                let name = self.policy.labels.name(Label(i as u8));
                counters.push((format!("masked.{name}"), std::mem::take(count)));
            }
        }
        counters
    }

    /// Mask a lone text value as a `text` column would be (tests, tools).
    pub fn mask_text(&mut self, text: &str) -> Option<Option<String>> {
        let column = Column {
            name: "value".into(),
            type_oid: 25,
            type_name: "text".into(),
            format: CellFormat::Text,
        };
        self.start(ConnectionKind::Postgres, std::slice::from_ref(&column));
        self.mask(0, Some(text.as_bytes()))
            .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn masker(json: &str) -> Masker {
        let config: Config = gatehouse_sdk::parse_config(json).unwrap();
        config.validate().unwrap();
        Masker::new(config.policy().unwrap())
    }

    #[test]
    fn masks_text_and_counts() {
        let mut m = masker("{}");
        assert_eq!(
            m.mask_text("mail ann@example.com or call +1 415 555 2671")
                .unwrap()
                .unwrap(),
            "mail <email> or call <phone>"
        );
        assert_eq!(m.mask_text("nothing here"), None);
        assert_eq!(
            m.take_counters(),
            [
                ("masked.email".to_string(), 1),
                ("masked.phone".to_string(), 1)
            ]
        );
        assert!(m.take_counters().is_empty());
    }

    #[test]
    fn custom_entities_and_deny_lists() {
        let mut m = masker(
            r#"{"custom": [{"name": "employee_id", "pattern": "\\bEMP-\\d{6}\\b"}],
                "deny_lists": [{"name": "codename", "terms": ["Bluebird", "Night Jar"]}],
                "styles": {"codename": {"style": "redact", "text": "[project]"}}}"#,
        );
        assert_eq!(
            m.mask_text("EMP-123456 works on bluebird and NIGHT JAR, not bluebirds")
                .unwrap()
                .unwrap(),
            "<employee_id> works on [project] and [project], not bluebirds"
        );
        assert_eq!(
            m.take_counters(),
            [
                ("masked.employee_id".to_string(), 1),
                ("masked.codename".to_string(), 2)
            ]
        );
    }

    #[test]
    fn styles_apply() {
        let mut m = masker(
            r#"{"salt": "pepper-pepper-pepper",
                "styles": {"card": "partial", "email": "hash", "ssn": "null"}}"#,
        );
        assert_eq!(
            m.mask_text("card 4111-1111-1111-1111").unwrap().unwrap(),
            "card ****-****-****-1111"
        );
        let a = m.mask_text("Ann@Example.com").unwrap().unwrap();
        let b = m.mask_text("ann@example.com").unwrap().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 16);
        assert_eq!(m.mask_text("ssn 123-45-6789"), Some(None));
    }
}
