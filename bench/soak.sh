#!/usr/bin/env bash
# A bounded soak: a fresh server (SQLite by default) under a mix of scenarios at once for a
# few minutes, on loopback only, with the server's resident memory sampled every few seconds.
# It fails if any request failed or if memory kept growing: the mean of the last quarter of
# the samples must stay within GROWTH_LIMIT_PCT of the mean of the second quarter (the first
# quarter is warm-up: pools, caches and allocator arenas filling).
#
#   bench/soak.sh                          # 180 s, SQLite
#   SOAK_SECS=600 BACKEND=postgres bench/soak.sh
#   BIN=target/release/clave BENCH=target/release/clave-bench bench/soak.sh   # no build
#
# It writes bench/results/soak-<backend>.csv (seconds, RSS KiB) and soak-<backend>.json (each
# scenario's results) and prints a summary.
set -euo pipefail

cd "$(dirname "$0")/.."
SOAK_SECS="${SOAK_SECS:-180}"
BACKEND="${BACKEND:-sqlite}"
SAMPLE_SECS="${SAMPLE_SECS:-5}"
GROWTH_LIMIT_PCT="${GROWTH_LIMIT_PCT:-10}"
SCENARIOS="${SCENARIOS:-client-credentials refresh userinfo introspect wallet-read login}"
CONCURRENCY="${CONCURRENCY:-4}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PORT="${PORT:-18090}"
OUT="bench/results"
mkdir -p "$OUT"

if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p clave -p clave-bench
  BIN=target/release/clave
  BENCH=target/release/clave-bench
fi
BENCH="${BENCH:-target/release/clave-bench}"

work="$(mktemp -d)"
export CLAVE_DATA_DIR="$work/data"
export CLAVE_SERVER__LISTEN="127.0.0.1:$PORT"
export CLAVE_SERVER__PUBLIC_URL="http://127.0.0.1:$PORT"
# The bench's seeded and fetched tokens must outlive the soak.
export CLAVE_TOKENS__ACCESS_TOKEN_TTL_SECS=$((SOAK_SECS + 600))
unset CLAVE_DATABASE__URL
if [ "$BACKEND" = postgres ]; then
  psql "$PG_ADMIN_URL" -qc 'DROP DATABASE IF EXISTS clave_soak' -c 'CREATE DATABASE clave_soak'
  export CLAVE_DATABASE__URL="${PG_ADMIN_URL%/*}/clave_soak"
fi
"$BIN" migrate >/dev/null
"$BENCH" seed --citizens 1000 --clients 4 --out "$work/setup.json"
"$BIN" serve >"$work/server.log" 2>&1 &
server=$!
pids=()
cleanup() {
  kill "${pids[@]}" "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

# Every scenario at once, each with its own workers, for the whole soak.
for scenario in $SCENARIOS; do
  "$BENCH" run --url "http://127.0.0.1:$PORT" --setup "$work/setup.json" \
    --scenarios "$scenario" --duration "$SOAK_SECS" --warmup 0 \
    --concurrency "$CONCURRENCY" --pid "$server" --label "soak $scenario" \
    --json "$work/$scenario.json" --markdown "$work/$scenario.md" \
    >"$work/$scenario.log" 2>&1 &
  pids+=($!)
done

csv="$OUT/soak-$BACKEND.csv"
echo "seconds,rss_kib" >"$csv"
start=$(date +%s)
while :; do
  now=$(( $(date +%s) - start ))
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
  echo "$now,$rss" >>"$csv"
  [ "$now" -ge "$SOAK_SECS" ] && break
  sleep "$SAMPLE_SECS"
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
pids=()

python3 - "$work" "$csv" "$OUT/soak-$BACKEND.json" "$GROWTH_LIMIT_PCT" $SCENARIOS <<'PY'
import csv, json, sys
work, csv_path, out, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
scenarios = sys.argv[5:]
results, failures = [], []
for name in scenarios:
    with open(f"{work}/{name}.json") as f:
        for r in json.load(f)["results"]:
            results.append(r)
            errors = sum(r["errors"].values())
            print(f"{r['scenario']:>20}: {r['ok']:>8} ok, {errors} errors, "
                  f"{r['requests_per_sec']:.0f} req/s, p99 {r['p99_ms']:.1f} ms")
            if errors:
                failures.append(f"{r['scenario']}: {r['errors']}")
json.dump(results, open(out, "w"), indent=2)
rows = [(int(s), int(k)) for s, k in list(csv.reader(open(csv_path)))[1:]]
n = len(rows)
quarter = max(n // 4, 1)
second = [k for _, k in rows[quarter:2 * quarter]]
last = [k for _, k in rows[n - quarter:]]
mean = lambda xs: sum(xs) / len(xs)
growth = (mean(last) - mean(second)) / mean(second) * 100
print(f"RSS samples: {n}; first {rows[0][1] // 1024} MiB, peak {max(k for _, k in rows) // 1024} MiB, "
      f"last {rows[-1][1] // 1024} MiB; second-quarter mean {mean(second) / 1024:.1f} MiB, "
      f"last-quarter mean {mean(last) / 1024:.1f} MiB ({growth:+.1f} %)")
if growth > limit:
    failures.append(f"memory grew {growth:.1f} % (limit {limit} %)")
if failures:
    print("SOAK FAILED: " + "; ".join(failures))
    sys.exit(1)
print("soak passed: no errors, no growth trend")
PY
exit $status
