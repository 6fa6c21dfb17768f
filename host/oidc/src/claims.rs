//! Claim checks on a token whose signature already verified.
//!
//! Always: `iss` equals the configured issuer; `aud` (string or list)
//! contains an accepted audience; `exp` is present and not past (minus the
//! skew); `nbf` and `iat`, when present, are not in the future (plus the
//! skew); `sub` is a non-empty string. ID tokens also need `iat`, a
//! matching `nonce` (compared in constant time) and, when they name several
//! audiences or an `azp`, `azp` equal to the client id (OIDC Core §3.1.3.7).
//!
//! Groups come from a configurable claim: a top-level name first (Auth0's
//! `https://example.com/groups` contains dots), else a dotted path through
//! nested objects (Keycloak's `realm_access.roles`). Absent or `null` is no
//! groups; a string is one group; a list must hold only strings; anything
//! else refuses the token (a claim we misread could grant a role).

use crate::error::VerifyError;
use crate::random::constant_time_eq;
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) type Claims = Map<String, Value>;

/// What the claims must satisfy.
pub(crate) struct Expect<'a> {
    pub(crate) issuer: &'a str,
    /// Accepted audiences; one must be in `aud`.
    pub(crate) audiences: &'a [String],
    pub(crate) skew: Duration,
    pub(crate) now: SystemTime,
    /// ID token checks: the client id (for `azp`) and the login's nonce.
    pub(crate) id_token: Option<IdTokenExpect<'a>>,
}

pub(crate) struct IdTokenExpect<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) nonce: &'a str,
}

/// A NumericDate (seconds since the epoch; fractions are floored).
fn numeric_date(claims: &Claims, name: &'static str) -> Result<Option<i64>, VerifyError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.floor() as i64)),
                    _ => Err(VerifyError::InvalidClaim(name)),
                }
            }
        }
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

fn string<'c>(claims: &'c Claims, name: &'static str) -> Result<Option<&'c str>, VerifyError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

fn audiences(claims: &Claims) -> Result<Vec<&str>, VerifyError> {
    match claims.get("aud") {
        None | Some(Value::Null) => Err(VerifyError::MissingClaim("aud")),
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or(VerifyError::InvalidClaim("aud")))
            .collect(),
        Some(_) => Err(VerifyError::InvalidClaim("aud")),
    }
}

/// Check the registered claims; the token's expiry on success.
pub(crate) fn check(claims: &Claims, expect: &Expect<'_>) -> Result<SystemTime, VerifyError> {
    match string(claims, "iss")? {
        None => return Err(VerifyError::MissingClaim("iss")),
        Some(iss) if iss != expect.issuer => return Err(VerifyError::WrongIssuer),
        Some(_) => {}
    }

    let aud = audiences(claims)?;
    if !aud.iter().any(|a| expect.audiences.iter().any(|e| e == a)) {
        return Err(VerifyError::WrongAudience);
    }
    if let Some(id) = &expect.id_token {
        let azp = string(claims, "azp")?;
        if (aud.len() > 1 || azp.is_some()) && azp != Some(id.client_id) {
            return Err(VerifyError::WrongAudience);
        }
    }

    let now = expect
        .now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let skew = expect.skew.as_secs() as i64;
    let exp = numeric_date(claims, "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
    if now >= exp.saturating_add(skew) {
        return Err(VerifyError::Expired);
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && now.saturating_add(skew) < nbf
    {
        return Err(VerifyError::NotYetValid);
    }
    let iat = numeric_date(claims, "iat")?;
    if let Some(iat) = iat
        && now.saturating_add(skew) < iat
    {
        return Err(VerifyError::NotYetValid);
    }

    match string(claims, "sub")? {
        None | Some("") => return Err(VerifyError::MissingClaim("sub")),
        Some(_) => {}
    }

    if let Some(id) = &expect.id_token {
        if iat.is_none() {
            return Err(VerifyError::MissingClaim("iat"));
        }
        match string(claims, "nonce")? {
            Some(nonce) if constant_time_eq(nonce.as_bytes(), id.nonce.as_bytes()) => {}
            _ => return Err(VerifyError::NonceMismatch),
        }
    }

    Ok(UNIX_EPOCH + Duration::from_secs(exp.max(0) as u64))
}

/// The value at `path`: the top-level claim of that exact name, else the
/// dotted path through nested objects.
fn lookup<'c>(claims: &'c Claims, path: &str) -> Option<&'c Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// The groups at `path` (see the module docs for accepted shapes).
pub(crate) fn groups(claims: &Claims, path: &str) -> Result<Vec<String>, VerifyError> {
    match lookup(claims, path) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(group)) => Ok(vec![group.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or(VerifyError::InvalidClaim("groups"))
            })
            .collect(),
        Some(_) => Err(VerifyError::InvalidClaim("groups")),
    }
}

