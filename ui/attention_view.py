"""Attention of one pair: a token x token heatmap per model, and bertviz's head / model view offline.

bertviz's own HTML loads require.js, d3 and jQuery from a CDN and draws nothing offline. Here the
vendored d3 v5.7.0 and jQuery 3.7.1 (ui/vendor/, licence headers kept) are inlined, a 2-line
shim stands in for require.js, and bertviz's unmodified head_view.js / model_view.js run on top.
Size stays bounded: chosen layers only, at most `max_tokens` tokens, weights sent as integers in
thousandths (3 decimals), and bertviz's sentence A/B filters rebuilt in the browser from the
full matrix instead of being sent twice.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

VENDOR = Path(__file__).resolve().parent / "vendor"
VENDOR_JS = ("jquery.v3.7.1.min.js", "d3.v5.7.0.min.js")
SCALE = 1000  # weights travel as round(w * SCALE)
MAX_TOKENS = 96
# bertviz draws one SVG line per (layer, head, query, key): its cost. ~40,000 lines draw in about a
# second in software-rendered Chromium (150,000, the old default of 3 base layers at 64 tokens: 4 s)
MAX_LINES = 40_000
MIN_TOKENS = 24  # below this, drop layers rather than tokens
HEATMAP_MAX_TOKENS = 128
FONTS = "'Helvetica Neue', Helvetica, Arial, 'Noto Sans Devanagari', 'Lohit Devanagari', 'Nirmala UI', sans-serif"

_SHIM = """
window.require = {config: function () {}};
window.requirejs = function (deps, cb) { cb(window.jQuery, window.d3); };
function mltParams(p) {
  // weights arrive as integers in 1/SCALE; rebuild floats, then bertviz's sentence A/B filters
  const all = p.attention[0];
  all.attn = all.attn.map(l => l.map(h => h.map(r => r.map(v => v / p.scale))));
  const b = p.sentence_b_start;
  if (b !== null && b > 0 && b < all.left_text.length && p.filters) {
    const n = all.left_text.length, A = all.left_text.slice(0, b), B = all.left_text.slice(b);
    const cut = (q0, q1, k0, k1) => all.attn.map(l => l.map(h => h.slice(q0, q1).map(r => r.slice(k0, k1))));
    p.attention.push({name: 'Sentence A -> Sentence A', attn: cut(0, b, 0, b), left_text: A, right_text: A});
    p.attention.push({name: 'Sentence B -> Sentence B', attn: cut(b, n, b, n), left_text: B, right_text: B});
    p.attention.push({name: 'Sentence A -> Sentence B', attn: cut(0, b, b, n), left_text: A, right_text: B});
    p.attention.push({name: 'Sentence B -> Sentence A', attn: cut(b, n, 0, b), left_text: B, right_text: A});
  }
  return p;
}
function mltFit(zoom) {
  // bertviz's model view is 970 px wide whatever the frame: scale it down to the frame's width
  const svg = document.querySelector('#vis svg');
  const w = svg ? parseFloat(svg.getAttribute('width')) : NaN;  // NaN for the head view's "100%"
  if (w > 0 && window.innerWidth > 0) document.body.style.zoom = Math.min(zoom, (window.innerWidth - 8) / w);
}
function mltWhenShown(draw) {
  // In a closed Streamlit tab this frame has no size: draw (thousands of SVG lines) when it is shown,
  // or in the browser's idle time from 1.5 s on, so the charts of the open tab are drawn first
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    const t0 = performance.now();
    draw();
    // script + the layout and paint that follow it (benchmarks read window.mltDrawMs)
    requestAnimationFrame(() => setTimeout(() => { window.mltDrawMs = performance.now() - t0; }, 0));
  };
  if (window.innerWidth > 0) { once(); return; }
  const watch = new ResizeObserver(() => { if (window.innerWidth > 0) { watch.disconnect(); once(); } });
  watch.observe(document.documentElement);
  setTimeout(() => window.requestIdleCallback ? window.requestIdleCallback(once, {timeout: 3000}) : once(), 1500);
}
"""
_FILTERS = ["All", "Sentence A -> Sentence A", "Sentence B -> Sentence B", "Sentence A -> Sentence B",
            "Sentence B -> Sentence A"]


@dataclass
class BertvizPage:
    html: str
    height: int  # px the iframe needs
    shown_tokens: int
    total_tokens: int
    layers: tuple = ()  # the layers drawn
    dropped_layers: tuple = ()  # asked for, left out by the bound


def bertviz_bound(view: str, n_tokens: int, layers: list[int], n_heads: int, max_lines: int = MAX_LINES,
                  min_tokens: int = MIN_TOKENS) -> tuple[list[int], int]:
    """(layers to draw, tokens to draw) so that bertviz draws at most ~max_lines lines.

    The head view draws one layer (heads x n^2 lines), the model view every chosen layer
    (layers x heads x n^2). Tokens are cut first, down to `min_tokens`; past that the model view
    keeps only the last layers that fit (at least one).
    """
    layers = sorted(layers)
    per_token2 = n_heads * (1 if view == "head" else len(layers))
    n = min(n_tokens, max(int((max_lines / max(per_token2, 1)) ** 0.5), 1))
    if view == "model" and n < min(min_tokens, n_tokens):
        n = min(min_tokens, n_tokens)
        keep = max(1, max_lines // (n_heads * n * n))
        layers = layers[-keep:]
        n = min(n_tokens, max(int((max_lines / (n_heads * len(layers))) ** 0.5), 1))
    return layers, n


@lru_cache(maxsize=4)
def _vendor_js() -> str:
    return "\n".join(f"<script>\n{(VENDOR / f).read_text(encoding='utf-8')}\n</script>" for f in VENDOR_JS)


@lru_cache(maxsize=2)
def _bertviz_js(view: str) -> str:
    """bertviz's own {head,model}_view.js without its CDN require.config block."""
    src = resources.files("bertviz").joinpath(f"{view}_view.js").read_text(encoding="utf-8")
    return re.sub(r"require\.config\(\{.*?\}\);", "", src, count=1, flags=re.S)


