//! # access-control
//!
//! Decides who may open a session on a connection, from the user's role and
//! SSO groups:
//!
//! * **approvers are always denied**: the seed gives them no connection
//!   access at all, whatever their groups;
//! * **admins** are allowed unless `allow_admins` is `false`;
//! * **users** are allowed when they belong to at least one of
//!   `allowed_groups` (exact, case-sensitive group names, as the SSO
//!   provider sends them).
//!
//! An empty `allowed_groups` allows no user: a connection is closed until an
//! admin names who may use it. Deny reasons say what is missing without
//! listing the allowed groups.
//!
//! ```json
//! { "allowed_groups": ["dba", "sre"], "allow_admins": true }
//! ```

use gatehouse_sdk::prelude::*;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Groups whose members may connect.
    pub allowed_groups: Vec<String>,
    /// Whether admins may connect without being in `allowed_groups`.
    #[serde(default = "yes")]
    pub allow_admins: bool,
}

fn yes() -> bool {
    true
}

pub struct AccessControl {
    config: Config,
}

impl AccessControl {
    /// The decision, separate from the hook so it reads on its own.
    pub fn decide(config: &Config, session: &Session) -> ConnectVerdict {
        let who = &session.identity;
        let connection = &session.connection.name;
        match who.role {
            Role::Approver => ConnectVerdict::Deny(format!(
                "approvers cannot open sessions (connection '{connection}'); approvers only decide reviews"
            )),
            Role::Admin if config.allow_admins => ConnectVerdict::Allow,
            Role::Admin | Role::User => {
                if who.groups.iter().any(|g| config.allowed_groups.contains(g)) {
                    ConnectVerdict::Allow
                } else {
                    ConnectVerdict::Deny(format!(
                        "access denied: {} is not in a group allowed on connection '{connection}'",
                        who.email
                    ))
                }
            }
        }
    }
}

#[gatehouse_sdk::plugin]
impl Plugin for AccessControl {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Allow sessions only to members of the configured groups; never to approvers.";

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self { config })
    }

    fn validate(config: &Config) -> Result<(), String> {
        if let Some(blank) = config.allowed_groups.iter().find(|g| g.trim().is_empty()) {
            return Err(format!(
                "allowed_groups contains a blank group name: {blank:?}"
            ));
        }
        Ok(())
    }

    fn on_connect(&mut self, session: &Session) -> ConnectVerdict {
        Self::decide(&self.config, session)
    }
}
