"""Playground views of the cached forward passes: prediction cards, then tabs (entropy, similarity,
tokens, attention, bertviz, language neurons), only the open one drawn (and sent) in a run."""
from __future__ import annotations

import html
import logging

import pandas as pd
import streamlit as st

from mlt_core.charts import playground as charts
from mlt_core.errors import MltError
from mlt_core.probes import attention_entropy, layer_similarity
from mlt_core.probes.similarity import CKA_AUTO
from mlt_core.probes.prediction import predicted_label, prediction
from mlt_core.probes.tokens import tokens as token_frame
from ui.download import figure_downloads
from ui.models import get_forward

log = logging.getLogger("mlt.playground")
DEVANAGARI_FONTS = "'Source Sans Pro', 'Noto Sans', 'Noto Sans Devanagari', 'Lohit Devanagari', 'Nirmala UI', " \
                   "'Mangal', sans-serif"
SEGMENT_STYLE = {"premise": ("#E8F1FA", "#0072B2"), "hypothesis": ("#FDF1E0", "#E69F00"),
                 "special": ("#EEEEEE", "#999999")}


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


def unvalidated(chart):
    """A copy of `chart` whose to_dict() (what Streamlit calls) skips the schema validation."""
    chart = chart.copy(deep=False)
    to_dict = chart.to_dict
    # object.__setattr__: Altair's own __setattr__ would store it as a chart property
    object.__setattr__(chart, "to_dict", lambda *a, **kw: to_dict(*a, **{**kw, "validate": False}))
    return chart


def show_chart(chart, key: str, width: str = "stretch") -> None:
    """st.altair_chart in a keyed container (browser tests find `.st-key-<key>`).

    Skips Altair's JSON-schema validation of the spec (our chart builders are tested against it in
    tests; validating every chart again on every rerun was ~30% of a Playground rerun).
    """
    with st.container(key=key):
        st.altair_chart(unvalidated(chart), width=width)


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
    if len(runs) < 2:
        st.info("Select two models on the Home page to compare their representations layer by layer.")
        return
    a, b = runs[0], runs[1]
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


def token_chips_html(df: pd.DataFrame) -> str:
    """Tokens as chips: premise / hypothesis / special colours, subword continuations joined, a bar at the boundary."""
    parts, seen_premise, marked = [], False, False
    for t in df.itertuples():
        bg, border = SEGMENT_STYLE.get(t.segment, SEGMENT_STYLE["special"])
        seen_premise = seen_premise or t.segment == "premise"
        if seen_premise and not marked and t.segment != "premise":  # first token after the premise
            marked = True
            parts.append('<span title="premise | hypothesis" style="display:inline-block;width:3px;height:1.6em;'
                         'background:#333;margin:0 8px;vertical-align:middle"></span>')
        gap = "6px" if t.word_start else "1px"
        text = html.escape(str(t.token).replace("▁", "␣") if str(t.token) != "▁" else "␣")
        parts.append(f'<span class="tok tok-{t.segment}" title="{t.position}: {t.segment}" style="display:inline-block;'
                     f'margin:3px 0 3px {gap};padding:1px 5px;border:1px solid {border};border-radius:4px;'
                     f'background:{bg};font-size:1.05rem">{text}</span>')
    return f'<div style="line-height:2.1;font-family:{DEVANAGARI_FONTS}">{"".join(parts)}</div>'


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
        from ui.neurons_panel import render_neurons_panel
    except Exception as e:  # noqa: BLE001 - optional panel, written by another module
        log.debug("neurons panel unavailable: %r", e)
        st.info("The language-neurons panel is not available (ui/neurons_panel.py missing or broken).")
        return
    try:
        render_neurons_panel([r.path for r in runs], premise, hypothesis)
    except MltError as e:
        st.error(str(e), icon="⚠️")
    except Exception as e:  # noqa: BLE001
        log.exception("neurons panel failed")
        st.error(f"The language-neurons panel failed ({type(e).__name__}); see the server log.", icon="⚠️")


def render_tabs(runs, premise: str, hypothesis: str) -> None:
    """The detail views in tabs; only the OPEN tab is drawn (and sent to the browser) in a run.

    A fragment: a tab switch or a display option reruns only this part of the page (not the
    inputs or the prediction cards), never a model: every view reads the cached forwards, so a
    click on another tab draws it in a few ms. Drawing all six on every rerun sent ~4.4 MB per
    pair for two base models, most of it for tabs nobody had open.
    """
    from ui import state
    from ui.attention_view import render_attention_pattern, render_bertviz
    from ui.causal import render_playground_tab as render_causal_tab
    from ui.playground import PAGE, TABS, url_values

    if st.session_state.get("pg_view") not in TABS:
        st.session_state["pg_view"] = TABS[0]
    tabs = dict(zip(TABS, st.tabs(TABS, key="pg_view", on_change="rerun")))
    views = {
        "Attention entropy": lambda: render_entropy(runs, premise, hypothesis),
        "Similarity 1 vs 2": lambda: render_similarity(runs, premise, hypothesis),
        "Tokens": lambda: render_tokens(runs),
        "Attention pattern": lambda: render_attention_pattern(runs),
        "bertviz": lambda: render_bertviz(runs),
        "Language neurons": lambda: render_neurons(runs, premise, hypothesis),
        "Causal": lambda: render_causal_tab(runs, premise, hypothesis),
    }
    for name, tab in tabs.items():
        if tab.open is not False:  # None: state not tracked (never here: key + on_change), draw all
            with tab:
                views[name]()
    state.publish(PAGE, url_values())  # a fragment rerun never reaches the page's own publish


tabs_fragment = st.fragment(render_tabs)
