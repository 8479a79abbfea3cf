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
  NTXent            cosine/τ logits z (τ = 0.07), labelled form: per positive
                    pair (i, j) −log(e^{z_ij} / (e^{z_ij} + Σ_{k∈N_i} e^{z_ik}))
                    = softplus(logsumexp_{k∈N_i} z_ik − z_ij), mean over pairs
  SupCon            Khosla et al. 2020, L^sup_out, cosine/τ (τ = 0.1): per
                    anchor logsumexp_{a≠i} z_ia − mean_{p∈P(i)} z_ip, mean
                    over anchors with a positive

The options of issue 14 part 4 (TripletPMLSwap, TripletPMLEasyHard/…,
ContrastivePMLEasyHard/…, ContrastivePMLMultiSimilarityMiner, NPairPML,
SupConPML, NTXentPML, …Lp/p=…) are cross-checked only (OPTIONS below):
pytorch-metric-learning's TripletMarginLoss(swap), BatchEasyHardMiner,
MultiSimilarityMiner on its own cosine distance, NPairsLoss, SupConLoss,
NTXentLoss and LpDistance(p), transcribed from its code; a dump entry may
carry its own labels.

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


def ntxent(x, labels, tau=0.07):
    pos, neg = masks(labels)
    xn = F.normalize(x, dim=1)
    z = xn @ xn.T / tau
    lse = torch.logsumexp(z.masked_fill(~neg, float("-inf")), 1, keepdim=True)  # log Σ_{k∈N_i} e^{z_ik}
    terms = F.softplus(lse - z)  # −log(e^{z_ij} / (e^{z_ij} + Σ_k e^{z_ik}))
    return (terms * pos).sum() / pos.sum().clamp_min(1)


def supcon(x, labels, tau=0.1):
    pos, neg = masks(labels)
    xn = F.normalize(x, dim=1)
    z = xn @ xn.T / tau
    lse = torch.logsumexp(z.masked_fill(~(pos | neg), float("-inf")), 1)  # log Σ_{a≠i} e^{z_ia}
    npos = pos.sum(1)
    has = npos > 0
    mean_pos = (z * pos).sum(1) / npos.clamp_min(1)
    return ((lse - mean_pos) * has).sum() / has.sum().clamp_min(1)


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


# The options of issue 14 part 4, as pytorch-metric-learning computes them:
# LpDistance (F.normalize(p=p) then torch.cdist(p=p)), TripletMarginLoss
# with swap and with BatchEasyHardMiner (through convert_to_triplets),
# ContrastiveLoss with BatchEasyHardMiner pairs and with
# MultiSimilarityMiner() on its default CosineSimilarity, NPairsLoss
# (DotProductSimilarity on normalised embeddings), SupConLoss and NTXentLoss,
# each transcribed from PML's code; AvgNonZeroReducer = sum / #(> 0).
def pml_lp(x, p=2.0):
    xn = F.normalize(x, p=p, dim=1)
    return torch.cdist(xn, xn, p=p)


def pml_cosine(x):
    xn = F.normalize(x, dim=1)
    return xn @ xn.T


def avg_nonzero(losses):
    nz = (losses > 0).sum()
    return losses[losses > 0].sum() / nz if nz > 0 else (losses * 0).sum()


def all_pairs_indices(labels):
    pos, neg = masks(labels)
    a1, p = torch.where(pos)
    a2, n = torch.where(neg)
    return a1, p, a2, n


def convert_to_triplets(a1, p, a2, n):
    pi, ni = torch.where(a1.unsqueeze(1) == a2)
    return a1[pi], p[pi], n[ni]


