//! The optional `query-filter` interface (`wit/v0.1/plugin.wit`): which
//! query texts a plugin's `on-query` must see.
//!
//! A plugin that exports it answers once per instance, after `init`, with
//! keywords or with `none`. [`QueryFilter::needs_call`] then tells the
//! pipeline whether a text contains one of the keywords, as an
//! ASCII-case-insensitive substring; a text that contains none is allowed
//! unchanged for that plugin without entering it, which the plugin promised
//! is what its `on-query` would have answered.
//!
//! Invariants: the scan never misses an occurrence (Aho-Corasick over the
//! whole text, overlapping matches included); a list breaking the contract's
//! limits is rejected ([`QueryFilter::new`] errs, the caller treats it as a
//! malformed answer, so the session fails closed). The matcher is built once
//! per binding for a given list and shared by its sessions
//! ([`FilterCache`]), so a session pays for a build only when its plugin
//! answers differently from the last one.

use aho_corasick::{AhoCorasick, MatchKind};
use std::sync::{Arc, Mutex};

/// The interface's export name, and its one function's.
pub(crate) const INTERFACE: &str = "gatehouse:plugin/query-filter@0.1.0";
pub(crate) const FUNCTION: &str = "on-query-keywords";

/// Most keywords a plugin may name.
pub const MAX_KEYWORDS: usize = 256;
/// Longest keyword, in bytes.
pub const MAX_KEYWORD_BYTES: usize = 64;

/// A plugin's keywords, compiled.
pub struct QueryFilter {
    keywords: Vec<String>,
    matcher: AhoCorasick,
}

impl std::fmt::Debug for QueryFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryFilter")
            .field("keywords", &self.keywords)
            .finish()
    }
}

impl QueryFilter {
    /// Check `keywords` against the contract and compile them.
    pub fn new(keywords: Vec<String>) -> Result<Self, String> {
        if keywords.len() > MAX_KEYWORDS {
            return Err(format!(
                "query-filter: {} keywords, at most {MAX_KEYWORDS} allowed",
                keywords.len()
            ));
        }
        for keyword in &keywords {
            let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'-');
            if keyword.is_empty()
                || keyword.len() > MAX_KEYWORD_BYTES
                || !keyword.bytes().all(allowed)
            {
                return Err(format!(
                    "query-filter: keyword {keyword:?} must be 1-{MAX_KEYWORD_BYTES} ASCII letters, digits, '_', '$' or '-'"
                ));
            }
        }
        let matcher = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&keywords)
            .map_err(|e| format!("query-filter: {e}"))?;
        Ok(Self { keywords, matcher })
    }

    /// Whether `text` contains one of the keywords (any ASCII case): only
    /// then must the plugin's `on-query` see it.
    pub fn needs_call(&self, text: &str) -> bool {
        self.matcher.is_match(text)
    }

    pub fn keywords(&self) -> &[String] {
        &self.keywords
    }
}

/// The last filter a binding's sessions were answered with.
#[derive(Default)]
pub(crate) struct FilterCache(Mutex<Option<Arc<QueryFilter>>>);

impl FilterCache {
    /// The compiled filter for `keywords`: the cached one if its list is
    /// the same, else a new one (which replaces it).
    pub(crate) fn get(&self, keywords: Vec<String>) -> Result<Arc<QueryFilter>, String> {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(filter) = last.as_ref().filter(|f| f.keywords == keywords) {
            return Ok(filter.clone());
        }
        let filter = Arc::new(QueryFilter::new(keywords)?);
        *last = Some(filter.clone());
        Ok(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(words: &[&str]) -> Result<QueryFilter, String> {
        QueryFilter::new(words.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn a_text_needs_the_call_when_it_holds_a_keyword_in_any_case() {
        let f = filter(&["drop", "truncate"]).unwrap();
        assert!(f.needs_call("DROP TABLE t"));
        assert!(f.needs_call("select 1; DrOp/**/table t"));
        assert!(
            f.needs_call("select 'truncate'"),
            "string contents count too"
        );
        assert!(
            f.needs_call("select * from backdrops"),
            "substrings, not tokens"
        );
        assert!(!f.needs_call("SELECT abalance FROM pgbench_accounts WHERE aid = 1"));
        assert!(!f.needs_call(""));
    }

    #[test]
    fn no_keywords_means_no_text_needs_the_call() {
        let f = filter(&[]).unwrap();
        assert!(!f.needs_call("drop table t"));
    }

    #[test]
    fn keywords_outside_the_contract_are_refused() {
        assert!(filter(&[""]).is_err());
        assert!(filter(&["drop table"]).is_err(), "no spaces");
        assert!(filter(&["ſelect"]).is_err(), "ASCII only");
        assert!(filter(&[&"x".repeat(MAX_KEYWORD_BYTES + 1)]).is_err());
        let many: Vec<String> = (0..=MAX_KEYWORDS).map(|i| format!("k{i}")).collect();
        assert!(QueryFilter::new(many).is_err());
        assert!(filter(&["pg_sleep", "$1", "on-query"]).is_ok());
    }

    #[test]
    fn the_cache_reuses_a_filter_for_the_same_list_only() {
        let cache = FilterCache::default();
        let a = cache.get(vec!["drop".into()]).unwrap();
        let b = cache.get(vec!["drop".into()]).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = cache.get(vec!["delete".into()]).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(cache.get(vec!["bad word".into()]).is_err());
    }
}
