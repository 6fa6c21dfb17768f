//! Every route × every role (and anonymous), on SQLite and PostgreSQL.
//!
//! The expected status comes from the authorization table: a role whose
//! access to the route's capability is `None` gets 403 (`forbidden`), an
//! anonymous caller of a non-public route 401 (`unauthenticated`, with
//! `WWW-Authenticate`); everyone else gets the case's success status, with
//! an object in their scope. The test fails if a route of
//! `authz::ROUTES` has no case, so a new route cannot skip it.
//!
//! Roles run in the order anonymous, approver, user, admin within each
//! case, so a refused caller never consumes the object the allowed one
//! then uses; cases run in an order where creations precede their use.

use crate::common::*;
use gatehouse_api::authz::{self, Access};
use gatehouse_store::Actor;
use gatehouse_store::bindings::NewBinding;
use gatehouse_store::connections::{NewConnection, Password};
use gatehouse_store::resources::{NewResource, ResourceKind};
use gatehouse_store::reviews::{NewReview, ReviewKind};
use gatehouse_store::sessions::{NewSession, Verb};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Objects the cases refer to.
pub struct Fixture {
    pub review_alice: String,
    pub review_bob: String,
    /// Per caller: a token to revoke, and one to log out with.
    pub doomed: HashMap<Who, i64>,
    pub logout: HashMap<Who, String>,
}