def batch_easy_hard_pml(mat, labels, pos_strategy="easy", neg_strategy="semihard", inverted=False):
    """BatchEasyHardMiner.mine (no allowed ranges) on a detached matrix."""
    a1_idx, p_idx, a2_idx, n_idx = all_pairs_indices(labels)
    a = torch.arange(mat.size(0))

    def per_row(xtype, anchor_idx, other_idx, thresholds=None):
        inf = float("inf") if xtype == "min" else float("-inf")
        mask = torch.ones_like(mat) * inf
        mask[anchor_idx, other_idx] = 1
        if thresholds is not None:
            cond = mat <= thresholds.unsqueeze(1) if xtype == "min" else mat >= thresholds.unsqueeze(1)
            mask[cond] = inf
        non_inf_rows = torch.any(mask != inf, dim=1)
        m = mat.clone()
        m[mask == inf] = inf
        fn = torch.min if xtype == "min" else torch.max
        return fn(m, dim=1), non_inf_rows

    def mine_fn(strategy):
        if strategy in ("hard", "semihard"):
            return "min" if inverted else "max"
        return "max" if inverted else "min"

    def positives(thr=None):
        return per_row(mine_fn(pos_strategy), a1_idx, p_idx, thr)

    def negatives(thr=None):
        return per_row(mine_fn("easy" if neg_strategy in ("hard", "semihard") else "hard"), a2_idx, n_idx, thr)

    if pos_strategy == "semihard" and neg_strategy != "all":
        (nd, ni), nk = negatives()
        (pd, pi), pk = positives(nd)
    elif neg_strategy == "semihard" and pos_strategy != "all":
        (pd, pi), pk = positives()
        (nd, ni), nk = negatives(pd)
    else:
        if pos_strategy != "all":
            (pd, pi), pk = positives()
        if neg_strategy != "all":
            (nd, ni), nk = negatives()
    if "all" not in (pos_strategy, neg_strategy):
        keep = torch.where(pk & nk)
        return a[keep], pi[keep], a[keep], ni[keep]
    if pos_strategy == "all" and neg_strategy != "all":
        return a1_idx, p_idx, a[nk], ni[nk]
    if pos_strategy != "all" and neg_strategy == "all":
        return a[pk], pi[pk], a2_idx, n_idx
    return a1_idx, p_idx, a2_idx, n_idx


def multi_similarity_miner_pml(sim, labels, epsilon=0.1):
    """MultiSimilarityMiner.mine on cosine similarities (inverted)."""
    pos, neg = masks(labels)
    min_pos = sim.masked_fill(~pos, float("inf")).min(1).values
    max_neg = sim.masked_fill(~neg, float("-inf")).max(1).values
    a1, p = torch.where(pos & (sim - epsilon < max_neg[:, None]))
    a2, n = torch.where(neg & (sim + epsilon > min_pos[:, None]))
    return a1, p, a2, n


def triplet_margin_pml(x, labels, margin=0.05, swap=False, p=2.0, miner=None):
    mat = pml_lp(x, p)
    if miner is None:
        pos, neg = masks(labels)
        a, pp, n = torch.nonzero(pos[:, :, None] & neg[:, None, :], as_tuple=True)
    else:
        a, pp, n = convert_to_triplets(*miner(mat.detach(), labels))
    if len(a) == 0:
        return (x * 0).sum()
    ap, an = mat[a, pp], mat[a, n]
    if swap:
        an = torch.min(an, mat[pp, n])
    return avg_nonzero(F.relu(ap - an + margin))


def contrastive_pml(x, labels, p=2.0, miner=None, pos_margin=0.0, neg_margin=1.0):
    mat = pml_lp(x, p)
    a1, pp, a2, n = all_pairs_indices(labels) if miner is None else miner(x, mat, labels)
    loss = (x * 0).sum()
    if len(a1) > 0:
        loss = loss + avg_nonzero(F.relu(mat[a1, pp] - pos_margin))
    if len(a2) > 0:
        loss = loss + avg_nonzero(F.relu(neg_margin - mat[a2, n]))
    return loss


def npairs_pml(x, labels):
    a1, p, _, _ = all_pairs_indices(labels)
    # np.unique(labels[a], return_index=True): the first pair of each label
    first = {}
    for k, l in enumerate(labels[a1].tolist()):
        first.setdefault(l, k)
    idx = torch.tensor([first[l] for l in sorted(first)], dtype=torch.long)
    if len(idx) == 0:
        return (x * 0).sum()
    a, p = a1[idx], p[idx]
    xn = F.normalize(x, dim=1)
    sim = xn[a] @ xn[p].T
    return F.cross_entropy(sim, torch.arange(len(a)))


def supcon_pml(x, labels, temperature=0.1):
    pos, neg = masks(labels)
    if not (pos.any() and neg.any()):
        return (x * 0).sum()
    mat = pml_cosine(x) / temperature
    mat = mat - mat.max(dim=1, keepdim=True)[0].detach()
    denominator = pml_logsumexp(mat, pos | neg, False)
    log_prob = mat - denominator[:, None]
    pos_f = pos.to(x.dtype)
    mean_log_prob_pos = (pos_f * log_prob).sum(1) / (pos_f.sum(1) + torch.finfo(x.dtype).tiny)
    return avg_nonzero(-mean_log_prob_pos)


