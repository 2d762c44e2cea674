"""Small helpers shared by the causal analyses: loading, data subsets, cache keys, probability rows."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from mlt_core import store
from mlt_core.data.labels import LABELS
from mlt_core.eval.evaluate import check_data, check_langs
from mlt_core.eval.metrics import PROB_COLS
from mlt_core.model.checkpoint import Checkpoint

Progress = Callable[[int, int, str], None]  # (done, total, what is running)


def as_checkpoint(src: str | Checkpoint, loader: Callable[[str], Checkpoint] | None = None) -> Checkpoint:
    if isinstance(src, Checkpoint):
        return src
    from mlt_core.model.checkpoint import load_checkpoint

    return (loader or load_checkpoint)(str(src))


def fingerprint_of(ckpt: Checkpoint) -> str:
    return store.checkpoint_fingerprint(ckpt.source)


def subsets(data: pd.DataFrame, langs: Sequence[str] | None, limit: int | None) -> dict[str, pd.DataFrame]:
    """The first `limit` examples of each language (all languages of the data by default)."""
    data = check_data(data)
    langs = check_langs(data, langs)
    return {l: data[data["lang"] == l].head(limit) if limit else data[data["lang"] == l] for l in langs}


def prob_rows(probs: np.ndarray) -> dict:
    """Columns p_entailment, p_neutral, p_contradiction and predicted from probabilities.  probs: [n, 3]"""
    out = {c: probs[..., k] for k, c in enumerate(PROB_COLS)}
    out["predicted"] = np.asarray(LABELS)[probs.argmax(-1)]
    return out


def softmax(logits) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    x = np.exp(x - x.max(-1, keepdims=True))
    return x / x.sum(-1, keepdims=True)


def tick(progress: Progress | None, base: int, total: int, desc: str):
    """A forward.batches progress callback (k, n) that reports (base + k, total, desc)."""
    def f(k, n):
        if progress:
            progress(base + k, total, desc)

    return f


def sorted_chunks(ckpt: Checkpoint, pairs: Sequence[tuple[str, str]], batch_size: int) -> list[list[int]]:
    """Index batches of `pairs`, length-sorted for dynamic padding (as forward.batches orders them)."""
    lengths = [len(ids) for ids in ckpt.tokenizer([p for p, _ in pairs], [h for _, h in pairs])["input_ids"]]
    order = sorted(range(len(pairs)), key=lambda i: lengths[i])
    return [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
