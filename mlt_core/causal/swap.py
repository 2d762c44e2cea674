"""Layer swapping: A's embeddings and blocks < l, then B's blocks >= l, then A's (or B's) head.

For each cut l = 0..L the hybrid runs as one model would. Cost: A runs once (a normal forward
that records the input of every block), then from each cut only B's remaining L - l blocks run:
L(L+1)/2 blocks = (L+1)/2 forwards, so (L + 3)/2 forward-equivalents per example for the whole
curve (both heads: the mirror costs only a head), against L + 1 for building and evaluating
each hybrid. l = L with A's head is A itself; l = 0 with B's head is B when B's embeddings equal A's.
"Head" = what follows the last block: the classifier (XLM-R), or the final norm + score (decoders).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from mlt_core import store
from mlt_core.causal.common import Progress, as_checkpoint, fingerprint_of, prob_rows, softmax, sorted_chunks, subsets
from mlt_core.causal.layers import check_same_architecture, head_logits, record, run_from
from mlt_core.model.checkpoint import Checkpoint

VERSION = 2  # 2: heads stored as A/B, named on the way out
COLS = ["lang", "cut", "head", "accuracy", "n"]


def swap_logits(a: Checkpoint, b: Checkpoint, pairs: Sequence[tuple[str, str]],
                max_length: int | None = None) -> np.ndarray:
    """Logits of every hybrid on a batch (canonical label order).  # [cut L+1, head (A, B), batch, 3]"""
    from mlt_core.forward import forward

    check_same_architecture(a, b)
    L = a.n_layers
    with record(a.model) as rec:
        cache = forward(a, pairs, capture=(), max_length=max_length)
    ids = cache.input_ids.to(rec.resid_pre[0].device)
    out = np.zeros((L + 1, 2, len(pairs), 3), dtype=np.float64)
    with torch.inference_mode():
        for l in range(L + 1):
            h = run_from(b.model, rec, rec.resid_pre[l], l)  # [batch, seq, d]
            out[l, 0] = head_logits(a.model, h, ids)[:, a.label_order].double().cpu().numpy()
            out[l, 1] = head_logits(b.model, h, ids)[:, b.label_order].double().cpu().numpy()
    return out


def swap_pair(a: str | Checkpoint, b: str | Checkpoint, premise: str, hypothesis: str,
              loader: Callable | None = None) -> pd.DataFrame:
    """p(label) of every hybrid on one pair: cut, head, p_entailment, p_neutral, p_contradiction, predicted."""
    a, b = as_checkpoint(a, loader), as_checkpoint(b, loader)
    probs = softmax(swap_logits(a, b, [(premise, hypothesis)])[:, :, 0])  # [cut, head, 3]
    rows = []
    for h, name in enumerate((a.name, b.name)):
        rows.append(pd.DataFrame({"cut": np.arange(a.n_layers + 1), "head": name, **prob_rows(probs[:, h])}))
    return pd.concat(rows, ignore_index=True)


def swap_curve(a: str | Checkpoint, b: str | Checkpoint, data: pd.DataFrame, langs: Sequence[str] | None = None, *,
               limit: int | None = None, batch_size: int = 32, max_length: int | None = None,
               progress: Progress | None = None, loader: Callable | None = None, cache: bool = True) -> pd.DataFrame:
    """Accuracy per language of every hybrid: lang, cut, head (whose head), accuracy, n (cached per language)."""
    subs = subsets(data, langs, limit)
    a, b = as_checkpoint(a, loader), as_checkpoint(b, loader)
    check_same_architecture(a, b)
    fa, fb = fingerprint_of(a), fingerprint_of(b)
    total, done, frames = sum(len(s) for s in subs.values()), 0, []
    for lang, df in subs.items():
        key = store.fingerprint("swap", VERSION, fa, fb, store.data_fingerprint(df), max_length)
        hit = store.read_frame("causal-swap", key) if cache else None
        if hit is None:
            gold = df["label"].to_numpy()
            pairs = list(zip(df["premise"], df["hypothesis"]))
            correct = np.zeros((a.n_layers + 1, 2), dtype=np.int64)  # [cut, head]
            base = done
            for idx in sorted_chunks(a, pairs, batch_size):
                logits = swap_logits(a, b, [pairs[i] for i in idx], max_length)  # [cut, head, batch, 3]
                correct += (logits.argmax(-1) == gold[idx][None, None]).sum(-1)
                done += len(idx)
                if progress:
                    progress(done, total, f"swap {a.name} → {b.name} · {lang}")
            done = base + len(df)
            hit = pd.DataFrame([{"lang": lang, "cut": l, "head": "AB"[h], "accuracy": correct[l, h] / len(df),
                                 "n": len(df)} for h in range(2) for l in range(a.n_layers + 1)], columns=COLS)
            if cache:
                store.write_frame("causal-swap", key, hit)
        else:
            done += len(df)
        frames.append(hit)
    out = pd.concat(frames, ignore_index=True)[COLS]
    return out.assign(head=out["head"].map({"A": a.name, "B": b.name}))  # names apart from the cache: a copy renames

