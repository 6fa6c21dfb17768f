//! The API's [`ReviewDesk`]: decisions, revocations and access requests
//! go to the [`Workflow`].

use super::Workflow;
use gatehouse_api::{AccessRequest, BoxFuture, GatewayError, ReviewDesk};
use gatehouse_store::Actor;
use gatehouse_store::reviews::Review;

impl ReviewDesk for Workflow {
    fn decide<'a>(
        &'a self,
        actor: Actor,
        id: &'a str,
        approved: bool,
        comment: String,
    ) -> BoxFuture<'a, Result<Review, GatewayError>> {
        Box::pin(Workflow::decide(self, actor, id, approved, comment))
    }

    fn revoke<'a>(
        &'a self,
        actor: Actor,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Review, GatewayError>> {
        Box::pin(Workflow::revoke(self, actor, id))
    }

    fn request_access<'a>(
        &'a self,
        actor: Actor,
        request: AccessRequest,
    ) -> BoxFuture<'a, Result<Review, GatewayError>> {
        Box::pin(Workflow::request_access(self, actor, request))
    }
}
