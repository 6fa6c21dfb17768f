//! The role capability matrix and the route table: the one place that says
//! who may do what.
//!
//! * [`MATRIX`]: per [`Capability`], what `admin`, `user`, `approver` and an
//!   anonymous caller get: [`Access::All`], [`Access::Own`] (a scope the
//!   handler applies; the row's `own` text says which), or [`Access::None`].
//!   Derived from the roles seed: admins modify everything and see every
//!   session and review; users reach the connections their groups allow and
//!   see their own sessions; approvers see only reviews they requested or
//!   are assigned to, and no connections, sessions or admin functions.
//! * [`ROUTES`]: every route (method, path) with its capability. The router
//!   refuses to build a route missing here, the middleware looks the
//!   matched route up here, the OpenAPI document and `docs/api.md` are
//!   checked against it, and the route × role test takes its expected
//!   statuses from it.
//!
//! Decisions made from the table alone (before any handler): no credentials
//! on a non-public route → 401; a role whose access is `None` → 403. A
//! handler given `Own` narrows to the caller's objects; anything outside is
//! 404 (see `error.rs`).

use gatehouse_store::Role;

/// What a role may do with a capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: 403 (401 for an anonymous caller).
    None,
    /// Only the caller's own objects (the rule's `own` says which).
    Own,
    /// Everything.
    All,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::None => "—",
            Access::Own => "own",
            Access::All => "all",
        }
    }
}

/// A group of operations sharing one authorization rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// No credentials needed (the OpenAPI document, starting a login).
    Public,
    Whoami,
    /// Mint an access token for oneself (`POST /api/auth/token`).
    TokenExchange,
    Logout,
    ResourcesRead,
    ResourcesWrite,
    ConnectionsRead,
    ConnectionsWrite,
    ConnectionsTest,
    ConnectionsExec,
    BindingsRead,
    BindingsWrite,
    PluginsRead,
    PluginsWrite,
    UsersRead,
    UsersWrite,
    GroupsRead,
    GroupsWrite,
    TokensRead,
    TokensWrite,
    SessionsRead,
    ReviewsRead,
    ReviewsRequest,
    ReviewsResult,
    ReviewsDecide,
    ReviewsRevoke,
    AuditRead,
}

/// One row of the matrix.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub capability: Capability,
    /// Stable name, as in the docs and `whoami`.
    pub name: &'static str,
    pub description: &'static str,
    pub admin: Access,
    pub user: Access,
    pub approver: Access,
    pub anonymous: Access,
    /// What "own" means for this capability.
    pub own: &'static str,
}

use Access::{All, None as No, Own};

const fn rule(
    capability: Capability,
    name: &'static str,
    description: &'static str,
    [admin, user, approver, anonymous]: [Access; 4],
    own: &'static str,
) -> Rule {
    Rule {
        capability,
        name,
        description,
        admin,
        user,
        approver,
        anonymous,
        own,
    }
}

