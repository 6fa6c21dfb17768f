//! Reviews: creation, listing by scope, decisions, guarded transitions.

use crate::common::{self, identity};
use gatehouse_store::reviews::{NewReview, ReviewFilter, ReviewKind, ReviewScope, ReviewState};
use gatehouse_store::{Actor, PageRequest, Role, StoreError};

fn one_time(requester: &str, groups: &[&str]) -> NewReview {
    NewReview {
        kind: ReviewKind::OneTime,
        requester: identity(
            requester,
            &format!("{requester}@example.com"),
            &["dev"],
            Role::User,
        ),
        connection: "billing-db.admin".into(),
        session_id: Some("s1".into()),
        query: Some("DELETE FROM invoices WHERE id = 7".into()),
        query_hash: Some("h-delete-7".into()),
        reason: "guardrails: DELETE needs review".into(),
        approver_groups: groups.iter().map(|g| g.to_string()).collect(),
        duration_minutes: None,
        expires_at: None,
    }
}

fn approver(name: &str) -> Actor {
    Actor::new(identity(
        name,
        &format!("{name}@example.com"),
        &["dba"],
        Role::Approver,
    ))
}

#[tokio::test]
async fn one_time_reviews_are_decided_and_executed_once() {
    common::both(|t| async move {
        let reviews = t.store.reviews();
        let alice = Actor::new(one_time("alice", &[]).requester);
        let review = reviews
            .create(&alice, one_time("alice", &["dba", "security", "dba"]))
            .await
            .unwrap();
        assert_eq!((review.state, review.version), (ReviewState::Pending, 1));
        assert_eq!(review.approver_groups, vec!["dba", "security"]);
        assert_eq!(reviews.get(&review.id).await.unwrap(), review);

        let decided = reviews
            .decide(&approver("bob"), &review.id, true, "looks fine")
            .await
            .unwrap();
        assert_eq!(decided.decisions.len(), 1);
        assert_eq!(
            (
                decided.decisions[0].approver.email.as_str(),
                decided.decisions[0].approved
            ),
            ("bob@example.com", true)
        );
        assert!(matches!(
            reviews
                .decide(&approver("bob"), &review.id, false, "")
                .await,
            Err(StoreError::Conflict { .. })
        ));
        let decided = reviews
            .decide(&approver("carol"), &review.id, true, "")
            .await
            .unwrap();
        assert_eq!((decided.decisions.len(), decided.version), (2, 3));

        // Optimistic: a stale version loses; an impossible transition is refused.
        assert!(matches!(
            reviews
                .transition(&approver("bob"), &review.id, 1, ReviewState::Approved, None)
                .await,
            Err(StoreError::Conflict { .. })
        ));
        assert!(matches!(
            reviews
                .transition(&approver("bob"), &review.id, 3, ReviewState::Executed, None)
                .await,
            Err(StoreError::Conflict { .. })
        ));
        let approved = reviews
            .transition(&approver("bob"), &review.id, 3, ReviewState::Approved, None)
            .await
            .unwrap();
        assert_eq!(approved.state, ReviewState::Approved);
        assert!(matches!(
            reviews.decide(&approver("dan"), &review.id, true, "").await,
            Err(StoreError::Conflict { .. })
        ));

        let found = reviews
            .find_approved_query("alice", "billing-db.admin", "h-delete-7")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, review.id);
        let gateway = Actor::system("gateway");
        let executed = reviews
            .transition(
                &gateway,
                &review.id,
                approved.version,
                ReviewState::Executed,
                None,
            )
            .await
            .unwrap();
        assert_eq!(executed.state, ReviewState::Executed);
        assert!(
            reviews
                .find_approved_query("alice", "billing-db.admin", "h-delete-7")
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            reviews
                .transition(
                    &gateway,
                    &review.id,
                    executed.version,
                    ReviewState::Revoked,
                    None
                )
                .await,
            Err(StoreError::Conflict { .. })
        ));

        let actions: Vec<(String, String)> = t
            .store
            .audit()
            .after(0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.category, e.action))
            .collect();
        let expected = [
            "review.requested",
            "review.decision",
            "review.decision",
            "review.approved",
            "review.executed",
        ];
        assert_eq!(
            actions,
            expected
                .iter()
                .map(|a| ("review".to_string(), a.to_string()))
                .collect::<Vec<_>>()
        );

        let mut no_query = one_time("alice", &[]);
        no_query.query = None;
        assert!(matches!(
            reviews.create(&alice, no_query).await,
            Err(StoreError::Invalid(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn jit_reviews_open_a_window_and_expire() {
    common::both(|t| async move {
        let reviews = t.store.reviews();
        let mut jit = one_time("erin", &["dba"]);
        jit.kind = ReviewKind::Jit;
        jit.query = None;
        jit.query_hash = None;
        jit.duration_minutes = Some(30);
        let erin = Actor::new(jit.requester.clone());
        let review = reviews.create(&erin, jit.clone()).await.unwrap();
        let approved = reviews
            .transition(
                &approver("bob"),
                &review.id,
                review.version,
                ReviewState::Approved,
                None,
            )
            .await
            .unwrap();
        let window = approved.expires_at.unwrap() - approved.updated_at;
        assert!(
            (30 * 60_000 - 5_000..=30 * 60_000 + 5_000).contains(&window),
            "{window}"
        );
        let now = approved.updated_at;
        assert_eq!(
            reviews
                .active_jit("erin", "billing-db.admin", now)
                .await
                .unwrap()
                .unwrap()
                .id,
            review.id
        );
        assert!(
            reviews
                .active_jit("erin", "billing-db.other", now)
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            reviews
                .transition(
                    &erin,
                    &review.id,
                    approved.version,
                    ReviewState::Executed,
                    None
                )
                .await,
            Err(StoreError::Conflict { .. })
        ));

        // A pending review past its deadline and the approved window both expire.
        let mut stale = jit.clone();
        stale.expires_at = Some(1_000);
        let stale = reviews.create(&erin, stale).await.unwrap();
        let expired = reviews
            .expire_due(&Actor::system("expiry"), approved.expires_at.unwrap())
            .await
            .unwrap();
        assert_eq!(expired.len(), 2);
        assert!(expired.contains(&stale.id) && expired.contains(&review.id));
        assert_eq!(
            reviews.get(&review.id).await.unwrap().state,
            ReviewState::Expired
        );
        assert!(
            reviews
                .active_jit("erin", "billing-db.admin", now)
                .await
                .unwrap()
                .is_none()
        );

        jit.duration_minutes = None;
        assert!(matches!(
            reviews.create(&erin, jit).await,
            Err(StoreError::Invalid(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn reviews_list_by_requester_approver_groups_and_state() {
    common::both(|t| async move {
        let reviews = t.store.reviews();
        let mut ids = Vec::new();
        for (i, (requester, groups)) in [
            ("alice", vec!["dba"]),
            ("bob", vec!["security"]),
            ("alice", vec!["dba", "security"]),
            ("carol", vec![]),
        ]
        .into_iter()
        .enumerate()
        {
            let review = reviews
                .create(
                    &Actor::new(one_time(requester, &[]).requester),
                    one_time(requester, &groups),
                )
                .await
                .unwrap();
            ids.push(review.id.clone());
            if i == 1 {
                reviews
                    .transition(
                        &approver("x"),
                        &review.id,
                        review.version,
                        ReviewState::Rejected,
                        None,
                    )
                    .await
                    .unwrap();
            }
        }
        let list = |scope: ReviewScope, states: Vec<ReviewState>| {
            let reviews = t.store.reviews();
            async move {
                let filter = ReviewFilter {
                    scope,
                    states,
                    ..Default::default()
                };
                let mut found: Vec<String> = reviews
                    .list(&filter, &PageRequest::first(100))
                    .await
                    .unwrap()
                    .items
                    .into_iter()
                    .map(|r| r.id)
                    .collect();
                found.sort();
                found
            }
        };
        let sorted = |list: &[usize]| {
            let mut v: Vec<String> = list.iter().map(|i| ids[*i].clone()).collect();
            v.sort();
            v
        };
        assert_eq!(list(ReviewScope::All, vec![]).await, sorted(&[0, 1, 2, 3]));
        assert_eq!(
            list(ReviewScope::RequestedBy("alice".into()), vec![]).await,
            sorted(&[0, 2])
        );
        assert_eq!(
            list(ReviewScope::AssignedTo(vec!["security".into()]), vec![]).await,
            sorted(&[1, 2])
        );
        assert_eq!(
            list(ReviewScope::AssignedTo(vec![]), vec![]).await,
            sorted(&[])
        );
        assert_eq!(
            list(
                ReviewScope::AssignedTo(vec!["security".into()]),
                vec![ReviewState::Pending]
            )
            .await,
            sorted(&[2])
        );
        let either = ReviewScope::RequestedByOrAssignedTo {
            user_id: "carol".into(),
            groups: vec!["security".into()],
        };
        assert_eq!(list(either, vec![]).await, sorted(&[1, 2, 3]));

        // Paging: newest first, two at a time, all four exactly once.
        let first = reviews
            .list(&ReviewFilter::default(), &PageRequest::first(2))
            .await
            .unwrap();
        let second = reviews
            .list(
                &ReviewFilter::default(),
                &PageRequest::after(2, first.next.clone().unwrap()),
            )
            .await
            .unwrap();
        assert!(second.next.is_none());
        let mut all: Vec<String> = first
            .items
            .iter()
            .chain(&second.items)
            .map(|r| r.id.clone())
            .collect();
        all.sort();
        assert_eq!(all, sorted(&[0, 1, 2, 3]));
    })
    .await;
}

#[tokio::test]
async fn exec_reviews_queue_a_run_that_finishes_once() {
    common::both(|t| async move {
        let reviews = t.store.reviews();
        let alice = Actor::new(one_time("alice", &[]).requester);
        let plain = reviews
            .create(&alice, one_time("alice", &["dba"]))
            .await
            .unwrap();
        assert_eq!(reviews.run(&plain.id).await.unwrap(), None);
        // "Oldest" is by creation time in ms: the second review must not
        // share the first one's millisecond (ties fall to the random id).
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let held = reviews
            .create_with_run(&alice, one_time("alice", &["dba"]))
            .await
            .unwrap();
        let run = reviews.run(&held.id).await.unwrap().unwrap();
        assert_eq!((run.finished_at, run.output), (None, None));

        // The oldest pending review of that query is found (the plain one).
        let pending = reviews
            .find_query(
                "alice",
                "billing-db.admin",
                "h-delete-7",
                ReviewState::Pending,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pending.id, plain.id);
        assert!(
            reviews
                .find_query(
                    "bob",
                    "billing-db.admin",
                    "h-delete-7",
                    ReviewState::Pending
                )
                .await
                .unwrap()
                .is_none()
        );

        // Waiting runs are those of approved reviews only.
        assert!(reviews.waiting_runs().await.unwrap().is_empty());
        let approved = reviews
            .transition(
                &approver("bob"),
                &held.id,
                held.version,
                ReviewState::Approved,
                None,
            )
            .await
            .unwrap();
        assert_eq!(reviews.waiting_runs().await.unwrap(), vec![held.id.clone()]);
        reviews
            .transition(
                &alice,
                &held.id,
                approved.version,
                ReviewState::Executed,
                None,
            )
            .await
            .unwrap();
        let output = serde_json::json!({ "results": [{ "rows": [["1"]] }] });
        let done = reviews
            .finish_run(&held.id, Some("s-exec"), &output)
            .await
            .unwrap();
        assert_eq!(done.output, Some(output.clone()));
        assert_eq!(done.session_id.as_deref(), Some("s-exec"));
        assert!(done.finished_at.is_some());
        assert!(matches!(
            reviews.finish_run(&held.id, None, &output).await,
            Err(StoreError::Conflict { .. })
        ));
        assert!(matches!(
            reviews.finish_run(&plain.id, None, &output).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(reviews.waiting_runs().await.unwrap().is_empty());
    })
    .await;
}
