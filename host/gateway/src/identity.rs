//! Who is at the door: users of the store and their access tokens.
//!
//! Access tokens are random secrets shown once; only their SHA-256 is
//! stored. [`authenticate`] answers the same `None` for an unknown user, a
//! wrong, expired or revoked token and a disabled user, and never logs the
//! token. SSO users are in the same store (synced at their OIDC login);
//! the proxy only sees the [`Identity`] handed to plugins.

use gatehouse_runtime::types::{Identity, Role as WitRole};
use gatehouse_store::{Role, Store};
use sha2::{Digest, Sha256};

/// Prefix of Gatehouse access tokens (recognisable in leaks and scanners).
pub const TOKEN_PREFIX: &str = "ghat_";

/// A new random access token and the hex SHA-256 to store for it (what
/// `gatehouse tokens new` prints for a `token_sha256` in the config file).
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    (token, digest)
}

pub fn wit_role(role: Role) -> WitRole {
    match role {
        Role::Admin => WitRole::Admin,
        Role::User => WitRole::User,
        Role::Approver => WitRole::Approver,
    }
}

/// The identity of `user` if `token` is one of their live tokens. A store
/// failure is logged and refuses (fail closed).
pub async fn authenticate(store: &Store, user: &str, token: &str) -> Option<Identity> {
    match store.tokens().authenticate(user, token).await {
        Ok(Some(user)) => Some(Identity {
            user_id: user.id.to_string(),
            email: user.email,
            groups: user.groups,
            role: wit_role(user.role),
        }),
        Ok(None) => None,
        Err(err) => {
            tracing::error!(error = %err, "the store could not check an access token");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_and_random() {
        let (a, digest) = new_token();
        let (b, _) = new_token();
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 48);
        assert_eq!(digest, gatehouse_store::tokens::token_sha256(&a));
        assert_ne!(a, b);
    }
}
