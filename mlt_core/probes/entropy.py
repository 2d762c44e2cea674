"""Attention entropy per layer and head (nats), raw and normalised by log(#keys attended).

Normalising matters: a row spread evenly over n keys has entropy log n, so long (often
Hindi) inputs would look "more scattered" only because they are longer.
"""
from __future__ import annotations

import pandas as pd
import torch

from mlt_core.forward import ForwardCache, act_name


def row_entropy(pattern: torch.Tensor, key_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Entropy of each attention row and its normalised value.

    pattern  # [batch, head, q, k] probabilities
    key_mask # [batch, q, k] keys each query may attend to
    returns (H, H / log n_keys), both  # [batch, head, q]; rows with one key get 0 normalised.
    """
    p = pattern.double()
    plogp = torch.where(p > 0, p * p.clamp_min(1e-300).log(), torch.zeros_like(p))
    h = -(plogp * key_mask[:, None].double()).sum(-1)  # [batch, head, q]
    n_keys = key_mask.sum(-1).double()  # [batch, q]
    log_n = n_keys.log()[:, None]  # [batch, 1, q]
    h_norm = torch.where(log_n > 0, h / log_n.clamp_min(1e-12), torch.zeros_like(h))
    return h, h_norm


def entropy_per_example(cache: ForwardCache) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over non-padding queries of the row entropy.  Both  # [batch, layer, head]"""
    km = cache.key_mask()  # [batch, q, k]
    qmask = cache.attention_mask.double()  # [batch, q]
    raw, norm = [], []
    for l in range(cache.n_layers):
        h, hn = row_entropy(cache[act_name(l, "attn.pattern")], km)  # [batch, head, q]
        denom = qmask.sum(-1)[:, None]  # [batch, 1]
        raw.append((h * qmask[:, None]).sum(-1) / denom)
        norm.append((hn * qmask[:, None]).sum(-1) / denom)
    return torch.stack(raw, 1), torch.stack(norm, 1)


def attention_entropy(cache: ForwardCache, i: int = 0) -> pd.DataFrame:
    """How spread out each head's attention is, per layer and head (high: diffuse, low: focused on few tokens).

    Example i; columns layer, head, entropy (nats, mean over the query tokens), entropy_norm (/ log of the
    number of keys).
    """
    raw, norm = entropy_per_example(cache)
    rows = [
        {"layer": l, "head": h, "entropy": float(raw[i, l, h]), "entropy_norm": float(norm[i, l, h])}
        for l in range(cache.n_layers) for h in range(cache.n_heads)
    ]
    return pd.DataFrame(rows)