/// The role capability matrix: `[admin, user, approver, anonymous]`.
pub const MATRIX: &[Rule] = &[
    rule(
        Capability::Public,
        "public",
        "read the OpenAPI document, start and finish a browser login",
        [All, All, All, All],
        "",
    ),
    rule(
        Capability::Whoami,
        "whoami",
        "who the caller is and what their role may do",
        [All, All, All, No],
        "",
    ),
    rule(
        Capability::TokenExchange,
        "auth.token",
        "mint an access token for oneself (the CLI after an OIDC login)",
        [Own, Own, Own, No],
        "the token belongs to the caller",
    ),
    rule(
        Capability::Logout,
        "auth.logout",
        "end a browser session (revokes its token, clears the cookie)",
        [Own, Own, Own, No],
        "the caller's own browser session",
    ),
    rule(
        Capability::ResourcesRead,
        "resources.read",
        "list and show resources with their roles",
        [All, Own, No, No],
        "resources with at least one role the user may access; only those roles are shown",
    ),
    rule(
        Capability::ResourcesWrite,
        "resources.write",
        "create, update, delete resources",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::ConnectionsRead,
        "connections.read",
        "list and show connections (resource roles)",
        [All, Own, No, No],
        "connections whose `access-control` binding allows one of the user's groups",
    ),
    rule(
        Capability::ConnectionsWrite,
        "connections.write",
        "create, update, delete connections and their credentials",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::ConnectionsTest,
        "connections.test",
        "test a connection's upstream login",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::ConnectionsExec,
        "connections.exec",
        "run a query through a connection's plugins (exec)",
        [All, Own, No, No],
        "connections whose `access-control` binding allows one of the user's groups; the connection's plugins still decide",
    ),
    rule(
        Capability::BindingsRead,
        "bindings.read",
        "list and show the plugins bound to a connection",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::BindingsWrite,
        "bindings.write",
        "bind, configure, reorder, unbind plugins on a connection",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::PluginsRead,
        "plugins.read",
        "list installed plugins and their versions",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::PluginsWrite,
        "plugins.write",
        "install, upgrade, remove plugin versions",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::UsersRead,
        "users.read",
        "list and show users",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::UsersWrite,
        "users.write",
        "create, update, delete users, set their groups",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::GroupsRead,
        "groups.read",
        "list and show groups with their members",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::GroupsWrite,
        "groups.write",
        "create, update, delete groups, add and remove members",
        [All, No, No, No],
        "",
    ),
    rule(
        Capability::TokensRead,
        "tokens.read",
        "list access tokens (never their values)",
        [All, Own, Own, No],
        "the caller's own tokens",
    ),
    rule(
        Capability::TokensWrite,
        "tokens.write",
        "create and revoke access tokens",
        [All, Own, Own, No],
        "the caller's own tokens",
    ),
    rule(
        Capability::SessionsRead,
        "sessions.read",
        "list and show sessions with their queries",
        [All, Own, No, No],
        "sessions the user opened",
    ),
    rule(
        Capability::ReviewsRead,
        "reviews.read",
        "list and show reviews",
        [All, Own, Own, No],
        "reviews the caller requested or that name one of the caller's groups as approvers",
    ),
    rule(
        Capability::ReviewsRequest,
        "reviews.request",
        "request just-in-time access to a connection",
        [Own, Own, No, No],
        "access for the caller, to a connection the caller may access",
    ),
    rule(
        Capability::ReviewsResult,
        "reviews.result",
        "read the output of a held exec query the gateway ran once approved",
        [All, Own, No, No],
        "reviews the user requested",
    ),
    rule(
        Capability::ReviewsDecide,
        "reviews.decide",
        "approve or reject a review (the decider must be in one of its approver groups and not its requester)",
        [All, No, Own, No],
        "reviews that name one of the approver's groups",
    ),
    rule(
        Capability::ReviewsRevoke,
        "reviews.revoke",
        "withdraw (pending) or revoke (approved) a review",
        [All, Own, No, No],
        "reviews the user requested",
    ),
    rule(
        Capability::AuditRead,
        "audit.read",
        "read the audit log",
        [All, No, No, No],
        "",
    ),
];

impl Rule {
    /// Access of a caller with `role` (`None`: anonymous).
    pub fn access(&self, role: Option<Role>) -> Access {
        match role {
            Some(Role::Admin) => self.admin,
            Some(Role::User) => self.user,
            Some(Role::Approver) => self.approver,
            None => self.anonymous,
        }
    }
}

/// The rule of `capability`.
pub fn rule_of(capability: Capability) -> &'static Rule {
    MATRIX
        .iter()
        .find(|r| r.capability == capability)
        .expect("every capability has a row in MATRIX")
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: &'static str,
    /// axum/OpenAPI template, `/api/connections/{name}`.
    pub path: &'static str,
    pub capability: Capability,
    pub summary: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    capability: Capability,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        capability,
        summary,
    }
}

use Capability as C;

