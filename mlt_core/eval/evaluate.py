"""Evaluate checkpoints on NLI data at dataset scale: per-example predictions + aggregate metrics.

Every model runs on every language by streaming `forward.batches` (length-sorted, dynamic
padding, inference_mode, capture=() so only logits are kept; with `internals=N` the same pass also keeps
representations' per-example Stats, so the internals and the switch-off matrix's "none" row never run
these examples again). Predictions are cached on disk
per (checkpoint fingerprint, shard of up to `shard_size` examples of one language, settings):
asking again is instant and loads no model, a new model or language computes only what is
missing, and an interrupted run resumes from the last finished shard.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from mlt_core import store
from mlt_core.model.checkpoint import Checkpoint, noise_warning, read_meta, resolve
from mlt_core.errors import MltError
from mlt_core.data.labels import LABELS
from mlt_core.eval.metrics import PROB_COLS, summarize
from mlt_core.eval.stats import VERSION as STATS_VERSION, add_batch, empty_stats

PRED_COLS = ["id", "lang", "premise", "hypothesis", "gold", "predicted", *PROB_COLS, "confidence", "n_tokens",
             "truncated", "model"]
DATA_COLS = ["id", "lang", "premise", "hypothesis", "label"]
VERSION = 1  # bump when the prediction table changes: old cache entries are then ignored
Progress = Callable[[int, int, str], None]  # (examples done, examples to compute, what is running)
INTERNALS_BATCH = 16  # a pass that keeps internals holds all L attention tensors of a batch: smaller batches


@dataclass
class Evaluation:
    """Predictions of every model on every language, their metrics, and what was refused."""

    predictions: pd.DataFrame  # PRED_COLS, one row per (model, example)
    metrics: dict  # metrics.summarize(): {"cells": [...], "models": {...}}
    models: dict  # name -> {"source", "fingerprint", "train_langs", "warnings"}
    langs: list
    refused: dict = field(default_factory=dict)  # model source -> why it was not evaluated
    warnings: list = field(default_factory=list)
    computed: int = 0  # examples run through a model in this call (0: everything came from the cache)


def check_data(data: pd.DataFrame) -> pd.DataFrame:
    """Validate an NLI table (id, lang, premise, hypothesis, label 0/1/2); errors name the row."""
    if not isinstance(data, pd.DataFrame):
        raise MltError("data must be a table with columns id, lang, premise, hypothesis, label")
    missing = [c for c in DATA_COLS if c not in data.columns]
    if missing:
        raise MltError(f"data has no column(s) {', '.join(missing)}; expected {', '.join(DATA_COLS)}")
    if data.empty:
        raise MltError("the data has no examples; check the file, the split or the limit")
    df = data[DATA_COLS].reset_index(drop=True).copy()
    df["id"], df["lang"] = df["id"].astype(str), df["lang"].astype(str)
    for col in ("premise", "hypothesis"):
        empty = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if empty.any():
            r = df[empty].iloc[0]
            raise MltError(f"row {int(empty.idxmax()) + 1} (id {r['id']}, {r['lang']}) has an empty {col}; fix or drop it")
    bad = ~df["label"].isin([0, 1, 2])
    if bad.any():
        r = df[bad].iloc[0]
        raise MltError(f"row {int(bad.idxmax()) + 1} (id {r['id']}, {r['lang']}) has label {r['label']}; "
                       "expected 0 entailment, 1 neutral, 2 contradiction")
    df["label"] = df["label"].astype(int)
    df["premise"], df["hypothesis"] = df["premise"].astype(str), df["hypothesis"].astype(str)
    return df


def check_langs(data: pd.DataFrame, langs: Sequence[str] | None) -> list[str]:
    """The chosen languages (default: all in the data, in order); refuses one the data lacks."""
    available = list(dict.fromkeys(data["lang"]))
    langs = [l.strip() for l in (langs or available) if l and l.strip()]
    if absent := [l for l in langs if l not in available]:
        raise MltError(f"no examples for language(s) {', '.join(absent)} in this data "
                       f"(it has {', '.join(available)}); choose among those")
    return langs


@contextmanager
def sdpa_attention(ckpt: Checkpoint, enabled: bool = True):
    """Predictions need no attention probabilities: run SDPA (~15% less CPU than eager on xlm-r-base)
    instead of eager, then switch back. Only for a model nobody else is using at the same time."""
    model, switched = ckpt.model, False
    if enabled and getattr(model.config, "_attn_implementation", None) == "eager":
        try:
            model.set_attn_implementation("sdpa")
            switched = True
        except Exception:  # an architecture without SDPA: stay eager
            pass
    try:
        yield
    finally:
        if switched:
            model.set_attn_implementation("eager")


def predict(ckpt: Checkpoint, df: pd.DataFrame, batch_size: int = 32, max_length: int | None = None,
            progress: Callable[[int, int], None] | None = None, sdpa: bool = False) -> pd.DataFrame:
    """Predictions of one model on the rows of `df` (no cache): PRED_COLS in the order of `df`.

    sdpa: switch the model to SDPA attention for the pass (faster; only when this caller owns the model).
    """
    return _run(ckpt, df, batch_size, max_length, progress, sdpa, internals=False)[0]


def predict_with_internals(ckpt: Checkpoint, df: pd.DataFrame, batch_size: int = 32, max_length: int | None = None,
                           progress: Callable[[int, int], None] | None = None) -> tuple[pd.DataFrame, dict]:
    """predict() and representations' Stats (pooled states, attention entropy, norms) of the SAME pass.

    Eager attention (the entropy needs the probabilities), batches of at most INTERNALS_BATCH (every
    layer's [batch, head, q, k] probabilities are held at once); `df` needs an id column (check_data)."""
    return _run(ckpt, df, batch_size, max_length, progress, False, internals=True)


def _run(ckpt: Checkpoint, df: pd.DataFrame, batch_size: int, max_length: int | None,
         progress: Callable[[int, int], None] | None, sdpa: bool, internals: bool) -> tuple[pd.DataFrame, dict | None]:
    from mlt_core.forward import batches

    pairs = list(zip(df["premise"], df["hypothesis"]))
    n = len(pairs)
    probs = np.zeros((n, 3), dtype=np.float64)  # [n, 3] canonical order
    n_tokens = np.zeros(n, dtype=np.int64)
    truncated = np.zeros(n, dtype=bool)
    stats, capture = None, ()
    if internals:
        stats, capture = empty_stats(ckpt, df), ("attn", "hidden")
        batch_size = min(batch_size, INTERNALS_BATCH)  # the old internals pass's peak memory, not twice it
    with sdpa_attention(ckpt, sdpa and not internals):
        for idx, cache in batches(ckpt, pairs, batch_size, capture=capture, max_length=max_length,
                                  progress=progress):
            probs[idx] = cache.probs.double().numpy()
            n_tokens[idx] = cache.attention_mask.sum(1).numpy()
            truncated[idx] = cache.truncated
            if stats is not None:
                add_batch(stats, idx, cache)
            del cache  # token-level tensors die here
    pred = probs.argmax(1)
    out = pd.DataFrame({"id": df["id"].to_numpy(), "lang": df["lang"].to_numpy(),
                        "premise": df["premise"].to_numpy(), "hypothesis": df["hypothesis"].to_numpy(),
                        "gold": [LABELS[int(g)] for g in df["label"]], "predicted": [LABELS[p] for p in pred]})
    for k, col in enumerate(PROB_COLS):
        out[col] = probs[:, k]
    out["confidence"] = probs.max(1)
    out["n_tokens"], out["truncated"], out["model"] = n_tokens, truncated, ckpt.name
    return out, stats


def model_name(source: str | Checkpoint) -> tuple[str, str]:
    """(display name, path or Hub id) without loading the model."""
    if isinstance(source, Checkpoint):
        return source.name, source.source
    path, local = resolve(source)
    return (Path(path).name if local else path), path


def split_shards(df: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    """`df` in consecutive pieces of `size` rows: the unit evaluate() caches (and internals share)."""
    return [df.iloc[s:s + size] for s in range(0, len(df), size)]


SHARD_SIZE = 256  # evaluate()'s default: internals and the switch-off matrix shard the same way to share its cache


def shard_key(fp: str, shard: pd.DataFrame, max_length: int | None) -> str:
    """The store key of one shard's predictions: (checkpoint fingerprint, the shard's rows, settings)."""
    return store.fingerprint(fp, store.data_fingerprint(shard), {"v": VERSION, "max_length": max_length})


def internals_key(pred_key: str) -> str:
    """The key of the internals (representations.Stats) kept from the same pass as those predictions."""
    return store.fingerprint("internals-shard", STATS_VERSION, pred_key)


def plain_predictions(ckpt: Checkpoint, data: pd.DataFrame, batch_size: int = 32, shard_size: int = SHARD_SIZE,
                      progress: Callable[[int, int], None] | None = None, peek: bool = False) -> np.ndarray | None:
    """Predicted label index per row of `data` (in its order), from the evaluation's cached shards of
    this (checkpoint, data); shards not cached yet run once and are stored where evaluate() finds them.
    peek: None instead of running anything when a shard is not cached."""
    df = check_data(data)
    fp = store.checkpoint_fingerprint(ckpt.source)
    pred = np.empty(len(df), dtype=np.int64)
    todo = []
    for l in dict.fromkeys(df["lang"]):
        rows = np.flatnonzero((df["lang"] == l).to_numpy())
        for s in range(0, len(rows), shard_size):
            sh = df.iloc[rows[s:s + shard_size]]
            key = shard_key(fp, sh, None)
            hit = store.read_frame("predictions", key)
            if hit is None:
                todo.append((rows[s:s + shard_size], sh, key))
            else:
                pred[rows[s:s + shard_size]] = hit["predicted"].map(LABELS.index).to_numpy()
    if peek and todo:
        return None
    total, done = sum(len(t[0]) for t in todo), 0
    for idx, sh, key in todo:
        tick = (lambda k, n, b=done: progress(b + k, total)) if progress else None
        hit = predict(ckpt, sh, batch_size, None, tick)
        store.write_frame("predictions", key, hit)
        pred[idx] = hit["predicted"].map(LABELS.index).to_numpy()
        done += len(sh)
    return pred


def evaluate(models: Sequence[str | Checkpoint], data: pd.DataFrame, langs: Sequence[str] | None = None, *,
             batch_size: int = 32, max_length: int | None = None, shard_size: int = SHARD_SIZE,
             progress: Progress | None = None, loader: Callable[[str], Checkpoint] | None = None,
             cache: bool = True, n_boot: int = 1000, internals: int = 0) -> Evaluation:
    """Run every model on every language of `data` (cached per shard) and compute metrics.

    A model that cannot be loaded (e.g. labels that do not map onto entailment/neutral/
    contradiction) is refused with its message in `.refused`; the others go on. A model this call
    loads itself (no `loader`, a path rather than a Checkpoint) runs with SDPA attention; a shared
    one (the app's cached models) stays eager, as other views need its attention probabilities.

    internals: also keep, in the same pass, representations' Stats (pooled states, attention entropy) of
    the shards holding the first `internals` examples of each language (stored beside their predictions;
    `representations.internals` reads them back). Those shards run eager; a cached shard without them runs
    once more to add them. Needs cache=True.
    """
    from mlt_core.model.checkpoint import load_checkpoint

    owned = loader is None
    loader = loader or load_checkpoint
    data = check_data(data)
    langs = check_langs(data, langs)
    if not models:
        raise MltError("no model chosen; pick at least one checkpoint")
    by_lang = {l: data[data["lang"] == l] for l in langs}

    # plan: which shards are cached, which must be computed (and so which models must load)
    plan, refused, names = [], {}, {}
    for src in models:
        try:
            name, path = model_name(src)
            fp = store.checkpoint_fingerprint(path)
        except MltError as e:
            refused[str(src)] = str(e)
            continue
        if path in names:  # the same checkpoint twice
            continue
        if name in names.values():  # two folders with one name: keep both apart
            name = f"{name} ({sum(n.startswith(name) for n in names.values()) + 1})"
        names[path] = name
        shards = []
        for l in langs:
            for j, sh in enumerate(split_shards(by_lang[l], shard_size)):
                key = shard_key(fp, sh, max_length)
                hit = store.read_frame("predictions", key) if cache else None
                keep = cache and j * shard_size < internals  # this shard's internals come from this pass
                if keep and hit is not None and not store.has("internals", internals_key(key), "npz"):
                    hit = None  # run once more, keeping both
                shards.append((l, sh, key, hit, keep))
        plan.append((src, name, path, fp, shards))
    total = sum(len(sh) for *_, shards in plan for _, sh, _, hit, _ in shards if hit is None)

    frames, info, warnings, done = [], {}, [], 0
    for src, name, path, fp, shards in plan:
        try:
            meta = (src.meta if isinstance(src, Checkpoint) else read_meta(path)) if Path(path).is_dir() else {}
        except MltError as e:  # a broken mlt.json costs the training language, not the evaluation
            meta = {}
            warnings.append(f"{name}: {e}; bias and transfer need its train_langs")
        model_info = store.read_json("eval-model", fp) if cache else None
        ckpt = src if isinstance(src, Checkpoint) else None
        if any(hit is None for *_, hit, _ in shards) or model_info is None:
            try:
                ckpt = ckpt or loader(path)
            except MltError as e:
                refused[name] = str(e)
                continue
            model_info = {"warnings": list(ckpt.warnings)}
            if cache:
                store.write_json("eval-model", fp, model_info)
        for l, sh, key, hit, keep in shards:
            if hit is None:
                base = done

                def tick(k, n, base=base, l=l):
                    if progress:
                        progress(base + k, total, f"{name} · {l}")

                own = owned and not isinstance(src, Checkpoint)
                hit, stats = _run(ckpt, sh, batch_size, max_length, tick, sdpa=own, internals=keep)
                done += len(sh)
                if keep:
                    store.write_arrays("internals", internals_key(key), stats)
                if cache:
                    store.write_frame("predictions", key, hit)
            frames.append(hit.assign(model=name))
        tl = meta.get("train_langs") or []
        noise = noise_warning(name, meta)  # also for model info cached before the rule covered mlt.json
        if noise and not any(w.startswith("UNTRAINED HEAD") for w in model_info["warnings"]):
            model_info = {**model_info, "warnings": [*model_info["warnings"], noise]}
        info[name] = {"source": path, "fingerprint": fp, "warnings": model_info["warnings"],
                      "train_langs": [tl] if isinstance(tl, str) else list(tl)}
        warnings += model_info["warnings"]
    if not frames:
        raise MltError("no model could be evaluated: " + "; ".join(f"{k}: {v}" for k, v in refused.items()))
    preds = pd.concat(frames, ignore_index=True)[PRED_COLS]
    train = {m: i["train_langs"] for m, i in info.items()}
    mkey = store.fingerprint("metrics", VERSION, store.data_fingerprint(preds), train, n_boot)
    compute = lambda: summarize(preds, train, n_boot=n_boot)  # noqa: E731 (bootstrap: ~0.1 s per 5k-example cell)
    metrics = store.cached_json("eval-metrics", mkey, compute) if cache else compute()
    return Evaluation(predictions=preds, metrics=metrics, models=info, langs=langs, refused=refused,
                      warnings=warnings, computed=done)


def _json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    return obj


def metrics_json(ev: Evaluation, settings: dict | None = None) -> dict:
    """Everything aggregate, JSON-ready (NaN -> null): settings, models, cells, refused, warnings."""
    models = {m: {**i, **ev.metrics["models"].get(m, {})} for m, i in ev.models.items()}
    return _json_safe({"settings": settings or {}, "langs": ev.langs, "models": models,
                       "cells": ev.metrics["cells"], "refused": ev.refused, "warnings": ev.warnings})


def write_outputs(ev: Evaluation, out_dir: str | Path, settings: dict | None = None) -> dict[str, Path]:
    """Write predictions.parquet and metrics.json into out_dir (atomically); returns their paths."""
    from mlt_core.io import atomic_write, atomic_write_json

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MltError(f"cannot create output folder {out}: {e.strerror or e}") from None
    paths = {"predictions": out / "predictions.parquet", "metrics": out / "metrics.json"}
    atomic_write(paths["predictions"], lambda t: ev.predictions.to_parquet(t, index=False))
    atomic_write_json(paths["metrics"], metrics_json(ev, settings), indent=2)
    return paths
