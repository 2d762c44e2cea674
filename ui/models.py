"""Loaded checkpoints and forward passes, cached across reruns and browser tabs.

Checkpoints: st.cache_resource, bounded, never mutated. Forward results: st.cache_resource
keyed by (model, pair, max_length) so that changing a display option never reruns a model.
Session state holds selections only (model names), never tensors.
"""
from __future__ import annotations

import streamlit as st

from mlt_core.checkpoint import list_checkpoints

MAX_MODELS = 4
SELECTED_KEY = "selected_models"  # session_state: list of checkpoint paths, 1..4


@st.cache_resource(max_entries=6, show_spinner="Loading checkpoint…")
def get_checkpoint(source: str):
    """A checkpoint the app may open (models/, a Hub id, or MLT_ALLOWED_DIRS: checkpoint.app_source)."""
    from mlt_core.checkpoint import app_source, load_checkpoint
    from mlt_core.errors import MltError

    try:
        return load_checkpoint(app_source(source))
    except MltError as e:  # the CLI's flag does not exist in the app
        raise MltError(str(e).replace("or pass --assume-xnli-order (probe, evaluate) if ids 0,1,2 mean those",
                                      "or evaluate it with the CLI's --assume-xnli-order")) from None


@st.cache_resource(max_entries=128, show_spinner=False)
def get_forward(source: str, premise: str, hypothesis: str, max_length: int | None = None):
    """ONE forward pass for (model, pair): logits, attentions, hidden states, FFN activations."""
    from mlt_core.forward import forward

    return forward(get_checkpoint(source), [(premise, hypothesis)], max_length=max_length)


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