def pretty(tokens: list[str]) -> list[str]:
    return [t.replace("Ġ", " ").replace("▁", " ").replace("</w>", "") for t in tokens]


def bertviz_html(view: str, tokens: list[str], attn: np.ndarray, layers: list[int],
                 sentence_b_start: int | None = None, max_tokens: int = MAX_TOKENS,
                 zoom: float | None = None) -> BertvizPage:
    """A self-contained, offline bertviz page.  attn # [len(layers), head, q, k] for the chosen layers.

    zoom: CSS zoom for projectors (default: 1.3 for the narrow head view, 1 for the 970-px model view).
    """
    if view not in ("head", "model"):
        raise ValueError(f"view must be 'head' or 'model', not {view!r}")
    total = len(tokens)
    n = min(total, max_tokens)
    a = np.asarray(attn, dtype=np.float64)[:, :, :n, :n]  # [layers, head, n, n]
    ints = np.rint(a * SCALE).astype(np.int32).tolist()
    toks = pretty(tokens[:n])
    b = sentence_b_start if sentence_b_start is not None and 0 < sentence_b_start < n else None
    vis_id = f"bertviz-{uuid.uuid4().hex}"
    params = {"attention": [{"name": "All" if b else None, "attn": ints, "left_text": toks, "right_text": toks}],
              "default_filter": "0", "root_div_id": vis_id, "include_layers": list(layers),
              "scale": SCALE, "sentence_b_start": b, "filters": view == "head" or b is not None}
    if view == "head":
        params.update(layer=layers[-1], heads=None)
    else:
        params.update(display_mode="light", include_heads=list(range(a.shape[1])), total_heads=a.shape[1])
    select = ""
    if b:
        opts = "".join(f'<option value="{i}">{f}</option>' for i, f in enumerate(_FILTERS))
        select = f'Attention: <select id="filter">{opts}</select>'
    layer_select = 'Layer: <select id="layer"></select>' if view == "head" else ""
    # "<" escaped: a token such as "</script>" (user text) must not end the script element
    payload = f"mltParams({json.dumps(params, separators=(',', ':')).replace('<', chr(92) + 'u003c')})"
    js = _bertviz_js(view).replace("PYTHON_PARAMS", payload, 1)  # once: bertviz's comment names it again
    zoom = zoom or (1.3 if view == "head" else 1.0)
    doc = (f'<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
           f'<body style="margin:0;zoom:{zoom};font-family:{FONTS}">'
           f'<div id="{vis_id}" style="font-family:{FONTS}"><span style="user-select:none">{layer_select} {select}'
           f"</span><div id='vis'></div></div>{_vendor_js()}<script>{_SHIM}</script>"
           f"<script>mltWhenShown(function () {{\n{js}\nmltFit({zoom});\n}});\n"
           f"window.addEventListener('resize', function () {{ mltFit({zoom}); }});</script></body></html>")
    if view == "head":
        height = int(n * 22.5 + 30 + 50)
    else:
        box = 7 * (12 / a.shape[1])
        thumb = n * box + 10
        height = int(max(len(layers) * thumb + 38, n * 18 + 70) + 50)
    return BertvizPage(doc, int(height * zoom), n, total, tuple(layers))


def attention_frame(cache, layer: int, head: int, i: int = 0, max_tokens: int = HEATMAP_MAX_TOKENS) -> pd.DataFrame:
    """q, k, weight for one head of one example (first max_tokens); token labels in `df.attrs["labels"]`.

    Numbers only: the chart names tokens from one list (a Vega parameter), not four strings per cell.
    """
    pattern = cache[f"blocks.{layer}.attn.pattern"][i]  # [head, q, k]
    keep = cache.attention_mask[i].bool()
    w = pattern[head][keep][:, keep].numpy()  # [n, n] padding removed
    toks = cache.tokens[i]
    n = min(len(toks), max_tokens)
    q, k = np.meshgrid(np.arange(n, dtype=np.int16), np.arange(n, dtype=np.int16), indexing="ij")
    df = pd.DataFrame({"q": q.ravel(), "k": k.ravel(), "weight": w[:n, :n].ravel().astype(np.float32)})
    df.attrs["labels"] = [f"{j}·{t}" for j, t in enumerate(pretty(toks[:n]))]
    df.attrs["tokens"] = list(toks[:n])
    return df


def with_tokens(df: pd.DataFrame) -> pd.DataFrame:
    """attention_frame plus q_token / k_token columns (for a CSV download)."""
    toks = np.asarray(df.attrs["tokens"], dtype=object)
    return df.assign(q_token=toks[df["q"].to_numpy()], k_token=toks[df["k"].to_numpy()])


def _clamp_key(key: str, options: list, default) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def render_attention_pattern(runs) -> None:
    """Layer/head pickers shared by all models; one token x token heatmap per model."""
    from mlt_core.charts.playground import attention_heatmap
    from ui.download import figure_downloads
    from ui.playground_views import show_chart

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
    from ui.models import get_forward

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
