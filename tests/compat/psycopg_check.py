"""psycopg 3 through Gatehouse: one line per check, compared with the
transcript in tests/tests/compat.rs (the same for every client).

usage: python3 psycopg_check.py HOST PORT USER PASSWORD DBNAME MASK_PORT MASK_PASSWORD

PORT is a gateway with guardrails (drop, truncate, delete-without-where),
MASK_PORT (MASK_PASSWORD) one with the sandbox guest in mask-rows mode.
"""

import sys

import psycopg

# How many statements of the loop are prepared in the upstream session.
PREPARED = (
    "select count(*)::int from pg_prepared_statements"
    " where statement like 'select $1::int * 2%'"
)


def connect(host, port, user, password, dbname):
    return psycopg.connect(
        host=host,
        port=port,
        user=user,
        password=password,
        dbname=dbname,
        sslmode="disable",
        autocommit=True,
        connect_timeout=10,
    )


def denial(label, run):
    """Run a statement that must fail; print its SQLSTATE and message."""
    try:
        run()
        print(f"{label}: ran (expected a denial)")
    except psycopg.Error as e:
        print(f"{label}: ERROR {e.sqlstate} {e.diag.message_primary}")


def main():
    sys.stdout.reconfigure(encoding="utf-8")
    host, port, user, password, dbname, mask_port, mask_password = sys.argv[1:8]
    with connect(host, port, user, password, dbname) as conn:
        # A parameterised SELECT (extended protocol, server-side binding).
        n, t, b = conn.execute(
            "select %s::int + 1 as n, %s::text as t, %s::bool as b",
            (41, "grüße ✓", True),
        ).fetchone()
        print(f"select: {n}|{t}|{str(b).lower()}")
        (v,) = conn.execute("select %s::text as v", (None,)).fetchone()
        print(f"null-param: {'<null>' if v is None else v}")

        # DDL and DML on a temp table.
        conn.execute(
            "create temp table compat_t (id int primary key, note text, at timestamptz)"
        )
        print("create: ok")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into compat_t values (%s, %s, now())",
                [(1, "one"), (2, "two"), (3, "three")],
            )
            (count,) = conn.execute("select count(*) from compat_t").fetchone()
            print(f"insert: {count}")
            cur.execute("update compat_t set note = note || '!' where id = %s", (2,))
            print(f"update: {cur.rowcount}")
        rows = conn.execute("select id, note from compat_t order by id").fetchall()
        print("rows: " + ";".join(f"{i}={s}" for i, s in rows))

        # The same statement more than prepare_threshold (5) times: psycopg
        # switches to a named prepared statement.
        total = sum(
            conn.execute("select %s::int * 2", (i,)).fetchone()[0] for i in range(1, 11)
        )
        print(f"loop: {total}")
        (prepared,) = conn.execute(PREPARED).fetchone()
        print(f"prepared: {prepared}")

        # Denials: simple protocol (no parameters), a named prepared
        # statement, the extended protocol with a parameter.
        denial("deny-drop", lambda: conn.execute("drop table compat_t"))
        denial(
            "deny-truncate", lambda: conn.execute("truncate compat_t", prepare=True)
        )
        denial(
            "deny-delete",
            lambda: conn.execute("delete from compat_t returning id + %s::int", (1,)),
        )
        (count,) = conn.execute("select count(*) from compat_t").fetchone()
        print(f"after-denials: {count}")
        total = sum(
            conn.execute("select %s::int * 2", (i,)).fetchone()[0] for i in range(1, 4)
        )
        print(f"loop-again: {total}")

        # A denial inside a transaction: the transaction goes on.
        conn.autocommit = False
        conn.execute("insert into compat_t values (%s, %s, now())", (4, "four"))
        denial("deny-in-tx", lambda: conn.execute("drop table compat_t"))
        conn.execute("insert into compat_t values (%s, %s, now())", (5, "five"))
        conn.commit()
        conn.autocommit = True
        cur = conn.execute("delete from compat_t where id > %s", (3,))
        print(f"tx-commit: {cur.rowcount}")
        (count,) = conn.execute("select count(*) from compat_t").fetchone()
        print(f"final: {count}")

    with connect(host, mask_port, user, mask_password, dbname) as conn:
        email, note = conn.execute(
            "select %s::text as email, 'plain'::text as note", ("eve@example.com",)
        ).fetchone()
        print(f"masked: {email}|{note}")
    print("done")


if __name__ == "__main__":
    main()
