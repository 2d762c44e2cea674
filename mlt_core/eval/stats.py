"""Per-example internals of one pass: what a dataset-scale pass keeps of every batch, beyond the logits.

`Stats` holds, per example, the mean-pooled hidden state of every layer, the mean attention entropy per
(layer, head) and the mean hidden-state norm per layer. `empty_stats` allocates them for a DataFrame,
`add_batch` reduces one batch's ForwardCache (captured "attn" and "hidden") into them. Both the evaluation
(`eval.evaluate.predict_with_internals`) and `eval.representations.collect` fill them this way.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mlt_core.forward import act_name
from mlt_core.model.checkpoint import Checkpoint
from mlt_core.probes.entropy import entropy_per_example
from mlt_core.probes.similarity import mean_pool

VERSION = 2  # 2: + "norm"
Stats = dict  # {"ids" [n] str, "labels" [n] int, "pooled" [n, L+1, d] f32, "entropy"/"entropy_norm" [n, L, H],
#               "norm" [n, L+1] f32: mean L2 norm of the non-pad token states (seed 001's hidden-state magnitude)}


def empty_stats(ckpt: Checkpoint, df: pd.DataFrame) -> Stats:
    """Zeroed Stats for the rows of `df` (filled batch by batch with add_batch)."""
    n, L, H = len(df), ckpt.n_layers, ckpt.n_heads
    d = ckpt.model.config.hidden_size
    return {"ids": np.asarray(df["id"].astype(str).tolist()), "labels": df["label"].to_numpy(np.int64),
            "pooled": np.zeros((n, L + 1, d), dtype=np.float32),  # [n, layer+1, d]
            "entropy": np.zeros((n, L, H), dtype=np.float32),  # [n, layer, head]
            "entropy_norm": np.zeros((n, L, H), dtype=np.float32),
            "norm": np.zeros((n, L + 1), dtype=np.float32)}  # [n, layer+1]


def add_batch(stats: Stats, idx, cache) -> None:
    """Reduce one batch's cache (captured "attn" and "hidden") into the rows `idx` of `stats`."""
    raw, norm = entropy_per_example(cache)  # [batch, layer, head]
    stats["entropy"][idx], stats["entropy_norm"][idx] = raw.float().numpy(), norm.float().numpy()
    m = cache.attention_mask.float()  # [batch, seq]
    for l in range(stats["pooled"].shape[1]):
        stats["pooled"][idx, l] = mean_pool(cache, l).float().numpy()  # [batch, d]
        tok_norm = cache[act_name(l, "hidden")].float().norm(dim=-1)  # [batch, seq]
        stats["norm"][idx, l] = ((tok_norm * m).sum(1) / m.sum(1)).numpy()
