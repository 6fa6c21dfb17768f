//! The durable audit pipeline end to end: events committed before they are
//! acknowledged (also across a kill -9 of the real binary), delivered to
//! the first-party sink plugins with retries, order and dead letters;
//! session retention and download. Needs the machine's PostgreSQL
//! (127.0.0.1:5432, trust, database `test`) as the upstream.

mod common;
mod delivery;
mod kill;
mod sessions;
