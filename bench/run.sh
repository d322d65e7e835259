#!/usr/bin/env bash
# Builds clave and clave-bench in release mode, then for SQLite and for PostgreSQL: starts a
# fresh server, seeds it, runs every scenario for a bounded time, and writes the results
# (JSON and a Markdown table) under bench/results/.
#
#   bench/run.sh                       # 1,000 citizens, 10 s per scenario, 32 workers
#   CITIZENS=1000000 DURATION=20 bench/run.sh
#   BACKENDS=sqlite bench/run.sh       # one backend only
#   BIN=/tmp/before BENCH=target/release/clave-bench bench/run.sh
#                                      # an earlier server build, driven by this clave-bench
#   SESSIONS=100000 bench/run.sh       # with 100,000 active sessions in the database
#   ARGON2_MEMORY_KIB=7168 ARGON2_ITERATIONS=5 SCENARIOS=login bench/run.sh
#                                      # Keycloak's hash settings instead of clave's defaults
#   PACED=0.8 bench/run.sh             # each scenario again at 80 % of its peak, steady rate
#
# PostgreSQL: PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres) must allow
# creating and dropping the database `clave_bench`.
set -euo pipefail

cd "$(dirname "$0")/.."
CITIZENS="${CITIZENS:-1000}"
CLIENTS="${CLIENTS:-4}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CONCURRENCY="${CONCURRENCY:-32}"
SCENARIOS="${SCENARIOS:-all}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PORT="${PORT:-18080}"
SESSIONS="${SESSIONS:-0}"
PACED="${PACED:-}"
OUT="${OUT:-bench/results}"
mkdir -p "$OUT"

# BIN names other binaries to measure (an earlier build, for before/after numbers).
BIN="${BIN:-target/release}"
if [ "$BIN" = target/release ]; then
  cargo build --release --locked -p clave -p clave-bench
fi
BENCH="${BENCH:-$BIN/clave-bench}"
if [ -n "${ARGON2_MEMORY_KIB:-}" ]; then export CLAVE_PASSWORDS__ARGON2_MEMORY_KIB="$ARGON2_MEMORY_KIB"; fi
if [ -n "${ARGON2_ITERATIONS:-}" ]; then export CLAVE_PASSWORDS__ARGON2_ITERATIONS="$ARGON2_ITERATIONS"; fi
machine="$(nproc) vCPU, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"

for backend in $BACKENDS; do
  work="$(mktemp -d)"
  export CLAVE_DATA_DIR="$work/data"
  export CLAVE_SERVER__LISTEN="127.0.0.1:$PORT"
  export CLAVE_SERVER__PUBLIC_URL="http://127.0.0.1:$PORT"
  unset CLAVE_DATABASE__URL
  stats=()
  if [ -n "$PACED" ]; then stats+=(--paced "$PACED"); fi
  if [ "$backend" = postgres ]; then
    psql "$PG_ADMIN_URL" -qc 'DROP DATABASE IF EXISTS clave_bench' -c 'CREATE DATABASE clave_bench'
    export CLAVE_DATABASE__URL="${PG_ADMIN_URL%/*}/clave_bench"
    stats+=(--db-stats "$CLAVE_DATABASE__URL")
  fi
  "$BIN/clave" migrate >/dev/null
  "$BENCH" seed --citizens "$CITIZENS" --clients "$CLIENTS" --sessions "$SESSIONS" \
    --out "$work/setup.json"
  "$BIN/clave" serve >"$work/server.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  base_rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
  echo "[$backend] server pid $server, base RSS $((base_rss / 1024)) MiB"
  "$BENCH" run --url "http://127.0.0.1:$PORT" --setup "$work/setup.json" \
    --scenarios "$SCENARIOS" --duration "$DURATION" --warmup "$WARMUP" \
    --concurrency "$CONCURRENCY" --pid "$server" "${stats[@]}" \
    --label "$backend, $CITIZENS citizens, $SESSIONS seeded sessions; $machine" \
    --json "$OUT/$backend.json" --markdown "$OUT/$backend.md"
  echo "base RSS after start: $((base_rss / 1024)) MiB" >>"$OUT/$backend.md"
  kill "$server"
  wait "$server" 2>/dev/null || true
  trap - EXIT
  rm -rf "$work"
done
echo "results in $OUT/"
