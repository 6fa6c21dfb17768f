// node-postgres (`pg`) through Gatehouse: one line per check, compared with
// the transcript in tests/tests/compat.rs (the same for every client).
//
// usage: node check.js HOST PORT USER PASSWORD DBNAME MASK_PORT MASK_PASSWORD
//
// PORT is a gateway with guardrails (drop, truncate, delete-without-where),
// MASK_PORT (MASK_PASSWORD) one with the sandbox guest in mask-rows mode.
'use strict';

const { Client } = require('pg');

const [host, port, user, password, database, maskPort, maskPassword] = process.argv.slice(2);

function connect(p, pw) {
  return new Client({
    host,
    port: Number(p),
    user,
    password: pw,
    database,
    ssl: false,
    connectionTimeoutMillis: 10000,
  });
}

// Run a statement that must fail; print its SQLSTATE and message.
async function denial(label, run) {
  try {
    await run();
    console.log(`${label}: ran (expected a denial)`);
  } catch (e) {
    if (!e.code) throw e;
    console.log(`${label}: ERROR ${e.code} ${e.message}`);
  }
}

async function main() {
  const client = connect(port, password);
  await client.connect();

  // A parameterised SELECT (extended protocol).
  let r = await client.query('select $1::int + 1 as n, $2::text as t, $3::bool as b', [
    41,
    'grüße ✓',
    true,
  ]);
  console.log(`select: ${r.rows[0].n}|${r.rows[0].t}|${r.rows[0].b}`);
  r = await client.query('select $1::text as v', [null]);
  console.log(`null-param: ${r.rows[0].v === null ? '<null>' : r.rows[0].v}`);

  // DDL and DML on a temp table.
  await client.query('create temp table compat_t (id int primary key, note text, at timestamptz)');
  console.log('create: ok');
  let inserted = 0;
  for (const [id, note] of [[1, 'one'], [2, 'two'], [3, 'three']]) {
    r = await client.query('insert into compat_t values ($1, $2, now())', [id, note]);
    inserted += r.rowCount;
  }
  console.log(`insert: ${inserted}`);
  r = await client.query("update compat_t set note = note || '!' where id = $1", [2]);
  console.log(`update: ${r.rowCount}`);
  r = await client.query('select id, note from compat_t order by id');
  console.log('rows: ' + r.rows.map((row) => `${row.id}=${row.note}`).join(';'));

  // A named prepared statement, parsed once and executed ten times.
  const doubled = async (n) => {
    let total = 0;
    for (let i = 1; i <= n; i++) {
      const q = await client.query({ name: 'doubled', text: 'select $1::int * 2 as d', values: [i] });
      total += q.rows[0].d;
    }
    return total;
  };
  console.log(`loop: ${await doubled(10)}`);
  // How many statements of the loop are prepared in the upstream session.
  r = await client.query(
    "select count(*)::int as c from pg_prepared_statements where statement like 'select $1::int * 2%'",
  );
  console.log(`prepared: ${r.rows[0].c}`);

  // Denials: simple protocol (no parameters), a named prepared statement,
  // the extended protocol with a parameter.
  await denial('deny-drop', () => client.query('drop table compat_t'));
  await denial('deny-truncate', () => client.query({ name: 'trunc', text: 'truncate compat_t' }));
  await denial('deny-delete', () => client.query('delete from compat_t returning id + $1::int', [1]));
  r = await client.query('select count(*)::int as c from compat_t');
  console.log(`after-denials: ${r.rows[0].c}`);
  console.log(`loop-again: ${await doubled(3)}`);

  // A denial inside a transaction: the transaction goes on.
  await client.query('begin');
  await client.query('insert into compat_t values ($1, $2, now())', [4, 'four']);
  await denial('deny-in-tx', () => client.query('drop table compat_t'));
  await client.query('insert into compat_t values ($1, $2, now())', [5, 'five']);
  await client.query('commit');
  r = await client.query('delete from compat_t where id > $1', [3]);
  console.log(`tx-commit: ${r.rowCount}`);
  r = await client.query('select count(*)::int as c from compat_t');
  console.log(`final: ${r.rows[0].c}`);
  await client.end();

  const masked = connect(maskPort, maskPassword);
  await masked.connect();
  r = await masked.query("select $1::text as email, 'plain'::text as note", ['eve@example.com']);
  console.log(`masked: ${r.rows[0].email}|${r.rows[0].note}`);
  await masked.end();
  console.log('done');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
