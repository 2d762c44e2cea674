"""Decision lens: where does the decision form? A linear probe per layer reads p(label) off the pair's
mean-pooled hidden state at that layer.

Probes (standardise + multinomial logistic regression, as `representations.probe_table`) are trained
once per model on the pooled states that `representations.internals` captures and caches, over every
language of the data with its fixed split by id; their coefficients are cached as plain arrays
(`causal-lens/<key>.npz`, never pickled) and applied by hand: softmax(((x - mean) / scale) @ coef.T + b).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from mlt_core import store
from mlt_core.causal.common import Progress, as_checkpoint, prob_rows, softmax
from mlt_core.data.labels import LABELS
from mlt_core.errors import MltError
from mlt_core.model.checkpoint import Checkpoint

VERSION = 1
Probes = dict  # {"mean", "scale": [L+1, d], "coef": [L+1, 3, d], "intercept": [L+1, 3], "accuracy": [L+1], "n_train"}


def fit_probes(stats: dict, model: str) -> Probes:
    """One label probe per layer on a model's pooled states (all languages), with held-out accuracy."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlt_core.eval.representations import _stack, train_mask

    n_layers = next(s["pooled"].shape[1] for k, s in stats.items() if k[0] == model)
    out = {k: [] for k in ("mean", "scale", "coef", "intercept", "accuracy")}
    n_train = 0
    for layer in range(n_layers):
        x, meta = _stack(stats, model, layer)  # [n, d]
        y = np.concatenate([s["labels"] for k, s in stats.items() if k[0] == model])  # canonical ids
        tr = train_mask(meta["id"])
        if len(set(y[tr])) < 3 or tr.all():
            raise MltError("the probe data needs all three labels in its training part and some held-out pairs; "
                           "use more examples per language")
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        clf.fit(x[tr], y[tr])
        sc, lr = clf[0], clf[1]
        order = np.argsort(lr.classes_)  # rows in canonical label order
        out["mean"].append(sc.mean_)
        out["scale"].append(sc.scale_)
        out["coef"].append(lr.coef_[order])
        out["intercept"].append(lr.intercept_[order])
        out["accuracy"].append(float((clf.predict(x[~tr]) == y[~tr]).mean()))
        n_train = int(tr.sum())
    probes = {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
    probes["n_train"] = np.asarray(n_train)
    return probes


def apply_probes(probes: Probes, pooled: np.ndarray) -> np.ndarray:
    """p(label) per layer for pooled states.  pooled: [n, L+1, d] -> [n, L+1, 3]"""
    z = (pooled - probes["mean"][None]) / probes["scale"][None]  # [n, L+1, d]
    logits = np.einsum("nld,lcd->nlc", z, probes["coef"]) + probes["intercept"][None]
    return softmax(logits)


def probes_for(model: str | Checkpoint, data: pd.DataFrame, langs: Sequence[str] | None = None, *, limit: int = 200,
               max_length: int | None = None, loader: Callable | None = None,
               progress: Progress | None = None, cached_only: bool = False) -> Probes | None:
    """The model's layer probes, trained on `data` (first `limit` pairs per language) once and cached.

    cached_only: return None instead of training (a page on open must not start a dataset pass)."""
    from mlt_core.eval.evaluate import check_data, model_name
    from mlt_core.eval.representations import internals

    data = check_data(data)
    langs = list(langs or dict.fromkeys(data["lang"]))
    name, path = model_name(model)
    sub = pd.concat([data[data["lang"] == l].head(limit) for l in langs], ignore_index=True)
    key = store.fingerprint("lens", VERSION, store.checkpoint_fingerprint(path), store.data_fingerprint(sub), max_length)
    hit = store.read_arrays("causal-lens", key)
    if hit is not None or cached_only:
        return hit
    stats = internals([model], data, langs, limit=limit, max_length=max_length, loader=loader, progress=progress)
    probes = fit_probes(stats, name)
    store.write_arrays("causal-lens", key, probes)
    return probes


def pooled_states(cache) -> np.ndarray:
    """Mean-pooled hidden state of every layer (the probes' features).  # [batch, L+1, d]"""
    from mlt_core.probes.similarity import mean_pool

    return np.stack([mean_pool(cache, l).double().numpy() for l in range(cache.n_layers + 1)], axis=1)


def lens_pair(ckpt: str | Checkpoint, premise: str, hypothesis: str, probes: Probes, cache=None,
              loader: Callable | None = None) -> pd.DataFrame:
    """Per layer: the probe's p(label) for the pair, its held-out accuracy, and the model's own prediction."""
    from mlt_core.forward import forward

    if cache is None:
        ckpt = as_checkpoint(ckpt, loader)
        cache = forward(ckpt, [(premise, hypothesis)], capture={"hidden"})
    p = apply_probes(probes, pooled_states(cache))[0]  # [L+1, 3]
    head = cache.probs[0].double().numpy()
    return pd.DataFrame({"layer": np.arange(len(p)), **prob_rows(p), "probe_accuracy": probes["accuracy"],
                         "model": cache.model_name, "head_predicted": LABELS[int(head.argmax())]})

