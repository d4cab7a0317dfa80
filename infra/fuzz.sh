#!/usr/bin/env bash
# Runs every Go fuzz target of the repository, one after another, for
# $FUZZTIME each (default 10s; anything -fuzztime takes, e.g. 30s or 5000x),
# and stops at the first failure. Targets are found with
# `go test -list '^Fuzz' ./...`, so a new FuzzXxx is picked up by itself.
#
#   infra/fuzz.sh                      # every target, 10s each
#   FUZZTIME=1m infra/fuzz.sh          # longer
#   infra/fuzz.sh ./internal/chat/...  # only these packages
#
# Environment: FUZZTIME, GO (default go), FUZZPARALLEL (workers per target;
# default GOMAXPROCS), FUZZMINIMIZETIME (how long go test may spend
# shrinking an input; default 5s, so that large seeds do not eat a short
# run). A failing input is written by `go test` under the
# package's testdata/fuzz/<Target>/, where it stays as a regression case
# that the ordinary tests run; the script prints its path.
set -euo pipefail

cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
pkgs=("$@")
[[ ${#pkgs[@]} -gt 0 ]] || pkgs=(./...)

flags=(-fuzzminimizetime "${FUZZMINIMIZETIME:-5s}")
[[ -n ${FUZZPARALLEL:-} ]] && flags+=(-parallel "$FUZZPARALLEL")

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# `go test -list` prints a package's matching names, then a line
# "ok  <package> <time>" (or "?  <package> [no test files]").
if ! "$GO" test -list '^Fuzz' "${pkgs[@]}" >"$log" 2>&1; then
	cat "$log" >&2
	echo "fuzz: listing the fuzz targets failed" >&2
	exit 1
fi
targets=()
names=()
while IFS= read -r line; do
	case $line in
	Fuzz*) names+=("$line") ;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for n in "${names[@]}"; do targets+=("$pkg $n"); done
		names=()
		;;
	*) names=() ;;
	esac
done <"$log"

if [[ ${#targets[@]} -eq 0 ]]; then
	echo "fuzz: no fuzz targets found in ${pkgs[*]}" >&2
	exit 1
fi
echo "fuzz: ${#targets[@]} targets, $FUZZTIME each"

start=$SECONDS
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	t0=$SECONDS
	run() { "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "${flags[@]}" "$pkg" >"$log" 2>&1; }
	ok=0
	run && ok=1
	# Go 1.26's fuzzing coordinator can report its own -fuzztime deadline
	# as a failure (golang/go#75804, fixed in Go 1.27): a bare "context
	# deadline exceeded" with no failing input written. A real finding
	# always writes one. Such a run is tried once more, and a second bare
	# deadline is reported but not failed: the seed corpora, the
	# deterministic part, already ran as ordinary tests.
	bare_deadline() { grep -q 'context deadline exceeded' "$log" && ! grep -qE 'Failing input written|panic:' "$log"; }
	if [[ $ok -eq 0 ]] && bare_deadline; then
		echo "fuzz: $name stopped on the engine's own deadline (golang/go#75804); running it again"
		run && ok=1
		if [[ $ok -eq 0 ]] && bare_deadline; then
			echo "fuzz: $name hit the engine's deadline race twice; no input failed, counted as passed"
			ok=1
		fi
	fi
	if [[ $ok -eq 1 ]]; then
		# The last progress line, "fuzz: elapsed: 10s, execs: 1234 (123/sec),
		# new interesting: 5 (total: 60)", without the elapsed time and rate.
		stats=$(grep -E '^fuzz: elapsed' "$log" | tail -n 1 | sed -E 's|^fuzz: elapsed: [^,]*, ||; s| \([0-9]+/sec\)||' || true)
		printf 'ok    %-50s %-28s %4ds  %s\n' "$pkg" "$name" $((SECONDS - t0)) "${stats:-}"
	else
		printf 'FAIL  %-50s %-28s %4ds\n' "$pkg" "$name" $((SECONDS - t0))
		cat "$log"
		dir=$("$GO" list -f '{{.Dir}}' "$pkg" 2>/dev/null || true)
		if input=$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | tail -n 1) && [[ -n $input ]]; then
			echo "fuzz: failing input: ${dir:+$dir/}$input"
			echo "fuzz: replay it with: $GO test -run '^${name}\$/$(basename "$input")\$' $pkg"
		fi
		exit 1
	fi
done
echo "fuzz: all ${#targets[@]} targets passed in $((SECONDS - start))s"
