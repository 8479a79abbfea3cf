#!/usr/bin/env bash
# Distributed training throughput: cmd/mnist-triplet as one process with
# -shards N (the same global batches) against mpirun -np N, interleaved.
#
#   bench/mpi.sh [ROUNDS] [NP] [mnist-triplet flags...]
#   bench/mpi.sh 3 2 -limit 20000 -epochs 1
#
# Needs Open MPI (Debian: libopenmpi-dev openmpi-bin pkg-config). Each
# round runs both, one after the other; the table gives, per case, the
# median training seconds (metrics.json's train_seconds), images/s over the
# global batch, and the CPU seconds of the whole run (user+sys, from
# /usr/bin/time, evaluation included), and the per-round ratio of the
# training times. The one-process run uses NP workers, each rank one, so
# both use NP cores. The metrics of the two must agree to float rounding;
# the script prints them side by side for the last round.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
np=${2:-2}
shift $(( $# >= 2 ? 2 : $# ))
dir=$(mktemp -d)
go build -o "$dir/one" ./cmd/mnist-triplet
go build -tags mpi -o "$dir/mpi" ./cmd/mnist-triplet
mpiflags=(-np "$np" --oversubscribe -x OMPI_MCA_mpi_yield_when_idle=1)
if [ "$(id -u)" = 0 ]; then mpiflags+=(--allow-run-as-root); fi
export OMPI_MCA_mpi_yield_when_idle=1

for r in $(seq 1 "$rounds"); do
	/usr/bin/time -f "%U %S" -o "$dir/one-$r.time" "$dir/one" -workers "$np" -shards "$np" -out "$dir/one-$r" "$@" >/dev/null
	/usr/bin/time -f "%U %S" -o "$dir/mpi-$r.time" mpirun "${mpiflags[@]}" "$dir/mpi" -workers 1 -out "$dir/mpi-$r" "$@" >/dev/null
done

python3 - "$dir" "$rounds" "$np" <<'PY'
import json, statistics, sys
d, rounds, np = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(case, r):
    m = json.load(open(f"{d}/{case}-{r}/metrics.json"))
    u, s = map(float, open(f"{d}/{case}-{r}.time").read().split()[-2:])
    c = m["config"]
    images = m["steps"] * c["p"] * c["k"] * np
    return m, m["train_seconds"], images / m["train_seconds"], u + s
rows = {c: [load(c, r) for r in range(1, rounds + 1)] for c in ("one", "mpi")}
print(f"| case | training (median) | images/s | CPU s, whole run |")
print(f"|---|---|---|---|")
for c, name in (("one", f"1 process, -workers {np} -shards {np}"), ("mpi", f"mpirun -np {np}, -workers 1")):
    t = statistics.median(x[1] for x in rows[c])
    ips = statistics.median(x[2] for x in rows[c])
    cpu = statistics.median(x[3] for x in rows[c])
    print(f"| {name} | {t:.1f} s | {ips:,.0f} | {cpu:.1f} |")
ratio = statistics.median(rows["one"][i][1] / rows["mpi"][i][1] for i in range(rounds))
print(f"\nspeed of mpirun relative to one process (median per-round ratio of training times): {ratio:.2f}x")
a, b = rows["one"][-1][0], rows["mpi"][-1][0]
for k in ("steps", "precision_at_1", "r_precision", "map_at_r", "knn_accuracy", "final_running_loss"):
    print(f"{k:20s} one {a[k]!r:22} mpi {b[k]!r}")
PY
