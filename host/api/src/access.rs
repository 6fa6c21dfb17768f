//! Which connections a user may access — the rule the API uses to show a
//! user only the connections they can open.
//!
//! The rule is the `access-control` plugin's: a connection is accessible
//! to a **user** when it has an *enabled* `access-control` binding whose
//! config's `allowed_groups` contains one of the user's groups (exact,
//! case-sensitive names). Admins see every connection; approvers none
//! (the roles seed: approvers have no connection access at all).
//!
//! Fail closed: a connection without an enabled `access-control` binding,
//! or whose config cannot be read as `{"allowed_groups": [...]}`, is shown
//! to no user (admins still see it). The gateway may be more permissive —
//! a connection with no `access-control` binding admits anyone its other
//! plugins admit — so an admin opening a connection to users should bind
//! `access-control`; the API never advertises a connection on a guess.

use gatehouse_store::bindings::Binding;
use gatehouse_store::connections::Connection;
use gatehouse_store::users::User;
use gatehouse_store::{Role, Store, StoreError};

/// The plugin whose binding config decides who may use a connection.
pub const ACCESS_CONTROL: &str = "access-control";

/// The groups an enabled `access-control` binding allows, if there is one
/// with a readable config.
pub fn allowed_groups(bindings: &[Binding]) -> Option<Vec<String>> {
    let binding = bindings
        .iter()
        .find(|b| b.enabled && b.plugin == ACCESS_CONTROL)?;
    let groups = binding.config.get("allowed_groups")?.as_array()?;
    Some(
        groups
            .iter()
            .filter_map(|g| g.as_str().map(str::to_string))
            .collect(),
    )
}

/// Whether `user` may access `connection` (see the module docs).
pub async fn may_access(
    store: &Store,
    user: &User,
    connection: &Connection,
) -> Result<bool, StoreError> {
    match user.role {
        Role::Admin => Ok(true),
        Role::Approver => Ok(false),
        Role::User => {
            let bindings = store.bindings().list(connection.id).await?;
            Ok(allowed_groups(&bindings)
                .is_some_and(|allowed| user.groups.iter().any(|g| allowed.contains(g))))
        }
    }
}

/// The connections `user` may access, by name.
pub async fn accessible(store: &Store, user: &User) -> Result<Vec<Connection>, StoreError> {
    let all = store.connections().list().await?;
    if user.role == Role::Admin {
        return Ok(all);
    }
    let mut out = Vec::new();
    for connection in all {
        if may_access(store, user, &connection).await? {
            out.push(connection);
        }
    }
    Ok(out)
}
