//! The durable audit pipeline end to end: events committed before they are
//! acknowledged (also across a kill -9 of the real binary), delivered to
//! the first-party sink plugins with retries, order and dead letters;
//! session retention and download; one delivering node per sink when two
//! share a store (leases). Needs the machine's PostgreSQL (127.0.0.1:5432,
//! trust, database `test`) as the upstream, and for a shared store.

mod common;
mod delivery;
mod kill;
mod leases;
mod sessions;
