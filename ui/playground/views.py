"""Playground views of the cached forward passes: prediction cards, then the tabs, only the open one
drawn (and sent) in a run.

The tabs are the probe registry's entries that have a `view` (mlt_core.probes.REGISTRY: label,
compatibility check and help come from the entry), then the views that are not probes (UI_TABS).
A probe's `view` names its renderer in RENDERERS; an unknown name or "table" gets render_table, so a
registry line alone gives a tab.
"""
from __future__ import annotations

import html
import logging
from functools import partial
from typing import Callable

import pandas as pd
import streamlit as st

from mlt_core.charts import playground as charts
from mlt_core.charts.tokens import token_chips_html
from mlt_core.errors import MltError
from mlt_core.probes import REGISTRY, Probe, attention_entropy, layer_similarity
from mlt_core.probes.similarity import CKA_AUTO
from mlt_core.probes.prediction import predicted_label, prediction
from mlt_core.probes.tokens import tokens as token_frame
from ui.causal import render_playground_tab as render_causal_tab
from ui.neurons import render_neurons_panel
from ui.playground.attention import render_attention_pattern, render_bertviz
from ui.widgets import state
from ui.widgets.charts import show_chart
from ui.widgets.download import figure_downloads
from ui.widgets.models import get_forward

log = logging.getLogger("mlt.playground")
PAGE = "playground"


@st.cache_data(max_entries=256, show_spinner=False)
def entropy_frame(path: str, premise: str, hypothesis: str) -> pd.DataFrame:
    """layer, head, entropy, entropy_norm of one model on one pair (from the cached forward)."""
    return attention_entropy(get_forward(path, premise, hypothesis))


@st.cache_data(max_entries=128, show_spinner=False)
def similarity_frame(path_a: str, path_b: str, premise: str, hypothesis: str) -> pd.DataFrame:
    """layer, metric (cosine | cka), value: models a and b, layer by layer."""
    sim = layer_similarity(get_forward(path_a, premise, hypothesis), get_forward(path_b, premise, hypothesis))
    long = sim.melt(id_vars="layer", value_vars=["cosine", "cka"], var_name="metric", value_name="value")
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    return long


def render_predictions(runs) -> None:
    """Banner (agree / disagree), then one card per model: label, confidence, probabilities."""
    labels = [predicted_label(r.cache) for r in runs]
    trained = [(r, l) for r, l in zip(runs, labels) if not r.untrained]
    distinct = sorted({l for _, l in trained})
    if len(runs) >= 2:
        if len(trained) >= 2 and len(distinct) == 1:
            # a Material icon: Streamlit bundles the font, an emoji font is not on every machine
            st.success(f"**All {len(trained)} models agree: {distinct[0]}**", icon=":material/check_circle:")
        elif len(distinct) > 1:
            st.warning("**Models disagree:** " + " · ".join(f"{r.name} → **{l}**" for r, l in trained), icon="⚡")
        if len(trained) < len(runs):
            st.caption("Models with an untrained head are left out of the agreement check.")
    # the label at 2rem (Streamlit's 2.25rem): "contradiction" and its confidence fit one line of a 2-model card
    st.html('<style>[class*="st-key-pg_card_"] [data-testid="stMetricValue"] {font-size: 2rem}</style>')
    cols = st.columns(len(runs))
    for i, (col, r, label) in enumerate(zip(cols, runs, labels)):
        with col.container(border=True, key=f"pg_card_{i}", gap="small"):
            probs = prediction(r.cache)
            st.html(f'<div style="display:flex;align-items:center;gap:8px;font-size:1.15rem;font-weight:600">'
                    f'<span style="width:14px;height:14px;border-radius:3px;background:{r.color}"></span>'
                    f'{i + 1}. {html.escape(r.name)}</div>')
            # label and confidence on one line, short bars: every card's bars above the fold at 1280 x 800
            with st.container(horizontal=True, vertical_alignment="center", gap="small"):
                st.metric(r.name, label, label_visibility="collapsed", width="content")
                st.caption(f"confidence {probs['prob'].max():.1%}", width="content")
            if r.untrained:
                st.error("UNTRAINED HEAD: this classifier was never trained; its prediction is noise.", icon="⚠️")
            chart = charts.prob_bars(probs, height=84, axis_title=False)
            show_chart(chart, f"pg_probs_chart_{i}")
            figure_downloads(chart, probs, f"probabilities-{r.name}", key=f"pg_dl_probs_{i}")


