#!/usr/bin/env bash
# Runs `go test -v` with the given arguments and prints one line per
# top-level test, the package summaries and anything that went wrong, so a
# skipped suite shows and a long run stays readable. The full output is
# kept in .test-output.log; on failure every data race, panic and failing
# test's lines are printed from it too.
set -uo pipefail
log=.test-output.log
go test -v "$@" 2>&1 | tee "$log" | grep --line-buffered -E \
  '^(--- |ok |FAIL|PASS$|panic:)|^\s+--- (FAIL|SKIP)|^\s+\S+\.go:[0-9]+:|level=(WARN|ERROR)|"level":"(WARN|ERROR)"|DynamoDB Local is ready|WARNING: DATA RACE'
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  echo
  echo "==== failures (full output in $log) ===="
  grep -n -E -A40 'WARNING: DATA RACE|^panic:|^\s*--- FAIL' "$log" | head -400
fi
exit "$status"
