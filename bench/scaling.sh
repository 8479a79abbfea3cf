#!/usr/bin/env bash
# Scaling table: training steps/s and images/s against the number of
# workers, for the MLP and the ConvNet (B = 100, batch-hard triplet loss),
# Embed of 10,000 images, and the retrieval evaluation of 10,000 queries
# against 60,000 references. Runs on any machine with Go.
#
#   bench/scaling.sh [ROUNDS]            # workers 1..nproc, 5 rounds
#   CONTRASTIVE_WORKERS=1,2,4,8,16 bench/scaling.sh 3
#   BENCH_BIN=/path/bench.test bench/scaling.sh   # a test binary built
#                                        # elsewhere with go test -c ./bench
#
# Every round runs each benchmark once per worker count, the worker counts
# interleaved, so that a change in the machine's other load hits them all
# alike; the table gives medians over the rounds and the speedup of each
# worker count over 1 worker (the median over rounds of that round's time
# with 1 worker over its time with W). CalibrateWorkers is plain
# arithmetic split over W goroutines: its speedup is how many cores the
# machine really gave the process (on a shared machine, fewer than it has),
# the ceiling for the other rows. cpu-ms/op is the process's CPU time per
# operation: when it stays flat as workers grow, the parallel version adds
# no work and any shortfall in speedup comes from cores that were not free
# (or memory bandwidth), not from the code.
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-5}
workers=${CONTRASTIVE_WORKERS:-$(seq -s, 1 "$(getconf _NPROCESSORS_ONLN)")}
bin=${BENCH_BIN:-}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/bench.test
	go test -c -o "$bin" .
fi
out=$(mktemp)
# name:benchtime
benches="CalibrateWorkers/:3x TrainStepWorkers/MLP/:20x TrainStepWorkers/ConvNet/:10x EmbedWorkers/MLP/:2x EmbedWorkers/ConvNet/:1x EvaluateWorkers/:1x"
for r in $(seq "$rounds"); do
	for w in ${workers//,/ }; do
		for b in $benches; do
			CONTRASTIVE_WORKERS=$w "$bin" -test.run '^$' -test.bench "${b%%:*}" \
				-test.benchtime "${b##*:}" -test.count 1 | grep '^Benchmark' >>"$out"
		done
	done
	echo "round $r/$rounds done" >&2
done
echo "$(getconf _NPROCESSORS_ONLN) CPUs, $rounds rounds, medians"
awk '
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	name = $1; sub(/-[0-9]+$/, "", name)
	w = name; sub(/.*workers=/, "", w); base = name; sub(/\/workers=[0-9]+$/, "", base)
	if (!(base in seen)) { seen[base] = 1; order[++nb] = base }
	ws[base, w] = 1; if (w + 0 > maxw) maxw = w + 0
	for (i = 3; i < NF; i++) {
		if ($(i + 1) == "ns/op") { ns[base, w] = ns[base, w] " " $i; run[base, w, ++nrun[base, w]] = $i }
		if ($(i + 1) == "cpu-ms/op") cpu[base, w] = cpu[base, w] " " $i
		if ($(i + 1) == "samples/s" || $(i + 1) == "images/s") { tp[base, w] = tp[base, w] " " $i; unit[base] = $(i + 1) }
	}
}
END {
	printf "%-42s %7s %11s %12s %11s %8s\n", "benchmark", "workers", "ms/op", "throughput", "cpu-ms/op", "speedup"
	for (k = 1; k <= nb; k++) {
		b = order[k]
		for (w = 1; w <= maxw; w++) {
			if (!((b, w) in ws)) continue
			t = median(ns[b, w])
			th = ((b, w) in tp) ? sprintf("%.0f %s", median(tp[b, w]), unit[b]) : "-"
			r = ""
			for (k2 = 1; k2 <= nrun[b, w] && k2 <= nrun[b, 1]; k2++) r = r " " run[b, 1, k2] / run[b, w, k2]
			printf "%-42s %7d %11.1f %12s %11.1f %8s\n", b, w, t / 1e6, th, median(cpu[b, w]), r != "" ? sprintf("%.2fx", median(r)) : "-"
		}
	}
}' "$out"
rm -f "$out"
