//! Gatehouse roles from the identity provider's groups.
//!
//! [`RoleMapping::role_for`] is a pure function of the group list: no I/O,
//! no clock, the same answer for the same groups. Group names are compared
//! exactly (case-sensitive), as providers emit them.
//!
//! Precedence, first match wins:
//!
//! | groups contain …                                              | role       |
//! | ------------------------------------------------------------- | ---------- |
//! | one of `admin_groups`                                         | `admin`    |
//! | one of `approver_groups`, or a name starting with one of `approver_prefixes` (default `approver-`) | `approver` |
//! | one of `user_groups`                                          | `user`     |
//! | none of the above                                             | `default_role` (`user`; `none` refuses) |
//!
//! Approver ranks above user on purpose (the roles seed): an approver's
//! groups must not grant connections, and the approver role never opens a
//! session, so a person in both an approver group and a user group gets the
//! more restricted connection rights, not the wider ones. Admin can only be
//! reached through `admin_groups`; it is never a default.

use serde::Deserialize;

/// A Gatehouse role (see `/work/shared/seeds/roles.txt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Modifies every resource, sees every session and review.
    Admin,
    /// Connects to resources their groups allow; sees their own sessions.
    User,
    /// Decides reviews; never opens sessions.
    Approver,
}

impl Role {
    /// `admin`, `user` or `approver`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Approver => "approver",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role of someone whose groups match no mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultRole {
    /// Everyone the provider authenticates is a user (the default).
    #[default]
    User,
    /// Everyone else is an approver (unusual; approvers cannot connect).
    Approver,
    /// Refuse: only people in a mapped group get in.
    None,
}

/// How groups become a role: the `[oidc.roles]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    /// Members of any of these groups are admins.
    #[serde(default)]
    pub admin_groups: Vec<String>,
    /// Members of any of these groups are approvers.
    #[serde(default)]
    pub approver_groups: Vec<String>,
    /// Members of a group whose name starts with one of these are approvers.
    #[serde(default = "default_approver_prefixes")]
    pub approver_prefixes: Vec<String>,
    /// Members of any of these groups are users (useful with
    /// `default_role = "none"`).
    #[serde(default)]
    pub user_groups: Vec<String>,
    /// Role of someone matching none of the above.
    #[serde(default)]
    pub default_role: DefaultRole,
}

fn default_approver_prefixes() -> Vec<String> {
    vec!["approver-".into()]
}

impl Default for RoleMapping {
    fn default() -> Self {
        Self {
            admin_groups: Vec::new(),
            approver_groups: Vec::new(),
            approver_prefixes: default_approver_prefixes(),
            user_groups: Vec::new(),
            default_role: DefaultRole::User,
        }
    }
}

impl RoleMapping {
    /// The role for these groups, or `None` when nothing matches and
    /// `default_role` is `none` (the login or token is then refused).
    pub fn role_for<S: AsRef<str>>(&self, groups: &[S]) -> Option<Role> {
        let has = |list: &[String]| groups.iter().any(|g| list.iter().any(|l| l == g.as_ref()));
        if has(&self.admin_groups) {
            return Some(Role::Admin);
        }
        let prefixed = groups.iter().any(|g| {
            self.approver_prefixes
                .iter()
                .any(|p| !p.is_empty() && g.as_ref().starts_with(p.as_str()))
        });
        if prefixed || has(&self.approver_groups) {
            return Some(Role::Approver);
        }
        if has(&self.user_groups) {
            return Some(Role::User);
        }
        match self.default_role {
            DefaultRole::User => Some(Role::User),
            DefaultRole::Approver => Some(Role::Approver),
            DefaultRole::None => None,
        }
    }

