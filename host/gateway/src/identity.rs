//! Who is at the door: local users and their access tokens.
//!
//! Access tokens are random secrets shown once; the gateway keeps only their
//! SHA-256. [`Directory::authenticate`] answers the same `None` for an
//! unknown user and for a wrong token, compares digests in constant time,
//! and never logs the token. SSO users (OIDC) join this directory when the
//! control plane lands; the rest of the gateway only sees [`Identity`].

use crate::config::{Role, User};
use gatehouse_runtime::types::{Identity, Role as WitRole};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Prefix of Gatehouse access tokens (recognisable in leaks and scanners).
pub const TOKEN_PREFIX: &str = "ghat_";

struct Entry {
    identity: Identity,
    token_digests: Vec<[u8; 32]>,
}

/// Users that can authenticate with an access token.
#[derive(Default)]
pub struct Directory {
    by_email: HashMap<String, Entry>,
}

/// SHA-256 of a token, as stored.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random access token and the hex digest to store for it.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let digest = hex::encode(token_digest(&token));
    (token, digest)
}

fn wit_role(role: Role) -> WitRole {
    match role {
        Role::Admin => WitRole::Admin,
        Role::User => WitRole::User,
        Role::Approver => WitRole::Approver,
    }
}

/// Constant-time equality of two digests.
fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Directory {
    /// Build from configured users (their `token_sha256` were checked as
    /// 64 hex digits when the config loaded).
    pub fn from_users(users: &[User]) -> Self {
        let by_email = users
            .iter()
            .map(|user| {
                let token_digests = user
                    .token_sha256
                    .iter()
                    .filter_map(|hex_digest| hex::decode(hex_digest).ok()?.try_into().ok())
                    .collect();
                let identity = Identity {
                    user_id: format!("local:{}", user.email.to_ascii_lowercase()),
                    email: user.email.clone(),
                    groups: user.groups.clone(),
                    role: wit_role(user.role),
                };
                (
                    user.email.to_ascii_lowercase(),
                    Entry {
                        identity,
                        token_digests,
                    },
                )
            })
            .collect();
        Self { by_email }
    }

    /// The identity of `user` if `token` is one of theirs. `None` says
    /// nothing about which of the two was wrong.
    pub fn authenticate(&self, user: &str, token: &str) -> Option<Identity> {
        let presented = token_digest(token);
        let entry = self.by_email.get(&user.to_ascii_lowercase());
        // Compare against a dummy digest for unknown users so both paths
        // cost the same.
        let candidates: &[[u8; 32]] = entry
            .map(|e| e.token_digests.as_slice())
            .unwrap_or(&[[0u8; 32]]);
        let matched = candidates.iter().fold(false, |found, stored| {
            found | digests_equal(stored, &presented)
        });
        match entry {
            Some(entry) if matched => Some(entry.identity.clone()),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.by_email.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_email.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> (Directory, String) {
        let (token, digest) = new_token();
        let user = User {
            email: "Alice@Example.com".into(),
            groups: vec!["dba".into()],
            role: Role::User,
            token_sha256: vec![digest],
        };
        (Directory::from_users(&[user]), token)
    }

    #[test]
    fn a_valid_token_yields_the_identity() {
        let (directory, token) = directory();
        let identity = directory.authenticate("alice@example.com", &token).unwrap();
        assert_eq!(identity.groups, vec!["dba".to_string()]);
        assert_eq!(identity.role, WitRole::User);
    }

    #[test]
    fn wrong_token_and_unknown_user_look_the_same() {
        let (directory, token) = directory();
        assert!(
            directory
                .authenticate("alice@example.com", "ghat_wrong")
                .is_none()
        );
        assert!(
            directory
                .authenticate("mallory@example.com", &token)
                .is_none()
        );
    }

    #[test]
    fn tokens_are_prefixed_and_random() {
        let (a, _) = new_token();
        let (b, _) = new_token();
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 48);
        assert_ne!(a, b);
    }
}
