#!/usr/bin/env bash
# make bench: every measurement of speed and cost, written to bench-results/.
#
#   1. Go benchmarks of the hot path and the stores (-benchmem).
#   2. Cold start of every function through the Lambda Runtime API.
#   3. The load generator against the emulator as `make run` ships it
#      (pushes through the management API over HTTP) and in its fast mode
#      (-direct-push): the server pinned to one core with GOMAXPROCS=1, the
#      load generator on another, as the alternatives were measured.
#   4. Store requests, capacity units and pushes per message, priced
#      (against DynamoDB Local).
#
# BENCHTIME, LOAD_SIZES, LOAD_DIRECT_SIZES, LOAD_SECONDS, LOAD_MODES and SKIP
# (a list of steps to leave out: go, coldstart, load, cost) tune it.
set -euo pipefail
GO=${GO:-go}
out=${BENCH_OUT:-bench-results}
BENCHTIME=${BENCHTIME:-1s}
LOAD_SIZES=${LOAD_SIZES:-10,100,500,1000}
LOAD_DIRECT_SIZES=${LOAD_DIRECT_SIZES:-$LOAD_SIZES}
LOAD_SECONDS=${LOAD_SECONDS:-5}
LOAD_MODES=${LOAD_MODES:-management-api direct-push}
SKIP=${SKIP:-}
mkdir -p "$out"
skip() { [[ " $SKIP " == *" $1 "* ]]; }

if ! skip go; then
  echo "==== Go benchmarks ($BENCHTIME each) -> $out/go-bench.txt"
  $GO test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" \
    ./internal/chat/ ./internal/wsapi/ ./internal/store/... | tee "$out/go-bench.txt"
  # One core, as the load runs' server has: what one post costs.
  GOMAXPROCS=1 $GO test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" ./internal/push/ | tee -a "$out/go-bench.txt"
fi

if ! skip coldstart; then
  echo "==== cold starts -> $out/coldstart.txt"
  COLDSTART=1 $GO test -count=1 -run TestColdStart -v ./internal/lambdatest/ | tee "$out/coldstart.txt"
fi

if ! skip load; then
  tmp=$(mktemp -d)
  server=
  trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
  $GO build -o "$tmp/emulator" ./infra/emulator
  $GO build -o "$tmp/loadgen" ./infra/loadgen
  server_cpu=() loadgen_cpu=()
  if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    server_cpu=(taskset -c 1) loadgen_cpu=(taskset -c 0)
  else
    echo "taskset or a second core is missing: server and load generator share the machine" >&2
  fi
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  for mode in $LOAD_MODES; do
    flags=() sizes=$LOAD_SIZES
    if [ "$mode" = direct-push ]; then flags=(-direct-push) sizes=$LOAD_DIRECT_SIZES; fi
    port=$(free_port)
    rm -rf "$tmp/data"
    # The store lives on disk, as under make run: every append is fsynced.
    GOMAXPROCS=1 "${server_cpu[@]}" "$tmp/emulator" -host 127.0.0.1 -port "$port" -data "$tmp/data" \
      -send-limit 0 "${flags[@]}" 2>"$out/server-$mode.log" &
    server=$!
    for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/config.json" >/dev/null 2>&1 && break; sleep 0.2; done
    echo "==== load, $mode, rooms of $sizes -> $out/load-$mode.{txt,json}"
    "${loadgen_cpu[@]}" "$tmp/loadgen" -url "http://127.0.0.1:$port" -sizes "$sizes" \
      -rate-duration "${LOAD_SECONDS}s" -flat-duration "${LOAD_SECONDS}s" -json "$out/load-$mode.json" \
      | tee "$out/load-$mode.txt"
    kill "$server"; wait "$server" 2>/dev/null || true
    server=
  done
fi

if ! skip cost; then
  echo "==== cost per message -> $out/cost.txt"
  $GO run ./infra/costmodel | tee "$out/cost.txt"
fi