/// Every route of the API.
pub const ROUTES: &[RouteSpec] = &[
    r(
        "GET",
        "/api/openapi.json",
        C::Public,
        "The OpenAPI 3.1 document",
    ),
    r(
        "GET",
        "/auth/login",
        C::Public,
        "Start a browser OIDC login",
    ),
    r(
        "GET",
        "/auth/callback",
        C::Public,
        "Finish a browser OIDC login",
    ),
    r("POST", "/auth/logout", C::Logout, "End the browser session"),
    r(
        "POST",
        "/api/auth/token",
        C::TokenExchange,
        "Mint an access token for the caller",
    ),
    r(
        "GET",
        "/api/whoami",
        C::Whoami,
        "The caller and their capabilities",
    ),
    r(
        "GET",
        "/api/resources",
        C::ResourcesRead,
        "List resources with their roles",
    ),
    r(
        "POST",
        "/api/resources",
        C::ResourcesWrite,
        "Create a resource",
    ),
    r(
        "GET",
        "/api/resources/{name}",
        C::ResourcesRead,
        "Show a resource with its roles",
    ),
    r(
        "PATCH",
        "/api/resources/{name}",
        C::ResourcesWrite,
        "Update a resource",
    ),
    r(
        "DELETE",
        "/api/resources/{name}",
        C::ResourcesWrite,
        "Delete a resource without roles",
    ),
    r(
        "GET",
        "/api/connections",
        C::ConnectionsRead,
        "List connections",
    ),
    r(
        "POST",
        "/api/connections",
        C::ConnectionsWrite,
        "Create a connection (resource role)",
    ),
    r(
        "GET",
        "/api/connections/{name}",
        C::ConnectionsRead,
        "Show a connection",
    ),
    r(
        "PATCH",
        "/api/connections/{name}",
        C::ConnectionsWrite,
        "Update a connection",
    ),
    r(
        "DELETE",
        "/api/connections/{name}",
        C::ConnectionsWrite,
        "Delete a connection and its bindings",
    ),
    r(
        "POST",
        "/api/connections/{name}/test",
        C::ConnectionsTest,
        "Test the upstream login",
    ),
    r(
        "POST",
        "/api/connections/{name}/exec",
        C::ConnectionsExec,
        "Run a query through the connection's plugins",
    ),
    r(
        "GET",
        "/api/connections/{name}/plugins",
        C::BindingsRead,
        "List a connection's plugin bindings",
    ),
    r(
        "POST",
        "/api/connections/{name}/plugins",
        C::BindingsWrite,
        "Bind a plugin to a connection",
    ),
    r(
        "PUT",
        "/api/connections/{name}/plugin-order",
        C::BindingsWrite,
        "Set the order plugins run in",
    ),
    r(
        "GET",
        "/api/connections/{name}/plugins/{plugin}",
        C::BindingsRead,
        "Show a binding",
    ),
    r(
        "PATCH",
        "/api/connections/{name}/plugins/{plugin}",
        C::BindingsWrite,
        "Update a binding",
    ),
    r(
        "DELETE",
        "/api/connections/{name}/plugins/{plugin}",
        C::BindingsWrite,
        "Unbind a plugin",
    ),
    r(
        "GET",
        "/api/plugins",
        C::PluginsRead,
        "List plugins (latest version of each)",
    ),
    r(
        "POST",
        "/api/plugins",
        C::PluginsWrite,
        "Install or upgrade a plugin (.wasm body)",
    ),
    r(
        "GET",
        "/api/plugins/{name}",
        C::PluginsRead,
        "Show a plugin with every version",
    ),
    r(
        "DELETE",
        "/api/plugins/{name}/versions/{version}",
        C::PluginsWrite,
        "Remove a plugin version",
    ),
    r("GET", "/api/users", C::UsersRead, "List users"),
    r("POST", "/api/users", C::UsersWrite, "Create a user"),
    r(
        "GET",
        "/api/users/{user}",
        C::UsersRead,
        "Show a user (id or email)",
    ),
    r("PATCH", "/api/users/{user}", C::UsersWrite, "Update a user"),
    r(
        "DELETE",
        "/api/users/{user}",
        C::UsersWrite,
        "Delete a user with their tokens",
    ),
    r(
        "PUT",
        "/api/users/{user}/groups",
        C::UsersWrite,
        "Replace a user's groups",
    ),
    r("GET", "/api/groups", C::GroupsRead, "List groups"),
    r("POST", "/api/groups", C::GroupsWrite, "Create a group"),
    r(
        "GET",
        "/api/groups/{name}",
        C::GroupsRead,
        "Show a group with its members",
    ),
    r(
        "PATCH",
        "/api/groups/{name}",
        C::GroupsWrite,
        "Update a group's description",
    ),
    r(
        "DELETE",
        "/api/groups/{name}",
        C::GroupsWrite,
        "Delete a group",
    ),
    r(
        "PUT",
        "/api/groups/{name}/members/{user}",
        C::GroupsWrite,
        "Add a member",
    ),
    r(
        "DELETE",
        "/api/groups/{name}/members/{user}",
        C::GroupsWrite,
        "Remove a member",
    ),
    r("GET", "/api/tokens", C::TokensRead, "List access tokens"),
    r(
        "POST",
        "/api/tokens",
        C::TokensWrite,
        "Create an access token (shown once)",
    ),
    r(
        "DELETE",
        "/api/tokens/{id}",
        C::TokensWrite,
        "Revoke an access token",
    ),
    r(
        "GET",
        "/api/sessions",
        C::SessionsRead,
        "List sessions (filters, pages)",
    ),
    r(
        "GET",
        "/api/sessions/{id}",
        C::SessionsRead,
        "Show a session with its events",
    ),
    r(
        "GET",
        "/api/sessions/{id}/download",
        C::SessionsRead,
        "Download a session with all its events (JSON)",
    ),
    r(
        "GET",
        "/api/reviews",
        C::ReviewsRead,
        "List reviews (filters, pages)",
    ),
    r(
        "POST",
        "/api/reviews",
        C::ReviewsRequest,
        "Request just-in-time access to a connection",
    ),
    r("GET", "/api/reviews/{id}", C::ReviewsRead, "Show a review"),
    r(
        "GET",
        "/api/reviews/{id}/result",
        C::ReviewsResult,
        "The output of a held exec query, once run",
    ),
    r(
        "POST",
        "/api/reviews/{id}/approve",
        C::ReviewsDecide,
        "Approve a review",
    ),
    r(
        "POST",
        "/api/reviews/{id}/reject",
        C::ReviewsDecide,
        "Reject a review",
    ),
    r(
        "POST",
        "/api/reviews/{id}/revoke",
        C::ReviewsRevoke,
        "Withdraw or revoke a review",
    ),
    r(
        "GET",
        "/api/audit",
        C::AuditRead,
        "List audit events (filters, pages)",
    ),
    r(
        "GET",
        "/api/audit/sinks",
        C::AuditRead,
        "Audit sinks and their delivery state",
    ),
    r(
        "GET",
        "/api/audit/dead-letters",
        C::AuditRead,
        "Events audit sinks gave up on",
    ),
    r(
        "GET",
        "/api/audit/{sequence}",
        C::AuditRead,
        "Show an audit event",
    ),
];

/// The route `method path` (`HEAD` looks up `GET`).
pub fn route(method: &str, path: &str) -> Option<&'static RouteSpec> {
    let method = if method == "HEAD" { "GET" } else { method };
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// The capability table of `docs/api.md` (a test checks the document
/// contains exactly this).
pub fn capability_table_markdown() -> String {
    let mut out = String::from(
        "| capability | what | admin | user | approver | anonymous | \"own\" means |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for rule in MATRIX {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            rule.name,
            rule.description,
            rule.admin.as_str(),
            rule.user.as_str(),
            rule.approver.as_str(),
            rule.anonymous.as_str(),
            rule.own
        ));
    }
    out
}

/// The route table of `docs/api.md` (checked like the capability table).
pub fn route_table_markdown() -> String {
    let mut out = String::from(
        "| method | path | capability | admin | user | approver | what |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for route in ROUTES {
        let rule = rule_of(route.capability);
        out.push_str(&format!(
            "| {} | `{}` | `{}` | {} | {} | {} | {} |\n",
            route.method,
            route.path,
            rule.name,
            rule.admin.as_str(),
            rule.user.as_str(),
            rule.approver.as_str(),
            route.summary
        ));
    }
    out
}
