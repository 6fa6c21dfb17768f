//! The OpenAPI 3.1 document served at `GET /api/openapi.json`.
//!
//! Written by hand (no code generation: no macro crate in the build), path
//! by path below. It is not trusted to match the router: a test compares
//! its paths and methods with [`crate::registered_routes`] and fails on any
//! difference, and probes every documented operation against the router.
//! What is derived from [`crate::authz`] is only the annotation of each
//! operation with its capability and roles (`x-gatehouse-capability`,
//! `x-gatehouse-access`) and `security: []` on public routes, so the
//! document states the same matrix the middleware enforces.

use crate::authz::{self, Access};
use serde_json::{Value, json};
use std::sync::OnceLock;

/// The document (built once).
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn array(of: Value) -> Value {
    json!({ "type": "array", "items": of })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": kind } })
}

fn paging() -> Vec<Value> {
    vec![
        query("limit", "integer", "page size, 1-1000 (default 50)"),
        query(
            "next",
            "string",
            "the `next` cursor of the previous page (opaque)",
        ),
    ]
}

fn json_body(schema_value: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema_value } } })
}

fn answer(description: &str, body: Option<Value>) -> Value {
    match body {
        Some(s) => {
            json!({ "description": description, "content": { "application/json": { "schema": s } } })
        }
        None => json!({ "description": description }),
    }
}

/// One operation: summary, tag, parameters, body, success status and
/// schema. Error answers are added for every operation.
struct Op {
    summary: &'static str,
    tag: &'static str,
    params: Vec<Value>,
    body: Option<Value>,
    status: u16,
    response: Option<Value>,
    description: Option<&'static str>,
}

fn op(summary: &'static str, tag: &'static str) -> Op {
    Op {
        summary,
        tag,
        params: Vec::new(),
        body: None,
        status: 200,
        response: None,
        description: None,
    }
}

