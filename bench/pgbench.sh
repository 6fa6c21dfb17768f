#!/usr/bin/env bash
# Gatehouse vs. direct PostgreSQL vs. pgbouncer under pgbench (select-only).
#
#   bench/pgbench.sh                      # 10 s per run, c = 1 and 8, simple and prepared
#   BENCH_SECONDS=30 BENCH_ROUNDS=3 bench/pgbench.sh
#
# A benchmark, not a test: it always exits 0 unless something could not be
# set up (BENCH_STRICT=1 also exits 1 when a target is missed).
#
# What it does, in one run:
#  1. builds the gateway in release (target/release/gatehouse) and installs
#     pgbouncer if it is missing;
#  2. initialises pgbench's tables in the machine's PostgreSQL, in a
#     database of their own (`gatehouse_bench`, created if missing; reused
#     when already at the wanted scale). Not `test`: the test suite runs
#     `pgbench -i -s 1` there, which would drop the tables under a running
#     benchmark (and the benchmark's -i would drop them under a test);
#  3. starts, on free ports, in a temp dir: one Gatehouse serving two
#     connections to the same database, `pg.open` (no plugins) and
#     `pg.guarded` (access-control + guardrails), and one pgbouncer in
#     session pooling mode (the fair comparison: pgbench holds its
#     connections for the whole run, and pgbouncer 1.18's transaction mode
#     cannot carry protocol-level prepared statements);
#  4. runs `pgbench -S -n -T $BENCH_SECONDS -c C -j C -M MODE` for every C and
#     MODE against every target, interleaved (all targets for one C/MODE,
#     then the next, each round starting with the next target) so load
#     drift and run order hit them alike; per-transaction logs
#     (`-l`) give the p50/p99 latency;
#  5. prints every run (a proxy's line also says how much of its CPU per
#     transaction was its own code, user time, rather than the kernel's,
#     and how often its threads went to sleep, and were preempted, per
#     transaction; a gateway's splits its CPU per transaction by thread:
#     sessions / store (its SQLite threads) / other), one summary table
#     (TPS, ratios vs direct and vs pgbouncer, p50 at c=1 and the latency
#     Gatehouse adds) and whether the targets are met:
#       - Gatehouse with plugins >= pgbouncer TPS at c=8 (each mode);
#       - Gatehouse with plugins adds <= 40 us p50 latency over direct at c=1;
#  6. stops everything it started on exit, Ctrl-C included.
#
# Every client connects in plain text (sslmode=disable), and so do Gatehouse
# and pgbouncer to the upstream: the local server has TLS on and libpq
# prefers it, which would otherwise compare TLS against plain text.
#
# Settings (environment):
#   BENCH_SECONDS   seconds per pgbench run (10)
#   BENCH_CLIENTS   client counts ("1 8")
#   BENCH_MODES     pgbench -M modes ("simple prepared")
#   BENCH_TARGETS   subset of: direct gatehouse-open gatehouse-plugins pgbouncer
#   BENCH_ROUNDS    repeat the whole matrix; the table shows medians (1)
#   BENCH_SCALE     pgbench -i scale (10)
#   BENCH_POOL_MODE pgbouncer pool_mode (session)
#   BENCH_SSLMODE   client sslmode (disable)
#   BENCH_PROFILE   1: `perf record` the gateway during its c>1 runs
#                   (all: during every gateway run)
#                   (with BENCH_KEEP=1 to read it; BENCH_PERF_ARGS, default
#                   "-g -F 999"; "--call-graph dwarf -F 499" for full stacks)
#   BENCH_SESSION_THREADS  the gateway's session_threads (default: one per core)
#   BENCH_AUDIT_ALLOWED    the gateway's [audit] allowed_queries (its default
#                   when unset): every allowed query a durable audit event
#   BENCH_BASE_BIN  a second gateway binary (an earlier build) run beside
#                   the first as target gatehouse-base (pg.guarded, same
#                   config): a change measured against its baseline in one
#                   run
#   BENCH_PIN_THREADS      true/false: the gateway's pin_session_threads (its
#                   default: pinned with a thread per core; the baseline
#                   gateway keeps its own default)
#   BENCH_BASE_SESSION_THREADS  the baseline gateway's session_threads
#                   (default: as BENCH_SESSION_THREADS)
#   BENCH_BASE_AUDIT_ALLOWED    the baseline gateway's [audit] allowed_queries
#                   (default: as BENCH_AUDIT_ALLOWED): with BENCH_BASE_BIN
#                   set to the same binary, the cost of auditing every
#                   allowed query, measured in one run
#   BENCH_BIN       a gateway binary to run instead of building one (to
#                   measure a copied build while the tree changes)
#   BENCH_KEEP      1: keep the temp dir (logs, configs, CSV, perf data)
#   BENCH_CACHE_DIR compiled-plugin cache (target/gatehouse-bench-compiled:
#                   only the first start compiles plugins)
#   BENCH_STRICT    1: exit 1 if a target is missed
#   BENCH_OUT       copy the per-run CSV there
#   BENCH_REPORT    print the table of an earlier CSV (BENCH_OUT) and stop
#   GATEHOUSE_LOG   the gateway's log filter (info, its default: every query
#                   is written to the session record log, as in production)
#   PGHOST/PGPORT/PGUSER/BENCH_DB  the upstream (127.0.0.1 5432 postgres
#                   gatehouse_bench)

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-"1 8"}
MODES=${BENCH_MODES:-"simple prepared"}
if [[ -n ${BENCH_BASE_BIN:-} ]]; then
    TARGETS=${BENCH_TARGETS:-"direct gatehouse-open gatehouse-plugins gatehouse-base pgbouncer"}
