#!/usr/bin/env python3
"""Interleaved Go / PyTorch loss timings, for a shared machine: each round
runs every Go benchmark binary given, then torch_losses.py, so that load
from other jobs falls on both sides alike; the table gives, per side, the
median over rounds of each round's median (Go: of the -count runs' ns/op;
torch: its script's median over repeats), the Go/torch ratios, Go's bytes
per step, and the ratio of CPU times (Go's cpu-ms/op, torch's
process_time) where both report one. Optional tooling like compare.sh:
it needs python3-torch for the torch side (--torch 0 compares Go binaries
only, e.g. BenchmarkBuild with --bench Build).

  go test -c -o /tmp/new.test ./bench     # and a baseline binary from another checkout
  python3 bench/interleave.py --threads 1 --rounds 5 \
      --losses Contrastive,TripletBatchHard,LiftedSmooth,LiftedHard,NPair,NCE,NTXent,SupCon \
      --go base=/tmp/base.test --go new=/tmp/new.test
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--losses", required=True)
ap.add_argument("--sizes", default="256,1024")
ap.add_argument("--go", action="append", required=True, help="label=path to a bench test binary")
ap.add_argument("--count", type=int, default=3)
ap.add_argument("--benchtime", default="10x")
ap.add_argument("--bench", default="Losses")
ap.add_argument("--torch", default="1", help="0: Go binaries only")
ap.add_argument("--out", default="", help="write every round's medians (ms) to this JSON file")
ap.add_argument("--python", default="/usr/bin/python3", help="interpreter with torch")
args = ap.parse_args()

losses = args.losses.split(",")
sizes = args.sizes.split(",")
regex = "%s$/(%s)/B=(%s)/" % (args.bench, "|".join(losses), "|".join(sizes))
line = re.compile(r"^Benchmark\w+/(\S+)/B=(\d+)/D=\d+(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) cpu-ms/op)?\s+([\d.]+) B/op")
here = os.path.dirname(os.path.abspath(__file__))
res = {}  # (side, loss, B) -> [per-round medians in ms]
bytes_ = {}
rescpu = {}
env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OPENBLAS_NUM_THREADS=str(args.threads))
for r in range(args.rounds):
    for spec in args.go:
        label, path = spec.split("=", 1)
        out = subprocess.run([path, "-test.run", "^$", "-test.bench", regex, "-test.benchtime", args.benchtime,
                              "-test.count", str(args.count), "-test.cpu", str(args.threads), "-test.benchmem"],
                             cwd=here, capture_output=True, text=True, check=True).stdout
        per, cpu = {}, {}
        for l in out.splitlines():
            m = line.match(l)
            if m:
                per.setdefault((m[1], m[2]), []).append(float(m[3]) / 1e6)
                if m[4]:
                    cpu.setdefault((m[1], m[2]), []).append(float(m[4]))
                bytes_[(label, m[1], m[2])] = float(m[5])
        for (n, b), v in per.items():
            res.setdefault((label, n, b), []).append(statistics.median(v))
        for (n, b), v in cpu.items():
            rescpu.setdefault((label, n, b), []).append(statistics.median(v))
    if args.torch == "1":
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            subprocess.run([args.python, "torch_losses.py", "--sizes", args.sizes, "--threads", str(args.threads),
                            "--losses", ",".join(losses), "--json", f.name], cwd=here, env=env, capture_output=True, text=True, check=True)
            tr = json.load(open(f.name))
        for k, v in tr.items():
            n, b, _ = k.split("/")
            res.setdefault(("torch", n, b[2:]), []).append(v["median"])
            rescpu.setdefault(("torch", n, b[2:]), []).append(v["cpu"])
    print(f"round {r + 1} done", file=sys.stderr, flush=True)

labels = [s.split("=", 1)[0] for s in args.go]
hdr = f"{'loss':18s} {'B':>5s}" + "".join(f" {l + ' ms':>12s}" for l in labels) + (f" {'torch ms':>10s}" if args.torch == "1" else "") + "".join(f" {l + '/torch':>14s}" for l in labels if args.torch == "1") + "".join(f" {l + ' B/op':>12s}" for l in labels)
print(f"threads {args.threads}, {args.rounds} rounds, medians over rounds of per-round medians")
print(hdr)
table = {}
for n in losses:
    for b in sizes:
        row = f"{n:18s} {b:>5s}"
        med = {}
        for l in labels + (["torch"] if args.torch == "1" else []):
            v = res.get((l, n, b))
            med[l] = statistics.median(v) if v else float("nan")
        for l in labels:
            row += f" {med[l]:12.3f}"
        if args.torch == "1":
            row += f" {med['torch']:10.3f}"
            for l in labels:
                row += f" {med[l] / med['torch']:14.2f}"
        for l in labels:
            row += f" {bytes_.get((l, n, b), float('nan')):12.0f}"
        cm = {l: statistics.median(rescpu[(l, n, b)]) for l in labels + ["torch"] if rescpu.get((l, n, b))}
        if "torch" in cm and len(cm) > 1:
            row += "   cpu ratio" + "".join(f" {l}={cm[l] / cm['torch']:.2f}" for l in labels if l in cm)
        print(row)
        table[f"{n}/B={b}"] = {k: res.get((k, n, b)) for k in labels + ["torch"]}
if args.out:
    json.dump(table, open(args.out, "w"), indent=1)
