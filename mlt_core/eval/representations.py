"""Dataset-level internals: attention entropy per layer, model-vs-model CKA/cosine, cross-lingual
alignment of parallel pairs, linear probes per layer, and 2-D projections of pooled states.

The evaluation's own pass (capture={"attn", "hidden"} on top of the logits, see
`evaluate.predict_with_internals`) keeps, per example, only the mean-pooled hidden state of every
layer and the mean attention entropy per (layer, head): `pooled # [n, layer+1, d]`,
`entropy # [n, layer, head]`. Token states never leave the batch, so memory is bounded by
n x (L+1) x d. The stats are cached in the store (`internals/<key>.npz`, never pickled) per
evaluation shard, by the shard's prediction fingerprint: one model pass per (model, data) serves both.
Every analysis below is a pure function of those stats returning a tidy DataFrame.
"""
from __future__ import annotations

from itertools import combinations
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from mlt_core import store
from mlt_core.model.checkpoint import Checkpoint
from mlt_core.eval.evaluate import (SHARD_SIZE, check_data, internals_key, model_name, predict_with_internals,
                                    shard_key, split_shards)
from mlt_core.data.labels import LABELS
from mlt_core.eval.stats import Stats, add_batch, empty_stats

def collect(ckpt: Checkpoint, df: pd.DataFrame, batch_size: int = 16, max_length: int | None = None,
            progress: Callable[[int, int], None] | None = None) -> Stats:
    """One pass over `df` keeping pooled hidden states per layer and attention entropy per example
    (no predictions, no cache: `evaluate.predict_with_internals` keeps both from the same pass)."""
    from mlt_core.forward import batches

    pairs = list(zip(df["premise"], df["hypothesis"]))
    stats = empty_stats(ckpt, df)
    for idx, cache in batches(ckpt, pairs, batch_size, capture=("attn", "hidden"), max_length=max_length,
                              progress=progress):
        add_batch(stats, idx, cache)
        del cache  # token-level tensors die here
    return stats


def internals(models: Sequence[str | Checkpoint], data: pd.DataFrame, langs: Sequence[str] | None = None, *,
              limit: int = 200, batch_size: int = 16, max_length: int | None = None,
              loader: Callable[[str], Checkpoint] | None = None,
              progress: Callable[[int, int, str], None] | None = None,
              shard_size: int | None = None) -> dict[tuple[str, str], Stats]:
    """Stats per (model name, language) on the first `limit` examples of each language.

    They are the evaluation's own: kept per evaluation shard (evaluate.evaluate(internals=...) stores them
    beside the shard's predictions, same fingerprints). A shard that lacks them runs ONCE with both
    predictions and internals kept (so a later evaluation of it runs nothing)."""
    from mlt_core.model.checkpoint import load_checkpoint

    loader = loader or load_checkpoint
    shard_size = shard_size or SHARD_SIZE
    data = check_data(data)
    langs = list(langs or dict.fromkeys(data["lang"]))
    todo, found = [], {}
    for src in models:
        name, path = model_name(src)
        fp = store.checkpoint_fingerprint(path)
        for l in langs:
            for j, sh in enumerate(split_shards(data[data["lang"] == l], shard_size)):
                if j * shard_size >= limit:
                    break
                key = shard_key(fp, sh, max_length)
                hit = store.read_arrays("internals", internals_key(key))
                found[(name, l, j)] = hit
                if hit is None:
                    todo.append((src, name, path, l, j, sh, key))
    total, done, loaded = sum(len(t[5]) for t in todo), 0, {}
    for src, name, path, l, j, sh, key in todo:
        ckpt = src if isinstance(src, Checkpoint) else loaded.get(path) or loader(path)
        loaded[path] = ckpt
        base = done

        def tick(k, n, base=base, name=name, l=l):
            if progress:
                progress(base + k, total, f"internals {name} · {l}")

        preds, stats = predict_with_internals(ckpt, sh, batch_size, max_length, tick)
        store.write_frame("predictions", key, preds)  # where an evaluation of this shard finds it
        store.write_arrays("internals", internals_key(key), stats)
        found[(name, l, j)] = stats
        done += len(sh)
    out = {}
    for (name, l, j), s in found.items():
        out.setdefault((name, l), []).append(s)
    return {k: {a: np.concatenate([s[a] for s in parts])[:limit] for a in parts[0]} for k, parts in out.items()}


