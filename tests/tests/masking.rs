//! data-masking end to end: the first-party plugin bound by name in the
//! gateway's config, real clients through the gateway to the machine's real
//! PostgreSQL. Simple queries come back in text format; tokio-postgres's
//! prepared queries in binary format, so both encodings are exercised on
//! the same values. Masked counts reach the session record.

use gatehouse::record::SessionEvent;
use gatehouse_tests::gateway::TestGateway;
use std::error::Error;
use std::net::IpAddr;
use std::time::Duration;
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::types::{FromSql, Type};

const MASKING: &str = r#"plugin = "data-masking"
config = { salt = "e2e-salt-0123456789", columns = [
    { name = "customer_id", action = "mask", style = "hash" },
    { name = "ref", action = "mask", style = "hash" },
    { name = "public_*", action = "exempt" },
] }"#;

/// One row covering the column types the plugin treats differently.
const QUERY: &str = "select 'ann@example.com'::text as email, \
     'card 4111 1111 1111 1111, ssn 123-45-6789'::text as note, \
     42::int8 as customer_id, \
     '10.1.2.3'::inet as ip, \
     '{\"e\": \"bob@x.org\", \"n\": 4111111111111111}'::jsonb as doc, \
     'eve@x.org'::varchar as v, \
     'joe@x.org'::char(12) as c, \
     array['a@b.com', 'plain']::text[] as tags, \
     'public@example.com'::text as public_email, \
     12345::int4 as n, \
     'ORD-2024-004512 shipped'::text as status, \
     '550e8400-e29b-41d4-a716-446655440000'::uuid as ref";

/// Any column's raw bytes (binary format).
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

async fn simple_rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The counters of the recorded query whose text contains `needle`.
async fn counters_of(gw: &TestGateway, needle: &str) -> Vec<(String, u64)> {
    for _ in 0..40 {
        let found = gw.recorder.events().into_iter().find_map(|e| match e {
            SessionEvent::Query { text, counters, .. } if text.contains(needle) => Some(counters),
            _ => None,
        });
        if let Some(mut counters) = found {
            counters.sort();
            return counters;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no recorded query containing {needle:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn text_format_results_are_masked_and_counted() {
    let gw = TestGateway::start(&[MASKING]).await;
    let client = gw.client().await;
    let rows = simple_rows(&client, QUERY).await;
    let row = &rows[0];
    let cell = |i: usize| row[i].as_deref();
    assert_eq!(cell(0), Some("<email>"));
    assert_eq!(cell(1), Some("card <card>, ssn <ssn>"));
    let hashed: i64 = cell(2).unwrap().parse().expect("int8 stays an integer");
    assert!(hashed >= 0 && hashed != 42);
    assert_eq!(cell(3), None, "inet addresses are masked to NULL");
    assert_eq!(cell(4), Some(r#"{"e": "<email>", "n": "<card>"}"#));
    assert_eq!(cell(5), Some("<email>"));
    assert_eq!(cell(6), Some("<email>   "), "bpchar padding is kept");
    assert_eq!(cell(7), Some("{<email>,plain}"));
    assert_eq!(cell(8), Some("public@example.com"), "exempt column");
    assert_eq!(cell(9), Some("12345"));
    assert_eq!(cell(10), Some("ORD-2024-004512 shipped"));
    let uuid = cell(11).unwrap();
    assert_eq!(
        (uuid.len(), &uuid[14..15]),
        (36, "8"),
        "a version-8 UUID: {uuid}"
    );

    // A result with nothing to inspect passes untouched.
    let plain = simple_rows(
        &client,
        "select 1::int as one, now() > '2000-01-01' as later",
    )
    .await;
    assert_eq!(
        plain,
        vec![vec![Some("1".to_string()), Some("t".to_string())]]
    );

    assert_eq!(
        counters_of(&gw, "as public_email").await,
        vec![
            ("data-masking.masked.card".to_string(), 2),
            ("data-masking.masked.column".to_string(), 2),
            ("data-masking.masked.email".to_string(), 5),
            ("data-masking.masked.ipv4".to_string(), 1),
            ("data-masking.masked.ssn".to_string(), 1),
        ]
    );
    assert!(counters_of(&gw, "as later").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_format_results_stay_valid_for_their_types() {
    let gw = TestGateway::start(&[MASKING]).await;
    let client = gw.client().await;
    let text_hash: i64 = simple_rows(&client, "select 42::int8 as customer_id").await[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();

    // tokio-postgres prepares the statement and asks for binary results.
    let rows = client.query(QUERY, &[]).await.unwrap();
    let row = &rows[0];
    assert_eq!(row.get::<_, &str>(0), "<email>");
    assert_eq!(row.get::<_, &str>(1), "card <card>, ssn <ssn>");
    assert_eq!(
        row.get::<_, i64>(2),
        text_hash,
        "an int8 hashes alike in text and binary format (joins work across protocols)"
    );
    assert_eq!(row.get::<_, Option<IpAddr>>(3), None);
    let doc = row.get::<_, Raw>(4).0;
    assert_eq!(doc[0], 1, "jsonb keeps its version byte");
    assert_eq!(&doc[1..], br#"{"e": "<email>", "n": "<card>"}"#);
    assert_eq!(row.get::<_, &str>(5), "<email>");
    assert_eq!(row.get::<_, &str>(6), "<email>   ");
    assert!(
        row.get::<_, Option<Raw>>(7).is_none(),
        "a binary array cannot be edited in place: the hit masks it to NULL"
    );
    assert_eq!(row.get::<_, &str>(8), "public@example.com");
    assert_eq!(row.get::<_, i32>(9), 12345);
    let uuid = row.get::<_, Raw>(11).0;
    assert_eq!(uuid.len(), 16);
    assert_eq!(uuid[6] >> 4, 8, "version 8");

    // Parameters come back masked too.
    let row = client
        .query_one(
            "select $1::text as p, $2::varchar as q",
            &[&"mail eve@x.org", &"+44 20 7946 0958"],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0), "mail <email>");
    assert_eq!(row.get::<_, &str>(1), "<phone>");
}

#[tokio::test(flavor = "multi_thread")]
async fn large_results_are_masked_in_every_batch() {
    let gw = TestGateway::start(&[MASKING]).await;
    let client = gw.client().await;
    let sql = "select g as id, 'user' || g || '@example.com' as email, 'order ' || g as note \
               from generate_series(1, 5000) g";
    let rows = simple_rows(&client, sql).await;
    assert_eq!(rows.len(), 5000);
    assert!(rows.iter().all(|r| r[1].as_deref() == Some("<email>")));
    assert_eq!(rows[4999][2].as_deref(), Some("order 5000"));
    let rows = client.query(sql, &[]).await.unwrap();
    assert!(rows.iter().all(|r| r.get::<_, &str>(1) == "<email>"));
    assert_eq!(
        counters_of(&gw, "generate_series(1, 5000)").await,
        vec![("data-masking.masked.email".to_string(), 5000)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_sees_masked_values() {
    let gw = TestGateway::start(&[MASKING]).await;
    let conn = gw.conninfo(gatehouse_tests::gateway::USER, "pg.test", "disable");
    let (ok, out, err) = gw
        .psql(
            &conn,
            &[
                "-A",
                "-t",
                "-c",
                "select 'IBAN DE89 3704 0044 0532 0130 00, key AKIAIOSFODNN7EXAMPLE' as v",
            ],
        )
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "IBAN <iban>, key <api_key>");
}
