"""Attributions page: attributions + faithfulness of one pair per model (cached, from the shared
forward), the dataset-scale faithfulness run (disk cache via mlt_core.store; the Tokenizers page
reads its latest run, ui/tokenizers.py has the fertility side).

Session state holds selections only; results live in st.cache_data / the disk cache.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from mlt_core.errors import MltError
from mlt_core.data.labels import LABELS
from mlt_core.data.langs import SAMPLE_LANGS
from ui.widgets.models import get_checkpoint, get_forward

EXAMPLE = ("A man is eating an apple in the park.", "Someone is eating.")
RUNS = "attr_faith"  # disk-cache kind: per-example faithfulness frames, and the pointer to the latest run


def model_name(path: str) -> str:
    return Path(str(path)).name


def default_pair() -> tuple[str, str]:
    """The Playground's pair when one was typed there, else an example."""
    ss = st.session_state
    p, h = ss.get("pg_premise"), ss.get("pg_hypothesis")
    return (p, h) if p and h else EXAMPLE


@st.cache_data(max_entries=64, show_spinner="Attributing and erasing tokens…")
def pair_result(source: str, premise: str, hypothesis: str, methods: tuple, target: str | None, steps: int,
                replacement: str = "pad", draws: int = 10, seed: int = 0, convention: str = "mlt") -> dict:
    """Token scores per method and their faithfulness for one model and pair (the forward is shared)."""
    from mlt_core.attribution.faithfulness import faithfulness

    ckpt = get_checkpoint(source)
    res = faithfulness(ckpt, premise, hypothesis, methods, target, cache=get_forward(source, premise, hypothesis),
                       steps=steps, replacement=replacement, draws=draws, seed=seed, convention=convention)
    p = res["prepared"]
    return {"summary": res["summary"], "per_ratio": res["per_ratio"], "scores": res["scores"],
            "errors": res["errors"], "predicted": LABELS[p.predicted], "target": LABELS[p.target],
            "probs": dict(zip(LABELS, map(float, p.probs))), "warnings": list(p.warnings),
            "untrained": ckpt.head_is_noise}


