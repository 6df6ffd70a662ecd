#!/usr/bin/env bash
# Side-by-side load test: seedcast-signal and bittorrent-tracker's Node server, one after the other, under
# the same signal-loadgen run; prints a comparison table. About 3 minutes with the defaults.
#   PEERS=19500 STEADY_LOW_RATE=200 STEADY_LOW_SECS=15 STEADY_RATE=1000 STEADY_SECS=10 BURST_RATE=3000 BURST_SECS=5 \
#     tests/signaling/bench.sh
# Three phases: steady-low (2,000 relayed msg/s), steady-high (10,000/s), burst (30,000/s offered).
# RESULTS=FILE also appends both servers' JSON results to FILE (one line each), e.g. to take medians of runs.
# SIGNAL_ARGS adds flags to seedcast-signal's command line (e.g. SIGNAL_ARGS="--threads 1").
set -euo pipefail
cd "$(dirname "$0")/../.."

PEERS=${PEERS:-19500}
STEADY_LOW_RATE=${STEADY_LOW_RATE:-200}   # announces/s; 0 skips the phase
STEADY_LOW_SECS=${STEADY_LOW_SECS:-15}
STEADY_RATE=${STEADY_RATE:-1000}   # announces/s, each relaying 5 offers and 5 answers
STEADY_SECS=${STEADY_SECS:-10}
BURST_RATE=${BURST_RATE:-3000}
BURST_SECS=${BURST_SECS:-5}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

cargo build --release -p seedcast-signal --bins
BIN=$TARGET_DIR/release
results=$(mktemp)
trap 'rm -f "$results"; [[ -n "${server_pid:-}" ]] && kill "$server_pid" 2>/dev/null || true' EXIT

# Starts "$@" in the background, waits for it to print its port (matched by $pattern), sets server_pid/port.
start_server() {
  local pattern=$1; shift
  local log; log=$(mktemp)
  "$@" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    port=$(grep -oE "$pattern" "$log" | grep -oE '[0-9]+$' | head -1 || true)
    [[ -n "$port" ]] && return 0
    sleep 0.1
  done
  echo "server did not start: $(cat "$log")" >&2
  exit 1
}

run_load() {
  local label=$1
  "$BIN/signal-loadgen" --url "ws://127.0.0.1:$port/announce" --peers "$PEERS" \
    --steady-low-rate "$STEADY_LOW_RATE" --steady-low-secs "$STEADY_LOW_SECS" --steady-rate "$STEADY_RATE" --steady-secs "$STEADY_SECS" --burst-rate "$BURST_RATE" --burst-secs "$BURST_SECS" \
    --server-pid "$server_pid" --label "$label" --json | tee -a /dev/stderr | grep '^RESULT ' | cut -c8- >>"$results"
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=
  sleep 2 # let the kernel reap the closed sockets before the next server
}

# shellcheck disable=SC2086 # SIGNAL_ARGS is a list of extra flags for seedcast-signal, e.g. "--threads 1"
start_server 'open http://127.0.0.1:[0-9]+' "$BIN/seedcast-signal" --listen 127.0.0.1:0 --www /nonexistent --log warn ${SIGNAL_ARGS:-}
run_load seedcast-signal

start_server 'listening [0-9]+' node tests/signaling/bittorrent-tracker-server.mjs 0
run_load bittorrent-tracker

node tests/signaling/bench-table.mjs "$results"
if [[ -n "${RESULTS:-}" ]]; then cat "$results" >>"$RESULTS"; fi
