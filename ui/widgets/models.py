"""Loaded checkpoints and forward passes, cached across reruns and browser tabs.

Checkpoints: st.cache_resource, bounded, never mutated. Forward results: one process-wide LRU
bounded in BYTES (not in pairs), keyed by (model, pair, max_length), so that changing a display
option never reruns a model and a stream of long pairs cannot grow the server without bound.
The budget is MLT_FORWARD_CACHE_MB (default 2048 MB, shared by all sessions). Activations are
kept exactly (float32: a base model's pass is ~14 MB at 64 tokens, ~245 MB at 510; a large
model's ~650 MB at 510); MLT_FORWARD_CACHE_DTYPE=float16 halves that (values within ~1e-3,
mlt_core.forward.compact) and so doubles how many pairs fit.
Session state holds selections only (model names), never tensors.
"""
from __future__ import annotations

import logging
import os

import streamlit as st

from mlt_core.model.checkpoint import list_checkpoints

log = logging.getLogger("mlt.models")
MAX_MODELS = 4
FORWARD_CACHE_MB_ENV = "MLT_FORWARD_CACHE_MB"
DEFAULT_FORWARD_CACHE_MB = 2048
FORWARD_CACHE_DTYPE_ENV = "MLT_FORWARD_CACHE_DTYPE"  # float32 (default, exact) | float16
SELECTED_KEY = "selected_models"  # session_state: list of checkpoint paths, 1..4


@st.cache_resource(max_entries=6, show_spinner="Loading checkpoint…")
def get_checkpoint(source: str):
    """A checkpoint the app may open (models/, a Hub id, or MLT_ALLOWED_DIRS: checkpoint.app_source)."""
    from mlt_core.errors import MltError
    from mlt_core.model.checkpoint import app_source, load_checkpoint

    try:
        return load_checkpoint(app_source(source))
    except MltError as e:  # the CLI's flag does not exist in the app
        raise MltError(str(e).replace("or pass --assume-xnli-order (probe, evaluate) if ids 0,1,2 mean those",
                                      "or evaluate it with the CLI's --assume-xnli-order")) from None


def forward_budget_bytes() -> int:
    """The forward cache's budget: MLT_FORWARD_CACHE_MB megabytes (default 2048)."""
    raw = os.environ.get(FORWARD_CACHE_MB_ENV, "")
    try:
        mb = float(raw) if raw.strip() else DEFAULT_FORWARD_CACHE_MB
    except ValueError:
        log.warning("%s=%r is not a number; using %s MB", FORWARD_CACHE_MB_ENV, raw, DEFAULT_FORWARD_CACHE_MB)
        mb = DEFAULT_FORWARD_CACHE_MB
    return int(max(mb, 0) * 1024 * 1024)


@st.cache_resource(show_spinner=False)
def forward_store():
    """The process-wide forward cache (mlt_core.lru.ByteLRU), sized once from MLT_FORWARD_CACHE_MB."""
    from mlt_core.lru import ByteLRU

    return ByteLRU(forward_budget_bytes())


def get_forward(source: str, premise: str, hypothesis: str, max_length: int | None = None):
    """ONE forward pass for (model, pair): logits, attentions, hidden states, FFN activations.

    Cached in `forward_store()`; the returned cache is shared: never mutate it.
    """
    from mlt_core.forward import cache_nbytes, compact, forward

    store, key = forward_store(), (source, premise, hypothesis, max_length)
    hit = store.get(key)
    if hit is not None:
        return hit
    if store.was_evicted(key):
        log.info("forward cache (%d MB): recomputing %s on a pair it had dropped", store.budget >> 20, source)
        recomputed().add(key)
    cache = forward(get_checkpoint(source), [(premise, hypothesis)], max_length=max_length)
    if os.environ.get(FORWARD_CACHE_DTYPE_ENV, "float32").strip().lower() in ("float16", "fp16", "half"):
        cache = compact(cache)
    if not store.put(key, cache, cache_nbytes(cache)):
        log.warning("forward of %s (%d MB) is larger than the whole forward cache (%s=%d MB): not kept",
                    source, cache_nbytes(cache) >> 20, FORWARD_CACHE_MB_ENV, store.budget >> 20)
        recomputed().add(key)
    return cache


@st.cache_resource(show_spinner=False)
def recomputed() -> set:
    """Keys whose forward had to be recomputed (dropped for room); the Playground says so once, then discards them."""
    return set()


def take_recomputed(source: str, premise: str, hypothesis: str, max_length: int | None = None) -> bool:
    """Whether this forward was recomputed for lack of room since the last call (and forget it)."""
    key = (source, premise, hypothesis, max_length)
    s = recomputed()
    if key in s:
        s.discard(key)
        return True
    return False


@st.cache_data(ttl=5, show_spinner=False)
def available_checkpoints() -> list[dict]:
    """Finished checkpoints in models/ (name, path, mlt.json)."""
    return list_checkpoints()


def selected_models() -> list[str]:
    """Paths of the models chosen on the home page (or in the URL), default: the first two found."""
    sel = st.session_state.get(SELECTED_KEY)
    if sel:
        return list(sel)[:MAX_MODELS]
    found = available_checkpoints()
    preferred = [c["path"] for c in found if c["name"] in ("demo-en", "demo-hi")]
    return preferred or [c["path"] for c in found[:2]]
