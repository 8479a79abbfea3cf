#!/bin/sh
# compare.sh: the Go loss benchmarks side by side with the same losses in
# PyTorch (bench/torch_losses.py), as a table of median times and Go/torch
# ratios, followed by the value cross-check on a fixed small float64 batch;
# then the MLP and ConvNet training steps (BenchmarkTrainStep, B=100) side by
# side with the same steps in PyTorch (bench/torch_train.py).
# Optional tooling: it needs python3-torch (Debian: apt-get install
# python3-torch); no Go test depends on it.
#
# Environment:
#   GO_BENCH     a finished `go test -bench Losses` output to reuse instead of
#                running the Go benchmarks again
#   BENCHTIME    -benchtime of the Go run (default 10x)
#   COUNT        -count of the Go run (default 6)
#   THREADS      torch.set_num_threads and the Go -cpu (GOMAXPROCS) (default 2)
#   SIZES        batch sizes for torch (default 128,256,1024)
#   TORCH_BLAS_DIR  a directory holding an optimised libblas.so.3 for torch,
#                put first on LD_LIBRARY_PATH for the torch process only.
#                Debian's torch calls the system's generic libblas.so.3, which
#                is the slow reference BLAS unless an optimised one is
#                installed; without installing anything system-wide:
#                  apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb /tmp/openblas
#                  TORCH_BLAS_DIR=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread bench/compare.sh
#   OMP_WAIT_POLICY  default PASSIVE here: on a shared, oversubscribed machine
#                torch's OpenMP threads spin at every barrier and a forward+
#                backward of a few hundred µs can take tens of ms; set ACTIVE
#                on a dedicated machine
#   PYTHON       interpreter with torch (default: /usr/bin/python3 if it has
#                torch, else python3)
#   OUT          directory for the outputs (default: a new temporary one)
#   PARTS        which comparisons to run (default "losses train")
#   TRAIN_BENCHTIME  -benchtime of the Go training-step run (default 20x)
set -eu

export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${OUT:-$(mktemp -d /tmp/bench-compare.XXXXXX)}
mkdir -p "$out"

if [ -z "${PYTHON:-}" ]; then
	if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
		PYTHON=/usr/bin/python3
	else
		PYTHON=python3
	fi
fi
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
	echo "compare.sh: $PYTHON cannot import torch (Debian: apt-get install python3-torch)" >&2
	exit 1
fi

case " ${PARTS:-losses train} " in *" losses "*)
if [ -n "${GO_BENCH:-}" ]; then
	gobench=$GO_BENCH
	echo "== Go: reusing $gobench"
else
	gobench=$out/go_bench.txt
	cmd="go test -run ^\$ -bench Losses -benchtime ${BENCHTIME:-10x} -count ${COUNT:-6} -cpu ${THREADS:-2} ./bench"
	echo "== Go: $cmd"
	(cd "$root" && $cmd) | tee "$gobench"
fi

echo
echo "== torch: $PYTHON bench/torch_losses.py --sizes ${SIZES:-128,256,1024} --threads ${THREADS:-2}${TORCH_BLAS_DIR:+ (LD_LIBRARY_PATH=$TORCH_BLAS_DIR)}"
if [ -n "${TORCH_BLAS_DIR:-}" ]; then
	LD_LIBRARY_PATH="$TORCH_BLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OPENBLAS_NUM_THREADS="${THREADS:-2}" \
		"$PYTHON" "$here/torch_losses.py" --sizes "${SIZES:-128,256,1024}" --threads "${THREADS:-2}" --json "$out/torch.json"
else
	"$PYTHON" "$here/torch_losses.py" --sizes "${SIZES:-128,256,1024}" --threads "${THREADS:-2}" --json "$out/torch.json"
fi

echo
echo "== Go median / torch median"
"$PYTHON" "$here/torch_losses.py" --compare "$gobench" "$out/torch.json"

echo
echo "== value cross-check (B=8, D=4, float64)"
(cd "$root" && BENCH_CROSSCHECK="$out/crosscheck.json" go test -count 1 -run '^TestCrossCheckDump$' ./bench >/dev/null)
"$PYTHON" "$here/torch_losses.py" --crosscheck "$out/crosscheck.json"

;; esac

case " ${PARTS:-losses train} " in *" train "*)
	threads=${THREADS:-2}
	echo
	trainbench=$out/go_train.txt
	cmd="go test -run ^\$ -bench TrainStep/.*/B=100\$ -benchtime ${TRAIN_BENCHTIME:-20x} -count ${COUNT:-6} -cpu $threads ./bench"
	echo "== Go training steps: $cmd"
	(cd "$root" && $cmd) | tee "$trainbench"
	echo
	echo "== torch training steps: $PYTHON bench/torch_train.py --threads $threads${TORCH_BLAS_DIR:+ (LD_LIBRARY_PATH=$TORCH_BLAS_DIR)}"
	LD_LIBRARY_PATH="${TORCH_BLAS_DIR:+$TORCH_BLAS_DIR${LD_LIBRARY_PATH:+:}}${LD_LIBRARY_PATH:-}" OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" \
		"$PYTHON" "$here/torch_train.py" --threads "$threads" --json "$out/torch_train.json"
	echo
	echo "== training step, Go median / torch median"
	"$PYTHON" "$here/torch_train.py" --compare "$trainbench" "$out/torch_train.json"
	;;
esac

echo
echo "outputs in $out"
