"""One attention head of one example as a tidy q x k table (the Playground's attention heatmap)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mlt_core.charts.bertviz import pretty
from mlt_core.forward import act_name

HEATMAP_MAX_TOKENS = 128


def attention_frame(cache, layer: int, head: int, i: int = 0, max_tokens: int = HEATMAP_MAX_TOKENS) -> pd.DataFrame:
    """q, k, weight for one head of one example (first max_tokens); token labels in `df.attrs["labels"]`.

    Numbers only: the chart names tokens from one list (a Vega parameter), not four strings per cell.
    """
    pattern = cache[act_name(layer, "attn.pattern")][i]  # [head, q, k]
    keep = cache.attention_mask[i].bool()
    w = pattern[head][keep][:, keep].numpy()  # [n, n] padding removed
    toks = cache.tokens[i]
    n = min(len(toks), max_tokens)
    q, k = np.meshgrid(np.arange(n, dtype=np.int16), np.arange(n, dtype=np.int16), indexing="ij")
    df = pd.DataFrame({"q": q.ravel(), "k": k.ravel(), "weight": w[:n, :n].ravel().astype(np.float32)})
    df.attrs["labels"] = [f"{j}·{t}" for j, t in enumerate(pretty(toks[:n]))]
    df.attrs["tokens"] = list(toks[:n])
    return df


def with_tokens(df: pd.DataFrame) -> pd.DataFrame:
    """attention_frame plus q_token / k_token columns (for a CSV download)."""
    toks = np.asarray(df.attrs["tokens"], dtype=object)
    return df.assign(q_token=toks[df["q"].to_numpy()], k_token=toks[df["k"].to_numpy()])