def run_pairs(paths: list[str], premise: str, hypothesis: str, methods: tuple, target: str | None, steps: int,
              cancel_key: str, convention: str = "mlt") -> dict:
    """pair_result of every model, one at a time, under a progress bar with an estimate and a Cancel button."""
    from ui.widgets.progress import Progress

    prog = Progress(f"Attributing and erasing tokens ({len(methods)} methods)…", cancel_key=cancel_key)
    out = {}
    for i, p in enumerate(paths):
        prog.step(i, len(paths), f"{model_name(p)}: model {i + 1} of {len(paths)}")
        out[p] = pair_result(p, premise, hypothesis, methods, target, steps, convention=convention)
    prog.close()
    return out


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The per-method faithfulness table as shown: NS/NC are AOPC over the rationale sizes."""
    return summary[["method", "NS", "NC", "soft_NS", "soft_NC", "rank_by", "note"]].rename(
        columns={"NS": "NS (AOPC)", "NC": "NC (AOPC)", "soft_NS": "Soft-NS", "soft_NC": "Soft-NC"})


# ------------------------------------------------------------------------------- dataset scale
@st.cache_data(max_entries=16, show_spinner="Loading the bundled sample…")
def sample_pairs(langs: tuple, n: int) -> pd.DataFrame:
    """n pairs per language of the bundled sample (test split; n = 0: all)."""
    from mlt_core.data.nli import load_nli

    return load_nli(source="sample", langs=list(langs), split="test", limit=int(n) or None)


def dataset_settings(langs, n: int, methods, steps: int, draws: int = 10, seed: int = 0,
                     replacement: str = "pad", convention: str = "mlt") -> dict:
    return {"langs": sorted(langs), "n": int(n), "methods": list(methods), "steps": int(steps), "draws": int(draws),
            "seed": int(seed), "replacement": replacement, "convention": convention}


def run_key(path: str, pairs: pd.DataFrame, settings: dict) -> str:
    from mlt_core import store

    return store.fingerprint("faithfulness-v1", store.checkpoint_fingerprint(path), store.data_fingerprint(pairs),
                             {k: v for k, v in settings.items() if k not in ("langs", "n")})


def cached_runs(paths: list[str], settings: dict) -> dict:
    """{path: per-example frame or None} for what is already on disk."""
    from mlt_core import store

    pairs = sample_pairs(tuple(settings["langs"]), settings["n"])
    return {p: store.read_frame(RUNS, run_key(p, pairs, settings)) for p in paths}


def run_dataset(paths: list[str], settings: dict) -> pd.DataFrame:
    """Per-example faithfulness of every model (cached on disk), with a progress bar; remembers the run."""
    from mlt_core import store
    from mlt_core.attribution.faithfulness import faithfulness_dataset

    pairs = sample_pairs(tuple(settings["langs"]), settings["n"])
    if pairs.empty:
        raise MltError(f"the bundled sample has no test pairs in {', '.join(settings['langs'])}")
    from ui.widgets.progress import Progress

    prog = Progress("Scoring faithfulness…", cancel_key="attr_ds_cancel")
    frames = []
    for i, path in enumerate(paths):
        name = model_name(path)

        def progress(done, total, i=i, name=name):
            prog.step(i + done / max(total, 1), len(paths), f"{name}: {done}/{total} examples")

        def compute(path=path, progress=progress):
            ckpt = get_checkpoint(path)
            return faithfulness_dataset(ckpt, pairs, settings["methods"], progress=progress, steps=settings["steps"],
                                        draws=settings["draws"], seed=settings["seed"],
                                        replacement=settings["replacement"],
                                        convention=settings.get("convention", "mlt"))

        frames.append(store.cached_frame(RUNS, run_key(path, pairs, settings), compute).assign(model=name))
    prog.close()
    remember_latest(paths, settings)
    return pd.concat(frames, ignore_index=True)


def cached_dataset(paths: list[str], settings: dict) -> pd.DataFrame | None:
    """The per-example frames of every model if all are on disk already (no computing), else None."""
    have = cached_runs(paths, settings)
    if any(f is None for f in have.values()):
        return None
    remember_latest(paths, settings)
    return pd.concat([f.assign(model=model_name(p)) for p, f in have.items()], ignore_index=True)


def remember_latest(paths: list[str], settings: dict) -> None:
    """Point the Tokenizers page at this run (written only when it changes)."""
    from mlt_core import store

    ptr = {"paths": list(paths), "settings": settings}
    if store.read_json(RUNS, "latest") != ptr:
        store.write_json(RUNS, "latest", ptr)


def dataset_table(per_example: pd.DataFrame) -> pd.DataFrame:
    """Mean NS/NC/Soft-NS/Soft-NC per model x language x method (n: examples with a value; undefined: share of
    examples where 1 - S0 < 1e-4, dropped under the mlt convention, scored under the reference one)."""
    from mlt_core.attribution.faithfulness import summarise

    return summarise(per_example, by=("model", "lang", "method"))


def latest_dataset() -> tuple[pd.DataFrame | None, dict | None]:
    """The most recent dataset-scale run, for the checkpoints that are unchanged since:
    (per-example frame, {"paths": [...], "settings": {...}}), or (None, None)."""
    from mlt_core import store

    ptr = store.read_json(RUNS, "latest")
    if not ptr:
        return None, None
    try:
        runs = cached_runs(ptr["paths"], ptr["settings"])
    except (MltError, KeyError, OSError):
        return None, None
    frames = [f.assign(model=model_name(p)) for p, f in runs.items() if f is not None]
    if not frames:
        return None, None
    return pd.concat(frames, ignore_index=True), {"paths": [p for p, f in runs.items() if f is not None],
                                                  "settings": ptr["settings"]}
