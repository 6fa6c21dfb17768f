//! Mounting the handlers: every route is registered through [`Mount::add`],
//! which refuses (panics at router construction, i.e. in every test) a
//! route that is not in [`authz::ROUTES`]; [`Mount::finish`] refuses a
//! table entry without a handler. So the router, the authorization table,
//! the OpenAPI document (checked against [`registered_routes`] in a test)
//! and the docs cannot drift apart.
//!
//! Unknown paths answer 404 `route_not_found`, known paths with another
//! method 405 `method_not_allowed`, both as JSON.

use crate::authn;
use crate::authz;
use crate::error::ApiError;
use crate::handlers::{
    audit, auth, bindings, connections, exec, groups, openapi, plugins, resources, reviews,
    sessions, tokens, users, whoami,
};
use crate::state::{ApiState, App, AppState};
use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware;
use axum::routing::{MethodFilter, MethodRouter};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Routes being mounted, by path.
struct Mount {
    paths: BTreeMap<&'static str, MethodRouter<AppState>>,
    registered: Vec<(Method, &'static str)>,
}

impl Mount {
    fn new() -> Self {
        Mount {
            paths: BTreeMap::new(),
            registered: Vec::new(),
        }
    }

    fn add<H, T>(&mut self, method: Method, path: &'static str, handler: H)
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        assert!(
            authz::route(method.as_str(), path).is_some(),
            "route {method} {path} is not in authz::ROUTES"
        );
        assert!(
            !self
                .registered
                .iter()
                .any(|(m, p)| *m == method && *p == path),
            "route {method} {path} mounted twice"
        );
        let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
        let router = self.paths.remove(path).unwrap_or_default();
        self.paths.insert(path, router.on(filter, handler));
        self.registered.push((method, path));
    }

    fn check_complete(&self) {
        for route in authz::ROUTES {
            assert!(
                self.registered
                    .iter()
                    .any(|(m, p)| m.as_str() == route.method && *p == route.path),
                "authz::ROUTES has {} {} but no handler is mounted for it",
                route.method,
                route.path
            );
        }
    }
}

fn mount() -> Mount {
    let mut m = Mount::new();
    let (get, post, put, patch, delete) = (
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    );
    m.add(get.clone(), "/api/openapi.json", openapi::document);
    m.add(get.clone(), "/auth/login", auth::login);
    m.add(get.clone(), "/auth/callback", auth::callback);
    m.add(post.clone(), "/auth/logout", auth::logout);
    m.add(post.clone(), "/api/auth/token", auth::exchange);
    m.add(get.clone(), "/api/whoami", whoami::show);

    m.add(get.clone(), "/api/resources", resources::list);
    m.add(post.clone(), "/api/resources", resources::create);
    m.add(get.clone(), "/api/resources/{name}", resources::show);
    m.add(patch.clone(), "/api/resources/{name}", resources::update);
    m.add(delete.clone(), "/api/resources/{name}", resources::delete);

    m.add(get.clone(), "/api/connections", connections::list);
    m.add(post.clone(), "/api/connections", connections::create);
    m.add(get.clone(), "/api/connections/{name}", connections::show);
    m.add(
        patch.clone(),
        "/api/connections/{name}",
        connections::update,
    );
    m.add(
        delete.clone(),
        "/api/connections/{name}",
        connections::delete,
    );
    m.add(
        post.clone(),
        "/api/connections/{name}/test",
        connections::test,
    );
    m.add(post.clone(), "/api/connections/{name}/exec", exec::exec);

    m.add(
        get.clone(),
        "/api/connections/{name}/plugins",
        bindings::list,
    );
    m.add(
        post.clone(),
        "/api/connections/{name}/plugins",
        bindings::add,
    );
    m.add(
        put.clone(),
        "/api/connections/{name}/plugin-order",
        bindings::reorder,
    );
    m.add(
        get.clone(),
        "/api/connections/{name}/plugins/{plugin}",
        bindings::show,
    );
    m.add(
        patch.clone(),
        "/api/connections/{name}/plugins/{plugin}",
        bindings::update,
    );
    m.add(
        delete.clone(),
        "/api/connections/{name}/plugins/{plugin}",
        bindings::remove,
    );

    m.add(get.clone(), "/api/plugins", plugins::list);
    m.add(post.clone(), "/api/plugins", plugins::install);
    m.add(get.clone(), "/api/plugins/{name}", plugins::show);
    m.add(
        delete.clone(),
        "/api/plugins/{name}/versions/{version}",
        plugins::remove,
    );

    m.add(get.clone(), "/api/users", users::list);
    m.add(post.clone(), "/api/users", users::create);
    m.add(get.clone(), "/api/users/{user}", users::show);
    m.add(patch.clone(), "/api/users/{user}", users::update);
    m.add(delete.clone(), "/api/users/{user}", users::delete);
    m.add(put.clone(), "/api/users/{user}/groups", users::set_groups);

    m.add(get.clone(), "/api/groups", groups::list);
    m.add(post.clone(), "/api/groups", groups::create);
    m.add(get.clone(), "/api/groups/{name}", groups::show);
    m.add(patch.clone(), "/api/groups/{name}", groups::update);
    m.add(delete.clone(), "/api/groups/{name}", groups::delete);
    m.add(
        put.clone(),
        "/api/groups/{name}/members/{user}",
        groups::add_member,
    );
    m.add(
        delete.clone(),
        "/api/groups/{name}/members/{user}",
        groups::remove_member,
    );

    m.add(get.clone(), "/api/tokens", tokens::list);
    m.add(post.clone(), "/api/tokens", tokens::create);
    m.add(delete.clone(), "/api/tokens/{id}", tokens::revoke);

    m.add(get.clone(), "/api/sessions", sessions::list);
    m.add(get.clone(), "/api/sessions/{id}", sessions::show);
    m.add(
        get.clone(),
        "/api/sessions/{id}/download",
        sessions::download,
    );

    m.add(get.clone(), "/api/reviews", reviews::list);
    m.add(post.clone(), "/api/reviews", reviews::request);
    m.add(get.clone(), "/api/reviews/{id}", reviews::show);
    m.add(get.clone(), "/api/reviews/{id}/result", reviews::result);
    m.add(post.clone(), "/api/reviews/{id}/approve", reviews::approve);
    m.add(post.clone(), "/api/reviews/{id}/reject", reviews::reject);
    m.add(post.clone(), "/api/reviews/{id}/revoke", reviews::revoke);

    m.add(get.clone(), "/api/audit", audit::list);
    m.add(get.clone(), "/api/audit/sinks", audit::sinks);
    m.add(get.clone(), "/api/audit/dead-letters", audit::dead_letters);
    m.add(get, "/api/audit/{sequence}", audit::show);
    m.check_complete();
    m
}

/// The API router. Serve it with the peer address available
/// (`into_make_service_with_connect_info::<SocketAddr>()`) so audit rows
/// record where changes came from.
pub fn router(state: ApiState) -> Router {
    let app: AppState = Arc::new(App::new(state));
    let mut router = Router::new();
    for (path, method_router) in mount().paths {
        router = router.route(path, method_router);
    }
    router
        .route_layer(middleware::from_fn_with_state(app.clone(), authn::guard))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "route_not_found",
                "no such route; see GET /api/openapi.json",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not take this method; see GET /api/openapi.json",
            )
        })
        .with_state(app)
}

/// Every route the router serves, as (method, path template).
pub fn registered_routes() -> Vec<(String, String)> {
    mount()
        .registered
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}
