"""Language neurons on one pair: how strongly each language's LAPE neurons fire, from the cached forward.

Pure functions over a ForwardCache (captured "mlp": `mlp.post`, the FFN activations) and a neuron set
(`{lang: [[neuron, ...] per layer]}`, as mlt_core.neurons.lape.load_neurons returns); the Playground's
Language neurons tab draws them. They take the neuron set as well as the cache, so they are not entries
of the one-argument REGISTRY.
"""
from __future__ import annotations

import math
from typing import Mapping

import pandas as pd
import torch

from mlt_core.forward import ForwardCache, act_name


def _tokens_mask(cache: ForwardCache, i: int) -> torch.Tensor:
    return cache.attention_mask[i].bool()  # [seq]


def firing(cache: ForwardCache, neurons: Mapping[str, list], i: int = 0) -> pd.DataFrame:
    """How strongly each language's neurons fire per layer on example i (from the cached forward).

    Columns: lang, layer, neurons, share_active (of (token, neuron) cells > 0), mean_activation,
    share_active_all (the same share over every neuron of the layer, for reference).
    """
    m = _tokens_mask(cache, i)
    rows = []
    for l in range(cache.n_layers):
        act = cache[act_name(l, "mlp.post")][i][m]  # [tokens, d_ff]
        base = float((act > 0).float().mean())
        for lang, layers in neurons.items():
            idx = torch.as_tensor(layers[l], dtype=torch.long)
            a = act[:, idx]  # [tokens, k]
            rows.append({"lang": lang, "layer": l, "neurons": len(idx),
                         "share_active": float((a > 0).float().mean()) if len(idx) else math.nan,
                         "mean_activation": float(a.mean()) if len(idx) else math.nan,
                         "share_active_all": base})
    return pd.DataFrame(rows)


def top_neurons(cache: ForwardCache, neurons: Mapping[str, list], i: int = 0, k: int = 10) -> pd.DataFrame:
    """Each language's k neurons with the highest mean activation on example i.

    Columns: lang, layer, neuron, mean_activation, share_active (of the example's tokens).
    """
    m = _tokens_mask(cache, i)
    rows = []
    for lang, layers in neurons.items():
        cand = []
        for l, idx in enumerate(layers):
            if not len(idx):
                continue
            a = cache[act_name(l, "mlp.post")][i][m][:, torch.as_tensor(idx, dtype=torch.long)]  # [tokens, n]
            for j, n in enumerate(idx):
                cand.append({"lang": lang, "layer": l, "neuron": int(n), "mean_activation": float(a[:, j].mean()),
                             "share_active": float((a[:, j] > 0).float().mean())})
        rows += sorted(cand, key=lambda r: -r["mean_activation"])[:k]
    return pd.DataFrame(rows, columns=["lang", "layer", "neuron", "mean_activation", "share_active"])