def entropy_table(stats: dict[tuple[str, str], Stats]) -> pd.DataFrame:
    """Mean attention entropy per layer (over examples, queries and heads): model, lang, layer, entropy, entropy_norm."""
    rows = []
    for (m, l), s in stats.items():
        raw, norm = s["entropy"].mean((0, 2)), s["entropy_norm"].mean((0, 2))  # [layer]
        rows += [{"model": m, "lang": l, "layer": i, "entropy": float(raw[i]), "entropy_norm": float(norm[i])}
                 for i in range(len(raw))]
    return pd.DataFrame(rows, columns=["model", "lang", "layer", "entropy", "entropy_norm"])


def norm_table(stats: dict[tuple[str, str], Stats]) -> pd.DataFrame:
    """Mean hidden-state L2 norm per layer (over examples and their tokens): model, lang, layer, norm, norm_sd.
    Layer 0 is the embedding output (HF hidden_states[0]); a sharp change in the last layers is seed 001's sign."""
    rows = []
    for (m, l), s in stats.items():
        if "norm" not in s:
            continue
        mean, sd = s["norm"].mean(0), s["norm"].std(0)  # [layer+1]
        rows += [{"model": m, "lang": l, "layer": i, "norm": float(mean[i]), "norm_sd": float(sd[i])}
                 for i in range(len(mean))]
    return pd.DataFrame(rows, columns=["model", "lang", "layer", "norm", "norm_sd"])


def _matched(a: Stats, b: Stats) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the ids present in both, in a's order."""
    pos = {i: k for k, i in enumerate(b["ids"].tolist())}
    ia = [k for k, i in enumerate(a["ids"].tolist()) if i in pos]
    return np.asarray(ia, dtype=np.int64), np.asarray([pos[a["ids"][k]] for k in ia], dtype=np.int64)


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def similarity_table(stats: dict, model_a: str, model_b: str, debiased: bool | None = None,
                     shuffles: int = 5) -> pd.DataFrame:
    """Per input language and layer: linear CKA of pooled states over examples, its noise floor (CKA of
    shuffled pairs, mean of `shuffles` seeded permutations), and mean cosine of matched examples.

    debiased: None (default) = the debiased estimator where n < d (probes.similarity.CKA_AUTO), else
    True/False; the `estimator` column says which was used."""
    from mlt_core.probes.similarity import cka_noise_floor, debiased_by_default, linear_cka

    rows = []
    for l in dict.fromkeys(k[1] for k in stats):
        if (model_a, l) not in stats or (model_b, l) not in stats:
            continue
        a, b = stats[(model_a, l)], stats[(model_b, l)]
        ia, ib = _matched(a, b)
        for layer in range(min(a["pooled"].shape[1], b["pooled"].shape[1])):
            xa, xb = a["pooled"][ia, layer], b["pooled"][ib, layer]  # [n, d_a], [n, d_b]
            cos = float((_unit(xa) * _unit(xb)).sum(-1).mean()) if xa.shape[1] == xb.shape[1] else None
            deb = debiased_by_default(*xa.shape, xb.shape[1]) if debiased is None else bool(debiased)
            ok = len(ia) >= (4 if deb else 2)
            cka = linear_cka(xa, xb, deb) if ok else float("nan")
            floor = cka_noise_floor(xa, xb, deb, shuffles, seed=layer) if ok else float("nan")
            rows.append({"lang": l, "layer": layer, "cka": cka, "cka_floor": floor, "cosine": cos, "n": len(ia),
                         "estimator": "debiased" if deb else "biased"})
    return pd.DataFrame(rows, columns=["lang", "layer", "cka", "cka_floor", "cosine", "n", "estimator"])


