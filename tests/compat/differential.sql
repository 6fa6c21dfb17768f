-- The differential script (tests/tests/compat.rs): run by psql directly
-- against PostgreSQL and through a gateway with no plugins; stdout and
-- stderr must come out the same. Only temp tables (per session), no
-- backend PIDs, temp schema names or other per-session values, and a
-- fixed time zone, so the two runs are comparable line for line.
\pset null '<null>'

-- What the client asked for at startup reaches the server (the test sets
-- PGTZ, PGDATESTYLE, PGAPPNAME and PGOPTIONS).
show timezone;
show datestyle;
show application_name;
show statement_timeout;
set timezone = 'Asia/Kolkata';
set datestyle = 'ISO, YMD';
set intervalstyle = 'postgres';
set extra_float_digits = 1;
set bytea_output = 'hex';

-- Integers, numerics and floats at their edges.
select 1::int2 as i2, (-32768)::int2 as i2min, 2147483647::int4 as i4max,
       (-9223372036854775808)::int8 as i8min, 9223372036854775807::int8 as i8max;
select 0.1::numeric + 0.2 as exact, 'NaN'::numeric as nan,
       12345678901234567890.000000000000000001::numeric as wide,
       -0.000001::numeric(10, 6) as small, 1e-300::float8 as tiny,
       'Infinity'::float8 as inf, '-0'::float8 as negzero, 1.5::real as r;

-- Text: unicode, separators, newlines, quotes, very long values.
select 'héllo wörld' as latin, '日本語テキスト' as cjk, '👩‍💻🚀' as emoji,
       'مرحبا' as rtl, 'e' || U&'\0301' as combining;
select 'a|b' as pipe, E'line1\nline2' as newline, E'tab\there' as tab,
       'it''s "quoted"' as quotes, '' as empty, ' ' as space;
select length(repeat('x', 100000)) as long_len, md5(repeat('ab', 50000)) as long_md5;
select repeat('ü', 3000) as wide_text;

-- NULLs everywhere.
select null as n, null::int as ni, null::text as nt, null::bytea as nb,
       null::int[] as na, null::jsonb as nj, null::timestamptz as nts;

-- bytea, in hex and in escape form.
select '\xdeadbeef00ff'::bytea as hex, convert_to('grüße', 'UTF8') as utf8_bytes,
       ''::bytea as empty_bytes;
set bytea_output = 'escape';
select '\xdeadbeef00ff'::bytea as escaped, 'a\\b'::bytea as backslash;
set bytea_output = 'hex';

-- Arrays.
select array[1, 2, 3] as ints, array['a', null, 'c d', 'e"f', 'g,h'] as texts,
       array[[1, 2], [3, 4]] as matrix, '{}'::int[] as empty_arr,
       array[1.5, null]::numeric[] as nums, '[0:1]={7,8}'::int[] as bounds;

-- JSON and JSONB.
select '{"b": 1, "a": [1, 2, {"c": null}], "u": "ümlaut ✓"}'::json as j,
       '{"b": 1, "a": [1, 2, {"c": null}], "u": "ümlaut ✓"}'::jsonb as jb,
       jsonb_pretty('{"k": {"n": [1, 2]}}') as pretty;
select jsonb_build_object('n', 1.50, 't', true, 'x', null) ->> 'n' as field,
       '[1, "two", 3.0]'::jsonb -> 1 as elem;

-- Times, dates and intervals in several zones.
select '2024-02-29 23:59:59.999999+00'::timestamptz as leap,
       '1999-12-31 18:30:00-05'::timestamptz as y2k,
       'infinity'::timestamptz as inf, '-infinity'::date as neg_inf,
       '2024-03-31 02:30:00'::timestamp as naive, '13:37:00+02'::timetz as tz_time,
       '1 year 2 months 3 days 04:05:06.789'::interval as iv;
set timezone = 'America/St_Johns';
select '2024-07-01 12:00:00+00'::timestamptz as summer,
       '2024-01-01 12:00:00+00'::timestamptz as winter;
set timezone = 'UTC';
select '0001-01-01 00:00:00+00'::timestamptz as first, '4713-01-01 BC'::date as bc;

-- Booleans and other scalar types.
select true as t, false as f, null::boolean as u, 1 = 1 and null as three_valued;
select 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as id,
       '192.168.0.1/24'::inet as net, '(1,2)'::point as pt, 'a & b'::tsquery as q,
       int4range(1, 10) as rng, 'mood'::name as nm, 'x'::char(3) as padded;