def render_entropy(runs, premise: str, hypothesis: str) -> None:
    st.session_state.setdefault("pg_norm", True)
    norm = st.toggle("Normalise by log(number of keys)", key="pg_norm", persist_state="session",
                     help="A row spread evenly over n keys has entropy log n: normalising removes the length effect "
                          "(Hindi inputs are often longer).")
    value = "entropy_norm" if norm else "entropy"
    frames = [entropy_frame(r.path, premise, hypothesis) for r in runs]
    lo, hi = min(f[value].min() for f in frames), max(f[value].max() for f in frames)
    cols = st.columns(min(len(runs), 2))
    for i, (r, df) in enumerate(zip(runs, frames)):
        with cols[i % len(cols)]:
            chart = charts.entropy_heatmap(df, value, title=f"{i + 1}. {r.name}", domain=[float(lo), float(hi)])
            show_chart(chart, f"pg_entropy_chart_{i}")
            figure_downloads(chart, df, f"attention-entropy-{r.name}", key=f"pg_dl_entropy_{i}")
    if len(runs) < 2:
        return
    a, b = frames[0], frames[1]
    if a[["layer", "head"]].shape != b[["layer", "head"]].shape or not a[["layer", "head"]].equals(b[["layer", "head"]]):
        st.info(f"{runs[0].name} and {runs[1].name} have different numbers of layers or heads: no difference map.")
        return
    diff = a[["layer", "head"]].assign(diff=a[value].to_numpy() - b[value].to_numpy())
    chart = charts.entropy_diff_heatmap(diff, title=f"{runs[0].name} − {runs[1].name}",
                                        value_title="Δ " + ("entropy / log n" if norm else "entropy (nats)"))
    with st.columns(min(len(runs), 2))[0]:  # the difference map at the size of the maps it compares
        show_chart(chart, "pg_entropy_diff_chart")
    figure_downloads(chart, diff, f"attention-entropy-diff-{runs[0].name}-{runs[1].name}", key="pg_dl_entropy_diff")


def render_similarity(runs, premise: str, hypothesis: str) -> None:
    a, b = runs[0], runs[1]  # two or more: the registry entry's check ran first
    df = similarity_frame(a.path, b.path, premise, hypothesis)
    if df["value"].notna().sum() == 0:
        st.info(f"{a.name} and {b.name} are not comparable here (different tokenizations and hidden sizes).")
        return
    chart = charts.similarity_lines(df, title=f"{a.name} vs {b.name}")
    show_chart(chart, "pg_similarity_chart")
    if df.loc[df["metric"] == "cka", "value"].isna().all():
        st.caption("CKA needs both models to see the same tokens; these two split this pair differently, so only "
                   "the cosine of mean-pooled states is shown.")
    st.caption("Cosine: of the mean-pooled hidden states. CKA: linear CKA over this pair's tokens "
               f"(1 = same geometry up to rotation and scale; estimator: {CKA_AUTO}, so debiased for one pair).")
    figure_downloads(chart, df, f"layer-similarity-{a.name}-{b.name}", key="pg_dl_similarity")


def render_tokens(runs) -> None:
    st.caption("Chips joined without a gap are pieces of one word; ␣ marks a word start; the dark bar is the "
               "premise / hypothesis boundary; grey chips are special tokens.")
    for i, r in enumerate(runs):
        df = token_frame(r.cache)
        words = int(df.loc[df["segment"] != "special", "word_start"].sum())
        n_real = int((df["segment"] != "special").sum())
        with st.container(key=f"pg_tokens_{i}"):
            st.markdown(f"**{i + 1}. {r.name}**: {len(df)} tokens ({n_real} text tokens for {words} words, "
                        f"{n_real / max(words, 1):.2f} per word)")
            st.html(token_chips_html(df))
        figure_downloads(None, df, f"tokens-{r.name}", key=f"pg_dl_tokens_{i}")


def render_neurons(runs, premise: str, hypothesis: str) -> None:
    try:
        render_neurons_panel([r.path for r in runs], premise, hypothesis)
    except MltError as e:
        st.error(str(e), icon="⚠️")
    except Exception as e:  # noqa: BLE001
        log.exception("neurons panel failed")
        st.error(f"The language-neurons panel failed ({type(e).__name__}); see the server log.", icon="⚠️")


