//! The PostgreSQL wire codec compiled on its own for fuzzing: the module
//! refers to its parts only through `super::` paths, so its sources build
//! here without the rest of the gateway.

#[path = "../../src/pg/wire/mod.rs"]
pub mod wire;

use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Runs a future that never waits: reads from an in-memory `&[u8]` are
/// always ready, so one poll finishes it.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("an in-memory read never waits"),
    }
}