-- Results with no rows, and statements with no result set.
select 1 as never where false;
select * from generate_series(1, 0) as g;
create temp table compat_diff (
    id int primary key,
    note text,
    tags text[],
    doc jsonb,
    at timestamptz,
    blob bytea,
    flag boolean
);
insert into compat_diff values
    (1, 'first', '{a,b}', '{"k": 1}', '2024-01-02 03:04:05+00', '\x00', true),
    (2, 'zweite ✓', null, null, null, null, null),
    (3, E'multi\nline', '{}', '[]', '2000-01-01 00:00:00+00', '\xff', false);
update compat_diff set note = note || '!' where id <> 2;
select * from compat_diff order by id;
delete from compat_diff where id = 3 returning id, note;
select count(*) as remaining from compat_diff;

-- Several statements in one Query message, and an error in the middle of one.
select 1 as a \; select 'two' as b \; select 3 as c;
select 'before' as x \; select 1 / 0 \; select 'never' as y;
select 1 as a \; copy (select 2, 'two') to stdout \; select 3 as c;
select 'the session goes on' as after_error;

-- Errors with every field psql shows: position, detail, hint, context.
select nonexistent_column from compat_diff;
insert into compat_diff values (1, 'duplicate');
do $$ begin raise exception 'custom failure' using detail = 'some detail', hint = 'a hint', errcode = '22023'; end $$;
\set VERBOSITY verbose
select 'x'::int;
\set VERBOSITY default
selec 1;
\errverbose

-- Notices and warnings are relayed.
do $$ begin raise notice 'a notice: %', 42; raise warning 'a warning ✓'; end $$;

-- Transactions: an error aborts, rollback recovers; savepoints.
begin;
insert into compat_diff values (10, 'in tx');
select 1 / 0;
select 'ignored' as ignored;
rollback;
begin;
insert into compat_diff values (11, 'kept');
savepoint s1;
insert into compat_diff values (11, 'dup');
rollback to savepoint s1;
insert into compat_diff values (12, 'also kept');
commit;
select id, note from compat_diff order by id;

-- Cursors, and psql fetching in chunks through one.
begin;
declare cur cursor for select g, g * g as sq from generate_series(1, 10) g;
fetch 3 from cur;
fetch 3 from cur;
move 2 in cur;
fetch all from cur;
close cur;
commit;
\set FETCH_COUNT 4
select g as chunked from generate_series(1, 10) g;
\unset FETCH_COUNT

-- The extended protocol from psql: \gdesc describes a prepared statement.
select 1::int as a, 'x'::text as b, now() as c \gdesc
-- SQL-level prepared statements.
prepare twice(int) as select $1 * 2 as doubled;
execute twice(21);
execute twice(null);
deallocate twice;

-- COPY out, in text, CSV and binary, and COPY in from the script.
copy (select id, note, tags, doc, flag from compat_diff order by id) to stdout;
copy (select id, note, tags from compat_diff order by id) to stdout with (format csv, header);
copy (select 1::int4 as i, 'b'::text as t) to stdout with (format binary);
\echo
copy (select 1 where false) to stdout;
copy compat_diff (id, note) from stdin;
20	from stdin ✓
21	\N
\.
copy compat_diff (id, note) from stdin with (format csv);
30,"csv, quoted"
31,"csv ""escaped"""
\.
copy compat_diff (id, note) from stdin;
40	fine
not-a-number	broken
\.
select id, note from compat_diff where id >= 20 order by id;

-- Session parameters the client is told about.
set application_name = 'compat-diff';
show application_name;
show server_encoding;
show client_encoding;
show standard_conforming_strings;
set client_encoding to 'LATIN1';
select chr(252) || chr(223) as latin1_bytes;
select chr(10003) as not_in_latin1;
reset client_encoding;
select current_user, session_user, current_database();

-- Notifications (psql names the sending backend's PID: normalised).
listen compat_chan;
notify compat_chan, 'payload ✓';
unlisten compat_chan;

-- Large messages both ways: a 2 MB query text (built by \gexec) and a
-- 2 MB value.
select format('select length(%L) as big_query', repeat('q', 2000000)) \gexec
select repeat('ab', 1000000) as big_value;

-- A larger result.
select g, md5(g::text) as h from generate_series(1, 5000) g;
select count(*), sum(g) from generate_series(1, 200000) g;

-- The last statement fails; psql still runs to the end.
select * from no_such_table;
select 'done' as finished;