def render_table(probe: Probe, runs, premise: str, hypothesis: str) -> None:
    """Any probe without a drawing of its own: its DataFrame per model (per pair of models 1 and 2), as a
    table, with a bar chart of its numeric columns over its first column when it has a few rows."""
    groups = [runs[:2]] if probe.kind == "pair" else [[r] for r in runs]
    for i, group in enumerate(groups):
        title = " vs ".join(r.name for r in group)
        try:
            df = probe([r.cache for r in group])
        except MltError as e:
            st.error(f"**{title}**: {e}", icon="⚠️")
            continue
        except Exception as e:  # noqa: BLE001 - a broken probe must not take the page down
            log.exception("probe %s failed on %s", probe.name, title)
            st.error(f"**{title}**: the probe {probe.name} failed ({type(e).__name__}); see the server log.", icon="⚠️")
            continue
        with st.container(key=f"pg_probe_{probe.name}_{i}"):
            st.markdown(f"**{i + 1}. {title}**" if probe.kind == "model" else f"**{title}**")
            x = df.columns[0]  # e.g. layer, token: the bars' axis
            ys = [c for c in df.select_dtypes("number").columns if c != x]
            if 1 < len(df) <= 64 and ys:
                st.bar_chart(df, x=x, y=ys, height=220)
            st.dataframe(df, hide_index=True)
        figure_downloads(None, df, f"{probe.name}-{title}", key=f"pg_dl_probe_{probe.name}_{i}")


# a probe's `view` -> its drawing: fn(runs, premise, hypothesis)
RENDERERS: dict[str, Callable] = {
    "entropy": render_entropy,
    "similarity": render_similarity,
    "tokens": lambda runs, premise, hypothesis: render_tokens(runs),
}
# the tabs that are not registry probes, after the probe tabs
UI_TABS: dict[str, Callable] = {
    "Attention pattern": lambda runs, premise, hypothesis: render_attention_pattern(runs),
    "bertviz": lambda runs, premise, hypothesis: render_bertviz(runs),
    "Language neurons": render_neurons,
    "Causal": render_causal_tab,
}


def probe_tabs() -> dict[str, Probe]:
    """label -> registry entry, for every registered probe with a view (registry order)."""
    return {p.title: p for p in REGISTRY.values() if p.view}


def tab_labels() -> list[str]:
    return [*probe_tabs(), *(t for t in UI_TABS if t not in probe_tabs())]


def render_probe_tab(probe: Probe, runs, premise: str, hypothesis: str) -> None:
    """The registry's help and compatibility check, then the probe's renderer (or the generic table)."""
    st.caption(probe.help)
    why = probe.incompatible([r.ckpt for r in runs])
    if why:
        st.info(f"{why} (pick the models on the Home page).")
        return
    draw = RENDERERS.get(probe.view) or partial(render_table, probe)
    draw(runs, premise, hypothesis)


def url_spec() -> dict:
    return {
        "premise": ("pg_premise", state.parse_text()), "hypothesis": ("pg_hypothesis", state.parse_text()),
        "view": ("pg_view", state.parse_choice(tab_labels())), "norm": ("pg_norm", state.parse_bool),
        "layer": ("pg_layer", state.parse_int(0, 1000)), "head": ("pg_head", state.parse_int(0, 1000)),
        "bv": ("pg_bv_kind", state.parse_choice(["head", "model"])),
    }


def url_values() -> dict:
    ss = st.session_state
    return {"premise": ss.get("pg_premise"), "hypothesis": ss.get("pg_hypothesis"), "view": ss.get("pg_view"),
            "norm": None if ss.get("pg_norm", True) else "0", "layer": ss.get("pg_layer"), "head": ss.get("pg_head"),
            "bv": ss.get("pg_bv_kind")}


def render_tabs(runs, premise: str, hypothesis: str) -> None:
    """The detail views in tabs; only the OPEN tab is drawn (and sent to the browser) in a run.

    A fragment: a tab switch or a display option reruns only this part of the page (not the
    inputs or the prediction cards), never a model: every view reads the cached forwards, so a
    click on another tab draws it in a few ms. Drawing all six on every rerun sent ~4.4 MB per
    pair for two base models, most of it for tabs nobody had open.
    """
    probes, labels = probe_tabs(), tab_labels()
    if st.session_state.get("pg_view") not in labels:
        st.session_state["pg_view"] = labels[0]
    tabs = dict(zip(labels, st.tabs(labels, key="pg_view", on_change="rerun")))
    for name, tab in tabs.items():
        if tab.open is not False:  # None: state not tracked (never here: key + on_change), draw all
            with tab:
                if name in probes:
                    render_probe_tab(probes[name], runs, premise, hypothesis)
                else:
                    UI_TABS[name](runs, premise, hypothesis)
    state.publish(PAGE, url_values())  # a fragment rerun never reaches the page's own publish


tabs_fragment = st.fragment(render_tabs)
