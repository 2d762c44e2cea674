"""Weight interpolation and task arithmetic: can one model keep both languages?

(1 - a) * theta_A + a * theta_B for a in [0, 1], and the task-arithmetic merge
base + (A - base) + (B - base), each evaluated per language. Every mixed model is a private
copy (the app shares loaded models across sessions: their weights are never touched); one
copy is made and rewritten for each a. The base is streamed tensor by tensor from its
safetensors. If A and B order their labels differently, B's head rows are aligned to A's by name.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch

from mlt_core import store
from mlt_core.causal.common import Progress, as_checkpoint, fingerprint_of, subsets
from mlt_core.causal.layers import check_same_architecture
from mlt_core.model.checkpoint import Checkpoint

VERSION = 1
COLS = ["kind", "alpha", "lang", "accuracy", "n"]
MERGE = "task arithmetic"


def _aligned(a: Checkpoint, b: Checkpoint) -> dict[str, torch.Tensor]:
    """B's parameters by name, head rows permuted into A's logit order (label names decide)."""
    pb = dict(b.model.named_parameters())
    if a.label_order == b.label_order:
        return pb
    perm = [0] * len(a.label_order)
    for canon, ia in enumerate(a.label_order):
        perm[ia] = b.label_order[canon]  # A's logit ia is canonical label `canon`, B's logit for it
    n_labels = a.model.config.num_labels
    out = {}
    for k, v in pb.items():
        head = k.split(".")[0] in ("classifier", "score") and v.shape[0] == n_labels
        out[k] = v[perm] if head else v
    return out


def _copy(a: Checkpoint, name: str) -> Checkpoint:
    model = copy.deepcopy(a.model).eval()
    for m in model.modules():  # hooks another session had on the shared model at this instant stay there
        m._forward_hooks.clear()
        m._forward_pre_hooks.clear()
    return dataclasses.replace(a, model=model, name=name, warnings=[])


def mixed_models(a: Checkpoint, b: Checkpoint, alphas: Sequence[float]) -> Iterator[tuple[float, Checkpoint]]:
    """(alpha, a private model with weights (1 - alpha) * A + alpha * B), one copy rewritten per alpha."""
    check_same_architecture(a, b)
    pa, pb = dict(a.model.named_parameters()), _aligned(a, b)
    mix = _copy(a, f"{a.name}→{b.name}")
    own = dict(mix.model.named_parameters())
    for alpha in alphas:
        with torch.no_grad():
            for k, p in own.items():
                p.copy_(torch.lerp(pa[k], pb[k], float(alpha)))
        yield float(alpha), dataclasses.replace(mix, name=f"{a.name}→{b.name} a={alpha:.2f}")


def merged_model(a: Checkpoint, b: Checkpoint, base: str | None = None) -> tuple[Checkpoint, list[str]]:
    """base + (A - base) + (B - base) = A + B - base, as a private model; notes on what had no base.

    Where the base has no such tensor, or its head was never trained (mlt.json), A's and B's are averaged."""
    from mlt_core.causal.weights import find_base, strip, tensor_files

    from mlt_core.model.checkpoint import meta_says_untrained, read_meta

    check_same_architecture(a, b)
    folder = find_base(a.source, base)
    files = tensor_files(folder)
    noise_head = meta_says_untrained(read_meta(folder))  # a base's random head is no task vector's origin
    by_name = {strip(k): k for k in files}
    pa, pb = dict(a.model.named_parameters()), _aligned(a, b)
    merged = _copy(a, f"{MERGE}: {a.name} + {b.name}")
    notes = []
    from safetensors import safe_open

    with torch.no_grad():
        for k, p in merged.model.named_parameters():
            bk = by_name.get(strip(k))
            t = None
            if bk is not None:
                with safe_open(str(files[bk]), "pt") as fh:
                    t = fh.get_tensor(bk)
            if t is None or t.shape != p.shape or (noise_head and k.split(".")[0] in ("classifier", "score")):
                p.copy_((pa[k] + pb[k]) / 2)  # the base has no such tensor (e.g. a new head): average
                notes.append(k)
            else:
                p.copy_(pa[k] + pb[k] - t.to(p.dtype))
    if notes:
        what = ", ".join(sorted({n.split(".")[0] for n in notes}))
        why = "an untrained" if noise_head else "no"
        notes = [f"the base has {why} {what} ({len(notes)} tensors): the merge averages A's and B's there"]
    return merged, notes


def interpolation_curve(a: str | Checkpoint, b: str | Checkpoint, data: pd.DataFrame,
                        langs: Sequence[str] | None = None, *, steps: int = 11, merge: bool = True,
                        base: str | None = None, limit: int | None = None, batch_size: int = 32,
                        max_length: int | None = None, progress: Progress | None = None,
                        loader: Callable | None = None, cache: bool = True) -> pd.DataFrame:
    """Accuracy per language along A → B: kind (interpolation | task arithmetic), alpha, lang, accuracy, n."""
    from mlt_core.eval.evaluate import predict

    subs = subsets(data, langs, limit)
    a, b = as_checkpoint(a, loader), as_checkpoint(b, loader)
    check_same_architecture(a, b)
    alphas = [float(x) for x in np.linspace(0.0, 1.0, max(2, int(steps)))]
    key = store.fingerprint("interpolate", VERSION, fingerprint_of(a), fingerprint_of(b), alphas, merge, base,
                            {l: store.data_fingerprint(d) for l, d in subs.items()}, max_length)
    hit = store.read_frame("causal-interpolate", key) if cache else None
    if hit is not None:
        return hit.assign(model_a=a.name, model_b=b.name)
    n_models = len(alphas) + int(merge)
    total, rows, done = n_models * sum(len(d) for d in subs.values()), [], 0

    def evaluate_one(kind, alpha, ckpt):
        nonlocal done
        for lang, df in subs.items():
            base_done = done

            def tick(k, n):
                if progress:
                    progress(base_done + k, total, f"{ckpt.name} · {lang}")

            pred = predict(ckpt, df, batch_size, max_length, tick, sdpa=True)  # a private copy: ours to switch
            rows.append({"kind": kind, "alpha": alpha, "lang": lang,
                         "accuracy": float((pred["gold"] == pred["predicted"]).mean()), "n": len(df)})
            done = base_done + len(df)

    for alpha, ckpt in mixed_models(a, b, alphas):
        evaluate_one("interpolation", alpha, ckpt)
    notes = []
    if merge:
        ckpt, notes = merged_model(a, b, base)
        evaluate_one(MERGE, float("nan"), ckpt)
    out = pd.DataFrame(rows, columns=COLS).assign(model_a=a.name, model_b=b.name, note="; ".join(notes))
    if cache:
        store.write_frame("causal-interpolate", key, out)
    return out
