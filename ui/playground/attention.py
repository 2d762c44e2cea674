"""Attention of one pair in the Playground: a token x token heatmap per model, and bertviz's head /
model view offline (the page itself is built by mlt_core.charts.bertviz)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from mlt_core.charts.bertviz import MAX_LINES, BertvizPage, bertviz_bound, bertviz_html
from mlt_core.charts.playground import attention_heatmap
from mlt_core.probes.attention import HEATMAP_MAX_TOKENS, attention_frame, with_tokens
from ui.widgets.charts import show_chart
from ui.widgets.download import figure_downloads
from ui.widgets.models import get_forward


def _clamp_key(key: str, options: list, default) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def render_attention_pattern(runs) -> None:
    """Layer/head pickers shared by all models; one token x token heatmap per model."""
    n_layers, n_heads = min(r.cache.n_layers for r in runs), min(r.cache.n_heads for r in runs)
    _clamp_key("pg_layer", list(range(n_layers)), n_layers - 1)
    _clamp_key("pg_head", list(range(n_heads)), 0)
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", list(range(n_layers)), key="pg_layer", persist_state="session")
    head = c2.selectbox("Head", list(range(n_heads)), key="pg_head", persist_state="session")
    cols = st.columns(min(len(runs), 2))
    frames = [attention_frame(r.cache, layer, head) for r in runs]
    vmax = max(float(df["weight"].max()) for df in frames)  # one colour scale: the models stay comparable
    for i, (r, df) in enumerate(zip(runs, frames)):
        with cols[i % len(cols)]:
            chart = attention_heatmap(df, df.attrs["labels"], title=f"{i + 1}. {r.name}: layer {layer}, head {head}",
                                      vmax=vmax)
            show_chart(chart, f"pg_attn_chart_{i}")
            if len(r.cache.tokens[0]) > HEATMAP_MAX_TOKENS:
                st.caption(f"first {HEATMAP_MAX_TOKENS} of {len(r.cache.tokens[0])} tokens shown")
            figure_downloads(chart, with_tokens(df), f"attention-{r.name}-L{layer}H{head}", key=f"pg_dl_attn_{i}")


@st.cache_data(max_entries=8, show_spinner=False)
def _bertviz_page(path: str, premise: str, hypothesis: str, view: str, layers: tuple) -> BertvizPage:
    """The offline bertviz page of one model on one pair (from the cached forward)."""
    cache = get_forward(path, premise, hypothesis)
    keep = cache.attention_mask[0].bool()
    attn = np.stack([cache[f"blocks.{l}.attn.pattern"][0][:, keep][:, :, keep].numpy() for l in layers])
    seq = [s for s, m in zip(cache.seq_ids[0], keep.tolist()) if m]
    b = next((j for j, s in enumerate(seq) if s == 1), None)  # first hypothesis token
    kept, n = bertviz_bound(view, len(cache.tokens[0]), list(layers), cache.n_heads)
    attn = attn[[list(layers).index(l) for l in kept]]
    page = bertviz_html(view, cache.tokens[0], attn, kept, sentence_b_start=b, max_tokens=n)
    page.dropped_layers = tuple(l for l in layers if l not in kept)
    return page


def render_bertviz(runs) -> None:
    """bertviz head view or model view of one model, for the chosen layers (default: the last 3)."""
    names = [r.name for r in runs]
    _clamp_key("pg_bv_model", names, names[0])
    _clamp_key("pg_bv_kind", ["head", "model"], "head")
    c1, c2, c3 = st.columns([1, 1, 2])
    name = c1.selectbox("Model", names, key="pg_bv_model", persist_state="session")
    view = c2.radio("View", ["head", "model"], key="pg_bv_kind", horizontal=True, persist_state="session",
                    format_func=lambda v: f"{v} view")
    r = runs[names.index(name)]
    all_layers = list(range(r.cache.n_layers))
    chosen = [l for l in st.session_state.get("pg_bv_layers") or [] if l in all_layers] or all_layers[-3:]
    st.session_state["pg_bv_layers"] = chosen
    layers = c3.multiselect("Layers", all_layers, key="pg_bv_layers",
                            help="Fewer layers = more tokens drawn: the view is bounded to draw in about a second.")
    if not layers:
        st.info("Pick at least one layer.")
        return
    page = _bertviz_page(r.path, r.cache.pairs[0][0], r.cache.pairs[0][1], view, tuple(sorted(layers)))
    left = []
    if page.dropped_layers:
        left.append(f"layers {', '.join(map(str, page.dropped_layers))} left out (showing "
                    f"{', '.join(map(str, page.layers))})")
    if page.shown_tokens < page.total_tokens:
        left.append(f"first {page.shown_tokens} of {page.total_tokens} tokens shown (rows no longer sum to 1)")
    if left:
        st.caption("Bounded to draw in about a second (at most "
                   f"{MAX_LINES:,} attention lines): " + "; ".join(left) + ". Pick fewer layers for more tokens; "
                   "the Attention pattern tab shows any single head in full.")
    st.iframe(page.html, height=page.height, alt=f"bertviz {view} view of {name}")
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    c1.download_button("⬇ HTML", page.html.encode("utf-8"), f"bertviz-{view}-{name}.html", "text/html",
                       key="pg_dl_bertviz", on_click="ignore", help="a standalone page: opens offline in any browser")
    c2.caption(f"{len(page.html) / 1024:.0f} KiB page, drawn offline (vendored d3 and jQuery).")
