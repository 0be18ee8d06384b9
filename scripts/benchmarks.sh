#!/usr/bin/env bash
# Regenerates the tables of BENCHMARKS.md. Every comparison is an ordinary Go benchmark with two
# sub-benchmarks, impl=sdk and impl=base; this script runs all of them once a round, ROUNDS rounds,
# with the SDK first in odd rounds and the baseline first in even ones, so that each round's ratio
# compares two measurements taken moments apart. TestBenchmarks then writes the medians of the
# per-round ratios into BENCHMARKS.md; benchstat, when it can be fetched, adds its own summary.
# About 7 minutes on 2 cores.
#
#   scripts/benchmarks.sh                 # every table
#   ROUNDS=5 BENCHTIME=50ms scripts/benchmarks.sh   # a quick look (the figures are noisier)
#   BENCH=Sign scripts/benchmarks.sh        # only some benchmarks: prints their rounds, writes nothing
#
# The raw rounds stay in $OUT (default: a new temporary directory) for benchstat or a second look.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-21}
benchtime=${BENCHTIME:-150ms}
# The comparisons: every benchmark with sub-benchmarks impl=sdk and impl=base (TestBenchmarks fails
# on a row whose benchmark did not run).
all='^Benchmark(Sign|RequestBody|DecodePage|TemplatesList|RecordsList|PushHandler|Import|Download|RecordSync)$'
bench=${BENCH:-$all}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain -- '*.go' go.mod go.sum 2>/dev/null) ]]; then
  rev+=" with uncommitted changes"
fi

started=$(date -u '+%Y-%m-%d %H:%M UTC')
go test -c -o "$out/digelao.test" .
: >"$out/rounds.txt"
: >"$out/loads.txt"
for ((r = 1; r <= rounds; r++)); do
  cut -d' ' -f1 /proc/loadavg >>"$out/loads.txt" 2>/dev/null || true
  first=""
  ((r % 2 == 0)) && first=1
  echo "round $r of $rounds" >&2
  DIGELAO_BENCH_BASE_FIRST=$first "$out/digelao.test" -test.run='^$' -test.bench="$bench" \
    -test.benchtime="$benchtime" -test.count=1 -test.timeout=10m >>"$out/rounds.txt"
done
echo "rounds: $out/rounds.txt" >&2
if [[ $bench != "$all" ]]; then
  grep '^Benchmark' "$out/rounds.txt"
  exit 0
fi

# benchstat's view of the same rounds: each candidate's median with its confidence interval, and
# the SDK against the baseline without pairing rounds. Optional: the tables do not need it.
if go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -col /impl \
  "$out/rounds.txt" >"$out/benchstat.txt" 2>"$out/benchstat.err"; then
  echo "benchstat: $out/benchstat.txt" >&2
else
  echo "benchstat not available ($(head -1 "$out/benchstat.err")); its block is left as it was" >&2
  rm -f "$out/benchstat.txt"
fi

DIGELAO_BENCH_RESULTS="$out/rounds.txt" DIGELAO_BENCH_LOADS="$out/loads.txt" \
  DIGELAO_BENCH_BENCHSTAT="$out/benchstat.txt" DIGELAO_BENCH_MD="$PWD/BENCHMARKS.md" \
  DIGELAO_BENCH_REV="$rev" DIGELAO_BENCH_TIME="$benchtime" DIGELAO_BENCH_STARTED="$started" \
  go test -count=1 -run='^TestBenchmarks$' .
