"""Probes: pure functions over a ForwardCache returning tidy DataFrames, in ONE registry.

A new probe is a new small file plus one `register(...)` line here; `python -m mlt_core probe`
(its tables and its --json) iterates REGISTRY. Each entry carries its name, its kind ("model":
fn(cache, i) for one model; "pair": fn(cache_a, cache_b, i) for two), a compatibility check
(which model families it runs on, how many models it needs) and its help: the first line of
the function's docstring. An entry with a `view` is also a Playground tab (labelled `title`):
"table" draws its DataFrame generically; another name picks a custom renderer in ui/playground/views.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd

from mlt_core.probes.entropy import attention_entropy
from mlt_core.probes.prediction import prediction
from mlt_core.probes.similarity import layer_similarity
from mlt_core.probes.tokens import tokens

KINDS = {"model": 1, "pair": 2}  # kind -> how many models (caches) the function takes
FAMILIES = ("encoder", "decoder")


@dataclass(frozen=True)
class Probe:
    name: str
    fn: Callable[..., pd.DataFrame]
    kind: str = "model"
    families: tuple = FAMILIES  # checkpoint families it is meaningful for
    summary: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # a shorter table for the CLI's text output
    view: str | None = None  # a Playground tab: "table" (generic) or a ui renderer's name; None: CLI only
    label: str | None = None  # the tab's label (default: from the name)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def help(self) -> str:
        return ((self.fn.__doc__ or self.name).strip().splitlines() or [self.name])[0]

    def incompatible(self, ckpts: Sequence) -> str | None:
        """Why this probe cannot run on these checkpoints (None: it can)."""
        need = KINDS[self.kind]
        if len(ckpts) < need:
            return f"{self.name} compares two models; give a second one"
        bad = [c.name for c in ckpts[:need] if getattr(c, "family", "encoder") not in self.families]
        if bad:
            return f"{self.name} runs on {' or '.join(self.families)} models, not {bad[0]}"
        return None

    def __call__(self, caches: Sequence, i: int = 0) -> pd.DataFrame:
        return self.fn(*caches[:KINDS[self.kind]], i)


REGISTRY: dict[str, Probe] = {}
PROBES: dict[str, Callable] = {}  # views of REGISTRY by kind, kept in step by register()
PAIR_PROBES: dict[str, Callable] = {}


def register(name: str, fn: Callable, kind: str = "model", families: tuple = FAMILIES,
             summary: Callable | None = None, view: str | None = None, label: str | None = None) -> Probe:
    """Add (or replace) a probe; returns its entry. view="table" (or a renderer's name) adds a Playground tab."""
    if kind not in KINDS:
        raise ValueError(f"probe kind {kind!r}: use one of {', '.join(KINDS)}")
    REGISTRY[name] = p = Probe(name, fn, kind, tuple(families), summary, view, label)
    (PROBES if kind == "model" else PAIR_PROBES)[name] = fn
    return p


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)
    PROBES.pop(name, None)
    PAIR_PROBES.pop(name, None)


def _entropy_by_layer(df: pd.DataFrame) -> pd.DataFrame:
    out = df.groupby("layer", as_index=False)[["entropy", "entropy_norm"]].mean()
    return out.rename(columns={"entropy": "mean entropy (nats)", "entropy_norm": "normalised"})


register("prediction", prediction)  # the Playground's prediction cards, not a tab
# registry order = Playground tab order (the first is the default tab)
register("attention_entropy", attention_entropy, summary=_entropy_by_layer, view="entropy", label="Attention entropy")
register("layer_similarity", layer_similarity, kind="pair", view="similarity", label="Similarity 1 vs 2")
register("tokens", tokens, view="tokens", label="Tokens")
