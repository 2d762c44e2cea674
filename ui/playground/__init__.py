"""The Playground: one premise/hypothesis pair, up to four models, every view from ONE forward each.

render() draws the page: inputs (text, examples, the parallel pair in another language), then per
model the prediction, then the detail views in tabs (ui/playground/views.py: one per registry probe
with a view, then the other views; only the open tab is drawn). Every view reads
ui.widgets.models.get_forward's cached pass, so changing a layer, head or option never reruns a model.
"""
from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass

import streamlit as st

from mlt_core.charts.theme import model_colors
from mlt_core.errors import MltError
from ui.widgets import state
from ui.widgets.models import forward_store, get_checkpoint, get_forward, selected_models, take_recomputed
from ui.playground.inputs import render_inputs
from ui.playground.views import PAGE, render_predictions, tabs_fragment, url_spec, url_values

log = logging.getLogger("mlt.playground")


@dataclass
class Run:
    """One model's result for the current pair (the cached ForwardCache is shared: never mutate it)."""

    path: str
    name: str
    color: str
    ckpt: object
    cache: object

    @property
    def untrained(self) -> bool:
        return self.ckpt.head_is_noise


def scripts(text: str) -> list[str]:
    """Writing systems used in `text` (first word of each letter's Unicode name: LATIN, DEVANAGARI, ...)."""
    found = []
    for ch in text:
        if ch.isalpha():
            s = unicodedata.name(ch, "UNKNOWN").split()[0]
            if s not in found:
                found.append(s)
    return found


def run_models(paths: list[str], premise: str, hypothesis: str) -> list[Run]:
    """The cached forward of each model; a model that fails shows an error naming it, the others go on."""
    names = [state.model_name(p) for p in paths]
    colors = model_colors(names)
    runs = []
    for path, name in zip(paths, names):
        try:
            ckpt = get_checkpoint(path)
            cache = get_forward(path, premise, hypothesis)
        except MltError as e:
            st.error(f"**{name}**: {e}", icon="⚠️")
            continue
        except Exception as e:  # noqa: BLE001 - a broken checkpoint must not hide the others
            log.exception("model %s failed", path)
            st.error(f"**{name}** could not be run ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}); "
                     "check that it is a sequence-classification checkpoint.", icon="⚠️")
            continue
        runs.append(Run(path, name, colors[name], ckpt, cache))
    again = [r.name for r in runs if take_recomputed(r.path, premise, hypothesis)]
    if again:  # silent otherwise: the cache is an implementation detail until it costs the user a wait
        st.caption(f"Recomputed {', '.join(again)}: the forward cache ({forward_store().budget >> 20} MB, "
                   "MLT_FORWARD_CACHE_MB) had dropped this pair to make room.")
    return runs


def render_notices(runs: list[Run], premise: str, hypothesis: str) -> None:
    for r in runs:  # found on load (e.g. a tokenizer that is not the model's); the untrained head has its card
        for w in getattr(r.ckpt, "warnings", []):
            if not w.startswith("UNTRAINED HEAD"):
                st.warning(f"**{r.name}**: {w}", icon="⚠️")
    for r in runs:
        if r.cache.truncated[0]:
            st.warning(f"**{r.name}**: this pair is longer than the model's limit of {r.ckpt.max_length} tokens; "
                       f"it saw a truncated version ({len(r.cache.tokens[0])} tokens). Shorten the text to see all of it.",
                       icon="✂️")
    used = scripts(premise + " " + hypothesis)
    if len(used) > 1:
        st.caption(f"Mixed scripts ({', '.join(s.title() for s in used)}): fine; the Tokens tab shows how each "
                   "model splits them.")


def render() -> None:
    """Draw the whole Playground page."""
    for note in state.restore(PAGE, url_spec()):
        st.warning(note)
    st.title("Playground")
    premise, hypothesis = render_inputs()
    paths = selected_models()
    if not paths:
        st.info("No models selected: build or pick checkpoints on the Home page.")
        state.publish(PAGE, url_values())
        return
    if not premise.strip() or not hypothesis.strip():
        st.info("Type a premise and a hypothesis (or pick an example) to run the models.")
        state.publish(PAGE, url_values())
        return
    runs = run_models(paths, premise, hypothesis)
    if runs:
        render_notices(runs, premise, hypothesis)
        render_predictions(runs)
        tabs_fragment(runs, premise, hypothesis)
    state.publish(PAGE, url_values())
