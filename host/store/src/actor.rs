//! Who is acting: [`Identity`] (as in the WIT `identity` record) and
//! [`Actor`], which every mutating repository call takes so the audit row
//! it writes says who made the change.
//!
//! Identities are stored as JSON snapshots (a review's requester, an audit
//! row's actor): what the person was at the time, not a live reference, so
//! deleting or renaming a user never rewrites history.

use serde::{Deserialize, Serialize};

/// The three roles: admins manage, users connect, approvers only decide
/// reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
    Approver,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Approver => "approver",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            "approver" => Some(Role::Approver),
            _ => None,
        }
    }
}

/// Who someone is, mirroring the WIT `identity` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Stable id: a store user's id in decimal (`User::identity`), or
    /// whatever the caller's identity source uses (`system:config`).
    pub user_id: String,
    pub email: String,
    pub groups: Vec<String>,
    pub role: Role,
}

/// The author of a change, recorded in the audit row it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub identity: Identity,
    /// Where the request came from (API client address), if known.
    pub client_address: Option<String>,
}

impl Actor {
    pub fn new(identity: Identity) -> Self {
        Actor {
            identity,
            client_address: None,
        }
    }

    /// The gateway itself acting (`system:<component>`), e.g. applying the
    /// configuration file or expiring reviews.
    pub fn system(component: &str) -> Self {
        Actor::new(Identity {
            user_id: format!("system:{component}"),
            email: String::new(),
            groups: Vec::new(),
            role: Role::Admin,
        })
    }

    pub fn with_client_address(mut self, address: impl Into<String>) -> Self {
        self.client_address = Some(address.into());
        self
    }
}