else
    TARGETS=${BENCH_TARGETS:-"direct gatehouse-open gatehouse-plugins pgbouncer"}
fi
ROUNDS=${BENCH_ROUNDS:-1}
SCALE=${BENCH_SCALE:-10}
POOL_MODE=${BENCH_POOL_MODE:-session}
SSLMODE=${BENCH_SSLMODE:-disable}
UP_HOST=${PGHOST:-127.0.0.1}
UP_PORT=${PGPORT:-5432}
UP_USER=${PGUSER:-postgres}
DB=${BENCH_DB:-gatehouse_bench}
CACHE_DIR=${BENCH_CACHE_DIR:-$REPO/target/gatehouse-bench-compiled}
export GATEHOUSE_LOG=${GATEHOUSE_LOG:-info}
BENCH_USER="bench@example.com"
# The issue's targets.
MAX_ADDED_P50_US=40

# Clients never fall back to a socket, a password file or TLS by accident.
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE
export PGSSLMODE=$SSLMODE PGCONNECT_TIMEOUT=10

# Messages go to the script's stderr even from inside a redirected command
# (the traps run there).
exec 9>&2
log() { printf '[bench] %s\n' "$*" >&9; }
die() {
    printf '[bench] error: %s\n' "$*" >&9
    exit 1
}

# ---------------------------------------------------------------- cleanup
TMP=""
GATEHOUSE_PID=""
BASE_PID=""
PGBOUNCER_PID=""
RUNNING_PID="" # the pgbench (or perf) of the moment
PERF_PID=""
CLEANED=0
# shellcheck disable=SC2317 # called from the traps
cleanup() {
    [[ $CLEANED == 1 ]] && return
    CLEANED=1
    local pid
    # perf writes its data on SIGINT; the others get SIGTERM (background
    # jobs of a script ignore SIGINT, and pgbench has no handler for it).
    [[ -n $PERF_PID ]] && kill -INT "$PERF_PID" 2>/dev/null
    for pid in $RUNNING_PID $PGBOUNCER_PID $GATEHOUSE_PID $BASE_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $PERF_PID $RUNNING_PID $PGBOUNCER_PID $GATEHOUSE_PID $BASE_PID; do
        [[ -n $pid ]] || continue
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ ${BENCH_KEEP:-0} == 1 ]]; then
            log "kept $TMP"
        else
            rm -rf "$TMP"
        fi
    fi
}
trap cleanup EXIT
trap 'log "interrupted"; cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# Run a command in the background and wait for it, so that a signal runs the
# trap at once instead of after the command ends.
run_bg() {
    "$@" &
    RUNNING_PID=$!
    local rc=0
    wait "$RUNNING_PID" || rc=$?
    RUNNING_PID=""
    return "$rc"
}

