"""How alike two models' representations are, layer by layer: cosine and linear CKA.

Linear CKA (Kornblith et al. 2019): with column-centred X [n, d1], Y [n, d2],
CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F). It is 1 for X with itself and invariant
to orthogonal transforms and isotropic scaling of either side.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..forward import ForwardCache


def linear_cka(x, y) -> float:
    """Linear CKA between two representations of the same n items.  x # [n, d1], y # [n, d2]"""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(y), dtype=torch.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same items on both sides ({x.shape[0]} vs {y.shape[0]})")
    x = x - x.mean(0, keepdim=True)
    y = y - y.mean(0, keepdim=True)
    # n x n Gram form is cheaper when n << d (tokens of one pair vs 768 features)
    if x.shape[0] < min(x.shape[1], y.shape[1]):
        kx, ky = x @ x.T, y @ y.T
        num, den = (kx * ky).sum(), kx.norm() * ky.norm()
    else:
        num, den = (y.T @ x).norm() ** 2, (x.T @ x).norm() * (y.T @ y).norm()
    return float(num / den) if den > 0 else float("nan")


def cosine(a, b) -> float:
    a = torch.as_tensor(np.asarray(a), dtype=torch.float64).flatten()
    b = torch.as_tensor(np.asarray(b), dtype=torch.float64).flatten()
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def mean_pool(cache: ForwardCache, layer: int) -> torch.Tensor:
    """Mean of hidden states over non-padding tokens.  # [batch, d_model]"""
    h = cache[f"blocks.{layer}.hidden"]  # [batch, seq, d_model]
    m = cache.attention_mask[..., None].to(h.dtype)  # [batch, seq, 1]
    return (h * m).sum(1) / m.sum(1)


def layer_similarity(a: ForwardCache, b: ForwardCache, i: int = 0) -> pd.DataFrame:
    """Cosine of mean-pooled states and token-level CKA per layer (CKA null when tokenizations differ)."""
    same_tokens = a.tokens[i] == b.tokens[i]
    n = min(a.n_layers, b.n_layers)
    rows = []
    for l in range(n + 1):
        cka = None
        if same_tokens:
            xa = a[f"blocks.{l}.hidden"][i][a.attention_mask[i].bool()]  # [tokens, d_a]
            xb = b[f"blocks.{l}.hidden"][i][b.attention_mask[i].bool()]  # [tokens, d_b]
            cka = linear_cka(xa, xb)
        cos = cosine(mean_pool(a, l)[i], mean_pool(b, l)[i]) if a[f"blocks.{l}.hidden"].shape[-1] == b[f"blocks.{l}.hidden"].shape[-1] else None
        rows.append({"layer": l, "cosine": cos, "cka": cka})
    return pd.DataFrame(rows)
