#!/usr/bin/env bash
# Regenerates every table of BENCHMARKS.md with the interleaved method (internal/benchkit): the SDK
# and its baselines alternate in rounds, and each table gives medians with quartiles. About two
# minutes on a 2-core machine; keep the machine otherwise idle if you can.
#
#   scripts/benchmarks.sh                                  # every table, and the targets summary
#   scripts/benchmarks.sh -run 'TestBenchmarks/roundtrip'  # one table (sign, roundtrip, push, import, page, download, sync)
#
# Extra arguments go to `go test`; a later -run replaces the one below.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=$(git rev-parse --short HEAD)
if [[ -n $(git status --porcelain -- '*.go' go.mod go.sum) ]]; then
  rev+=" with uncommitted changes"
fi
DIGELAO_BENCH=1 DIGELAO_BENCH_MD=BENCHMARKS.md DIGELAO_BENCH_REV="$rev" \
  go test -count=1 -timeout=20m -v -run='^TestBenchmarks$' "$@" .