# ---------------------------------------------------------------- report
# Medians over rounds, then the table and the targets, all in awk. Exits 3
# when a target is missed.
report() { # results.csv
    awk -F, -v targets="$TARGETS" -v clients="$CLIENTS" -v modes="$MODES" \
        -v max_added="$MAX_ADDED_P50_US" -v pool_mode="$POOL_MODE" -v secs="$SECONDS_PER_RUN" \
        -v loadavg="$(cut -d' ' -f1-3 /proc/loadavg)" '
function median(key,    n, i, j, t, a) {
    n = split(vals[key], a, " ")
    if (n == 0 || vals[key] == "") return ""
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(key, v) { if (v != "" && v != "-") vals[key] = (key in vals) ? vals[key] " " v : v }
function fmt_ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
function fmt_num(v, f) { return v == "" ? "-" : sprintf(f, v) }
NR > 1 {
    if ($1 + 0 > rounds) rounds = $1 + 0
    add("tps," $2 "," $3 "," $4, $5)
    add("p50," $2 "," $3 "," $4, $7)
    add("cpu," $2 "," $3 "," $4, $10)
    add("mach," $2 "," $3 "," $4, $13)
}
END {
    nt = split(targets, T, " "); nc = split(clients, C, " "); nm = split(modes, M, " ")
    printf "\nselect-only pgbench, %s s per run, %s round(s) (medians), pgbouncer pool_mode=%s, load average at end %s\n", secs, rounds, pool_mode, loadavg
    printf "TPS; xdir/xpgb = TPS ratio to direct / to pgbouncer; p50us from per-transaction logs; +us = p50 added over direct;\n"
    printf "cpu/tx = CPU time (us) of the relaying process (gatehouse or pgbouncer) per transaction;\n"
    printf "mach/tx = CPU time (us) of the whole machine (pgbench, PostgreSQL, proxy, kernel) per transaction\n\n"
    # Header
    line1 = sprintf("%-18s", ""); line2 = sprintf("%-18s", "target")
    for (ci = 1; ci <= nc; ci++) for (mi = 1; mi <= nm; mi++) {
        c = C[ci]; m = M[mi]
        w = (c == 1) ? 53 : 37
        line1 = line1 sprintf(" | %-" w "s", "c=" c " " m)
        line2 = line2 sprintf(" | %7s %5s %5s", "TPS", "xdir", "xpgb")
        if (c == 1) line2 = line2 sprintf(" %6s %6s", "p50us", "+us")
        line2 = line2 sprintf(" %8s %8s", "cpu/tx", "mach/tx")
    }
    print line1; print line2
    sep = line2; gsub(/./, "-", sep); print sep
    for (ti = 1; ti <= nt; ti++) {
        t = T[ti]; row = sprintf("%-18s", t)
        for (ci = 1; ci <= nc; ci++) for (mi = 1; mi <= nm; mi++) {
            c = C[ci]; m = M[mi]
            tps = median("tps," t "," c "," m)
            d = median("tps,direct," c "," m); b = median("tps,pgbouncer," c "," m)
            row = row sprintf(" | %7s %5s %5s", fmt_num(tps, "%.0f"), fmt_ratio(tps, d), fmt_ratio(tps, b))
            if (c == 1) {
                p = median("p50," t "," c "," m); pd = median("p50,direct," c "," m)
                row = row sprintf(" %6s %6s", fmt_num(p, "%.0f"), (p == "" || pd == "") ? "-" : sprintf("%+.0f", p - pd))
            }
            row = row sprintf(" %8s %8s", fmt_num(median("cpu," t "," c "," m), "%.1f"), fmt_num(median("mach," t "," c "," m), "%.1f"))
        }
        print row
    }
    # Targets (Gatehouse with plugins)
    printf "\ntargets (gatehouse-plugins):\n"
    missed = 0; checked = 0
    for (mi = 1; mi <= nm; mi++) {
        m = M[mi]
        g = median("tps,gatehouse-plugins,8," m); b = median("tps,pgbouncer,8," m)
        if (g != "" && b != "") {
            ok = (g + 0 >= b + 0); checked++; if (!ok) missed++
            printf "  %-4s TPS >= pgbouncer at c=8, %-9s: %.0f vs %.0f (%.2fx)\n", ok ? "MET" : "MISS", m, g, b, g / b
        }
        p = median("p50,gatehouse-plugins,1," m); pd = median("p50,direct,1," m)
        if (p != "" && pd != "") {
            ok = (p - pd <= max_added); checked++; if (!ok) missed++
            printf "  %-4s p50 added <= %d us at c=1, %-9s: %+.0f us (%.0f vs %.0f us)\n", ok ? "MET" : "MISS", max_added, m, p - pd, p, pd
        }
    }
    if (checked == 0) print "  (not measured: needs gatehouse-plugins, direct and pgbouncer at c=1 and c=8)"
    printf "\n%d of %d targets met\n", checked - missed, checked
    exit (missed > 0) ? 3 : 0
}' "$1"
}

# BENCH_REPORT=results.csv: print the table of an earlier run and stop.
if [[ -n ${BENCH_REPORT:-} ]]; then
    report "$BENCH_REPORT" || [[ $? == 3 ]]
    exit 0
fi

# ---------------------------------------------------------------- 1. build
for tool in pgbench psql awk sort ss; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
if [[ -n ${BENCH_BIN:-} ]]; then
    BIN=$BENCH_BIN
    log "using the gateway binary $BIN (not rebuilt)"
else
    log "building the gateway (release)"
    (cd "$REPO" && cargo build --release -p gatehouse) >&2 || die "cargo build failed"
    BIN=$REPO/target/release/gatehouse
fi
[[ -x $BIN ]] || die "$BIN was not built"

PGBOUNCER=$(command -v pgbouncer || true)
[[ -z $PGBOUNCER && -x /usr/sbin/pgbouncer ]] && PGBOUNCER=/usr/sbin/pgbouncer
if [[ -z $PGBOUNCER ]]; then
    log "installing pgbouncer"
    if ! apt-get install -y pgbouncer >&2; then
        { apt-get update >&2 && apt-get install -y pgbouncer >&2; } || die "could not install pgbouncer"
    fi
    PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
fi
[[ -x $PGBOUNCER ]] || die "pgbouncer not found"

# ---------------------------------------------------------------- 2. tables
UPSTREAM=(-h "$UP_HOST" -p "$UP_PORT" -U "$UP_USER")
psql "${UPSTREAM[@]}" -d postgres -XAtqc 'select 1' >/dev/null ||
    die "PostgreSQL is not reachable at $UP_HOST:$UP_PORT as $UP_USER"
if [[ -z $(psql "${UPSTREAM[@]}" -d postgres -XAtqc "select 1 from pg_database where datname = '$DB'") ]]; then
    log "creating database $DB"
    psql "${UPSTREAM[@]}" -d postgres -XAtqc "create database \"$DB\"" >/dev/null
fi
have_scale=$(psql "${UPSTREAM[@]}" -d "$DB" -XAtqc 'select count(*) from pgbench_branches' 2>/dev/null || echo 0)
if [[ $have_scale == "$SCALE" ]]; then
    log "reusing pgbench tables at scale $SCALE"
else
    log "initialising pgbench tables at scale $SCALE (found ${have_scale:-none})"
    pgbench "${UPSTREAM[@]}" -i -s "$SCALE" -q "$DB" >&2 || die "pgbench -i failed"
fi

# ---------------------------------------------------------------- 3. servers
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
chmod 755 "$TMP" # pgbouncer may run as another user
mkdir -p "$TMP/pgbench-logs" "$CACHE_DIR"

# `free_port NAME` sets NAME to a port nobody listens on and no earlier
# call drew. It assigns rather than prints: `$(free_port)` would run in a
# subshell, and the port it drew would not be remembered.
USED_PORTS=""
free_port() {
    local port listening
    listening=$(ss -Htln | awk '{print $4}' | sed 's/.*://')
    for _ in $(seq 200); do
        port=$((20000 + RANDOM % 40000))
        if ! grep -qx "$port" <<<"$listening" && [[ " $USED_PORTS " != *" $port "* ]]; then
            USED_PORTS="$USED_PORTS $port"
            printf -v "$1" '%s' "$port"
            return
        fi
    done
    die "no free port found"
}

wait_for_port() { # name port pid timeout-seconds log
    local name=$1 port=$2 pid=$3 timeout=$4 logfile=$5 waited=0
    while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$logfile" >&2 || true
            die "$name exited before listening (log above)"
        fi
        ((waited++ >= timeout * 10)) && {
            tail -n 30 "$logfile" >&2 || true
            die "$name did not listen on $port within ${timeout}s"
        }
        sleep 0.1
    done
    log "$name is listening on 127.0.0.1:$port (after $((waited / 10)).$((waited % 10))s)"
}

# Gatehouse: a user with a fresh token, one resource with two roles.
free_port GH_PORT
free_port API_PORT
token_out=$("$BIN" tokens new 2>/dev/null)
TOKEN=$(awk '/^token:/ {print $2}' <<<"$token_out")
DIGEST=$(awk '/^token_sha256:/ {print $2}' <<<"$token_out")
[[ -n $TOKEN && ${#DIGEST} == 64 ]] || die "could not create a token: $token_out"
cat >"$TMP/gatehouse.toml" <<EOF
[gateway]
state_dir = "$TMP/state"
${BENCH_SESSION_THREADS:+session_threads = $BENCH_SESSION_THREADS}
${BENCH_PIN_THREADS:+pin_session_threads = $BENCH_PIN_THREADS}

[audit]
${BENCH_AUDIT_ALLOWED:+allowed_queries = $BENCH_AUDIT_ALLOWED}

[runtime]
# Shared across runs: only the first start compiles the plugins.
cache_dir = "$CACHE_DIR"

[api]
listen = "127.0.0.1:$API_PORT"

[postgres]
listen = "127.0.0.1:$GH_PORT"

[[users]]
email = "$BENCH_USER"
role = "user"
groups = ["bench"]
token_sha256 = ["$DIGEST"]

[[resources]]
name = "pg"
kind = "postgres"
address = "$UP_HOST:$UP_PORT"
tls = "disable"

  [[resources.roles]]
  name = "open"
  description = "no plugins"
  database = "$DB"
  username = "$UP_USER"

  [[resources.roles]]
  name = "guarded"
  description = "access-control + guardrails"
  database = "$DB"
  username = "$UP_USER"

    [[resources.roles.plugins]]
    plugin = "access-control"
    config = { allowed_groups = ["bench"] }

    [[resources.roles.plugins]]
    plugin = "guardrails"
    config = { deny_statements = ["drop", "truncate", "alter", "grant", "revoke", "delete-without-where", "update-without-where"] }
EOF
log "starting Gatehouse (the first start compiles plugins: ~20 s)"
"$BIN" serve --config "$TMP/gatehouse.toml" 2>"$TMP/gatehouse.log" &
GATEHOUSE_PID=$!
wait_for_port gatehouse "$GH_PORT" "$GATEHOUSE_PID" 180 "$TMP/gatehouse.log"
if [[ -n ${BENCH_BASE_BIN:-} ]]; then
    free_port BASE_PORT
    free_port BASE_API_PORT
    sed -e "s|127.0.0.1:$GH_PORT\"|127.0.0.1:$BASE_PORT\"|" \
        -e "s|127.0.0.1:$API_PORT\"|127.0.0.1:$BASE_API_PORT\"|" \
        -e "s|^state_dir = .*|state_dir = \"$TMP/state-base\"|" \
        -e "/^session_threads = /d" \
        -e "/^pin_session_threads = /d" \
        -e "/^allowed_queries = /d" \
        "$TMP/gatehouse.toml" >"$TMP/gatehouse-base.toml"
    threads=${BENCH_BASE_SESSION_THREADS:-${BENCH_SESSION_THREADS:-}}
    [[ -n $threads ]] && sed -i "s|^\[gateway\]$|[gateway]\nsession_threads = $threads|" "$TMP/gatehouse-base.toml"
    allowed=${BENCH_BASE_AUDIT_ALLOWED:-${BENCH_AUDIT_ALLOWED:-}}
    [[ -n $allowed ]] && sed -i "s|^\[audit\]$|[audit]\nallowed_queries = $allowed|" "$TMP/gatehouse-base.toml"
    log "starting the baseline gateway $BENCH_BASE_BIN"
    "$BENCH_BASE_BIN" serve --config "$TMP/gatehouse-base.toml" 2>"$TMP/gatehouse-base.log" &
    BASE_PID=$!
    wait_for_port gatehouse-base "$BASE_PORT" "$BASE_PID" 180 "$TMP/gatehouse-base.log"
fi

# pgbouncer: session pooling, trust auth (the user must still be listed).
free_port PGB_PORT
cat >"$TMP/userlist.txt" <<EOF
"$UP_USER" ""
EOF
cat >"$TMP/pgbouncer.ini" <<EOF
[databases]
$DB = host=$UP_HOST port=$UP_PORT dbname=$DB user=$UP_USER

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $TMP/userlist.txt
pool_mode = $POOL_MODE
default_pool_size = 20
max_client_conn = 200
server_tls_sslmode = disable
client_tls_sslmode = disable
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
EOF
chmod 644 "$TMP/pgbouncer.ini" "$TMP/userlist.txt"
pgb_args=()
if [[ $(id -u) == 0 ]]; then
    # pgbouncer refuses to run as root.
    pgb_user=$(id -un postgres 2>/dev/null || echo nobody)
    pgb_args=(-u "$pgb_user")
fi
"$PGBOUNCER" "${pgb_args[@]}" "$TMP/pgbouncer.ini" 2>"$TMP/pgbouncer.log" &
PGBOUNCER_PID=$!
wait_for_port pgbouncer "$PGB_PORT" "$PGBOUNCER_PID" 30 "$TMP/pgbouncer.log"

# The connection options of each target (host port user dbname password).
conn_of() {
    case $1 in
    direct) echo "$UP_HOST $UP_PORT $UP_USER $DB -" ;;
    gatehouse-open) echo "127.0.0.1 $GH_PORT $BENCH_USER pg.open $TOKEN" ;;
    gatehouse-plugins) echo "127.0.0.1 $GH_PORT $BENCH_USER pg.guarded $TOKEN" ;;
    gatehouse-base) echo "127.0.0.1 $BASE_PORT $BENCH_USER pg.guarded $TOKEN" ;;
    pgbouncer) echo "127.0.0.1 $PGB_PORT $UP_USER $DB -" ;;
    *) die "unknown target $1" ;;
    esac
}