def alignment(x: np.ndarray, y: np.ndarray) -> dict:
    """Parallel rows x[i] <-> y[i]: mean matched cosine, mean mismatched (i != j) cosine, retrieval acc@1."""
    sim = _unit(x) @ _unit(y).T  # [n, n] cosine
    n = len(sim)
    matched = float(np.diag(sim).mean())
    mismatched = float((sim.sum() - np.trace(sim)) / (n * n - n)) if n > 1 else float("nan")
    retrieval = float((sim.argmax(1) == np.arange(n)).mean())
    return {"matched": matched, "mismatched": mismatched, "retrieval": retrieval, "n": n}


def alignment_table(stats: dict, model: str) -> pd.DataFrame:
    """Cross-lingual alignment of parallel pairs (same id) per language pair and layer for one model."""
    langs = [l for (m, l) in stats if m == model]
    rows = []
    for la, lb in combinations(langs, 2):
        a, b = stats[(model, la)], stats[(model, lb)]
        ia, ib = _matched(a, b)
        if len(ia) < 2:
            continue
        for layer in range(a["pooled"].shape[1]):
            r = alignment(a["pooled"][ia, layer], b["pooled"][ib, layer])
            rows.append({"model": model, "pair": f"{la}-{lb}", "layer": layer, **r})
    return pd.DataFrame(rows, columns=["model", "pair", "layer", "matched", "mismatched", "retrieval", "n"])


def _stack(stats: dict, model: str, layer: int) -> tuple[np.ndarray, pd.DataFrame]:
    keys = [k for k in stats if k[0] == model]
    x = np.concatenate([stats[k]["pooled"][:, layer] for k in keys])  # [n_total, d]
    meta = pd.concat([pd.DataFrame({"id": stats[k]["ids"], "lang": k[1],
                                    "label": [LABELS[i] for i in stats[k]["labels"]]}) for k in keys],
                     ignore_index=True)
    return x, meta


def train_mask(ids: Sequence[str], share: float = 0.7) -> np.ndarray:
    """A fixed split by example id (all languages of one id fall on the same side): True = train."""
    import hashlib

    return np.asarray([hashlib.md5(str(i).encode()).digest()[0] < share * 256 for i in ids])


def probe_table(stats: dict, model: str, targets: Sequence[str] = ("language", "label")) -> pd.DataFrame:
    """Held-out accuracy of a logistic-regression probe per layer on pooled states (+ majority baseline)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_layers = next(s["pooled"].shape[1] for k, s in stats.items() if k[0] == model)
    rows = []
    for layer in range(n_layers):
        x, meta = _stack(stats, model, layer)
        tr = train_mask(meta["id"])
        for target in targets:
            y = meta["lang" if target == "language" else "label"].to_numpy()
            if len(set(y[tr])) < 2 or tr.all() or not tr.any():
                continue
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
            clf.fit(x[tr], y[tr])
            acc = float((clf.predict(x[~tr]) == y[~tr]).mean())
            majority = pd.Series(y[tr]).mode()[0]
            rows.append({"model": model, "target": target, "layer": layer, "accuracy": acc,
                         "baseline": float((y[~tr] == majority).mean()), "n_test": int((~tr).sum())})
    return pd.DataFrame(rows, columns=["model", "target", "layer", "accuracy", "baseline", "n_test"])


def projection(stats: dict, model: str, layer: int, method: str = "pca", seed: int = 0) -> pd.DataFrame:
    """2-D projection (PCA or t-SNE) of one model's pooled states at `layer`: x, y, id, lang, label."""
    from sklearn.decomposition import PCA

    x, meta = _stack(stats, model, layer)
    x = x.astype(np.float64)
    if method == "pca":
        xy = PCA(n_components=2, random_state=seed).fit_transform(x)
    elif method == "tsne":
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        if len(x) > 50 and x.shape[1] > 50:
            x = PCA(n_components=50, random_state=seed).fit_transform(x)
        perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
        with threadpool_limits(1):  # t-SNE's OpenMP threads fight torch's on 2 cores: 10x slower
            xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    else:
        raise ValueError(f"unknown projection {method!r}; use pca or tsne")
    return meta.assign(x=xy[:, 0], y=xy[:, 1], model=model, layer=layer, method=method)
