#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, one after the other, on its corpus
# (fuzz/corpus/<target>, grown by earlier runs) and its hand-made seeds (fuzz/seeds/<target>).
# Not part of CI: run it by hand or on a schedule.
#
#   fuzz/run.sh                 # every target, 120 seconds each
#   FUZZ_SECONDS=600 fuzz/run.sh token_request jws_input
#
# Needs a nightly toolchain (rustup toolchain install nightly) and cargo-fuzz
# (cargo install cargo-fuzz). A crash stops the run and leaves the input in
# fuzz/artifacts/<target>/; reproduce it with `cargo +nightly fuzz run <target> <file>`, then
# turn it into a regression test beside the code it broke. After a run, `cargo +nightly fuzz
# cmin <target>` keeps the corpus small; the corpora of the slow targets (those that go through
# the whole server) are committed, those of the fast ones regrow in seconds and are not.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-120}
# Safe Rust needs no AddressSanitizer to find panics; set FUZZ_SANITIZER=address to add it.
sanitizer=${FUZZ_SANITIZER:-none}
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

cargo +nightly fuzz build --sanitizer "$sanitizer"
mkdir -p logs
failed=()
for target in "${targets[@]}"; do
  printf '\n==> %s for %s seconds\n' "$target" "$seconds"
  mkdir -p "corpus/$target"
  # -rss_limit_mb: the server's pools and caches are a fixed cost; a leak still shows.
  if ! cargo +nightly fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    >"logs/$target.log" 2>&1; then
    failed+=("$target")
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|panicked at|^SUMMARY' "logs/$target.log" || true
done
if [ ${#failed[@]} -gt 0 ]; then
  printf '\nfindings (inputs in fuzz/artifacts/, logs in fuzz/logs/): %s\n' "${failed[*]}"
  exit 1
fi
printf '\nno findings\n'