# psql through a target: target sql...
psql_to() {
    local target=$1 host port user db password
    shift
    read -r host port user db password <<<"$(conn_of "$target")"
    [[ $password == - ]] && password=""
    PGPASSWORD=$password psql -h "$host" -p "$port" -U "$user" -d "$db" -XAtq "$@"
}

# Sanity: every target answers, and the guarded connection does enforce.
for target in $TARGETS; do
    n=$(psql_to "$target" -c 'select count(*) from pgbench_branches' 2>&1) ||
        die "$target does not answer: $n"
    [[ $n == "$SCALE" ]] || die "$target: unexpected answer $n"
done
if [[ " $TARGETS " == *" gatehouse-plugins "* ]]; then
    if denied=$(psql_to gatehouse-plugins -c 'truncate pgbench_history' 2>&1); then
        die "guardrails did not deny TRUNCATE through pg.guarded"
    fi
    log "guardrails on pg.guarded: ${denied#*ERROR:  }"
fi

# ---------------------------------------------------------------- 4. runs
RESULTS=$TMP/results.csv
echo "round,target,clients,mode,tps,latency_avg_ms,p50_us,p99_us,transactions,proxy_cpu_us_per_tx,gatehouse_cpu_split,machine_busy_pct,machine_cpu_us_per_tx,proxy_user_us_per_tx" >"$RESULTS"
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# The whole machine's CPU ticks so far: "busy total". Busy is user, nice,
# system, irq and softirq (every process and the kernel); the total adds
# idle, iowait and steal (time a hypervisor gave to others is not ours).
# guest and guest_nice are left out: they are already counted in user and
# nice. Whether a run was CPU-bound, and what one transaction cost the
# machine, whoever spent it.
machine_ticks() { awk '/^cpu / {b = $2 + $3 + $4 + $7 + $8; print b, b + $5 + $6 + $9; exit}' /proc/stat; }

