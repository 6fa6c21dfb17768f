//! The OpenAPI document against the router, and `docs/api.md` against the
//! authorization table and error codes.

use crate::common::*;
use gatehouse_api::{authz, error, openapi};
use std::collections::BTreeSet;

fn documented() -> BTreeSet<(String, String)> {
    let doc = openapi::document();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn document_paths_are_exactly_the_routers_routes() {
    let routes: BTreeSet<(String, String)> =
        gatehouse_api::registered_routes().into_iter().collect();
    let documented = documented();
    let missing: Vec<_> = routes.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes not documented: {missing:?}; documented but not routed: {extra:?}"
    );
    let table: BTreeSet<(String, String)> = authz::ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(table, routes, "authz::ROUTES and the router differ");
}

#[test]
fn document_is_well_formed() {
    let doc = openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    // Every $ref resolves.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"").skip(1) {
        let target = &part[..part.find('"').unwrap()];
        let (kind, name) = target
            .strip_prefix("#/components/")
            .and_then(|t| t.split_once('/'))
            .unwrap_or_else(|| panic!("odd $ref {target}"));
        assert!(
            doc["components"][kind].get(name).is_some(),
            "dangling $ref {target}"
        );
    }
    assert!(schemas.contains_key("Error"));
    // Every operation carries its capability; public ones need no auth.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["x-gatehouse-capability"].is_string(), "{method} {path}");
            assert!(op["operationId"].is_string(), "{method} {path}");
            let public = op["x-gatehouse-access"]["anonymous"] == "all";
            assert_eq!(op.get("security").is_some(), public, "{method} {path}");
        }
    }
}

/// Each documented operation reaches a handler: never the router's own
/// `route_not_found` / `method_not_allowed` answers.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let (api, tokens) = Api::start().await;
    for (method, path) in documented() {
        let concrete = path
            .replace("{name}", "x.y")
            .replace("{plugin}", "p")
            .replace("{version}", "1")
            .replace("{user}", "nobody@example.com")
            .replace("{id}", "1")
            .replace("{sequence}", "1");
        let method: &'static str = Box::leak(method.into_boxed_str());
        let answer = api.req(&tokens, Who::Admin, method, &concrete, None).await;
        assert!(
            !matches!(answer.code(), "route_not_found" | "method_not_allowed"),
            "{method} {path}: {}",
            answer.text
        );
    }
    let unknown = api
        .req(&tokens, Who::Admin, "GET", "/api/nothing-here", None)
        .await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.code()),
        (404, "route_not_found")
    );
    let wrong = api
        .req(&tokens, Who::Admin, "PUT", "/api/whoami", None)
        .await;
    assert_eq!(
        (wrong.status.as_u16(), wrong.code()),
        (405, "method_not_allowed")
    );
    // The document is served, without credentials.
    let served = api
        .req(&tokens, Who::Anonymous, "GET", "/api/openapi.json", None)
        .await;
    assert_eq!(served.status, 200);
    assert_eq!(&served.body, openapi::document());
    api.cleanup().await;
}

/// The tables of `docs/api.md` between `<!-- generated:NAME -->` and
/// `<!-- end:NAME -->` are exactly what the code generates.
/// `GATEHOUSE_UPDATE_DOCS=1 cargo test -p gatehouse-api docs_` rewrites them.
#[test]
fn docs_carry_the_generated_tables() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md");
    let mut docs = std::fs::read_to_string(&path).unwrap();
    let update = std::env::var_os("GATEHOUSE_UPDATE_DOCS").is_some();
    for (name, table) in [
        ("capabilities", authz::capability_table_markdown()),
        ("routes", authz::route_table_markdown()),
        ("errors", error::markdown_table()),
    ] {
        let begin = format!("<!-- generated:{name} -->\n");
        let end = format!("<!-- end:{name} -->");
        let start = docs
            .find(&begin)
            .unwrap_or_else(|| panic!("docs/api.md lacks {begin}"))
            + begin.len();
        let stop = start
            + docs[start..]
                .find(&end)
                .unwrap_or_else(|| panic!("docs/api.md lacks {end}"));
        if update {
            docs.replace_range(start..stop, &table);
        } else {
            assert_eq!(
                &docs[start..stop],
                table,
                "docs/api.md's {name} table is stale: run GATEHOUSE_UPDATE_DOCS=1 cargo test -p gatehouse-api docs_"
            );
        }
    }
    if update {
        std::fs::write(&path, docs).unwrap();
    }
}

/// What the roles seed says, stated independently of the matrix (which
/// the route × role test enforces): a wrong matrix row fails here.
#[test]
fn matrix_follows_the_roles_seed() {
    use authz::{Access::*, Capability as C};
    use gatehouse_store::Role::*;
    let at = |c, r| authz::rule_of(c).access(Some(r));
    // Admins modify every mutable resource and see everything.
    for c in [
        C::ResourcesWrite,
        C::ConnectionsWrite,
        C::PluginsWrite,
        C::BindingsWrite,
        C::UsersWrite,
        C::GroupsWrite,
        C::SessionsRead,
        C::ReviewsRead,
        C::AuditRead,
    ] {
        assert_eq!(at(c, Admin), All, "{c:?}");
    }
    // Users: connections by group, their own sessions, no admin functions.
    assert_eq!(at(C::ConnectionsRead, User), Own);
    assert_eq!(at(C::SessionsRead, User), Own);
    for c in [
        C::ConnectionsWrite,
        C::PluginsWrite,
        C::PluginsRead,
        C::UsersRead,
        C::AuditRead,
    ] {
        assert_eq!(at(c, User), None, "{c:?}");
    }
    // Approvers: their reviews only; no connections, sessions, admin.
    assert_eq!(at(C::ReviewsRead, Approver), Own);
    for c in [
        C::ConnectionsRead,
        C::ResourcesRead,
        C::SessionsRead,
        C::BindingsRead,
        C::PluginsRead,
        C::UsersRead,
        C::GroupsRead,
        C::AuditRead,
        C::ConnectionsWrite,
    ] {
        assert_eq!(at(c, Approver), None, "{c:?}");
    }
    // Nobody anonymous except the public row.
    for rule in authz::MATRIX {
        let anonymous = rule.access(Option::None);
        assert_eq!(
            anonymous == All,
            rule.capability == C::Public,
            "{}",
            rule.name
        );
    }
}
