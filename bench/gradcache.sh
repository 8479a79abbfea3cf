#!/usr/bin/env bash
# Peak memory of a training step with and without gradient caching
# (BenchmarkGradCache): one process per case, since a process's peak RSS
# never goes down.
#
#   bench/gradcache.sh [CASE...]   # default: MLP/B=1024 MLP/B=4096 ConvNet/B=1024 ConvNet/B=4096
set -euo pipefail
cd "$(dirname "$0")"
bin=$(mktemp -d)/bench.test
go test -c -o "$bin" .
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(MLP/B=1024 MLP/B=4096 ConvNet/B=1024 ConvNet/B=4096)
for b in "${sizes[@]}"; do
	for c in 0 256; do
		"$bin" -test.run '^$' -test.bench "GradCache/$b/chunk=$c\$" -test.benchtime 2x | grep '^Benchmark'
	done
done