# CPU time a process has used so far, in clock ticks: "total user" (user +
# system, and user alone). The user part is the proxy's own work (protocol,
# plugins, records); the rest is the kernel's, mostly the sockets' (a
# loopback send runs the receiver's TCP processing and wakes it).
cpu_ticks() { awk '{print $14 + $15, $14}' "/proc/$1/stat" 2>/dev/null || echo 0 0; }

# A gateway's CPU ticks so far by thread kind: "sessions store other"
# (session threads; the store's SQLite threads: its appender and sqlx's
# workers; tokio, epoch ticker, the rest). Threads that ended during a run
# are not counted.
thread_ticks() {
    cat /proc/"$1"/task/*/stat 2>/dev/null | awk '{
        lp = index($0, "("); rp = 0
        for (i = length($0); i > lp; i--) if (substr($0, i, 1) == ")") { rp = i; break }
        name = substr($0, lp + 1, rp - lp - 1)
        split(substr($0, rp + 2), f, " ")
        t = f[12] + f[13]
        if (name ~ /^gatehouse-sess/) s += t; else if (name ~ /sqlite/) d += t; else o += t
    } END { print s + 0, d + 0, o + 0 }'
}

# How many times a process's threads have gone to sleep so far (voluntary
# context switches: waiting in epoll_wait, on a futex ...) and how many
# times they were preempted (involuntary ones: mostly by the process a send
# woke on the same core), as "sleeps preempted". Each sleep costs a wake-up
# later, paid by whoever wakes the thread; pgbouncer's one thread, rarely
# out of work at c=8, sleeps about once per ten transactions.
switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2}
             END {print v + 0, n + 0}'
}

# The process that relays a target's traffic (none for direct).
proxy_pid_of() {
    case $1 in
    gatehouse-base) echo "$BASE_PID" ;;
    gatehouse-*) echo "$GATEHOUSE_PID" ;;
    pgbouncer) echo "$PGBOUNCER_PID" ;;
    *) echo "" ;;
    esac
}

# One pgbench run; appends a CSV line.
bench_one() { # round target clients mode
    local round=$1 target=$2 c=$3 mode=$4 host port user db password
    read -r host port user db password <<<"$(conn_of "$target")"
    [[ $password == - ]] && password=""
    local name=r$round-$target-c$c-$mode
    local prefix=$TMP/pgbench-logs/$name out=$TMP/pgbench-logs/$name.out
    local profiling=0
    if [[ $target == gatehouse-* ]] &&
        [[ ${BENCH_PROFILE:-0} == all || (${BENCH_PROFILE:-0} == 1 && $c -gt 1) ]] &&
        command -v perf >/dev/null; then
        profiling=1
        # shellcheck disable=SC2086 # BENCH_PERF_ARGS is a list of options
        perf record ${BENCH_PERF_ARGS:--g -F 999} -p "$(proxy_pid_of "$target")" -o "$TMP/perf-$name.data" \
            2>"$TMP/perf-$name.log" >/dev/null &
        PERF_PID=$!
        sleep 0.5
    fi
    local rc=0 proxy cpu_before="0 0" cpu_after="0 0" split_before="" split_after="" machine_before machine_after
    local switches_before="0 0" switches_after="0 0"
    proxy=$(proxy_pid_of "$target")
    [[ -n $proxy ]] && cpu_before=$(cpu_ticks "$proxy") && switches_before=$(switches "$proxy")
    [[ -n $proxy && $target == gatehouse-* ]] && split_before=$(thread_ticks "$proxy")
    machine_before=$(machine_ticks)
    PGPASSWORD=$password run_bg pgbench -h "$host" -p "$port" -U "$user" \
        -S -n -T "$SECONDS_PER_RUN" -c "$c" -j "$c" -M "$mode" \
        -l --log-prefix="$prefix" "$db" >"$out" 2>&1 || rc=$?
    [[ -n $proxy ]] && cpu_after=$(cpu_ticks "$proxy") && switches_after=$(switches "$proxy")
    [[ -n $split_before ]] && split_after=$(thread_ticks "$proxy")
    machine_after=$(machine_ticks)
    if [[ $profiling == 1 ]]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=""
        log "perf data: $TMP/perf-$name.data"
    fi
    local tps lat p50 p99 n cpu="" user="" split="" slept="" preempted=""
    if [[ $rc != 0 ]]; then
        log "pgbench failed for $name (exit $rc):"
        tail -n 5 "$out" >&2
        echo "$round,$target,$c,$mode,,,,,,,,,," >>"$RESULTS"
        rm -f "$prefix".*[0-9]
        return
    fi
    tps=$(awk '/^tps = / {print $3; exit}' "$out")
    lat=$(awk '/^latency average = / {print $4; exit}' "$out")
    # Per-transaction log: client_id tx_no latency_us script_no epoch epoch_us
    read -r p50 p99 n < <(cat "$prefix".[0-9]* 2>/dev/null |
        awk '$3 ~ /^[0-9]+$/ {print $3}' | sort -n |
        awk '{v[NR] = $1}
             END {
                 if (NR == 0) { print "- - 0"; exit }
                 i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
                 i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
                 print v[i50], v[i99], NR
             }')
    rm -f "$prefix".[0-9]*
    # The relaying process's CPU per transaction: how much of the machine
    # the proxy itself costs, less sensitive to other load than TPS.
    if [[ -n $proxy && $n -gt 0 ]]; then
        read -r cpu user < <(awk -v b="$cpu_before" -v a="$cpu_after" -v hz="$CLK_TCK" -v n="$n" 'BEGIN {
            split(b, x, " "); split(a, y, " ")
            printf "%.1f %.1f\n", (y[1] - x[1]) * 1e6 / hz / n, (y[2] - x[2]) * 1e6 / hz / n
        }')
        read -r slept preempted < <(awk -v b="$switches_before" -v a="$switches_after" -v n="$n" 'BEGIN {
            split(b, x, " "); split(a, y, " ")
            printf "%.2f %.2f\n", (y[1] - x[1]) / n, (y[2] - x[2]) / n
        }')
    fi
    # The gateway's CPU per transaction by thread kind (sessions / store /
    # other), to see where a change moved it without a profiler.
    if [[ -n $split_after && $n -gt 0 ]]; then
        split=$(awk -v b="$split_before" -v a="$split_after" -v hz="$CLK_TCK" -v n="$n" 'BEGIN {
            split(b, x, " "); split(a, y, " ")
            printf "%.1f/%.1f/%.1f", (y[1] - x[1]) * 1e6 / hz / n, (y[2] - x[2]) * 1e6 / hz / n,
                (y[3] - x[3]) * 1e6 / hz / n
        }')
    fi
    # The machine: how busy it was (100 = every core), and its CPU time per
    # transaction (pgbench, PostgreSQL, the proxy and the kernel together).
    local busy machine
    read -r busy machine < <(awk -v b="$machine_before" -v a="$machine_after" -v hz="$CLK_TCK" -v n="$n" 'BEGIN {
        split(b, x, " "); split(a, y, " "); total = y[2] - x[2]
        if (total <= 0 || n <= 0) { print "- -"; exit }
        printf "%.0f %.1f\n", (y[1] - x[1]) * 100 / total, (y[1] - x[1]) * 1e6 / hz / n
    }')
    echo "$round,$target,$c,$mode,$tps,$lat,$p50,$p99,$n,$cpu,$split,$busy,$machine,$user" >>"$RESULTS"
    printf '[bench] %-18s c=%-2s %-9s %8.0f tps  avg %6s ms  p50 %5s us  p99 %5s us  proxy cpu %5s us/tx (user %4s)  sleeps %4s/tx  preempted %4s/tx  machine %3s%% busy %5s us/tx%s\n' \
        "$target" "$c" "$mode" "$tps" "$lat" "$p50" "$p99" "${cpu:--}" "${user:--}" "${slept:--}" "${preempted:--}" "$busy" "$machine" \
        "${split:+  (sessions/store/other $split)}" >&9
}

n_runs=0
for _ in $(seq "$ROUNDS"); do for _ in $CLIENTS; do for _ in $MODES; do for _ in $TARGETS; do
    n_runs=$((n_runs + 1))
done; done; done; done
log "$n_runs runs of ${SECONDS_PER_RUN}s (~$((n_runs * (SECONDS_PER_RUN + 1)))s); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
read -ra TARGET_LIST <<<"$TARGETS"
for round in $(seq "$ROUNDS"); do
    # Each round starts with the next target: the first run after a change
    # of client count or mode has come out slower, whichever target it was
    # (c=1 p50 +11 and +36 us in one run), so no target keeps that place.
    first=$(((round - 1) % ${#TARGET_LIST[@]}))
    ordered=("${TARGET_LIST[@]:first}" "${TARGET_LIST[@]:0:first}")
    for c in $CLIENTS; do
        for mode in $MODES; do
            for target in "${ordered[@]}"; do
                bench_one "$round" "$target" "$c" "$mode"
            done
        done
    done
done

# ---------------------------------------------------------------- 5. report
report "$RESULTS" && report_rc=0 || report_rc=$?

if [[ -n ${BENCH_OUT:-} ]]; then
    cp "$RESULTS" "$BENCH_OUT"
    log "results: $BENCH_OUT"
fi
echo
echo "Absolute numbers depend on the machine and its load; compare the ratios."
if [[ $report_rc == 3 && ${BENCH_STRICT:-0} == 1 ]]; then
    exit 1
fi
[[ $report_rc == 0 || $report_rc == 3 ]] || die "report failed"
exit 0
