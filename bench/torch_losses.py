#!/usr/bin/env python3
"""The losses of package losses in plain PyTorch, timed forward+backward.

This is the PyTorch side of the Go benchmarks in losses_test.go (see
doc.go). It is optional tooling: no Go test needs it, and it needs
python3-torch (Debian's PyTorch 1.13 CPU build; run it with /usr/bin/python3
when another python3 comes first on PATH). pytorch-metric-learning is not
used: every formula is written directly in torch, vectorised the way a
PyTorch user would write it, and matches the Go definitions (the Go doc
comments in losses/ are the reference):

  Contrastive       Euclidean D = torch.cdist; mean over ordered pairs i != j of
                    1[same]·D² + 1[diff]·relu(1 − D)²
  Triplet           squared Euclidean (cdist²), margin 0.2, sum of
                    relu(d_ap − d_an + 0.2) over all valid triplets, as a
                    B×B×B broadcast (chunked over anchors when B³ > 2²⁵
                    elements: 32 anchors × B × B at a time at B = 1024, which
                    is skipped by default, see --max-cubic)
  TripletIdx        the same value from gathered (a, p, n) index lists, built
                    without a B³ tensor (the index form the Go code uses)
  TripletBatchHard  hardest positive / hardest negative per anchor, summed
  TripletSemiHard   per (a, p) the closest negative with d_ap < d_an < d_ap + 0.2
                    (mining.SemiHard, FallbackNone), summed; B³ broadcast, chunked
  LiftedSmooth      Song et al. 2016 with Euclidean D, ε = 1:
                    L_ij = D_ij + log(Σ_{k∈N_i} e^{ε−D_ik} + Σ_{l∈N_j} e^{ε−D_jl}),
                    loss = Σ_{(i,j)∈P ordered} relu(L_ij)² / (2|P|)
  LiftedHard        the same with max instead of log-sum-exp
  NPair             Sohn 2016: the first two samples of each class are
                    (anchor, positive); cross-entropy of A·Pᵀ against the
                    diagonal plus 0.002·¼·(mean ||a||² + mean ||p||²)
  NCE               cosine/τ logits (τ = 0.1), positive pairs are data and
                    negative pairs noise, ν = #neg/#pos:
                    (Σ_pos softplus(log ν − l) + Σ_neg softplus(l − log ν)) / #pos

  ProxyNCAPML, ProxyAnchorPML, SoftTriplePML, ArcFacePML, CosFacePML
                    pytorch-metric-learning's ProxyNCALoss, ProxyAnchorLoss,
                    SoftTripleLoss, ArcFaceLoss and CosFaceLoss at their
                    defaults (cross-check only: their parameters come from
                    the Go dump; see proxy_nca_pml and the others)

Rows without a negative (not present in P×K batches) are not handled
specially here; the Go code defines them as 0.

Usage:
  torch_losses.py [--sizes 128,256,1024] [--dim 128] [--threads 2] [--max-cubic 256] [--json out.json]
  torch_losses.py --compare go_bench.txt torch.json   # Go/torch ratio table
  torch_losses.py --crosscheck crosscheck.json        # values vs the Go dump
"""

import argparse
import json
import math
import os
import re
import statistics
import sys
import time
import warnings

import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore", message="scatter_reduce")  # beta API in torch 1.13

K = 4  # samples per class
SEED = 20240607
CHUNK_ELEMS = 1 << 25  # largest B×B×B (or chunk×B×B) broadcast we allow


def masks(labels):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool)
    return same & ~eye, ~same  # positive pairs (no diagonal), negative pairs


def contrastive(x, labels, margin=1.0):
    pos, neg = masks(labels)
    d = torch.cdist(x, x)
    terms = pos * d.pow(2) + neg * F.relu(margin - d).pow(2)
    return terms.sum() / (pos.sum() + neg.sum()).clamp_min(1)


