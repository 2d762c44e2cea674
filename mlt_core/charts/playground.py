"""Charts of the Playground: one pair, a few models. Tidy DataFrame in, altair chart out.

    prob_bars            label, prob                      -> bars in label colours
    entropy_heatmap      layer, head, <value>             -> layer x head heatmap
    entropy_diff_heatmap layer, head, diff                -> diverging heatmap centred on 0
    similarity_lines     layer, metric, value             -> one line per metric (cosine, CKA)
    attention_heatmap    q, k, weight (+ token labels)    -> token x token heatmap
Layer 0 of a heatmap is at the top, as in most papers; each builder returns a styled
top-level chart (theme.style), ready for st.altair_chart or chart.save(...).

Heights are plot heights (autosize "pad", or "fit-x" for the charts that stretch to the page
width), set explicitly: Streamlit 1.67 otherwise fits the whole chart, axes and legend
included, into width x height and squashes small charts to nothing.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from mlt_core.charts import theme
from mlt_core.data.labels import LABELS

METRIC_COLORS = {"cosine": "#0072B2", "cka": "#E69F00"}  # not models/labels/languages: a fixed pair
PAD = alt.AutoSizeParams(type="pad")  # fixed plot size; the chart grows by its axes and legend
FIT_X = theme.FIT_X


def _done(chart, autosize=PAD) -> alt.Chart:
    return theme.style(chart.properties(autosize=autosize))


def prob_bars(df: pd.DataFrame, title: str = "", height: int = 120, axis_title: bool = True) -> alt.Chart:
    """Probability of each label (entailment, neutral, contradiction) as bars in label colours."""
    base = alt.Chart(df, title=title or alt.Undefined).encode(
        y=alt.Y("label:N", sort=list(LABELS), title=None),
        x=alt.X("prob:Q", scale=alt.Scale(domain=[0, 1]),
                  title="probability" if axis_title else None, axis=alt.Axis(format=".0%")),
    )
    bars = base.mark_bar().encode(
        color=alt.Color("label:N", scale=theme.label_scale(), legend=None),
        tooltip=[alt.Tooltip("label:N"), alt.Tooltip("prob:Q", format=".3f")],
    )
    text = base.mark_text(align="left", dx=4, fontSize=theme.FONT_SIZE - 2).encode(text=alt.Text("prob:Q", format=".1%"))
    return _done((bars + text).properties(height=height), FIT_X)


def _heat_axes(df: pd.DataFrame):
    layers = sorted(df["layer"].unique().tolist())
    heads = sorted(df["head"].unique().tolist())
    # labelOverlap: 16 heads in a 400-px column or 24 layers in 420 px thin their labels, never overlap
    return (alt.X("head:O", sort=heads, title="head", axis=alt.Axis(labelAngle=0, labelOverlap="greedy")),
            alt.Y("layer:O", sort=layers, title="layer", axis=alt.Axis(labelOverlap="greedy")))


def _heat_layout(df: pd.DataFrame, width: int | None, height: int | None) -> tuple[dict, alt.AutoSizeParams]:
    """Plot size and autosize of a layer x head heatmap: as wide as its column (fit-x) unless `width`
    is given; 30 px a layer up to 420 px (24 layers: 17.5 px)."""
    n_layers = df["layer"].nunique()
    props = {"height": height or max(120, min(30 * n_layers, 420))}
    if width:
        props["width"] = width
    return props, (PAD if width else FIT_X)


def _heat_legend(title: str) -> alt.Legend:
    # below the plot: a legend on the right would take ~90 px from a 400-px column
    return alt.Legend(title=title, orient="bottom", direction="horizontal", gradientLength=200)


def entropy_heatmap(df: pd.DataFrame, value: str = "entropy", title: str = "", domain: list | None = None,
                    width: int | None = None, height: int | None = None) -> alt.Chart:
    """Attention entropy per layer (rows) and head (columns); darker = more spread-out attention."""
    x, y = _heat_axes(df)
    legend_title = "entropy / log n" if value.endswith("norm") else "entropy (nats)"
    scale = alt.Scale(scheme="viridis", domain=domain) if domain else alt.Scale(scheme="viridis")
    props, autosize = _heat_layout(df, width, height)
    chart = alt.Chart(df, title=title or alt.Undefined).mark_rect().encode(
        x=x, y=y,
        color=alt.Color(f"{value}:Q", scale=scale, legend=_heat_legend(legend_title)),
        tooltip=["layer:O", "head:O", alt.Tooltip(f"{value}:Q", format=".3f")],
    ).properties(**props)
    return _done(chart, autosize)


def entropy_diff_heatmap(df: pd.DataFrame, title: str = "", value_title: str = "Δ entropy",
                         width: int | None = None, height: int | None = None) -> alt.Chart:
    """Difference of two models' attention entropy per layer and head, diverging around 0."""
    x, y = _heat_axes(df)
    m = float(df["diff"].abs().max() or 1e-9)
    props, autosize = _heat_layout(df, width, height)
    chart = alt.Chart(df, title=title or alt.Undefined).mark_rect().encode(
        x=x, y=y,
        color=alt.Color("diff:Q", scale=alt.Scale(scheme="blueorange", domain=[-m, m], domainMid=0),
                        legend=_heat_legend(value_title)),
        tooltip=["layer:O", "head:O", alt.Tooltip("diff:Q", format="+.3f")],
    ).properties(**props)
    return _done(chart, autosize)


