"""Dataset-scale neuron work, cached on disk by fingerprint, and which neuron file a checkpoint uses.

Activation counts, ablation matrices and cross-checkpoint comparisons are keyed by the
checkpoint's fingerprint plus the data and settings (mlt_core.store), so a rerun with the same
inputs reads them back and any change to the weights, data or settings recomputes.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import torch

from mlt_core import store
from mlt_core.errors import MltError
from mlt_core.model import checkpoint
from mlt_core.model.checkpoint import load_checkpoint, read_meta
from mlt_core.neurons.lape import (DEFAULTS, DEMO_MODELS, NEURONS_FILE, build_result, jaccard, load_neurons,
                                   save_neurons, select_neurons)

Progress = Callable[[int, int], None] | None


def neuron_file_for(ckpt_dir: str | Path, models_dir: str | Path | None = None) -> tuple[Path | None, str]:
    """(neuron file, where it comes from): the checkpoint's own neurons.json, else its base's, else None.

    The base is mlt.json's "base" taken by folder name, looked up beside the checkpoint and in
    models/ only (a path in mlt.json never leads outside those folders).
    """
    p = Path(ckpt_dir)
    if (p / NEURONS_FILE).is_file():
        return p / NEURONS_FILE, f"{p.name}'s own {NEURONS_FILE}"
    try:
        base = str(read_meta(p).get("base") or "") if p.is_dir() else ""
    except MltError:
        base = ""
    name = Path(base).name
    if name and re.fullmatch(r"[\w.-]+", name) and name not in (".", ".."):
        for root in dict.fromkeys([p.parent, Path(models_dir or checkpoint.MODELS_DIR)]):
            f = root / name / NEURONS_FILE
            if f.is_file():
                return f, f"the base model {name}'s {NEURONS_FILE}"
    return None, (f"{p.name} has no {NEURONS_FILE}" + (f" and its base {name} has none either" if name else "")
                  + f"; compute it with `python -m mlt_core neurons identify --model {p} --corpus en=templates "
                  "--corpus hi=templates --corpus fr=templates --corpus es=templates`")


def default_corpora(n: int = 500, langs=None) -> tuple[dict, dict]:
    """The bundled corpora: `n` template sentences per language ({lang: texts}, {lang: source})."""
    from mlt_core.data.templates import LANGS, corpus_sentences

    langs = [l for l in LANGS if langs is None or l in langs]
    return {l: corpus_sentences(l, n, seed=0) for l in langs}, {l: f"templates:{n}" for l in langs}


def counts_for(ckpt, corpora: Mapping[str, list], batch_size: int = 32, progress: Progress = None,
               peek: bool = False) -> tuple[torch.Tensor, torch.Tensor, list[str]] | None:
    """(over_zero  # [lang, layer, d_ff], n  # [lang], languages) of a Checkpoint on corpora, cached.

    peek: return None instead of computing when not cached.
    """
    from mlt_core.neurons.counts import count_activations

    langs = list(corpora)
    key = store.fingerprint("lape-counts", store.checkpoint_fingerprint(ckpt.source), langs,
                            [list(map(str, corpora[l])) for l in langs], ckpt.max_length)
    hit = store.read_arrays("neuron_counts", key)
    if hit is not None and list(hit["languages"]) == langs:
        return torch.from_numpy(hit["over_zero"]), torch.from_numpy(hit["n"]), langs
    if peek:
        return None
    total, done, ozs, ns = sum(len(corpora[l]) for l in langs), 0, [], []
    for lang in langs:
        step = (lambda d, t, b=done: progress(b + d, total)) if progress else None
        oz, n = count_activations(ckpt.model, ckpt.tokenizer, corpora[lang], batch_size, ckpt.max_length, step)
        ozs.append(oz)
        ns.append(n)
        done += len(corpora[lang])
    over_zero, n = torch.stack(ozs), torch.tensor(ns, dtype=torch.int64)
    store.write_arrays("neuron_counts", key, {"over_zero": over_zero.numpy(), "n": n.numpy(),
                                               "languages": np.array(langs, dtype=str)})
    return over_zero, n, langs


def eval_data(source: str = "sample", langs: list[str] | None = None, limit: int | None = None,
              split: str = "test") -> pd.DataFrame:
    """NLI examples for the ablation matrix (mlt_core.data.nli.load_nli; `limit` per language)."""
    from mlt_core.data.nli import load_nli

    return load_nli(source, langs=langs, split=split, limit=limit)


def identify_checkpoint(ckpt, corpora: Mapping[str, list] | None = None, sources: Mapping[str, str] | None = None,
                        settings: Mapping[str, float] | None = None, out: str | Path | None = None,
                        batch_size: int = 32, progress: Progress = None, save: bool = True) -> dict:
    """Identify a Checkpoint's LAPE neurons (bundled corpora by default), save to <ckpt>/neurons.json."""
    from mlt_core.neurons.corpus import check_corpora

    if corpora is None:
        corpora, sources = default_corpora()
    warnings = check_corpora(dict(corpora))
    s = {**DEFAULTS, **(settings or {})}
    over_zero, n, langs = counts_for(ckpt, corpora, batch_size, progress)
    meta = {l: {"lines": len(corpora[l]), "source": (sources or {}).get(l, "texts")} for l in langs}
    result = build_result(ckpt, ckpt.name, langs, over_zero, n, s["top_rate"], s["filter_rate"],
                          s["activation_bar_ratio"], meta, warnings)
    result["checkpoint_fingerprint"] = store.checkpoint_fingerprint(ckpt.source)  # weights these counts came from
    if save:
        if out is None and not Path(ckpt.source).is_dir():
            raise MltError(f"{ckpt.name} is not a local folder; say where to write the neurons with --out")
        result["path"] = str(save_neurons(result, out or Path(ckpt.source) / NEURONS_FILE))
    return result


def ablation_cached(ckpt, data: pd.DataFrame, neurons: Mapping[str, list], batch_size: int = 32,
                    progress: Progress = None, peek: bool = False) -> pd.DataFrame | None:
    """ablation_matrix (accuracy per eval language with each language's neurons off), cached on disk.

    The "none" row's plain predictions are the evaluation's (evaluate.plain_predictions: read from the
    store when an evaluation of this (checkpoint, data) ran, else computed once and stored where one finds
    them); data without an id column computes them in the matrix's own pass.
    peek: return None instead of computing when not cached.
    """
    from mlt_core.neurons.counts import ablation_matrix

    cols = [c for c in ("lang", "premise", "hypothesis", "label") if c in data.columns]
    key = store.fingerprint("lape-ablation", store.checkpoint_fingerprint(ckpt.source),
                            store.data_fingerprint(data[cols]), {k: v for k, v in neurons.items()}, ckpt.max_length)
    if peek:
        return store.read_frame("neuron_ablation", key)

    def compute() -> pd.DataFrame:
        from mlt_core.eval.evaluate import plain_predictions

        plain = None
        if "id" in data.columns and len(data):
            step = (lambda d, t: progress(d, len(data) * (1 + len(neurons)))) if progress else None
            plain = plain_predictions(ckpt, data, batch_size, progress=step)
        return ablation_matrix(ckpt, data, neurons, batch_size, progress, plain=plain)

    return store.cached_frame("neuron_ablation", key, compute)


def compare_checkpoints(ckpts: list, corpora: Mapping[str, list], base: int = 0,
                        settings: Mapping[str, float] | None = None, batch_size: int = 32,
                        progress: Progress = None, peek: bool = False) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Do tuned models still use the base model's language neurons?

    Identification runs on every checkpoint over the same corpora and settings. Returns
    (probs: checkpoint, set_lang, text_lang, neurons, prob -- mean activation probability of the
    BASE's set_lang neurons on text_lang text inside each checkpoint;
     overlap: checkpoint, lang, neurons, base_neurons, shared, jaccard -- each checkpoint's own
    re-identified set vs the base's). peek: None unless every checkpoint's counts are cached.
    """
    from mlt_core.neurons.counts import set_activation_probs

    s = {**DEFAULTS, **(settings or {})}
    total = len(ckpts) * sum(len(v) for v in corpora.values())
    counts = []
    for j, c in enumerate(ckpts):
        step = (lambda d, t, b=j * total // len(ckpts): progress(b + d, total)) if progress else None
        counts.append(counts_for(c, corpora, batch_size, step, peek=peek))
        if counts[-1] is None:
            return None
    shapes = {tuple(oz.shape[1:]) for oz, _, _ in counts}
    if len(shapes) > 1:
        raise MltError(f"the checkpoints have different FFN shapes {sorted(shapes)}; compare models of one architecture")
    oz_b, n_b, langs = counts[base]
    base_sets = select_neurons(oz_b, n_b, s["top_rate"], s["filter_rate"], s["activation_bar_ratio"], langs)
    probs, overlap = [], []
    for name, (oz, n, _) in zip(unique_names([c.name for c in ckpts]), counts):
        probs.append(set_activation_probs(oz, n, langs, base_sets).assign(checkpoint=name))
        own = select_neurons(oz, n, s["top_rate"], s["filter_rate"], s["activation_bar_ratio"], langs)
        for lang in langs:
            a, b = own[lang], base_sets[lang]
            shared = sum(len(set(x) & set(y)) for x, y in zip(a, b))
            overlap.append({"checkpoint": name, "lang": lang, "neurons": sum(map(len, a)),
                            "base_neurons": sum(map(len, b)), "shared": shared, "jaccard": jaccard(a, b)})
    return pd.concat(probs, ignore_index=True), pd.DataFrame(overlap)


def unique_names(names: list[str]) -> list[str]:
    """Names made distinct by a suffix (the same checkpoint chosen twice stays two rows)."""
    out = []
    for n in names:
        out.append(n if n not in out else f"{n} ({sum(o == n or o.startswith(n + ' (') for o in out) + 1})")
    return out


def ensure_demo_neurons(models_dir: str | Path | None = None, log: Callable[[str], None] = print,
                        only=None) -> None:
    """Give every demo checkpoint present (demo-base, demo-en, demo-hi, demo-en-hi; or those in `only`) a
    neurons.json, identified on the parallel bundled corpora (the same sentences in every language); idempotent."""
    root = Path(models_dir or checkpoint.MODELS_DIR)
    corpora = sources = None
    for name in DEMO_MODELS if only is None else [n for n in DEMO_MODELS if n in only]:
        p = root / name
        if not (p / "config.json").is_file():
            continue
        if (p / NEURONS_FILE).is_file():
            try:
                fp = load_neurons(p / NEURONS_FILE).get("checkpoint_fingerprint")
                if fp in (None, store.checkpoint_fingerprint(p)):  # no stamp (made elsewhere): trust it
                    continue
                log(f"{name}: its neuron file predates its current weights; recomputing")
            except MltError as e:
                log(f"{name}: recomputing its neuron file ({e})")
        if corpora is None:
            corpora, sources = default_corpora()
        res = identify_checkpoint(load_checkpoint(p), corpora, sources)
        log(f"{name}: " + ", ".join(f"{l}={sum(map(len, v))}" for l, v in res["neurons"].items()) + " LAPE neurons")