/// Sets up what the cases need (beyond the users `Api::start` makes).
pub async fn fixture(api: &Api, tokens: &Tokens) -> Fixture {
    let store = &api.store;
    let setup = Actor::system("test");
    let wasm = component("access-control");
    let installed = api
        .call(
            tokens,
            Who::Admin,
            Call::new("POST", "/api/plugins").wasm(wasm.clone()),
        )
        .await;
    assert_eq!(installed.status, 201, "{}", installed.text);
    store
        .resources()
        .create(
            &setup,
            NewResource::new("db", ResourceKind::Postgres, "127.0.0.1:5432"),
        )
        .await
        .unwrap();
    for role in ["ro", "hidden"] {
        store
            .connections()
            .create(
                &setup,
                NewConnection {
                    password: Some(Password::Value("s3cret-fixture-pw".into())),
                    username: Some("postgres".into()),
                    ..NewConnection::new("db", role)
                },
            )
            .await
            .unwrap();
    }
    let ro = store.connections().by_name("db.ro").await.unwrap();
    store
        .bindings()
        .add(
            &setup,
            ro.id,
            NewBinding {
                config: json!({ "allowed_groups": ["dev"] }),
                ..NewBinding::new("access-control")
            },
        )
        .await
        .unwrap();
    // A newer version to remove (also an upgrade under bindings).
    let upgraded = api
        .call(
            tokens,
            Who::Admin,
            Call::new("POST", "/api/plugins").wasm(with_version(&wasm, "0.1.9")),
        )
        .await;
    assert_eq!(upgraded.status, 201, "{}", upgraded.text);

    for (id, who) in [("s-alice", Who::User), ("s-bob", Who::OtherUser)] {
        store
            .sessions()
            .start(NewSession {
                id: id.into(),
                user_id: tokens.id(who).to_string(),
                email: who.email().into(),
                connection: "db.ro".into(),
                client_address: "10.0.0.9".into(),
                verb: Verb::Connect,
                started_at: 1_700_000_000_000,
            })
            .await
            .unwrap();
    }
    let mut reviews = Vec::new();
    for (who, group) in [(Who::User, "approver-dba"), (Who::OtherUser, "nobody")] {
        let requester = store.users().get(tokens.id(who)).await.unwrap().identity();
        // Opened as exec would (with a run), so its result route answers.
        let review = store
            .reviews()
            .create_with_run(
                &setup,
                NewReview {
                    kind: ReviewKind::OneTime,
                    requester,
                    connection: "db.ro".into(),
                    session_id: None,
                    query: Some("delete from t".into()),
                    query_hash: Some("h".into()),
                    reason: "cleanup".into(),
                    approver_groups: vec![group.into()],
                    duration_minutes: None,
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        reviews.push(review.id);
    }
    let mut doomed = HashMap::new();
    let mut logout = HashMap::new();
    for who in [Who::Admin, Who::User, Who::Approver] {
        let (t, _) = store
            .tokens()
            .create(&setup, tokens.id(who), "doomed", None)
            .await
            .unwrap();
        doomed.insert(who, t.id);
        let (_, secret) = store
            .tokens()
            .create(&setup, tokens.id(who), "logout", None)
            .await
            .unwrap();
        logout.insert(who, secret.expose().to_string());
    }
    Fixture {
        review_alice: reviews[0].clone(),
        review_bob: reviews[1].clone(),
        doomed,
        logout,
    }
}

type PathFn = Box<dyn Fn(&Fixture, Who) -> String>;
type TokenFn = Box<dyn Fn(&Fixture, Who) -> Option<String>>;

enum Payload {
    None,
    Json(Value),
    Wasm,
}

struct Case {
    method: &'static str,
    route: &'static str,
    path: PathFn,
    payload: Payload,
    ok: u16,
    token: Option<TokenFn>,
}

fn case(method: &'static str, route: &'static str, ok: u16) -> Case {
    Case {
        method,
        route,
        path: Box::new(move |_, _| route.to_string()),
        payload: Payload::None,
        ok,
        token: None,
    }
}

impl Case {
    fn at(mut self, path: &'static str) -> Self {
        self.path = Box::new(move |_, _| path.to_string());
        self
    }
    fn at_fn(mut self, f: impl Fn(&Fixture, Who) -> String + 'static) -> Self {
        self.path = Box::new(f);
        self
    }
    fn json(mut self, body: Value) -> Self {
        self.payload = Payload::Json(body);
        self
    }
    fn wasm(mut self) -> Self {
        self.payload = Payload::Wasm;
        self
    }
    fn token(mut self, f: impl Fn(&Fixture, Who) -> Option<String> + 'static) -> Self {
        self.token = Some(Box::new(f));
        self
    }
}

fn cases() -> Vec<Case> {
    let res2 = || json!({ "name": "res2", "kind": "postgres", "address": "127.0.0.1:5432" });
    vec![
        case("GET", "/api/openapi.json", 200),
        case("GET", "/auth/login", 303),
        // Allowed, but there is no login in progress in this "browser".
        case("GET", "/auth/callback", 400).at("/auth/callback?code=x&state=y"),
        case("GET", "/api/whoami", 200),
        case("POST", "/api/auth/token", 201).json(json!({})),
        case("GET", "/api/resources", 200),
        case("POST", "/api/resources", 201).json(res2()),
        case("GET", "/api/resources/{name}", 200).at("/api/resources/db"),
        case("PATCH", "/api/resources/{name}", 200)
            .at("/api/resources/res2")
            .json(json!({ "description": "second" })),
        case("GET", "/api/connections", 200),
        case("POST", "/api/connections", 201)
            .json(json!({ "name": "res2.r1", "password": "pw-r1", "description": "reads" })),
        case("GET", "/api/connections/{name}", 200).at("/api/connections/db.ro"),
        case("PATCH", "/api/connections/{name}", 200)
            .at("/api/connections/res2.r1")
            .json(json!({ "description": "reads more" })),
        case("POST", "/api/connections/{name}/test", 200).at("/api/connections/db.ro/test"),
        // No gateway behind the API in these tests: exec answers 501 after
        // authorization and the access check.
        case("POST", "/api/connections/{name}/exec", 501)
            .at("/api/connections/db.ro/exec")
            .json(json!({ "sql": "select 1" })),
        case("GET", "/api/connections/{name}/plugins", 200).at("/api/connections/res2.r1/plugins"),
        case("POST", "/api/connections/{name}/plugins", 201)
            .at("/api/connections/res2.r1/plugins")
            .json(json!({ "plugin": "access-control", "config": { "allowed_groups": ["dev"] } })),
        case("PUT", "/api/connections/{name}/plugin-order", 200)
            .at("/api/connections/res2.r1/plugin-order")
            .json(json!({ "order": ["access-control"] })),
        case("GET", "/api/connections/{name}/plugins/{plugin}", 200)
            .at("/api/connections/res2.r1/plugins/access-control"),
        case("PATCH", "/api/connections/{name}/plugins/{plugin}", 200)
            .at("/api/connections/res2.r1/plugins/access-control")
            .json(json!({ "enabled": false })),
        case("DELETE", "/api/connections/{name}/plugins/{plugin}", 204)
            .at("/api/connections/res2.r1/plugins/access-control"),
        case("DELETE", "/api/connections/{name}", 204).at("/api/connections/res2.r1"),
        case("DELETE", "/api/resources/{name}", 204).at("/api/resources/res2"),
        case("GET", "/api/plugins", 200),
        // The same bytes again: a no-op.
        case("POST", "/api/plugins", 200).wasm(),
        case("GET", "/api/plugins/{name}", 200).at("/api/plugins/access-control"),
        case("DELETE", "/api/plugins/{name}/versions/{version}", 204)
            .at("/api/plugins/access-control/versions/0.1.9"),
        case("GET", "/api/users", 200),
        case("POST", "/api/users", 201).json(json!({ "email": "new@example.com", "role": "user" })),
        case("GET", "/api/users/{user}", 200).at("/api/users/new@example.com"),
        case("PATCH", "/api/users/{user}", 200)
            .at("/api/users/new@example.com")
            .json(json!({ "display_name": "New" })),
        case("PUT", "/api/users/{user}/groups", 200)
            .at("/api/users/new@example.com/groups")
            .json(json!({ "groups": ["g2"] })),
        case("GET", "/api/groups", 200),
        case("POST", "/api/groups", 201).json(json!({ "name": "g3" })),
        case("GET", "/api/groups/{name}", 200).at("/api/groups/g3"),
        case("PATCH", "/api/groups/{name}", 200)
            .at("/api/groups/g3")
            .json(json!({ "description": "third" })),
        case("PUT", "/api/groups/{name}/members/{user}", 204)
            .at("/api/groups/g3/members/new@example.com"),
        case("DELETE", "/api/groups/{name}/members/{user}", 204)
            .at("/api/groups/g3/members/new@example.com"),
        case("DELETE", "/api/groups/{name}", 204).at("/api/groups/g3"),
        case("DELETE", "/api/users/{user}", 204).at("/api/users/new@example.com"),
        case("GET", "/api/tokens", 200),
        case("POST", "/api/tokens", 201)
            .json(json!({ "name": "made-here", "expires_in_secs": 3600 })),
        case("DELETE", "/api/tokens/{id}", 204).at_fn(|fx, who| {
            format!(
                "/api/tokens/{}",
                fx.doomed.get(&who).copied().unwrap_or(999_999)
            )
        }),
        case("GET", "/api/sessions", 200),
        case("GET", "/api/sessions/{id}", 200).at_fn(|_, who| {
            if who == Who::User {
                "/api/sessions/s-alice"
            } else {
                "/api/sessions/s-bob"
            }
            .into()
        }),
        case("GET", "/api/sessions/{id}/download", 200).at_fn(|_, who| {
            if who == Who::User {
                "/api/sessions/s-alice/download"
            } else {
                "/api/sessions/s-bob/download"
            }
            .into()
        }),
        case("GET", "/api/reviews", 200),
        case("GET", "/api/reviews/{id}", 200)
            .at_fn(|fx, _| format!("/api/reviews/{}", fx.review_alice)),
        case("GET", "/api/reviews/{id}/result", 200)
            .at_fn(|fx, _| format!("/api/reviews/{}/result", fx.review_alice)),
        // Without the gateway's review workflow: 501 after authorization.
        case("POST", "/api/reviews", 501)
            .json(json!({ "connection": "db.ro", "kind": "jit", "duration_minutes": 30 })),
        case("POST", "/api/reviews/{id}/approve", 501)
            .at_fn(|fx, _| format!("/api/reviews/{}/approve", fx.review_alice)),
        case("POST", "/api/reviews/{id}/reject", 501)
            .at_fn(|fx, _| format!("/api/reviews/{}/reject", fx.review_alice)),
        case("POST", "/api/reviews/{id}/revoke", 501)
            .at_fn(|fx, _| format!("/api/reviews/{}/revoke", fx.review_alice)),
        case("GET", "/api/audit", 200),
        case("GET", "/api/audit/{sequence}", 200).at("/api/audit/1"),
        case("GET", "/api/audit/sinks", 200),
        case("GET", "/api/audit/dead-letters", 200),
        case("POST", "/auth/logout", 204).token(|fx, who| fx.logout.get(&who).cloned()),
    ]
}

async fn run_matrix(backend: Backend) {
    let (api, tokens) = Api::start_with(Options {
        backend,
        oidc: true,
    })
    .await;
    let fx = fixture(&api, &tokens).await;
    let cases = cases();
    for route in authz::ROUTES {
        assert!(
            cases
                .iter()
                .any(|c| c.method == route.method && c.route == route.path),
            "no route × role case for {} {}",
            route.method,
            route.path
        );
    }
    let wasm = component("access-control");
    let mut checked = 0;
    for case in &cases {
        let spec = authz::route(case.method, case.route)
            .unwrap_or_else(|| panic!("case {} {} is not a route", case.method, case.route));
        let rule = authz::rule_of(spec.capability);
        for who in [Who::Anonymous, Who::Approver, Who::User, Who::Admin] {
            let access = rule.access(who.role());
            let expected = match (access, who) {
                (Access::None, Who::Anonymous) => 401,
                (Access::None, _) => 403,
                _ => case.ok,
            };
            let mut call = Call::new(case.method, (case.path)(&fx, who));
            match &case.payload {
                Payload::None => {}
                Payload::Json(body) => call = call.json(body.clone()),
                Payload::Wasm => call = call.wasm(wasm.clone()),
            }
            let token = match &case.token {
                Some(f) => f(&fx, who),
                None => tokens.get(who).map(str::to_string),
            };
            let answer = api.send(call, token.as_deref()).await;
            assert_eq!(
                answer.status.as_u16(),
                expected,
                "{backend:?}: {} {} as {who:?}: {}",
                case.method,
                case.route,
                answer.text
            );
            match expected {
                401 => {
                    assert_eq!(answer.code(), "unauthenticated");
                    assert!(answer.headers.contains_key("www-authenticate"));
                }
                403 => assert_eq!(answer.code(), "forbidden"),
                _ => {}
            }
            checked += 1;
        }
    }
    assert_eq!(checked, authz::ROUTES.len() * 4);
    api.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_for_every_role() {
    on_both(run_matrix).await;
}

/// Objects outside a caller's scope are 404, exactly like missing ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_scope_is_not_found() {
    let (api, tokens) = Api::start().await;
    let fx = fixture(&api, &tokens).await;
    let cases: Vec<(Who, &str, String)> = vec![
        (Who::User, "GET", "/api/connections/db.hidden".into()),
        (Who::User, "GET", "/api/connections/nope.none".into()),
        (Who::OtherUser, "GET", "/api/connections/db.ro".into()),
        (Who::OtherUser, "GET", "/api/resources/db".into()),
        (Who::User, "GET", "/api/sessions/s-bob".into()),
        (Who::User, "GET", "/api/sessions/s-none".into()),
        (Who::User, "GET", "/api/sessions/s-bob/download".into()),
        (Who::User, "GET", format!("/api/reviews/{}", fx.review_bob)),
        (
            Who::Approver,
            "GET",
            format!("/api/reviews/{}", fx.review_bob),
        ),
        (
            Who::Approver,
            "POST",
            format!("/api/reviews/{}/approve", fx.review_bob),
        ),
        (
            Who::User,
            "POST",
            format!("/api/reviews/{}/revoke", fx.review_bob),
        ),
        (
            Who::User,
            "GET",
            format!("/api/reviews/{}/result", fx.review_bob),
        ),
        (
            Who::User,
            "DELETE",
            format!("/api/tokens/{}", fx.doomed[&Who::Admin]),
        ),
    ];
    for (who, method, path) in cases {
        let answer = api.req(&tokens, who, method, &path, None).await;
        assert_eq!(
            answer.status, 404,
            "{method} {path} as {who:?}: {}",
            answer.text
        );
        assert_eq!(answer.code(), "not_found");
    }
    // The lists agree: bob sees no connection, no resource; alice only db.ro.
    let bob = api
        .req(&tokens, Who::OtherUser, "GET", "/api/connections", None)
        .await;
    assert_eq!(bob.body, json!([]));
    let bob = api
        .req(&tokens, Who::OtherUser, "GET", "/api/resources", None)
        .await;
    assert_eq!(bob.body, json!([]));
    let alice = api
        .req(&tokens, Who::User, "GET", "/api/connections", None)
        .await;
    let names: Vec<&str> = alice
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db.ro"]);
    // Users get the reduced view: no upstream login, no password fields.
    let view = &alice.body[0];
    for hidden in [
        "username",
        "database",
        "has_password",
        "password_source",
        "id",
    ] {
        assert!(
            view.get(hidden).is_none(),
            "{hidden} shown to a user: {view}"
        );
    }
    let alice = api
        .req(&tokens, Who::User, "GET", "/api/resources", None)
        .await;
    assert_eq!(alice.body[0]["roles"].as_array().unwrap().len(), 1);
    assert!(alice.body[0].get("address").is_none());
    // Sessions: a user's list holds only theirs, whatever the filter says.
    let list = api
        .req(
            &tokens,
            Who::User,
            "GET",
            "/api/sessions?user=bob@example.com",
            None,
        )
        .await;
    assert_eq!(list.body["items"], json!([]));
    let list = api
        .req(&tokens, Who::User, "GET", "/api/sessions", None)
        .await;
    assert_eq!(list.body["items"][0]["id"], "s-alice");
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    // Reviews: the approver sees the one assigned to their group only.
    let list = api
        .req(&tokens, Who::Approver, "GET", "/api/reviews", None)
        .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["id"], fx.review_alice.as_str());
    let list = api
        .req(&tokens, Who::Admin, "GET", "/api/reviews", None)
        .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    api.cleanup().await;
}