    /// Reject mappings that cannot be what the operator meant.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.approver_prefixes.iter().any(String::is_empty) {
            return Err("roles.approver_prefixes: an empty prefix would match every group".into());
        }
        let all = self
            .admin_groups
            .iter()
            .chain(&self.approver_groups)
            .chain(&self.user_groups);
        if all.clone().any(String::is_empty) {
            return Err("roles: group names must not be empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> RoleMapping {
        RoleMapping {
            admin_groups: vec!["gatehouse-admins".into()],
            approver_groups: vec!["security-reviewers".into()],
            approver_prefixes: vec!["approver-".into(), "reviewer-".into()],
            user_groups: vec!["engineering".into()],
            default_role: DefaultRole::User,
        }
    }

    #[test]
    fn admin_group_wins_over_everything() {
        let m = mapping();
        assert_eq!(
            m.role_for(&["engineering", "approver-prod", "gatehouse-admins"]),
            Some(Role::Admin)
        );
    }

    #[test]
    fn approver_by_prefix_or_exact_name() {
        let m = mapping();
        assert_eq!(m.role_for(&["approver-prod"]), Some(Role::Approver));
        assert_eq!(m.role_for(&["reviewer-db"]), Some(Role::Approver));
        assert_eq!(m.role_for(&["security-reviewers"]), Some(Role::Approver));
        // A prefix alone is a group name too.
        assert_eq!(m.role_for(&["approver-"]), Some(Role::Approver));
    }

    #[test]
    fn approver_ranks_above_user() {
        assert_eq!(
            mapping().role_for(&["engineering", "approver-prod"]),
            Some(Role::Approver)
        );
    }

    #[test]
    fn matching_is_exact_and_case_sensitive() {
        let m = RoleMapping {
            default_role: DefaultRole::None,
            ..mapping()
        };
        assert_eq!(m.role_for(&["Gatehouse-Admins"]), None);
        assert_eq!(m.role_for(&["gatehouse-admins-old"]), None);
        assert_eq!(m.role_for(&["xapprover-prod"]), None);
        assert_eq!(m.role_for(&["Approver-prod"]), None);
        assert_eq!(m.role_for(&["engineering"]), Some(Role::User));
    }

    #[test]
    fn default_role_applies_to_unmatched_and_empty_groups() {
        let m = mapping();
        assert_eq!(m.role_for(&["marketing"]), Some(Role::User));
        assert_eq!(m.role_for::<&str>(&[]), Some(Role::User));
        let refuse = RoleMapping {
            default_role: DefaultRole::None,
            ..mapping()
        };
        assert_eq!(refuse.role_for(&["marketing"]), None);
        assert_eq!(refuse.role_for::<&str>(&[]), None);
        let approve = RoleMapping {
            default_role: DefaultRole::Approver,
            ..mapping()
        };
        assert_eq!(approve.role_for(&["marketing"]), Some(Role::Approver));
    }

    #[test]
    fn the_default_mapping_is_approver_prefix_then_user() {
        let m = RoleMapping::default();
        assert_eq!(m.role_for(&["approver-payments"]), Some(Role::Approver));
        assert_eq!(m.role_for(&["admins"]), Some(Role::User));
        assert_eq!(m.role_for::<String>(&[]), Some(Role::User));
    }

    #[test]
    fn parses_from_toml_with_defaults() {
        let m: RoleMapping = toml::from_str(
            r#"
            admin_groups = ["platform"]
            default_role = "none"
            "#,
        )
        .unwrap();
        assert_eq!(m.approver_prefixes, vec!["approver-".to_string()]);
        assert_eq!(m.default_role, DefaultRole::None);
        assert_eq!(m.role_for(&["platform"]), Some(Role::Admin));
        let err = toml::from_str::<RoleMapping>("default_role = \"admin\"").unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
        let err = toml::from_str::<RoleMapping>("admin_group = [\"x\"]").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn empty_prefix_is_rejected() {
        let m = RoleMapping {
            approver_prefixes: vec![String::new()],
            ..RoleMapping::default()
        };
        assert!(m.validate().is_err());
        assert!(mapping().validate().is_ok());
    }
}