def ntxent_pml(x, labels, temperature=0.07):
    a1, p, a2, n = all_pairs_indices(labels)
    if len(a1) == 0 or len(a2) == 0:
        return (x * 0).sum()
    mat = pml_cosine(x)
    pos_pairs = mat[a1, p].unsqueeze(1) / temperature
    neg_pairs = mat[a2, n] / temperature
    n_per_p = (a2.unsqueeze(0) == a1.unsqueeze(1)).to(x.dtype)
    neg_pairs = neg_pairs * n_per_p
    neg_pairs[n_per_p == 0] = float("-inf")
    max_val = torch.max(pos_pairs, torch.max(neg_pairs, dim=1, keepdim=True)[0]).detach()
    numerator = torch.exp(pos_pairs - max_val).squeeze(1)
    denominator = torch.sum(torch.exp(neg_pairs - max_val), dim=1) + numerator
    log_exp = torch.log((numerator / denominator) + torch.finfo(x.dtype).tiny)
    return (-log_exp).mean()


def _easy_hard(pos, neg, swap=False):
    return lambda x, labels: triplet_margin_pml(
        x, labels, swap=swap, miner=lambda mat, lab: batch_easy_hard_pml(mat, lab, pos, neg))


def _contrastive_easy_hard(pos, neg):
    return lambda x, labels: contrastive_pml(
        x, labels, miner=lambda x, mat, lab: batch_easy_hard_pml(mat.detach(), lab, pos, neg))


OPTIONS = {
    "TripletPMLSwap": lambda x, labels: triplet_margin_pml(x, labels, swap=True),
    "TripletPMLSwapEasyHard/hard-hard": _easy_hard("hard", "hard", swap=True),
    "ContrastivePMLEasyHard/easy-semihard": _contrastive_easy_hard("easy", "semihard"),
    "ContrastivePMLEasyHard/all-hard": _contrastive_easy_hard("all", "hard"),
    "ContrastivePMLEasyHard/semihard-hard": _contrastive_easy_hard("semihard", "hard"),
    "ContrastivePMLEasyHard/semihard-easy": _contrastive_easy_hard("semihard", "easy"),
    "ContrastivePMLEasyHard/hard-all": _contrastive_easy_hard("hard", "all"),
    "ContrastivePMLMultiSimilarityMiner": lambda x, labels: contrastive_pml(
        x, labels, miner=lambda x, mat, lab: multi_similarity_miner_pml(pml_cosine(x).detach(), lab)),
    "NPairPML": npairs_pml,
    "NPairPML/three-classes": npairs_pml,
    "SupConPML": supcon_pml,
    "SupConPML/three-classes": supcon_pml,
    "SupConPML/one-class": supcon_pml,
    "NTXentPML/three-classes": ntxent_pml,
    "TripletPMLLp/p=1": lambda x, labels: triplet_margin_pml(x, labels, p=1.0),
    "TripletPMLLp/p=3": lambda x, labels: triplet_margin_pml(x, labels, p=3.0),
    "ContrastivePMLLp/p=1": lambda x, labels: contrastive_pml(x, labels, p=1.0),
    "ContrastivePMLLp/p=1.5": lambda x, labels: contrastive_pml(x, labels, p=1.5),
}
for _pos, _neg in [("easy", "semihard"), ("hard", "hard"), ("semihard", "hard"), ("semihard", "easy"),
                   ("hard", "easy"), ("all", "hard"), ("easy", "all"), ("all", "all")]:
    OPTIONS[f"TripletPMLEasyHard/{_pos}-{_neg}"] = _easy_hard(_pos, _neg)


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
    "NTXent": ntxent,
    "SupCon": supcon,
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
    ("NTXent", "NTXent"),
    ("SupCon", "SupCon"),
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
    """Median and minimum seconds of forward+backward after two warm-ups,
    and the median process CPU seconds (all threads) per repeat."""
    x = x0.clone().requires_grad_(True)
    for _ in range(2):
        fn(x, labels).backward()
        x.grad = None
    times, cpus, total = [], [], 0.0
    while len(times) < max_repeats and (len(times) < min_repeats or total < budget):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(x, labels).backward()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        x.grad = None
        times.append(dt)
        cpus.append(dc)
        total += dt
    return statistics.median(times), min(times), len(times), statistics.median(cpus)


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
            med, best, n, cpu = time_loss(fn, x0, labels)
            results[f"{name}/B={b}/D={args.dim}"] = {"median": med * 1e3, "min": best * 1e3, "repeats": n, "cpu": cpu * 1e3}
            row += f"{med * 1e3:11.3f}/{n:<2d}"
        print(row, flush=True)
    if any(b > args.max_cubic for b in sizes):
        print(f"skipped: B×B×B broadcasts ({', '.join(sorted(CUBIC))}) above B={args.max_cubic} (--max-cubic);"
              " at B=1024 one forward+backward takes tens of seconds here; TripletIdx has the same value")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)


