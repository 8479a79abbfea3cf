#!/usr/bin/env python3
"""The training steps of BenchmarkTrainStep (train_test.go) in plain PyTorch.

Optional tooling like torch_losses.py (Debian's python3-torch; no Go test
needs it). One step is what models.Trainer.Step does: forward of the
encoder on a batch of P×K = 10×10 random 28×28 inputs (uniform in [0, 1)),
the loss, backward, Adam (lr 1e-3, β 0.9/0.999, ε 1e-8, no weight decay)
and zeroing the gradients. The models are models.DefaultMLP(64) and
models.DefaultConvNet(64):

  MLP      784–256–128–64, ReLU between, L2-normalised output
  ConvNet  conv 5×5 → 16, ReLU, max-pool 2×2; conv 5×5 → 32, ReLU,
           max-pool 2×2; linear 512 → 64; L2-normalised output

and the loss is pytorch-metric-learning's TripletMarginLoss(margin=0.2)
with its BatchHardMiner, written in torch (the library itself is not
needed): Euclidean distance on L2-normalised embeddings, per anchor the
farthest positive and the closest negative, relu(d_ap − d_an + 0.2),
averaged over the non-zero terms (AvgNonZeroReducer), as losses.TripletPML
with Margin 0.2 and mining.BatchHard{} in the Go benchmark.

Each timed run reports wall time and process CPU time per step (the Go
benchmark reports cpu-ms/op too): on a shared, oversubscribed machine the
CPU times are the steadier comparison.

Usage:
  torch_train.py [--threads 1] [--steps 20] [--repeats 5] [--json out.json]
  torch_train.py --compare go_bench.txt torch.json   # Go/torch ratio table
"""

import argparse
import json
import re
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

P, K, DIM, MARGIN = 10, 10, 64, 0.2
SEED = 20240607


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc0, self.fc1, self.proj = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, DIM)

    def forward(self, x):
        h = F.relu(self.fc0(x))
        h = F.relu(self.fc1(h))
        return F.normalize(self.proj(h), dim=1)


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv0, self.conv1 = nn.Conv2d(1, 16, 5), nn.Conv2d(16, 32, 5)
        self.proj = nn.Linear(32 * 4 * 4, DIM)

    def forward(self, x):
        h = x.view(-1, 1, 28, 28)
        h = F.max_pool2d(F.relu(self.conv0(h)), 2)
        h = F.max_pool2d(F.relu(self.conv1(h)), 2)
        return F.normalize(self.proj(h.flatten(1)), dim=1)


def triplet_batch_hard(emb, labels, margin=MARGIN):
    """pytorch-metric-learning: BatchHardMiner + TripletMarginLoss (LpDistance
    on normalised embeddings, AvgNonZeroReducer)."""
    x = F.normalize(emb, dim=1)
    d = torch.cdist(x, x)
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    d_ap = torch.where(pos, d, torch.zeros_like(d)).max(1).values
    d_an = torch.where(~same, d, torch.full_like(d, float("inf"))).min(1).values
    has = pos.any(1) & (~same).any(1)
    terms = F.relu(d_ap - d_an + margin)[has]
    nz = terms > 0
    return terms[nz].mean() if nz.any() else terms.sum() * 0


MODELS = {"MLP": MLP, "ConvNet": ConvNet}


def time_steps(name, steps, repeats):
    torch.manual_seed(SEED)
    model = MODELS[name]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    x = torch.rand(P * K, 784)
    labels = torch.arange(P * K) // K

    def step():
        loss = triplet_batch_hard(model(x), labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)
        return loss

    for _ in range(3):  # warm-up
        step()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        wall.append((time.perf_counter() - t0) / steps * 1e3)
        cpu.append((time.process_time() - c0) / steps * 1e3)
    return wall, cpu


def blas_library():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line}
        return ", ".join(sorted(libs)) or "unknown"
    except OSError:
        return "unknown"


def run_bench(args):
    torch.set_num_threads(args.threads)
    out = {"threads": args.threads, "torch": torch.__version__, "ms": {}, "cpu_ms": {}}
    for name in MODELS:
        ms, cpu = time_steps(name, args.steps, args.repeats)
        out["ms"][name], out["cpu_ms"][name] = statistics.median(ms), statistics.median(cpu)
        print(f"{name:8s} B={P * K}: median {statistics.median(ms):8.2f} ms/step, {statistics.median(cpu):8.2f} cpu-ms/step"
              f"  (runs: {', '.join(f'{m:.2f}' for m in ms)})")
    out["blas"] = blas_library()
    print(f"torch {torch.__version__}, {args.threads} thread(s), BLAS: {out['blas']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


def compare(go_file, torch_file):
    with open(torch_file) as f:
        t = json.load(f)
    go, gocpu = {}, {}
    pat = re.compile(r"^BenchmarkTrainStep/(\w+)/B=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op")
    cpupat = re.compile(r"\s([\d.]+) cpu-ms/op")
    with open(go_file) as f:
        for line in f:
            m = pat.match(line)
            if m and int(m.group(2)) == P * K:
                go.setdefault(m.group(1), []).append(float(m.group(3)) / 1e6)
                c = cpupat.search(line)
                if c:
                    gocpu.setdefault(m.group(1), []).append(float(c.group(1)))
    print(f"{'step':10s} {'Go ms':>9s} {'torch ms':>9s} {'Go/torch':>9s} {'Go cpu-ms':>10s} {'torch cpu-ms':>12s} {'Go/torch':>9s}")
    for name, tms in t["ms"].items():
        if name not in go:
            print(f"{name:10s} {'-':>9s} {tms:9.2f}")
            continue
        g = statistics.median(go[name])
        line = f"{name:10s} {g:9.2f} {tms:9.2f} {g / tms:9.2f}"
        tc = t.get("cpu_ms", {}).get(name)
        if name in gocpu and tc:
            gc = statistics.median(gocpu[name])
            line += f" {gc:10.2f} {tc:12.2f} {gc / tc:9.2f}"
        print(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20, help="steps per timed run")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs (the median is reported)")
    ap.add_argument("--json", default="")
    ap.add_argument("--compare", nargs=2, metavar=("GO_BENCH_TXT", "TORCH_JSON"))
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