/// The email at `name`, unless the token says it is unverified
/// (`email_verified: false`): an unverified address must not name anyone.
pub(crate) fn email(claims: &Claims, name: &str) -> Option<String> {
    if claims.get("email_verified") == Some(&Value::Bool(false)) {
        return None;
    }
    lookup(claims, name)?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn claims(value: Value) -> Claims {
        value.as_object().unwrap().clone()
    }

    fn base() -> Value {
        json!({
            "iss": "https://id.example.com",
            "aud": "gatehouse",
            "sub": "alice",
            "exp": NOW + 300,
            "iat": NOW - 10,
            "nonce": "n-1",
        })
    }

    fn run(value: Value, id_token: bool) -> Result<SystemTime, VerifyError> {
        let audiences = vec!["gatehouse".to_string()];
        check(
            &claims(value),
            &Expect {
                issuer: "https://id.example.com",
                audiences: &audiences,
                skew: Duration::from_secs(60),
                now: UNIX_EPOCH + Duration::from_secs(NOW),
                id_token: id_token.then_some(IdTokenExpect {
                    client_id: "gatehouse",
                    nonce: "n-1",
                }),
            },
        )
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = base();
        v[key] = value;
        v
    }

    fn without(key: &str) -> Value {
        let mut v = base();
        v.as_object_mut().unwrap().remove(key);
        v
    }

    #[test]
    fn a_good_token_passes_and_reports_expiry() {
        assert_eq!(
            run(base(), true).unwrap(),
            UNIX_EPOCH + Duration::from_secs(NOW + 300)
        );
        assert!(run(with("aud", json!(["other", "gatehouse"])), false).is_ok());
        assert!(run(with("exp", json!((NOW + 300) as f64 + 0.5)), false).is_ok());
    }

    #[test]
    fn issuer_and_audience() {
        assert_eq!(
            run(with("iss", json!("https://evil.example.com")), false),
            Err(VerifyError::WrongIssuer)
        );
        assert_eq!(
            run(with("iss", json!("https://id.example.com/")), false),
            Err(VerifyError::WrongIssuer)
        );
        assert_eq!(
            run(without("iss"), false),
            Err(VerifyError::MissingClaim("iss"))
        );
        assert_eq!(
            run(with("iss", json!(1)), false),
            Err(VerifyError::InvalidClaim("iss"))
        );
        assert_eq!(
            run(with("aud", json!("other")), false),
            Err(VerifyError::WrongAudience)
        );
        assert_eq!(
            run(with("aud", json!([])), false),
            Err(VerifyError::WrongAudience)
        );
        assert_eq!(
            run(without("aud"), false),
            Err(VerifyError::MissingClaim("aud"))
        );
        assert_eq!(
            run(with("aud", json!([1])), false),
            Err(VerifyError::InvalidClaim("aud"))
        );
    }

    #[test]
    fn times_with_skew() {
        assert_eq!(
            run(with("exp", json!(NOW - 61)), false),
            Err(VerifyError::Expired)
        );
        assert_eq!(
            run(with("exp", json!(NOW - 60)), false),
            Err(VerifyError::Expired)
        );
        assert!(run(with("exp", json!(NOW - 59)), false).is_ok());
        assert_eq!(
            run(without("exp"), false),
            Err(VerifyError::MissingClaim("exp"))
        );
        assert_eq!(
            run(with("exp", json!("tomorrow")), false),
            Err(VerifyError::InvalidClaim("exp"))
        );
        assert_eq!(
            run(with("nbf", json!(NOW + 61)), false),
            Err(VerifyError::NotYetValid)
        );
        assert!(run(with("nbf", json!(NOW + 59)), false).is_ok());
        assert_eq!(
            run(with("iat", json!(NOW + 3600)), false),
            Err(VerifyError::NotYetValid)
        );
    }

    #[test]
    fn subject_is_required() {
        assert_eq!(
            run(without("sub"), false),
            Err(VerifyError::MissingClaim("sub"))
        );
        assert_eq!(
            run(with("sub", json!("")), false),
            Err(VerifyError::MissingClaim("sub"))
        );
    }

    #[test]
    fn id_token_nonce_iat_azp() {
        assert_eq!(
            run(with("nonce", json!("n-2")), true),
            Err(VerifyError::NonceMismatch)
        );
        assert_eq!(run(without("nonce"), true), Err(VerifyError::NonceMismatch));
        assert_eq!(
            run(without("iat"), true),
            Err(VerifyError::MissingClaim("iat"))
        );
        assert!(run(without("iat"), false).is_ok());
        // Several audiences need azp = client id.
        let multi = with("aud", json!(["gatehouse", "other"]));
        assert_eq!(run(multi.clone(), true), Err(VerifyError::WrongAudience));
        let mut ok = multi;
        ok["azp"] = json!("gatehouse");
        assert!(run(ok, true).is_ok());
        assert_eq!(
            run(with("azp", json!("other")), true),
            Err(VerifyError::WrongAudience)
        );
    }

    #[test]
    fn groups_shapes_and_paths() {
        let c = claims(json!({
            "groups": ["a", "b"],
            "one": "solo",
            "realm_access": { "roles": ["approver-x"] },
            "https://example.com/groups": ["ns"],
            "bad": [1],
            "worse": { "a": 1 },
            "null": null,
        }));
        assert_eq!(groups(&c, "groups").unwrap(), ["a", "b"]);
        assert_eq!(groups(&c, "one").unwrap(), ["solo"]);
        assert_eq!(groups(&c, "realm_access.roles").unwrap(), ["approver-x"]);
        assert_eq!(groups(&c, "https://example.com/groups").unwrap(), ["ns"]);
        assert!(groups(&c, "missing").unwrap().is_empty());
        assert!(groups(&c, "realm_access.missing").unwrap().is_empty());
        assert!(groups(&c, "null").unwrap().is_empty());
        assert_eq!(groups(&c, "bad"), Err(VerifyError::InvalidClaim("groups")));
        assert_eq!(
            groups(&c, "worse"),
            Err(VerifyError::InvalidClaim("groups"))
        );
        assert_eq!(
            groups(&c, "realm_access"),
            Err(VerifyError::InvalidClaim("groups"))
        );
    }

    #[test]
    fn unverified_email_is_dropped() {
        let c = claims(json!({"email": "a@example.com", "upn": "a@corp"}));
        assert_eq!(email(&c, "email").as_deref(), Some("a@example.com"));
        assert_eq!(email(&c, "upn").as_deref(), Some("a@corp"));
        let c = claims(json!({"email": "a@example.com", "email_verified": false}));
        assert_eq!(email(&c, "email"), None);
        let c = claims(json!({"email": "a@example.com", "email_verified": true}));
        assert!(email(&c, "email").is_some());
    }
}
