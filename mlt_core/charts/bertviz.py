"""bertviz's head / model view of one pair as a self-contained offline HTML page.

bertviz's own HTML loads require.js, d3 and jQuery from a CDN and draws nothing offline. Here the
vendored d3 v5.7.0 and jQuery 3.7.1 (mlt_core/charts/vendor/, licence headers kept) are inlined, a
2-line shim stands in for require.js, and bertviz's unmodified head_view.js / model_view.js run on top.
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

VENDOR = Path(__file__).resolve().parent / "vendor"
VENDOR_JS = ("jquery.v3.7.1.min.js", "d3.v5.7.0.min.js")
SCALE = 1000  # weights travel as round(w * SCALE)
MAX_TOKENS = 96
# bertviz draws one SVG line per (layer, head, query, key): its cost. ~40,000 lines draw in about a
# second in software-rendered Chromium (150,000, the old default of 3 base layers at 64 tokens: 4 s)
MAX_LINES = 40_000
MIN_TOKENS = 24  # below this, drop layers rather than tokens
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