def similarity_lines(df: pd.DataFrame, title: str = "", height: int = 260) -> alt.Chart:
    """Cosine and linear CKA between two models' hidden states, layer by layer (0 = embeddings)."""
    d = df.dropna(subset=["value"])
    metrics = [m for m in METRIC_COLORS if m in set(d["metric"])] or sorted(set(d["metric"]))
    colors = [METRIC_COLORS.get(m, "#000000") for m in metrics]
    chart = alt.Chart(d, title=title or alt.Undefined).mark_line(point=alt.OverlayMarkDef(size=60)).encode(
        x=alt.X("layer:Q", title="layer (0 = embeddings)", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", title="similarity", scale=alt.Scale(zero=False)),
        color=alt.Color("metric:N", scale=alt.Scale(domain=metrics, range=colors), title=None),
        tooltip=["layer:Q", "metric:N", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=height)
    return _done(chart, FIT_X)


def attention_heatmap(df: pd.DataFrame, labels: list[str] | None = None, title: str = "",
                      vmax: float | None = None) -> alt.Chart:
    """Attention of one head: query tokens (rows) attend to key tokens (columns).  df: q, k, weight.

    Token names travel once, as the list `labels` (position j -> label, default "j"), read by the
    axes and the tooltip in the browser: the data is numbers only (3 per cell), not strings.
    As wide as its container (cells shrink for long inputs; overlapping token labels are thinned),
    colour from 0 to `vmax` (default: this head's largest weight; pass one shared value to compare
    models): over 1 a 64-token head's typical weight of ~1/64 is invisible.
    """
    n_q = int(df["q"].max()) + 1 if len(df) else 0
    n = max(n_q, int(df["k"].max()) + 1 if len(df) else 0)
    labels = list(labels) if labels is not None else [str(j) for j in range(n)]
    toks = alt.param(name="tok", value=labels)
    top = float(vmax if vmax is not None else df["weight"].max() or 1.0)
    chart = alt.Chart(df, title=title or alt.Undefined).mark_rect().encode(
        x=alt.X("k:O", title="key (attended to)",
                axis=alt.Axis(labelAngle=-60, labelLimit=140, labelOverlap="greedy", labelExpr="tok[datum.value]")),
        y=alt.Y("q:O", title="query", axis=alt.Axis(labelLimit=140, labelOverlap="greedy",
                                                     labelExpr="tok[datum.value]")),
        color=alt.Color("weight:Q", scale=alt.Scale(scheme="blues", domain=[0, max(top, 1e-6)], clamp=True),
                        title="attention", legend=alt.Legend(orient="top", gradientLength=160)),
        tooltip=[alt.Tooltip("query:N"), alt.Tooltip("key:N"), alt.Tooltip("weight:Q", format=".3f")],
    ).transform_calculate(query="tok[datum.q]", key="tok[datum.k]").add_params(toks).properties(
        height=max(200, min(12 * n_q, 560)))
    return _done(chart, FIT_X)
