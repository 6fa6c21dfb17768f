//! The two dialects' migrations describe one schema.

use crate::common;
use gatehouse_store::{Backend, SecretKeys, Store};
use sqlx::Row;
use std::collections::BTreeMap;

/// table -> column -> (type class, not null, in primary key)
type Shape = BTreeMap<String, BTreeMap<String, (String, bool, bool)>>;

fn class(declared: &str) -> String {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" | "boolean" => "int",
        "text" => "text",
        "blob" | "bytea" => "blob",
        other => return format!("unexpected type {other}"),
    }
    .to_string()
}

async fn sqlite_shape(store: &Store) -> Shape {
    let pool = store.pool();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut shape = Shape::new();
    for table in tables {
        let rows =
            sqlx::query("SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info($1)")
                .bind(&table)
                .fetch_all(pool)
                .await
                .unwrap();
        let columns = rows
            .iter()
            .map(|row| {
                let pk = row.get::<i64, _>("pk") > 0;
                (
                    row.get::<String, _>("name"),
                    (
                        class(&row.get::<String, _>("type")),
                        row.get::<i64, _>("nn") != 0 || pk,
                        pk,
                    ),
                )
            })
            .collect();
        shape.insert(table, columns);
    }
    shape
}

async fn postgres_shape(store: &Store) -> Shape {
    let pool = store.pool();
    let rows = sqlx::query(
        "SELECT c.table_name::text AS t, c.column_name::text AS c, c.data_type::text AS ty, c.is_nullable::text AS n, \
         EXISTS (SELECT 1 FROM information_schema.table_constraints tc \
                 JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name \
                  AND k.table_schema = tc.table_schema AND k.table_name = tc.table_name \
                 WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema \
                   AND tc.table_name = c.table_name AND k.column_name = c.column_name) AS pk \
         FROM information_schema.columns c WHERE c.table_schema = current_schema() AND c.table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut shape = Shape::new();
    for row in rows {
        shape.entry(row.get("t")).or_default().insert(
            row.get("c"),
            (
                class(&row.get::<String, _>("ty")),
                row.get::<String, _>("n") == "NO",
                row.get::<bool, _>("pk"),
            ),
        );
    }
    shape
}

#[tokio::test]
async fn both_dialects_produce_the_same_tables_and_columns() {
    let sqlite = common::sqlite().await;
    let postgres = common::postgres().await;
    let a = sqlite_shape(&sqlite.store).await;
    let b = postgres_shape(&postgres.store).await;
    sqlite.cleanup().await;
    postgres.cleanup().await;
    assert!(a.len() >= 15, "tables: {:?}", a.keys());
    for (table, columns) in &a {
        assert!(
            !columns
                .values()
                .any(|(class, _, _)| class.starts_with("unexpected")),
            "{table}: {columns:?}"
        );
    }
    let names = |s: &Shape| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "tables differ");
    for (table, columns) in &a {
        assert_eq!(
            columns, &b[table],
            "table {table} differs (left SQLite, right PostgreSQL)"
        );
    }
}

/// How many migrations `migrations/<dialect>/` holds.
fn migration_files(dialect: &str) -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count() as i64
}

#[tokio::test]
async fn opening_again_applies_nothing_and_keeps_data() {
    common::both(|t| async move {
        let admin = common::admin_actor();
        t.store.groups().create(&admin, "dba", "").await.unwrap();
        let again = Store::open(&t.url, SecretKeys::generate()).await.unwrap();
        assert_eq!(again.groups().get("dba").await.unwrap().name, "dba");
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(again.pool())
            .await
            .unwrap();
        // One row per migration (`src/migrate.rs`, a file in each dialect's
        // folder), each applied once.
        assert_eq!(applied, migration_files("sqlite"));
        assert_eq!(applied, migration_files("postgres"));
        again.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_default_store_is_an_sqlite_file_with_a_generated_key() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state dir");
    let store = Store::open_default(&state).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(state.join("store.db").exists());
    assert!(state.join("secret.key").exists());
    let key_id = store.secret_key_id().to_string();
    store.close().await;
    // The same key file is read on the next start.
    let store = Store::open_default(&state).await.unwrap();
    assert_eq!(store.secret_key_id(), key_id);
    store.close().await;
    assert!(
        Store::open("mysql://x", SecretKeys::generate())
            .await
            .is_err()
    );
}
