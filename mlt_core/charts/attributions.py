"""Attribution views: token chips shaded by score (HTML), faithfulness and fertility charts (altair).

Chips use a diverging scale, blue (against the target) - white - vermillion (for it), scaled per
row by the largest |score| among non-special tokens (special tokens are shown grey, unscaled: their
scores, e.g. attention sinks on <s>, would wash out the rest). Fonts include Devanagari faces.
"""
from __future__ import annotations

import html

import altair as alt
import pandas as pd

from mlt_core.charts.theme import FONT_SIZE, lang_scale, model_scale

METHOD_COLORS = {"attention": "#0072B2", "scaled_attention": "#56B4E9", "scaled_attention_per_head": "#009E73",
                 "input_x_gradient": "#E69F00",
                 "integrated_gradients": "#D55E00", "deeplift": "#CC79A7", "random": "#999999"}
METRICS = {"NS": "NS (AOPC)", "NC": "NC (AOPC)", "soft_NS": "Soft-NS", "soft_NC": "Soft-NC"}
FONTS = "'Noto Sans', 'Noto Sans Devanagari', 'Nirmala UI', Mangal, 'Segoe UI', Arial, sans-serif"
POS, NEG = (213, 94, 0), (0, 114, 178)  # Okabe-Ito vermillion / blue


def method_scale(methods: list[str]) -> alt.Scale:
    return alt.Scale(domain=list(methods), range=[METHOD_COLORS.get(m, "#000000") for m in methods])


def _shade(v: float) -> str:
    """Background for a score in [-1, 1]."""
    r, g, b = POS if v >= 0 else NEG
    a = min(1.0, abs(v))
    mix = lambda c: int(round(255 + (c - 255) * a))  # noqa: E731  white -> colour
    return f"rgb({mix(r)},{mix(g)},{mix(b)})"


def _display(tok: str) -> str:
    t = tok.replace("▁", " ").replace("Ġ", " ").replace("Ċ", "⏎")
    return t if t.strip() else "␣"


def chips_html(df: pd.DataFrame, value: str = "score", absolute: bool = False, label: str | None = None) -> str:
    """One attribution as HTML chips: premise line, hypothesis line. df: [position, token, segment, score]."""
    vals = df[value].abs() if absolute else df[value]
    content = df["segment"] != "special"
    top = float(vals[content].abs().max()) if content.any() else 0.0
    lines, line = {"premise": [], "hypothesis": []}, "premise"  # a special token joins the line before it
    for tok, seg, v, raw in zip(df["token"], df["segment"], vals, df[value]):
        text = html.escape(_display(str(tok)))
        tip = html.escape(f"{tok}: {raw:+.4g}")
        if seg == "special":
            lines[line].append(f'<span title="{tip}" style="color:#999;font-size:0.75em;padding:0 2px">{text}</span>')
            continue
        line = seg
        norm = float(v) / top if top > 0 else 0.0
        fg = "#fff" if abs(norm) > 0.6 else "#111"
        lines[seg].append(f'<span title="{tip}" style="background:{_shade(norm)};color:{fg};border-radius:4px;'
                          f'padding:1px 3px;margin:1px;display:inline-block;white-space:pre">{text}</span>')
    head = f'<div style="font-weight:600;margin:4px 0 2px">{html.escape(label)}</div>' if label else ""
    body = "".join(f'<div style="margin:2px 0"><span style="color:#777;font-size:0.8em;display:inline-block;'
                   f'width:6.5em">{k}</span>{"".join(v)}</div>' for k, v in lines.items())
    return f'<div style="font-family:{FONTS};font-size:{FONT_SIZE}px;line-height:1.9">{head}{body}</div>'


def legend_html() -> str:
    stops = ", ".join(_shade(v) for v in (-1, -0.5, 0, 0.5, 1))
    return (f'<div style="font-family:{FONTS};font-size:13px;color:#555">against the label '
            f'<span style="display:inline-block;width:160px;height:10px;vertical-align:middle;'
            f'background:linear-gradient(90deg, {stops})"></span> for the label '
            f'(scaled per row by its largest |score|)</div>')


