//! Who a verified token or login names.
//!
//! A [`VerifiedIdentity`] only exists after every check passed: signature,
//! issuer, audience, times, (for logins) nonce, and a role from the groups.

use crate::role::Role;
use std::time::SystemTime;

/// The identity in a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The token's `iss` (the configured issuer).
    pub issuer: String,
    /// The provider's stable id for the person (`sub`). Unique per issuer;
    /// key users by `(issuer, subject)`, not by email.
    pub subject: String,
    /// From the configured email claim; `None` when absent or when the token
    /// says `email_verified: false`.
    pub email: Option<String>,
    /// The `name` claim, for display.
    pub name: Option<String>,
    /// From the configured groups claim (empty when absent).
    pub groups: Vec<String>,
    /// Mapped from `groups` by the configured [`crate::RoleMapping`].
    pub role: Role,
    /// The token's `exp`: refuse the identity's requests after it.
    pub expires_at: SystemTime,
}