impl Op {
    fn params(mut self, params: Vec<Value>) -> Self {
        self.params.extend(params);
        self
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn returns(mut self, status: u16, response: Option<Value>) -> Self {
        self.status = status;
        self.response = response;
        self
    }
    fn describe(mut self, text: &'static str) -> Self {
        self.description = Some(text);
        self
    }
    fn build(self) -> Value {
        let mut responses = serde_json::Map::new();
        let description = match self.status {
            201 => "created",
            204 => "done",
            303 => "redirect",
            _ => "success",
        };
        responses.insert(self.status.to_string(), answer(description, self.response));
        for code in ["400", "401", "403", "404", "409", "500", "503"] {
            responses.insert(
                code.into(),
                json!({ "$ref": format!("#/components/responses/E{code}") }),
            );
        }
        let mut out = json!({
            "summary": self.summary,
            "tags": [self.tag],
            "parameters": self.params,
            "responses": responses,
        });
        if let Some(body) = self.body {
            out["requestBody"] = body;
        }
        if let Some(text) = self.description {
            out["description"] = json!(text);
        }
        out
    }
}

fn operations() -> Vec<(&'static str, &'static str, Op)> {
    let name = || path_param("name", "the resource's or connection's name");
    let conn = || path_param("name", "the connection, `resource.role`");
    let user = || path_param("user", "a user's id or email");
    vec![
        ("/api/openapi.json", "get", op("The OpenAPI document", "meta")
            .returns(200, Some(json!({ "type": "object" })))),
        ("/auth/login", "get", op("Start a browser OIDC login", "auth")
            .params(vec![query("return_to", "string", "a local path to land on after the login (default /api/whoami)")])
            .returns(303, None)
            .describe("Redirects to the identity provider (authorization code + PKCE) and sets the `gh_oidc_state` cookie. 404 `oidc_not_configured` without `[oidc]`.")),
        ("/auth/callback", "get", op("Finish a browser OIDC login", "auth")
            .params(vec![
                query("code", "string", "from the provider"),
                query("state", "string", "from the provider"),
                query("iss", "string", "from the provider (RFC 9207)"),
            ])
            .returns(303, None)
            .describe("Exchanges the code, verifies the ID token, syncs the user, sets the `gh_session` cookie (a store access token) and redirects to `return_to`.")),
        ("/auth/logout", "post", op("End the session", "auth")
            .returns(204, None)
            .describe("Revokes the access token that authenticated the request (cookie or bearer) and clears the cookie.")),
        ("/api/auth/token", "post", op("Mint an access token for the caller", "auth")
            .body(json!({ "required": false, "content": { "application/json": { "schema": schema("ExchangeRequest") } } }))
            .returns(201, Some(schema("NewToken")))
            .describe("The CLI calls this with `Authorization: Bearer <OIDC access or ID token>` after `gatehouse login`; the token is shown once.")),
        ("/api/whoami", "get", op("The caller", "auth").returns(200, Some(schema("Whoami")))),

        ("/api/resources", "get", op("List resources with their roles", "resources")
            .returns(200, Some(array(schema("Resource"))))),
        ("/api/resources", "post", op("Create a resource", "resources")
            .body(json_body(schema("CreateResource"))).returns(201, Some(schema("Resource")))),
        ("/api/resources/{name}", "get", op("Show a resource", "resources")
            .params(vec![name()]).returns(200, Some(schema("Resource")))),
        ("/api/resources/{name}", "patch", op("Update a resource", "resources")
            .params(vec![name()]).body(json_body(schema("UpdateResource"))).returns(200, Some(schema("Resource")))),
        ("/api/resources/{name}", "delete", op("Delete a resource without roles", "resources")
            .params(vec![name()]).returns(204, None)),

        ("/api/connections", "get", op("List connections", "connections")
            .params(vec![query("resource", "string", "only this resource's roles")])
            .returns(200, Some(array(schema("Connection"))))),
        ("/api/connections", "post", op("Create a connection", "connections")
            .body(json_body(schema("CreateConnection"))).returns(201, Some(schema("Connection")))),
        ("/api/connections/{name}", "get", op("Show a connection", "connections")
            .params(vec![conn()]).returns(200, Some(schema("Connection")))),
        ("/api/connections/{name}", "patch", op("Update a connection", "connections")
            .params(vec![conn()]).body(json_body(schema("UpdateConnection"))).returns(200, Some(schema("Connection")))),
        ("/api/connections/{name}", "delete", op("Delete a connection and its bindings", "connections")
            .params(vec![conn()]).returns(204, None)),
        ("/api/connections/{name}/test", "post", op("Test the upstream login", "connections")
            .params(vec![conn()]).returns(200, Some(schema("TestOutcome")))),
        ("/api/connections/{name}/exec", "post", op("Run a query through the connection's plugins", "connections")
            .params(vec![conn()]).body(json_body(schema("ExecRequest"))).returns(200, Some(schema("ExecOutput")))
            .describe("The gateway runs the query as the caller (session verb `exec`): on-connect, on-query and the result hooks \
                decide as for a native client. JSON by default; CSV with `\"format\": \"csv\"` or `Accept: text/csv` \
                (a database error is then 422 `query_failed`). 202 `{review, message}` when a plugin holds the query for \
                review: it runs once approved, its output at `GET /api/reviews/{id}/result`. 403 `denied` when a plugin \
                denies the connection or the query.")),

        ("/api/connections/{name}/plugins", "get", op("List bindings", "bindings")
            .params(vec![conn()]).returns(200, Some(array(schema("Binding"))))),
        ("/api/connections/{name}/plugins", "post", op("Bind a plugin", "bindings")
            .params(vec![conn()]).body(json_body(schema("AddBinding"))).returns(201, Some(schema("Binding")))
            .describe("Secret config keys go in `secrets`: sealed at rest, never returned (the binding lists their names \
                in `secrets_set`), merged into the plugin's config as top-level keys when it is instantiated. A key in \
                both `config` and `secrets` is a 400 `invalid`.")),
        ("/api/connections/{name}/plugin-order", "put", op("Set the plugin order", "bindings")
            .params(vec![conn()]).body(json_body(schema("PluginOrder"))).returns(200, Some(array(schema("Binding"))))),
        ("/api/connections/{name}/plugins/{plugin}", "get", op("Show a binding", "bindings")
            .params(vec![conn(), path_param("plugin", "the bound plugin's name")]).returns(200, Some(schema("Binding")))),
        ("/api/connections/{name}/plugins/{plugin}", "patch", op("Update a binding", "bindings")
            .params(vec![conn(), path_param("plugin", "the bound plugin's name")])
            .body(json_body(schema("UpdateBinding"))).returns(200, Some(schema("Binding")))
            .describe("Replaces the fields given (`config` as a whole). `secrets` changes per key: a value sets or \
                replaces that secret, `null` removes it, keys not named are kept; without `secrets` every stored secret \
                is kept. Secret values are never returned; the audit event records `secrets_set` and \
                `secrets_changed: true`, never a value.")),
        ("/api/connections/{name}/plugins/{plugin}", "delete", op("Unbind a plugin", "bindings")
            .params(vec![conn(), path_param("plugin", "the bound plugin's name")]).returns(204, None)),

        ("/api/plugins", "get", op("List plugins (latest of each)", "plugins")
            .returns(200, Some(array(schema("Plugin"))))),
        ("/api/plugins", "post", op("Install or upgrade a plugin", "plugins")
            .body(json!({ "required": true, "content": { "application/wasm": { "schema": { "type": "string", "format": "binary" } } } }))
            .returns(201, Some(schema("Installed")))
            .describe("The body is the component. 200 with `created: false` when these bytes are already installed.")),
        ("/api/plugins/{name}", "get", op("Show a plugin's versions", "plugins")
            .params(vec![path_param("name", "the plugin's name")]).returns(200, Some(schema("PluginVersions")))),
        ("/api/plugins/{name}/versions/{version}", "delete", op("Remove a plugin version", "plugins")
            .params(vec![path_param("name", "the plugin's name"), path_param("version", "the version label")])
            .returns(204, None)),

        ("/api/users", "get", op("List users", "users").returns(200, Some(array(schema("User"))))),
        ("/api/users", "post", op("Create a user", "users")
            .body(json_body(schema("CreateUser"))).returns(201, Some(schema("User")))),
        ("/api/users/{user}", "get", op("Show a user", "users").params(vec![user()]).returns(200, Some(schema("User")))),
        ("/api/users/{user}", "patch", op("Update a user", "users")
            .params(vec![user()]).body(json_body(schema("UpdateUser"))).returns(200, Some(schema("User")))),
        ("/api/users/{user}", "delete", op("Delete a user", "users").params(vec![user()]).returns(204, None)),
        ("/api/users/{user}/groups", "put", op("Replace a user's groups", "users")
            .params(vec![user()]).body(json_body(schema("GroupList"))).returns(200, Some(schema("User")))),

        ("/api/groups", "get", op("List groups", "groups").returns(200, Some(array(schema("Group"))))),
        ("/api/groups", "post", op("Create a group", "groups")
            .body(json_body(schema("CreateGroup"))).returns(201, Some(schema("Group")))),
        ("/api/groups/{name}", "get", op("Show a group with its members", "groups")
            .params(vec![path_param("name", "the group's name")]).returns(200, Some(schema("GroupDetail")))),
        ("/api/groups/{name}", "patch", op("Update a group's description", "groups")
            .params(vec![path_param("name", "the group's name")]).body(json_body(schema("UpdateGroup")))
            .returns(200, Some(schema("Group")))),
        ("/api/groups/{name}", "delete", op("Delete a group", "groups")
            .params(vec![path_param("name", "the group's name")]).returns(204, None)),
        ("/api/groups/{name}/members/{user}", "put", op("Add a member", "groups")
            .params(vec![path_param("name", "the group's name"), user()]).returns(204, None)),
        ("/api/groups/{name}/members/{user}", "delete", op("Remove a member", "groups")
            .params(vec![path_param("name", "the group's name"), user()]).returns(204, None)),

        ("/api/tokens", "get", op("List access tokens", "tokens")
            .params(vec![query("user", "string", "whose (admins; id or email); default the caller's")])
            .returns(200, Some(array(schema("AccessToken"))))),
        ("/api/tokens", "post", op("Create an access token", "tokens")
            .body(json_body(schema("CreateToken"))).returns(201, Some(schema("NewToken")))
            .describe("The token is in this response only.")),
        ("/api/tokens/{id}", "delete", op("Revoke an access token", "tokens")
            .params(vec![path_param("id", "the token's id")]).returns(204, None)),

        ("/api/sessions", "get", op("List sessions", "sessions")
            .params(vec![
                query("user", "string", "the user's email"),
                query("connection", "string", "`resource.role`"),
                query("since", "integer", "started at or after (Unix ms)"),
                query("until", "integer", "started before (Unix ms)"),
                query("verdict", "string", "sessions with a query of this verdict: allowed, rewritten, denied, review"),
            ])
            .params(paging())
            .returns(200, Some(schema("SessionPage")))),
        ("/api/sessions/{id}", "get", op("Show a session with its events", "sessions")
            .params(vec![
                path_param("id", "the session's id"),
                query("after", "integer", "events with a sequence above this (default 0)"),
                query("limit", "integer", "at most this many events, 1-1000 (default 100)"),
            ])
            .returns(200, Some(schema("SessionDetail")))),
        ("/api/sessions/{id}/download", "get", op("Download a session with all its events", "sessions")
            .params(vec![path_param("id", "the session's id")])
            .returns(200, Some(schema("SessionDownload")))
            .describe("The session and every one of its events, in order, as one JSON document sent as an attachment \
                (`Content-Disposition: attachment; filename=\"session-<id>.json\"`), streamed page by page.")),

        ("/api/reviews", "get", op("List reviews", "reviews")
            .params(vec![
                query("state", "string", "comma-separated: pending, approved, rejected, revoked, executed, expired"),
                query("connection", "string", "`resource.role`"),
                query("kind", "string", "one-time or jit"),
            ])
            .params(paging())
            .returns(200, Some(schema("ReviewPage")))),
        ("/api/reviews", "post", op("Request just-in-time access to a connection", "reviews")
            .body(json_body(schema("AccessRequest"))).returns(201, Some(schema("Review")))
            .describe("Opens a pending JIT review for the caller when the connection's plugins ask for one at connect \
                (400 when they need none, 403 `denied` when they deny). Approved, it lets the caller connect for \
                `duration_minutes`.")),
        ("/api/reviews/{id}", "get", op("Show a review", "reviews")
            .params(vec![path_param("id", "the review's id")]).returns(200, Some(schema("Review")))),
        ("/api/reviews/{id}/result", "get", op("The output of a held exec query, once run", "reviews")
            .params(vec![path_param("id", "the review's id")]).returns(200, Some(schema("ReviewRun")))
            .describe("Only reviews opened by exec have one; `finished` is false until the gateway ran the query.")),
        ("/api/reviews/{id}/approve", "post", op("Approve a review", "reviews")
            .params(vec![path_param("id", "the review's id")])
            .body(json!({ "required": false, "content": { "application/json": { "schema": schema("DecisionRequest") } } }))
            .returns(200, Some(schema("Review")))
            .describe("Records the caller's approval; the review becomes `approved` when the connection's review plugins \
                say so (quorum). 403 `denied` for the requester (no self-approval) or a decider outside the approver groups.")),
        ("/api/reviews/{id}/reject", "post", op("Reject a review", "reviews")
            .params(vec![path_param("id", "the review's id")])
            .body(json!({ "required": false, "content": { "application/json": { "schema": schema("DecisionRequest") } } }))
            .returns(200, Some(schema("Review")))
            .describe("One rejection wins: the review becomes `rejected`.")),
        ("/api/reviews/{id}/revoke", "post", op("Withdraw or revoke a review", "reviews")
            .params(vec![path_param("id", "the review's id")]).returns(200, Some(schema("Review")))
            .describe("A pending review is withdrawn, an approved one revoked (JIT sessions it allowed are refused from their next query).")),

        ("/api/audit", "get", op("List audit events", "audit")
            .params(vec![
                query("category", "string", "admin, review, authentication, session, query, plugin"),
                query("action", "string", "e.g. connection.update"),
                query("actor", "string", "the actor's user id"),
                query("connection", "string", "`resource.role`"),
                query("session", "string", "a session id"),
                query("since", "integer", "Unix ms, inclusive"),
                query("until", "integer", "Unix ms, exclusive"),
            ])
            .params(paging())
            .returns(200, Some(schema("AuditPage")))),
        ("/api/audit/sinks", "get", op("Audit sinks and their delivery state", "audit")
            .returns(200, Some(array(schema("AuditSink"))))
            .describe("Per sink: the last sequence delivered (or dead-lettered), failed attempts on the next event, \
                when it is retried, and the last error.")),
        ("/api/audit/dead-letters", "get", op("Events audit sinks gave up on", "audit")
            .params(vec![
                query("sink", "string", "one sink's (default: every sink's)"),
                query("limit", "integer", "at most this many per sink, 1-1000 (default 100)"),
            ])
            .returns(200, Some(array(schema("DeadLetter"))))),
        ("/api/audit/{sequence}", "get", op("Show an audit event", "audit")
            .params(vec![path_param("sequence", "the event's sequence number")])
            .returns(200, Some(schema("AuditEvent")))),
    ]
}

fn obj(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}

fn page_of(item: &str) -> Value {
    obj(
        json!({ "items": array(schema(item)), "next": { "type": ["string", "null"], "description": "cursor of the next page; null on the last" } }),
        &["items", "next"],
    )
}

fn schemas() -> Value {
    let s = || json!({ "type": "string" });
    let i = || json!({ "type": "integer" });
    let b = || json!({ "type": "boolean" });
    let os = || json!({ "type": ["string", "null"] });
    let oi = || json!({ "type": ["integer", "null"] });
    let strings = || array(json!({ "type": "string" }));
    let map = || json!({ "type": "object", "additionalProperties": { "type": "string" } });
    let kind = || json!({ "type": "string", "enum": ["postgres", "mysql", "tcp", "http"] });
    let tls = || json!({ "type": "string", "enum": ["disable", "prefer", "require", "verify-ca", "verify-full"] });
    let role = || json!({ "type": "string", "enum": ["admin", "user", "approver"] });
    let entries: Vec<(&str, Value)> = vec![
        (
            "Error",
            obj(
                json!({ "error": obj(json!({ "code": s(), "message": s() }), &["code", "message"]) }),
                &["error"],
            ),
        ),
        (
            "Identity",
            obj(
                json!({ "user_id": s(), "email": s(), "groups": strings(), "role": role() }),
                &["user_id", "email", "groups", "role"],
            ),
        ),
        (
            "Whoami",
            obj(
                json!({
                    "id": i(), "email": s(), "display_name": s(), "role": role(), "groups": strings(),
                    "auth": { "type": "string", "enum": ["token", "session", "oidc"] },
                    "capabilities": { "type": "object", "additionalProperties": { "type": "string", "enum": ["all", "own"] } }
                }),
                &["id", "email", "role", "groups", "auth", "capabilities"],
            ),
        ),
        (
            "RoleSummary",
            obj(
                json!({ "name": s(), "role": s(), "description": s() }),
                &["name", "role", "description"],
            ),
        ),
        (
            "Resource",
            obj(
                json!({
                    "id": i(), "name": s(), "kind": kind(), "address": s(), "description": s(), "tls": tls(), "ca_file": os(),
                    "created_at": i(), "updated_at": i(), "roles": array(schema("RoleSummary"))
                }),
                &["name", "kind", "description", "roles"],
            ),
        ),
        (
            "CreateResource",
            obj(
                json!({ "name": s(), "kind": kind(), "address": s(), "description": s(), "tls": tls(), "ca_file": os() }),
                &["name", "kind", "address"],
            ),
        ),
        (
            "UpdateResource",
            obj(
                json!({ "address": s(), "description": s(), "tls": tls(), "ca_file": os() }),
                &[],
            ),
        ),
        (
            "PasswordSource",
            json!({ "oneOf": [
            { "const": "stored" },
            obj(json!({ "env": s() }), &["env"]),
            obj(json!({ "file": s() }), &["file"])
        ] }),
        ),
        (
            "Connection",
            obj(
                json!({
                    "id": i(), "resource_id": i(), "resource": s(), "role": s(), "name": s(), "kind": kind(), "description": s(),
                    "database": os(), "username": os(), "has_password": b(),
                    "password_source": { "oneOf": [schema("PasswordSource"), { "type": "null" }] },
                    "attributes": map(), "created_at": i(), "updated_at": i()
                }),
                &[
                    "name",
                    "resource",
                    "role",
                    "kind",
                    "description",
                    "attributes",
                ],
            ),
        ),
        (
            "Password",
            json!({ "description": "the value (sealed at rest, never returned) or where the gateway reads it",
            "oneOf": [ s(), obj(json!({ "env": s() }), &["env"]), obj(json!({ "file": s() }), &["file"]) ] }),
        ),
        (
            "CreateConnection",
            obj(
                json!({
                    "name": { "type": "string", "description": "resource.role (or give resource and role)" },
                    "resource": s(), "role": s(), "description": s(), "database": os(), "username": os(),
                    "password": schema("Password"), "attributes": map()
                }),
                &[],
            ),
        ),
        (
            "UpdateConnection",
            obj(
                json!({
                    "description": s(), "database": os(), "username": os(),
                    "password": { "oneOf": [schema("Password"), { "type": "null" }], "description": "null removes it" },
                    "attributes": map()
                }),
                &[],
            ),
        ),
        (
            "TestOutcome",
            obj(
                json!({ "connection": s(), "ok": b(), "latency_ms": i(), "detail": s(), "error": s() }),
                &["connection", "ok", "latency_ms"],
            ),
        ),
        (
            "Pin",
            json!({ "oneOf": [ { "const": "latest" }, obj(json!({ "version": s() }), &["version"]), obj(json!({ "digest": s() }), &["digest"]) ] }),
        ),
        (
            "Grants",
            obj(
                json!({ "http": strings(), "files": os(), "key_value": b() }),
                &[],
            ),
        ),
        (
            "Binding",
            obj(
                json!({
                    "id": i(), "connection_id": i(), "position": i(), "plugin": s(), "pin": schema("Pin"),
                    "config": { "type": "object", "description": "the clear config (never a secret's value)" },
                    "secrets_set": {
                        "type": "array", "items": { "type": "string" },
                        "description": "names of the binding's secret config keys, sorted; their values are sealed at rest and never returned"
                    },
                    "grants": schema("Grants"), "deadline_ms": i(), "memory_mb": i(),
                    "enabled": b(), "created_at": i(), "updated_at": i()
                }),
                &[
                    "id",
                    "plugin",
                    "pin",
                    "config",
                    "secrets_set",
                    "grants",
                    "deadline_ms",
                    "memory_mb",
                    "enabled",
                ],
            ),
        ),
        (
            "AddBinding",
            obj(
                json!({
                    "plugin": s(), "pin": schema("Pin"), "config": { "type": "object" }, "secrets": schema("BindingSecrets"),
                    "grants": schema("Grants"),
                    "deadline_ms": { "type": "integer", "default": 100 }, "memory_mb": { "type": "integer", "default": 32 },
                    "enabled": { "type": "boolean", "default": true }, "position": oi()
                }),
                &["plugin"],
            ),
        ),
        (
            "UpdateBinding",
            obj(
                json!({
                    "pin": schema("Pin"), "config": { "type": "object", "description": "replaces the whole clear config" },
                    "secrets": {
                        "type": "object",
                        "description": "changes per key: a value sets or replaces that secret, `null` removes it; \
                            keys not named keep their stored values, and without `secrets` every secret is kept \
                            (`{}` changes nothing; remove each name with `null`)",
                        "additionalProperties": true
                    },
                    "grants": schema("Grants"), "deadline_ms": i(), "memory_mb": i(), "enabled": b()
                }),
                &[],
            ),
        ),
        (
            "BindingSecrets",
            json!({
                "type": "object",
                "additionalProperties": true,
                "description": "secret config keys of a binding (e.g. a webhook's `secret`, `headers`), any JSON values: \
                    sealed at rest with the store's key, never returned (bindings list their names in `secrets_set`, \
                    audit events too) and merged into the config the plugin gets as top-level keys. A key may not \
                    also be in `config` (400 `invalid`). The plugin's `validate-config` and the config schema see \
                    the merged config."
            }),
        ),
        (
            "PluginOrder",
            obj(json!({ "order": strings() }), &["order"]),
        ),
        (
            "Plugin",
            obj(
                json!({
                    "id": i(), "name": s(), "version": s(), "digest": s(), "description": s(), "hooks": strings(),
                    "capabilities": strings(), "config_schema": { "type": ["object", "null"] }, "size": i(),
                    "created_at": i(), "created_by": s()
                }),
                &["id", "name", "version", "digest", "hooks", "capabilities"],
            ),
        ),
        (
            "PluginVersions",
            obj(
                json!({ "name": s(), "latest": s(), "versions": array(schema("Plugin")) }),
                &["name", "latest", "versions"],
            ),
        ),
        (
            "Installed",
            obj(
                json!({ "plugin": schema("Plugin"), "created": b(), "previous_latest": os() }),
                &["plugin", "created"],
            ),
        ),
        (
            "User",
            obj(
                json!({
                    "id": i(), "email": s(), "display_name": s(), "role": role(), "groups": strings(),
                    "oidc": { "oneOf": [obj(json!({ "issuer": s(), "subject": s() }), &["issuer", "subject"]), { "type": "null" }] },
                    "disabled": b(), "created_at": i(), "updated_at": i()
                }),
                &["id", "email", "role", "groups", "disabled"],
            ),
        ),
        (
            "CreateUser",
            obj(
                json!({ "email": s(), "display_name": s(), "role": role(), "groups": strings() }),
                &["email", "role"],
            ),
        ),
        (
            "UpdateUser",
            obj(
                json!({ "email": s(), "display_name": s(), "role": role(), "disabled": b() }),
                &[],
            ),
        ),
        (
            "GroupList",
            obj(json!({ "groups": strings() }), &["groups"]),
        ),
        (
            "Group",
            obj(
                json!({ "id": i(), "name": s(), "description": s(), "members": i(), "created_at": i(), "updated_at": i() }),
                &["name", "description", "members"],
            ),
        ),
        (
            "GroupDetail",
            json!({ "allOf": [schema("Group"), obj(json!({ "member_emails": strings() }), &["member_emails"])] }),
        ),
        (
            "CreateGroup",
            obj(json!({ "name": s(), "description": s() }), &["name"]),
        ),
        (
            "UpdateGroup",
            obj(json!({ "description": s() }), &["description"]),
        ),
        (
            "AccessToken",
            obj(
                json!({
                    "id": i(), "user_id": i(), "name": s(), "prefix": s(), "created_at": i(), "last_used_at": oi(), "expires_at": oi()
                }),
                &["id", "user_id", "name", "prefix"],
            ),
        ),
        (
            "NewToken",
            json!({ "allOf": [schema("AccessToken"), obj(json!({
            "token": { "type": "string", "description": "ghat_…, shown this once" }, "email": s()
        }), &["token", "email"])] }),
        ),
        (
            "CreateToken",
            obj(
                json!({ "name": s(), "expires_at": oi(), "expires_in_secs": oi(), "user": os() }),
                &["name"],
            ),
        ),
        (
            "ExchangeRequest",
            obj(json!({ "name": os(), "expires_in_secs": oi() }), &[]),
        ),
        (
            "Session",
            obj(
                json!({
                    "id": s(), "user_id": s(), "email": s(), "connection": s(), "client_address": s(),
                    "verb": { "type": "string", "enum": ["connect", "exec"] }, "started_at": i(), "ended_at": oi(),
                    "queries": i(), "denied": i(), "rows": i(), "duration_ms": oi()
                }),
                &["id", "user_id", "email", "connection", "started_at"],
            ),
        ),
        (
            "SessionEvent",
            obj(
                json!({
                    "seq": i(), "query_id": { "type": ["integer", "null"] }, "kind": s(), "at": i(), "query": os(),
                    "verdict": { "type": ["string", "null"], "enum": ["allowed", "rewritten", "denied", "review", null] },
                    "reason": os(), "decided_by": os(), "duration_us": i(), "rows": i(), "command_tag": os(),
                    "counters": { "type": "object", "additionalProperties": { "type": "integer" } }
                }),
                &["seq", "kind", "at"],
            ),
        ),
        ("SessionPage", page_of("Session")),
        (
            "SessionDetail",
            obj(
                json!({ "session": schema("Session"), "events": array(schema("SessionEvent")), "next_after": oi() }),
                &["session", "events", "next_after"],
            ),
        ),
        (
            "Decision",
            obj(
                json!({ "approver": schema("Identity"), "approved": b(), "comment": s(), "at": i() }),
                &["approver", "approved", "comment", "at"],
            ),
        ),
        (
            "Review",
            obj(
                json!({
                    "id": s(), "kind": { "type": "string", "enum": ["one-time", "jit"] },
                    "state": { "type": "string", "enum": ["pending", "approved", "rejected", "revoked", "executed", "expired"] },
                    "requester": schema("Identity"), "connection": s(), "session_id": os(), "query": os(), "query_hash": os(),
                    "reason": s(), "approver_groups": strings(), "decisions": array(schema("Decision")),
                    "duration_minutes": oi(), "expires_at": oi(), "created_at": i(), "updated_at": i(), "version": i()
                }),
                &["id", "kind", "state", "requester", "connection", "version"],
            ),
        ),
        ("ReviewPage", page_of("Review")),
        ("DecisionRequest", obj(json!({ "comment": os() }), &[])),
        (
            "AccessRequest",
            obj(
                json!({
                    "connection": s(), "kind": { "type": "string", "enum": ["jit"] },
                    "duration_minutes": i(), "reason": os()
                }),
                &["connection", "duration_minutes"],
            ),
        ),
        (
            "ReviewRun",
            obj(
                json!({
                    "review_id": s(),
                    "review_state": { "type": "string", "enum": ["pending", "approved", "rejected", "revoked", "executed", "expired"] },
                    "finished": b(), "session_id": os(),
                    "output": { "oneOf": [schema("ExecOutput"), { "type": "null" }] },
                    "created_at": i(), "finished_at": oi()
                }),
                &["review_id", "review_state", "finished", "created_at"],
            ),
        ),
        (
            "ExecRequest",
            obj(
                json!({ "sql": s(), "format": { "type": "string", "enum": ["json", "csv"] } }),
                &["sql"],
            ),
        ),
        (
            "ExecColumn",
            obj(
                json!({ "name": s(), "type": s(), "type_oid": i() }),
                &["name", "type", "type_oid"],
            ),
        ),
        (
            "ExecResult",
            obj(
                json!({
                    "columns": array(schema("ExecColumn")),
                    "rows": array(array(os())),
                    "command_tag": os()
                }),
                &["columns", "rows"],
            ),
        ),
        (
            "ExecOutput",
            obj(
                json!({
                    "session_id": s(), "connection": s(), "review_id": os(),
                    "results": array(schema("ExecResult")),
                    "error": { "oneOf": [obj(json!({ "code": s(), "message": s() }), &["code", "message"]), { "type": "null" }] },
                    "truncated": b()
                }),
                &["session_id", "connection", "results", "truncated"],
            ),
        ),
        (
            "AuditEvent",
            obj(
                json!({
                    "id": s(), "sequence": i(), "time": i(), "category": s(), "action": s(),
                    "outcome": { "type": "string", "enum": ["success", "failure", "denied", "pending"] },
                    "actor": { "oneOf": [schema("Identity"), { "type": "null" }] }, "connection": os(), "session_id": os(),
                    "client_address": os(), "reason": os(), "target": os(), "before": {}, "after": {},
                    "attributes": array(array(s()))
                }),
                &["id", "sequence", "time", "category", "action", "outcome"],
            ),
        ),
        ("AuditPage", page_of("AuditEvent")),
        (
            "AuditSink",
            obj(
                json!({
                    "name": s(), "delivered_through": i(), "attempts": i(), "next_attempt_at": oi(),
                    "last_error": os(), "created_at": i(), "updated_at": i()
                }),
                &[
                    "name",
                    "delivered_through",
                    "attempts",
                    "created_at",
                    "updated_at",
                ],
            ),
        ),
        (
            "DeadLetter",
            obj(
                json!({ "sink": s(), "event": schema("AuditEvent"), "attempts": i(), "last_error": s(), "created_at": i() }),
                &["sink", "event", "attempts", "last_error", "created_at"],
            ),
        ),
        (
            "SessionDownload",
            obj(
                json!({ "session": schema("Session"), "events": array(schema("SessionEvent")) }),
                &["session", "events"],
            ),
        ),
    ];
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn error_responses() -> Value {
    let e = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": schema("Error") } } });
    json!({
        "E400": e("invalid input (`invalid`, `invalid_plugin`, `invalid_config`, `login_failed`)"),
        "E401": e("`unauthenticated`: no or bad credentials"),
        "E403": e("`forbidden`: the role lacks the capability; `denied`: a plugin or a review rule refused"),
        "E404": e("`not_found`: no such object, or outside the caller's scope"),
        "E409": e("`conflict`"),
        "E500": e("`internal`, `secret`, `migration`"),
        "E503": e("`database`, `oidc_unavailable`, `unavailable`"),
    })
}

fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for (path, method, op) in operations() {
        let mut operation = op.build();
        if let Some(route) = authz::route(&method.to_ascii_uppercase(), path) {
            let rule = authz::rule_of(route.capability);
            operation["operationId"] = json!(format!(
                "{method}{}",
                path.replace(['/', '{', '}', '.', '-'], "_")
            ));
            operation["x-gatehouse-capability"] = json!(rule.name);
            let level = |a: Access| a.as_str().replace('—', "none");
            operation["x-gatehouse-access"] = json!({
                "admin": level(rule.admin),
                "user": level(rule.user),
                "approver": level(rule.approver),
                "anonymous": level(rule.anonymous),
            });
            if rule.anonymous == Access::All {
                operation["security"] = json!([]);
            }
        }
        let item = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        item[method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Gatehouse control-plane API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Resources, connections, plugins, bindings, users, groups, tokens, sessions, reviews and the audit log. \
                Errors are `{\"error\":{\"code\":…,\"message\":…}}`. Roles and capabilities: docs/api.md.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }, { "basic": [] }, { "session": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer",
                    "description": "a Gatehouse access token (ghat_…) or an OIDC JWT from the configured provider" },
                "basic": { "type": "http", "scheme": "basic", "description": "email and access token" },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::SESSION_COOKIE,
                    "description": "set by the browser login; unsafe methods also need X-Requested-With" },
            },
            "schemas": schemas(),
            "responses": error_responses(),
        },
    })
}
