#!/usr/bin/env bash
# Builds clave and clave-bench in release mode, then for SQLite and for PostgreSQL: starts a
# fresh server, seeds it, runs every scenario for a bounded time, and writes the results
# (JSON and a Markdown table) under bench/results/.
#
#   bench/run.sh                       # 1,000 citizens, 10 s per scenario, 32 workers
#   CITIZENS=1000000 DURATION=20 bench/run.sh
#   BACKENDS=sqlite bench/run.sh       # one backend only
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
OUT="bench/results"
mkdir -p "$OUT"

cargo build --release --locked -p clave -p clave-bench
BIN=target/release

for backend in $BACKENDS; do
  work="$(mktemp -d)"
  export CLAVE_DATA_DIR="$work/data"
  export CLAVE_SERVER__LISTEN="127.0.0.1:$PORT"
  export CLAVE_SERVER__PUBLIC_URL="http://127.0.0.1:$PORT"
  unset CLAVE_DATABASE__URL
  if [ "$backend" = postgres ]; then
    psql "$PG_ADMIN_URL" -qc 'DROP DATABASE IF EXISTS clave_bench' -c 'CREATE DATABASE clave_bench'
    export CLAVE_DATABASE__URL="${PG_ADMIN_URL%/*}/clave_bench"
  fi
  "$BIN/clave" migrate >/dev/null
  "$BIN/clave-bench" seed --citizens "$CITIZENS" --clients "$CLIENTS" --out "$work/setup.json"
  "$BIN/clave" serve >"$work/server.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  base_rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
  echo "[$backend] server pid $server, base RSS $((base_rss / 1024)) MiB"
  "$BIN/clave-bench" run --url "http://127.0.0.1:$PORT" --setup "$work/setup.json" \
    --scenarios "$SCENARIOS" --duration "$DURATION" --warmup "$WARMUP" \
    --concurrency "$CONCURRENCY" --pid "$server" --label "$backend, $CITIZENS citizens" \
    --json "$OUT/$backend.json" --markdown "$OUT/$backend.md"
  echo "base RSS after start: $((base_rss / 1024)) MiB" >>"$OUT/$backend.md"
  kill "$server"
  wait "$server" 2>/dev/null || true
  trap - EXIT
  rm -rf "$work"
done
echo "results in $OUT/"
