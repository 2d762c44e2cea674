"""How alike two models' representations are, layer by layer: cosine and linear CKA.

Linear CKA (Kornblith et al. 2019): with column-centred X [n, d1], Y [n, d2],
CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F). It is 1 for X with itself and invariant
to orthogonal transforms and isotropic scaling of either side.
That estimator is biased upwards when n is not >> d: two independent noise matrices of 200 x 768
give ~0.79. The debiased one (`debiased=True`) replaces each HSIC by the unbiased estimator of
Song et al. (2012), as Nguyen et al. (2021) do for CKA: with K~, L~ the Gram matrices with zero
diagonals, HSIC_1 = [tr(K~L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3)); noise then
gives ~0 (it can go slightly negative). `debiased=None` picks it where n < min(d1, d2) (CKA_AUTO).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from mlt_core.forward import ForwardCache, act_name


CKA_AUTO = "debiased where n < min(d1, d2), else biased"


def debiased_by_default(n: int, d1: int, d2: int) -> bool:
    return n < min(d1, d2)


def _hsic1(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
    """Unbiased HSIC (Song et al. 2012) of two Gram matrices with zeroed diagonals.  k, l # [n, n]"""
    n = k.shape[0]
    kl = k @ l
    return (torch.trace(kl) + k.sum() * l.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * kl.sum()) / (n * (n - 3))


def _debiased_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    if x.shape[0] < 4:
        return float("nan")  # the unbiased HSIC needs n >= 4
    k, l = x @ x.T, y @ y.T  # [n, n]; centring is implied by the estimator
    k.fill_diagonal_(0.0)
    l.fill_diagonal_(0.0)
    den = torch.sqrt(_hsic1(k, k) * _hsic1(l, l))
    return float(_hsic1(k, l) / den) if den > 0 else float("nan")


def linear_cka(x, y, debiased: bool | None = False) -> float:
    """Linear CKA between two representations of the same n items.  x # [n, d1], y # [n, d2]

    debiased: False (Kornblith's estimator), True (unbiased HSIC), None (CKA_AUTO: debiased where n < min(d))."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(y), dtype=torch.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same items on both sides ({x.shape[0]} vs {y.shape[0]})")
    if debiased is None:
        debiased = debiased_by_default(x.shape[0], x.shape[1], y.shape[1])
    if debiased:
        return _debiased_cka(x, y)
    x = x - x.mean(0, keepdim=True)
    y = y - y.mean(0, keepdim=True)
    # n x n Gram form is cheaper when n << d (tokens of one pair vs 768 features)
    if x.shape[0] < min(x.shape[1], y.shape[1]):
        kx, ky = x @ x.T, y @ y.T
        num, den = (kx * ky).sum(), kx.norm() * ky.norm()
    else:
        num, den = (y.T @ x).norm() ** 2, (x.T @ x).norm() * (y.T @ y).norm()
    return float(num / den) if den > 0 else float("nan")


def cka_noise_floor(x, y, debiased: bool | None = False, shuffles: int = 5, seed: int = 0) -> float:
    """CKA of shuffled pairs: x against y with its rows permuted (the item correspondence broken), mean
    over `shuffles` seeded permutations. What CKA gives for unrelated items of the same two spaces."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    vals = [linear_cka(x, y[rng.permutation(len(y))], debiased) for _ in range(int(shuffles))]
    return float(np.mean(vals)) if vals else float("nan")


def cosine(a, b) -> float:
    a = torch.as_tensor(np.asarray(a), dtype=torch.float64).flatten()
    b = torch.as_tensor(np.asarray(b), dtype=torch.float64).flatten()
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def mean_pool(cache: ForwardCache, layer: int) -> torch.Tensor:
    """Mean of hidden states over non-padding tokens.  # [batch, d_model]"""
    h = cache[act_name(layer, "hidden")]  # [batch, seq, d_model]
    m = cache.attention_mask[..., None].to(h.dtype)  # [batch, seq, 1]
    return (h * m).sum(1) / m.sum(1)


def layer_similarity(a: ForwardCache, b: ForwardCache, i: int = 0, debiased: bool | None = None) -> pd.DataFrame:
    """How alike the two models' states are at every layer: cosine of mean-pooled states, token-level CKA.

    CKA is null when the two tokenizations differ.

    debiased: the CKA estimator (linear_cka); by default CKA_AUTO, as everywhere: one pair has far fewer
    tokens than dimensions, where the biased estimator sits near 1 even for unrelated representations."""
    same_tokens = a.tokens[i] == b.tokens[i]
    n = min(a.n_layers, b.n_layers)
    rows = []
    for l in range(n + 1):
        cka = None
        if same_tokens:
            xa = a[act_name(l, "hidden")][i][a.attention_mask[i].bool()]  # [tokens, d_a]
            xb = b[act_name(l, "hidden")][i][b.attention_mask[i].bool()]  # [tokens, d_b]
            cka = linear_cka(xa, xb, debiased)
        cos = cosine(mean_pool(a, l)[i], mean_pool(b, l)[i]) if a[act_name(l, "hidden")].shape[-1] == b[act_name(l, "hidden")].shape[-1] else None
        rows.append({"layer": l, "cosine": cos, "cka": cka})
    return pd.DataFrame(rows)
