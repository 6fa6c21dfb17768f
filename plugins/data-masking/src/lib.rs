//! # data-masking
//!
//! Masks personal data and secrets in result rows before they reach the
//! client: e-mail addresses, phone numbers, payment cards (Luhn-checked),
//! IBANs (mod-97-checked), US SSNs, IPv4/IPv6 addresses, JWTs, API keys and
//! private-key blocks, plus admins' own entities (regexes, deny lists) and
//! whole columns chosen by name. Styles: fixed redaction, partial (keep the
//! last N characters), keyed hash (deterministic, so joins still work), or
//! NULL. Every key of the configuration is documented, with examples, in
//! `README.md` beside this crate.
//!
//! ## How a result is masked
//!
//! * `on-result-start` plans each column once ([`plan`]): column rules by
//!   name pattern, then the column's type ([`types`]): types that cannot
//!   hold entities are skipped, and if no column needs inspecting the
//!   plugin answers `pass` and never sees the rows.
//! * `on-result-rows` scans the planned columns' cells ([`detect`]): a
//!   byte-class pass decides which detectors can match at all, then
//!   hand-written scanners with validators find spans. A cell with no hit
//!   allocates nothing and produces no edit.
//! * Found spans are replaced in place, escaped for the value's syntax
//!   (JSON, XML, array literals); whole-column masks write a valid value of
//!   the column's type or NULL ([`encode`] has the table). Binary results
//!   are handled: text-like types are edited as bytes, jsonb keeps its
//!   version byte, and a value whose binary encoding cannot be edited
//!   safely (arrays, unknown types) is masked to NULL.
//! * `on-result-end` reports `masked.<entity>` counters (only non-zero
//!   ones), which the gateway stores in the session record as
//!   `data-masking.masked.<entity>`.
//!
//! ## Failure modes
//!
//! * Detection is heuristic: measured precision and recall are printed by
//!   `tests/accuracy.rs`; it fails below the floors (recall ≥ 0.98 for
//!   e-mail, card, IBAN and SSN; ≤ 1 % false positives on look-alikes).
//!   What each detector refuses on purpose is documented in its module.
//! * Numbers stored in numeric columns (a card in a `bigint`) are not
//!   scanned: mask such columns with a column rule.
//! * A custom pattern that fails to compile at first use (over the size
//!   limit) makes the plugin trap; the host aborts the result rather than
//!   send unmasked rows.
//! * Config errors are reported when the admin binds the plugin, naming
//!   the field.

pub mod config;
pub mod detect;
pub mod encode;
pub mod entity;
pub mod keyed_hash;
pub mod masker;
pub mod plan;
pub mod style;
pub mod types;

use gatehouse_sdk::prelude::*;

pub use config::Config;
pub use masker::Masker;

pub struct DataMasking {
    masker: Masker,
    /// Edits of the current batch, reused across batches.
    edits: Vec<(u32, u32, Option<Vec<u8>>)>,
}

#[gatehouse_sdk::plugin]
impl Plugin for DataMasking {
    type Config = Config;
    const DESCRIPTION: &'static str = "Mask personal data and secrets (email, phone, card, IBAN, SSN, IP, JWT, API keys, private keys, custom patterns) in result rows.";

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self {
            masker: Masker::new(config.policy()?),
            edits: Vec::new(),
        })
    }

    fn validate(config: &Config) -> Result<(), String> {
        config.validate()
    }

    fn on_result_start(
        &mut self,
        session: &Session,
        _query_id: u64,
        columns: &[Column],
    ) -> ResultPlan {
        if self.masker.start(session.connection.kind, columns) {
            ResultPlan::Inspect
        } else {
            ResultPlan::Pass
        }
    }

    fn on_result_rows(&mut self, _session: &Session, rows: &mut Rows<'_>) {
        let mut edits = std::mem::take(&mut self.edits);
        for cell in rows.cells() {
            if let Some(value) = self.masker.mask(cell.column as usize, cell.value) {
                edits.push((cell.row, cell.column, value));
            }
        }
        for (row, column, value) in edits.drain(..) {
            rows.set(row, column, value);
        }
        self.edits = edits;
    }

    fn on_result_end(&mut self, _session: &Session, _summary: &ResultSummary) -> Vec<Counter> {
        self.masker
            .take_counters()
            .into_iter()
            .map(|(name, value)| Counter { name, value })
            .collect()
    }
}