def _anchor_chunks(b):
    step = max(1, min(b, CHUNK_ELEMS // (b * b)))
    return [(s, min(b, s + step)) for s in range(0, b, step)]


def triplet(x, labels, margin=0.2):
    pos, neg = masks(labels)
    d = torch.cdist(x, x).pow(2)
    loss = x.new_zeros(())
    for s, e in _anchor_chunks(len(labels)):
        valid = pos[s:e, :, None] & neg[s:e, None, :]
        t = F.relu(d[s:e, :, None] - d[s:e, None, :] + margin)
        loss = loss + (t * valid).sum()
    return loss


def triplet_indices(pos, neg):
    """(a, p, n) of every valid triplet, without a B³ tensor."""
    ap = pos.nonzero()  # sorted by anchor
    an = neg.nonzero()  # sorted by anchor: each anchor's negatives are contiguous
    cnt = neg.sum(1)
    start = torch.cumsum(cnt, 0) - cnt
    rep = cnt[ap[:, 0]]
    a = ap[:, 0].repeat_interleave(rep)
    p = ap[:, 1].repeat_interleave(rep)
    first = torch.cumsum(rep, 0) - rep
    within = torch.arange(len(a)) - first.repeat_interleave(rep)
    n = an[start[a] + within, 1]
    return a, p, n


def triplet_idx(x, labels, margin=0.2):
    pos, neg = masks(labels)
    a, p, n = triplet_indices(pos, neg)
    d = torch.cdist(x, x).pow(2)
    return F.relu(d[a, p] - d[a, n] + margin).sum()


def triplet_batch_hard(x, labels, margin=0.2):
    pos, neg = masks(labels)
    d = torch.cdist(x, x).pow(2)
    hp = d.masked_fill(~pos, float("-inf")).max(1).values
    hn = d.masked_fill(~neg, float("inf")).min(1).values
    ok = pos.any(1) & neg.any(1)
    return torch.where(ok, F.relu(hp - hn + margin), torch.zeros_like(hp)).sum()


def triplet_semi_hard(x, labels, margin=0.2):
    pos, neg = masks(labels)
    d = torch.cdist(x, x).pow(2)
    loss = x.new_zeros(())
    for s, e in _anchor_chunks(len(labels)):
        dap = d[s:e, :, None]
        dan = d[s:e, None, :]
        win = (dan > dap) & (dan < dap + margin) & neg[s:e, None, :] & pos[s:e, :, None]
        dn = dan.expand(win.shape).masked_fill(~win, float("inf")).min(2).values
        ok = torch.isfinite(dn)
        loss = loss + torch.where(ok, F.relu(d[s:e] - dn + margin), torch.zeros_like(dn)).sum()
    return loss


def _lifted(x, labels, margin, hard):
    pos, neg = masks(labels)
    d = torch.cdist(x, x)
    a = (margin - d).masked_fill(~neg, float("-inf"))
    u = a.max(1).values if hard else torch.logsumexp(a, 1)
    pair = torch.maximum(u[:, None], u[None, :]) if hard else torch.logaddexp(u[:, None], u[None, :])
    terms = F.relu(d + pair).pow(2)
    return (terms * pos).sum() / (2 * pos.sum()).clamp_min(1)


def lifted_smooth(x, labels, margin=1.0):
    return _lifted(x, labels, margin, False)


def lifted_hard(x, labels, margin=1.0):
    return _lifted(x, labels, margin, True)


def npair(x, labels, l2=0.002):
    b = len(labels)
    idx = torch.arange(b)
    _, inv = torch.unique(labels, return_inverse=True)
    c = int(inv.max()) + 1
    first = torch.full((c,), b).scatter_reduce(0, inv, idx, "amin")
    rest = first[inv] != idx
    second = torch.full((c,), b).scatter_reduce(0, inv[rest], idx[rest], "amin")
    ok = second < b
    anchors, positives = x[first[ok]], x[second[ok]]
    logits = anchors @ positives.T
    loss = F.cross_entropy(logits, torch.arange(len(logits)))
    reg = (anchors * anchors).sum(1).mean() + (positives * positives).sum(1).mean()
    return loss + 0.25 * l2 * reg


def nce(x, labels, tau=0.1):
    pos, neg = masks(labels)
    xn = F.normalize(x, dim=1)
    logits = xn @ xn.T / tau
    npos, nneg = pos.sum().clamp_min(1), neg.sum().clamp_min(1)
    log_nu = torch.log(nneg.to(x.dtype)) - torch.log(npos.to(x.dtype))
    s = (F.softplus(log_nu - logits) * pos).sum() + (F.softplus(logits - log_nu) * neg).sum()
    return s / npos


# The pair-based losses of issue 14, written as pytorch-metric-learning
# computes them (MultiSimilarityLoss, CircleLoss,
# GeneralizedLiftedStructureLoss, MarginLoss at their defaults), and the
# debiased / hard-negative estimators as the papers' reference code computes
# them (labelled form: negatives are the other classes).
def pml_logsumexp(x, keep, add_one):
    """pytorch-metric-learning's loss_and_miner_utils.logsumexp over dim 1."""
    x = x.masked_fill(~keep, float("-inf"))
    if add_one:
        x = torch.cat([x, torch.zeros(len(x), 1, dtype=x.dtype)], dim=1)
    out = torch.logsumexp(x, 1)
    return out.masked_fill(~keep.any(1), 0)


def multi_similarity_pml(x, labels, alpha=2.0, beta=50.0, base=0.5):
    pos, neg = masks(labels)
    xn = F.normalize(x, dim=1)
    s = xn @ xn.T
    pl = pml_logsumexp(alpha * (base - s), pos, True) / alpha
    nl = pml_logsumexp(beta * (s - base), neg, True) / beta
    return (pl + nl).mean()


def circle_pml(x, labels, m=0.4, gamma=80.0):
    pos, neg = masks(labels)
    xn = F.normalize(x, dim=1)
    s = xn @ xn.T
    sd = s.detach()
    z = torch.zeros_like(s)
    z = torch.where(pos, -gamma * F.relu(1 + m - sd) * (s - (1 - m)), z)
    z = torch.where(neg, gamma * F.relu(sd + m) * (s - m), z)
    losses = F.softplus(pml_logsumexp(z, pos, False) + pml_logsumexp(z, neg, False))
    losses = losses * (pos.any(1) & neg.any(1))
    nz = (losses > 0).sum()
    return losses.sum() / nz if nz > 0 else losses.sum() * 0


def generalized_lifted_pml(x, labels, pos_margin=0.0, neg_margin=1.0):
    pos, neg = masks(labels)
    xn = F.normalize(x, dim=1)
    d = torch.cdist(xn, xn)
    pl = pml_logsumexp(d - pos_margin, pos, False)
    nl = pml_logsumexp(neg_margin - d, neg, False)
    return F.relu(pl + nl).mean()


def margin_pml(x, labels, margin=0.2, beta=1.2):
    pos, neg = masks(labels)
    xn = F.normalize(x, dim=1)
    d = torch.cdist(xn, xn)
    a, p, n = torch.nonzero(pos[:, :, None] & neg[:, None, :], as_tuple=True)  # every triplet
    pl = F.relu(d[a, p] - beta + margin)
    nl = F.relu(beta - d[a, n] + margin)
    div = (pl > 0).sum() + (nl > 0).sum()
    return (pl + nl).sum() / div if div > 0 else (pl + nl).sum() * 0


# Proxy- and classifier-based losses, written from pytorch-metric-learning's
# sources (ProxyNCALoss/NCALoss, ProxyAnchorLoss, SoftTripleLoss,
# ArcFaceLoss/CosFaceLoss/LargeMarginSoftmaxLoss). Each takes the loss's
# parameters in the Go layout, one row per proxy / class weight / centre
# (PML stores SoftTriple's fc and the large-margin W as D×rows: the
# transposes are taken here, as its code reads them).
def proxy_nca_pml(x, labels, proxies, softmax_scale=1.0):
    prox = F.normalize(proxies, p=2, dim=1)  # ProxyNCALoss: normalize_embeddings
    # NCALoss with LpDistance(power=2), which normalises both sides again
    mat = -(torch.cdist(F.normalize(x, dim=1), F.normalize(prox, dim=1)) ** 2)
    same = (labels[:, None] == torch.arange(len(proxies))[None, :]).to(x.dtype)
    exp = torch.sum(F.softmax(softmax_scale * mat, dim=1) * same, dim=1)
    non_zero = exp != 0
    return (-torch.log(exp[non_zero])).mean()  # MeanReducer over the kept rows


def proxy_anchor_pml(x, labels, proxies, margin=0.1, alpha=32.0):
    num_classes = len(proxies)
    cos = F.normalize(x, dim=1) @ F.normalize(proxies, dim=1).T  # CosineSimilarity, B×C
    pos_mask = F.one_hot(labels, num_classes)
    neg_mask = 1 - pos_mask
    with_pos_proxies = torch.where(torch.sum(pos_mask, dim=0) != 0)[0]
    pos_exp = margin - cos  # distance.margin(cos, margin), inverted: y − x
    neg_exp = cos + margin  # distance.margin(−margin, cos)
    # lmu.logsumexp(..., dim=0): the same over the transposes, dim 1
    pos_term = pml_logsumexp((alpha * pos_exp).T, pos_mask.bool().T, True)
    neg_term = pml_logsumexp((alpha * neg_exp).T, neg_mask.bool().T, True)
    # DivisorReducer: Σ pos / |proxies with positives| + Σ neg / C
    return pos_term.sum() / len(with_pos_proxies) + neg_term.sum() / num_classes


def soft_triple_pml(x, labels, centres, centers_per_class=10, la=20.0, gamma=0.1, margin=0.01):
    fc = centres.T  # PML's fc, D × (C·K)
    num_classes = fc.shape[1] // centers_per_class
    sim_to_centers = F.normalize(x, dim=1) @ F.normalize(fc.t(), dim=1).T  # CosineSimilarity(emb, fc.t())
    sim_to_centers = sim_to_centers.view(-1, num_classes, centers_per_class)
    prob = F.softmax(sim_to_centers * (1.0 / gamma), dim=2)
    sim_to_classes = torch.sum(prob * sim_to_centers, dim=2)
    m = torch.zeros(sim_to_classes.shape, dtype=x.dtype)
    m[torch.arange(0, m.shape[0]), labels] = margin
    return F.cross_entropy(la * (sim_to_classes - m), labels, reduction="none").mean()


def _large_margin(x, labels, weights, scale, modify):
    W = weights.T  # PML's W, D × C
    cosine = F.normalize(x, dim=1) @ F.normalize(W.t(), dim=1).T  # CosineSimilarity(emb, W.t())
    mask = torch.zeros(len(labels), W.shape[1], dtype=x.dtype)
    mask[torch.arange(len(labels)), labels] = 1
    cosine_of_target_classes = cosine[mask == 1]
    diff = (modify(cosine_of_target_classes) - cosine_of_target_classes).unsqueeze(1)
    logits = (cosine + mask * diff) * scale  # ArcFaceLoss.scale_logits
    return F.cross_entropy(logits, labels, reduction="none").mean()


def arcface_pml(x, labels, weights, margin=28.6, scale=64.0):
    m = math.radians(margin)  # ArcFaceLoss.init_margin: np.radians
    return _large_margin(x, labels, weights, scale,
                         lambda c: torch.cos(torch.acos(torch.clamp(c, -1, 1)) + m))


def cosface_pml(x, labels, weights, margin=0.35, scale=64.0):
    return _large_margin(x, labels, weights, scale, lambda c: c - margin)


PROXY = {
    "ProxyNCAPML": proxy_nca_pml,
    "ProxyAnchorPML": proxy_anchor_pml,
    "SoftTriplePML": soft_triple_pml,
    "ArcFacePML": arcface_pml,
    "CosFacePML": cosface_pml,
}


def init_params(name, b, d, generator):
    """The parameters of a proxy loss for a batch of b rows (b/K classes),
    drawn as pytorch-metric-learning's weight_init_func does, in Go's
    row layout."""
    c = b // K
    if name == "ProxyAnchorPML":  # kaiming_normal_(mode="fan_out") of C×D: std √(2/C)
        return torch.randn(c, d, generator=generator) * math.sqrt(2.0 / c)
    if name == "SoftTriplePML":  # kaiming_uniform_(a=√5) of D×(C·10): U(±1/√(C·10))
        bound = 1 / math.sqrt(c * 10)
        return (torch.rand(c * 10, d, generator=generator) * 2 - 1) * bound
    return torch.randn(c, d, generator=generator)  # normal_


def _debiased(x, labels, t, tau_plus, beta):
    pos, neg = masks(labels)
    xn = F.normalize(x, dim=1)
    s = xn @ xn.T
    e = torch.exp(s / t)
    n = neg.sum(1).to(x.dtype)
    if beta == 0:
        rneg = (e * neg).sum(1)
    else:
        imp = torch.exp(beta * s / t)
        rneg = (imp * e * neg).sum(1) / ((imp * neg).sum(1) / n)
    ng = (-tau_plus * n[:, None] * e + rneg[:, None]) / (1 - tau_plus)
    ng = torch.maximum(ng, (n * math.exp(-1 / t))[:, None])
    terms = -torch.log(e / (e + ng))
    return (terms * pos).sum() / pos.sum().clamp_min(1)


def debiased_contrastive(x, labels, t=0.5, tau_plus=0.1):
    return _debiased(x, labels, t, tau_plus, 0.0)


def hard_negative(x, labels, t=0.5, tau_plus=0.1, beta=1.0):
    return _debiased(x, labels, t, tau_plus, beta)


LOSSES = {
    "Contrastive": contrastive,
    "Triplet": triplet,
    "TripletIdx": triplet_idx,
    "TripletBatchHard": triplet_batch_hard,
    "TripletSemiHard": triplet_semi_hard,
    "LiftedSmooth": lifted_smooth,
    "LiftedHard": lifted_hard,
    "NPair": npair,
    "NCE": nce,
    "MultiSimilarityPML": multi_similarity_pml,
    "CirclePML": circle_pml,
    "GeneralizedLiftedPML": generalized_lifted_pml,
    "MarginPML": margin_pml,
    "DebiasedContrastive": debiased_contrastive,
    "HardNegative": hard_negative,
}
LOSSES.update(PROXY)  # called with their parameters, see run_bench

# Losses built on B×B×B broadcasts (chunked over anchors; MarginPML's
# triplet enumeration is not chunked).
CUBIC = {"Triplet", "TripletSemiHard", "MarginPML"}

# Go benchmark name -> torch loss it is compared with.
PAIRS = [
    ("Contrastive", "Contrastive"),
    ("Triplet", "Triplet"),
    ("Triplet", "TripletIdx"),
    ("TripletDefaultCap", "TripletIdx"),
    ("TripletBatchHard", "TripletBatchHard"),
    ("TripletSemiHard", "TripletSemiHard"),
    ("LiftedSmooth", "LiftedSmooth"),
    ("LiftedHard", "LiftedHard"),
    ("NPair", "NPair"),
    ("NCE", "NCE"),
    ("MultiSimilarityPML", "MultiSimilarityPML"),
    ("CirclePML", "CirclePML"),
    ("GeneralizedLiftedPML", "GeneralizedLiftedPML"),
    ("MarginPML", "MarginPML"),
    ("DebiasedContrastive", "DebiasedContrastive"),
    ("HardNegative", "HardNegative"),
    ("ProxyNCAPML", "ProxyNCAPML"),
    ("ProxyAnchorPML", "ProxyAnchorPML"),
    ("SoftTriplePML", "SoftTriplePML"),
    ("ArcFacePML", "ArcFacePML"),
    ("CosFacePML", "CosFacePML"),
]


def time_loss(fn, x0, labels, min_repeats=5, max_repeats=50, budget=2.0):
    """Median and minimum seconds of forward+backward after two warm-ups."""
    x = x0.clone().requires_grad_(True)
    for _ in range(2):
        fn(x, labels).backward()
        x.grad = None
    times, total = [], 0.0
    while len(times) < max_repeats and (len(times) < min_repeats or total < budget):
        t0 = time.perf_counter()
        fn(x, labels).backward()
        dt = time.perf_counter() - t0
        x.grad = None
        times.append(dt)
        total += dt
    return statistics.median(times), min(times), len(times)


def blas_library():
    """The BLAS shared library this process loaded (Debian's torch links the
    generic libblas.so.3, whose reference implementation is very slow)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.split()[-1]}
        return ", ".join(sorted(libs)) or "none found"
    except OSError:
        return "unknown"


def run_bench(args):
    torch.set_num_threads(args.threads)
    names = args.losses.split(",") if args.losses else list(LOSSES)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, D={args.dim}, float32, K={K}")
    torch.ones(2, 2) @ torch.ones(2, 2)  # load BLAS before asking which one
    print(f"BLAS: {blas_library()}")
    print("OMP_WAIT_POLICY=%s OPENBLAS_NUM_THREADS=%s" % (os.environ.get("OMP_WAIT_POLICY", "(unset)"),
                                                         os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")))
    print(f"{'loss':18s}" + "".join(f"{'B=' + str(b):>14s}" for b in sizes) + "   (median ms/repeats, forward+backward)")
    for name in names:
        row = f"{name:18s}"
        for b in sizes:
            g = torch.Generator().manual_seed(SEED + b)
            x0 = torch.randn(b, args.dim, generator=g, dtype=torch.float32) / math.sqrt(args.dim)
            labels = torch.arange(b) // K
            if name in CUBIC and b > args.max_cubic:
                row += f"{'skipped':>14s}"
                continue
            fn = LOSSES[name]
            if name in PROXY:  # the parameters get their gradient too, as in training
                p = init_params(name, b, args.dim, g).requires_grad_(True)
                fn = (lambda f, p: lambda x, l: f(x, l, p))(PROXY[name], p)
            med, best, n = time_loss(fn, x0, labels)
            results[f"{name}/B={b}/D={args.dim}"] = {"median": med * 1e3, "min": best * 1e3, "repeats": n}
            row += f"{med * 1e3:11.3f}/{n:<2d}"
        print(row, flush=True)
    if any(b > args.max_cubic for b in sizes):
        print(f"skipped: B×B×B broadcasts ({', '.join(sorted(CUBIC))}) above B={args.max_cubic} (--max-cubic);"
              " at B=1024 one forward+backward takes tens of seconds here; TripletIdx has the same value")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)


GO_LINE = re.compile(r"^BenchmarkLosses(?:PairBased|Proxy)?/(\S+)/B=(\d+)/D=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op")


def compare(go_file, torch_file):
    go = {}
    with open(go_file) as f:
        for line in f:
            m = GO_LINE.match(line)
            if m:
                go.setdefault((m[1], int(m[2]), int(m[3])), []).append(float(m[4]) / 1e6)
    with open(torch_file) as f:
        tr = json.load(f)
    print(f"{'Go loss':18s} {'torch loss':17s} {'B':>5s} {'Go ms':>9s} {'torch ms':>9s} {'Go/torch':>9s}"
          f" {'(min: Go':>10s} {'torch':>9s} {'ratio)':>7s}")
    for gname, tname in PAIRS:
        for (n, b, d), vals in sorted(go.items(), key=lambda kv: kv[0][1]):
            if n != gname:
                continue
            t = tr.get(f"{tname}/B={b}/D={d}")
            gm, gmin = statistics.median(vals), min(vals)
            if t is None:
                print(f"{gname:18s} {tname:17s} {b:5d} {gm:9.2f} {'-':>9s} {'-':>9s}")
                continue
            print(f"{gname:18s} {tname:17s} {b:5d} {gm:9.2f} {t['median']:9.2f} {gm / t['median']:9.2f}"
                  f" {gmin:10.2f} {t['min']:9.2f} {gmin / t['min']:7.2f}")
    print("Go ms: median (and min) over the -count runs of ns/op; torch ms: median (and min) over repeats")


# Go cross-check names -> torch function (TripletDefaultCap has Triplet's value).
CROSS = {
    "Contrastive": contrastive,
    "Triplet": triplet,
    "TripletDefaultCap": triplet,
    "TripletBatchHard": triplet_batch_hard,
    "TripletSemiHard": triplet_semi_hard,
    "LiftedSmooth": lifted_smooth,
    "LiftedHard": lifted_hard,
    "NPair": npair,
    "NCE": nce,
    "MultiSimilarityPML": multi_similarity_pml,
    "CirclePML": circle_pml,
    "GeneralizedLiftedPML": generalized_lifted_pml,
    "MarginPML": margin_pml,
    "DebiasedContrastive": debiased_contrastive,
    "HardNegative": hard_negative,
}


def crosscheck(path):
    with open(path) as f:
        dump = json.load(f)
    x0 = torch.tensor(dump["x"], dtype=torch.float64)
    labels = torch.tensor(dump["labels"])
    print(f"cross-check: B={x0.shape[0]}, D={x0.shape[1]}, float64, labels {dump['labels']}")
    print(f"{'loss':18s} {'Go':>24s} {'torch':>24s} {'|diff|':>9s} {'max|Δgrad|':>11s}")
    worst = 0.0
    for name, v in dump["losses"].items():
        fns = [CROSS[name]]
        if name == "Triplet":
            fns.append(triplet_idx)
        for fn in fns:
            x = x0.clone().requires_grad_(True)
            loss = fn(x, labels)
            loss.backward()
            tv = loss.item()
            gd = (x.grad - torch.tensor(v["grad"], dtype=torch.float64).reshape(x.shape)).abs().max().item()
            diff = abs(tv - v["value"])
            worst = max(worst, diff / max(1.0, abs(tv)), gd)
            label = name if fn is CROSS[name] else name + "(idx)"
            print(f"{label:18s} {v['value']:24.17g} {tv:24.17g} {diff:9.1e} {gd:11.1e}")
    for name, v in dump.get("proxy_losses", {}).items():
        x = x0.clone().requires_grad_(True)
        p = torch.tensor(v["params"], dtype=torch.float64).requires_grad_(True)
        loss = PROXY[name](x, labels, p)
        loss.backward()
        tv = loss.item()
        gd = (x.grad - torch.tensor(v["grad"], dtype=torch.float64).reshape(x.shape)).abs().max().item()
        pd = (p.grad - torch.tensor(v["param_grad"], dtype=torch.float64).reshape(p.shape)).abs().max().item()
        diff = abs(tv - v["value"])
        worst = max(worst, diff / max(1.0, abs(tv)), gd, pd)
        print(f"{name:18s} {v['value']:24.17g} {tv:24.17g} {diff:9.1e} {gd:11.1e}  params {tuple(p.shape)} max|Δgrad| {pd:.1e}")
    print(f"largest difference (values relative to max(1,|v|), gradients absolute): {worst:.1e}")
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="128,256,1024")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-cubic", type=int, default=256, help="largest B for the B×B×B broadcast losses")
    ap.add_argument("--losses", default="", help="comma-separated subset of " + ",".join(LOSSES))
    ap.add_argument("--json", default="", help="write the medians (ms) to this file")
    ap.add_argument("--compare", nargs=2, metavar=("GO_BENCH_TXT", "TORCH_JSON"))
    ap.add_argument("--crosscheck", metavar="GO_DUMP_JSON")
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
    elif args.crosscheck:
        worst = crosscheck(args.crosscheck)
        sys.exit(0 if worst < 1e-9 else 1)
    else:
        run_bench(args)


if __name__ == "__main__":
    main()