GO_LINE = re.compile(r"^BenchmarkLosses(?:PairBased|Proxy)?/(\S+)/B=(\d+)/D=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) cpu-ms/op)?")


def compare(go_file, torch_file):
    go, gocpu = {}, {}
    with open(go_file) as f:
        for line in f:
            m = GO_LINE.match(line)
            if m:
                go.setdefault((m[1], int(m[2]), int(m[3])), []).append(float(m[4]) / 1e6)
                if m[5]:
                    gocpu.setdefault((m[1], int(m[2]), int(m[3])), []).append(float(m[5]))
    with open(torch_file) as f:
        tr = json.load(f)
    print(f"{'Go loss':18s} {'torch loss':17s} {'B':>5s} {'Go ms':>9s} {'torch ms':>9s} {'Go/torch':>9s}"
          f" {'(min: Go':>10s} {'torch':>9s} {'ratio)':>7s} {'CPU ms: Go':>11s} {'torch':>7s} {'ratio':>6s}")
    for gname, tname in PAIRS:
        for (n, b, d), vals in sorted(go.items(), key=lambda kv: kv[0][1]):
            if n != gname:
                continue
            t = tr.get(f"{tname}/B={b}/D={d}")
            gm, gmin = statistics.median(vals), min(vals)
            if t is None:
                print(f"{gname:18s} {tname:17s} {b:5d} {gm:9.2f} {'-':>9s} {'-':>9s}")
                continue
            cpu = ""
            if (n, b, d) in gocpu and "cpu" in t:
                gc = statistics.median(gocpu[(n, b, d)])
                cpu = f" {gc:11.2f} {t['cpu']:7.2f} {gc / t['cpu']:6.2f}"
            print(f"{gname:18s} {tname:17s} {b:5d} {gm:9.2f} {t['median']:9.2f} {gm / t['median']:9.2f}"
                  f" {gmin:10.2f} {t['min']:9.2f} {gmin / t['min']:7.2f}{cpu}")
    print("Go ms: median (and min) over the -count runs of ns/op; torch ms: median (and min) over repeats;")
    print("CPU ms: process CPU time (all threads) per step, Go's cpu-ms/op and torch's time.process_time(),")
    print("which other load on a shared machine does not inflate as it does wall time")


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
    "NTXent": ntxent,
    "SupCon": supcon,
    "MultiSimilarityPML": multi_similarity_pml,
    "CirclePML": circle_pml,
    "GeneralizedLiftedPML": generalized_lifted_pml,
    "MarginPML": margin_pml,
    "DebiasedContrastive": debiased_contrastive,
    "HardNegative": hard_negative,
    **OPTIONS,
}


def crosscheck(path):
    with open(path) as f:
        dump = json.load(f)
    x0 = torch.tensor(dump["x"], dtype=torch.float64)
    print(f"cross-check: B={x0.shape[0]}, D={x0.shape[1]}, float64, labels {dump['labels']}")
    print(f"{'loss':36s} {'Go':>24s} {'torch':>24s} {'|diff|':>9s} {'max|Δgrad|':>11s}")
    worst = 0.0
    for name, v in dump["losses"].items():
        labels = torch.tensor(v["labels"]) if v.get("labels") else torch.tensor(dump["labels"])
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
            print(f"{label:36s} {v['value']:24.17g} {tv:24.17g} {diff:9.1e} {gd:11.1e}")
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
        print(f"{name:36s} {v['value']:24.17g} {tv:24.17g} {diff:9.1e} {gd:11.1e}  params {tuple(p.shape)} max|Δgrad| {pd:.1e}")
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