def faithfulness_lines(per_ratio: pd.DataFrame, metric: str = "NC") -> alt.Chart:
    """NS or NC against the share of tokens in the rationale, one line per method (random dashed)."""
    methods = list(dict.fromkeys(per_ratio["method"]))
    d = per_ratio.assign(pct=per_ratio["ratio"] * 100, floor=per_ratio["method"] == "random")
    return alt.Chart(d).mark_line(point=True).encode(
        x=alt.X("pct:Q", title="rationale size (% of tokens)", scale=alt.Scale(type="log")),
        y=alt.Y(f"{metric}:Q", title=METRICS.get(metric, metric).replace(" (AOPC)", ""), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("method:N", scale=method_scale(methods),  # on top: two of these share a row
                        legend=alt.Legend(orient="top", columns=3)),
        strokeDash=alt.StrokeDash("floor:N", legend=None),
        tooltip=["method", "ratio", "k", alt.Tooltip(f"{metric}:Q", format=".3f")],
    ).properties(height=260)


def faithfulness_bars(table: pd.DataFrame, metric: str = "NC") -> alt.Chart:
    """One metric per method, grouped by language, one column per model. table: [model, lang, method, metric]."""
    methods = list(dict.fromkeys(table["method"]))
    models = list(dict.fromkeys(table["model"]))
    return alt.Chart(table).mark_bar().encode(
        x=alt.X("lang:N", title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("method:N", sort=methods),
        y=alt.Y(f"{metric}:Q", title=METRICS.get(metric, metric), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("method:N", scale=method_scale(methods), legend=alt.Legend(orient="top")),
        # two model panels per row and the legend on top: fits a 1280-px projector's column
        facet=alt.Facet("model:N", title=None, sort=models, columns=2),
        tooltip=["model", "lang", "method", "n", alt.Tooltip(f"{metric}:Q", format=".3f")]
        + ([alt.Tooltip("undefined:Q", format=".0%", title="undefined (1 − S0 < 1e-4)")] if "undefined" in table else []),
    ).properties(width=alt.Step(14), height=240)


def fertility_bars(df: pd.DataFrame, measure: str = "fertility") -> alt.Chart:
    """A fertility measure per language, one bar per tokenizer. df: fertility() output."""
    toks = list(dict.fromkeys(df["tokenizer"]))
    titles = {"fertility": "subwords per word", "subwords_per_100_chars": "subwords per 100 characters",
              "unk_rate": "unknown-token rate", "split_share": "share of words split"}
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("lang:N", title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("tokenizer:N", sort=toks),
        y=alt.Y(f"{measure}:Q", title=titles.get(measure, measure)),
        color=alt.Color("tokenizer:N", scale=model_scale(toks), title="tokenizer"),
        tooltip=["tokenizer", "lang", "words", "subwords", alt.Tooltip(f"{measure}:Q", format=".3f")],
    ).properties(height=280)


def correlation_scatter(points: pd.DataFrame, x: str, y: str) -> alt.Chart:
    """Fertility (x) against a faithfulness metric (y), one point per model x language."""
    langs = list(dict.fromkeys(points["lang"]))
    return alt.Chart(points).mark_point(size=120, filled=True).encode(
        x=alt.X(f"{x}:Q", title=x.replace("_", " "), scale=alt.Scale(zero=False)),
        y=alt.Y(f"{y}:Q", title=METRICS.get(y, y)),
        color=alt.Color("lang:N", scale=lang_scale(langs)),
        shape=alt.Shape("model:N"),
        tooltip=["model", "lang", alt.Tooltip(f"{x}:Q", format=".3f"), alt.Tooltip(f"{y}:Q", format=".3f")],
    ).properties(height=300)
