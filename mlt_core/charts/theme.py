"""Stable colours and sizes shared by every chart, so a model or a label keeps its colour
across pages (projector-friendly, colour-blind-safe: Okabe-Ito)."""
from __future__ import annotations

import altair as alt

LABEL_COLORS = {"entailment": "#009E73", "neutral": "#999999", "contradiction": "#D55E00"}
MODEL_PALETTE = ["#0072B2", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
LANG_COLORS = {"en": "#0072B2", "hi": "#E69F00", "fr": "#CC79A7", "es": "#56B4E9", "de": "#009E73",
               "ur": "#D55E00", "ar": "#F0E442", "zh": "#000000"}
FONT_SIZE = 16  # readable at projector distance
# as wide as its container, plot height kept (grouped bars and heatmaps would otherwise size by a step
# per bar or cell and run past a projector's column)
FIT_X = alt.AutoSizeParams(type="fit-x", contains="padding")


def label_scale() -> alt.Scale:
    return alt.Scale(domain=list(LABEL_COLORS), range=list(LABEL_COLORS.values()))


def model_colors(names: list[str]) -> dict[str, str]:
    """A colour per model, stable for a given ordered selection."""
    return {n: MODEL_PALETTE[i % len(MODEL_PALETTE)] for i, n in enumerate(names)}


def model_scale(names: list[str]) -> alt.Scale:
    c = model_colors(names)
    return alt.Scale(domain=list(c), range=list(c.values()))


def lang_scale(langs: list[str]) -> alt.Scale:
    extra = [l for l in langs if l not in LANG_COLORS]
    colors = {**LANG_COLORS, **{l: MODEL_PALETTE[i % len(MODEL_PALETTE)] for i, l in enumerate(extra)}}
    return alt.Scale(domain=list(langs), range=[colors[l] for l in langs])


def style(chart: alt.Chart) -> alt.Chart:
    """Large fonts for talks; autosize "pad" so axes and legends are added around the plot
    (Streamlit otherwise squeezes the whole figure into the spec's width x height)."""
    if getattr(chart, "autosize", alt.Undefined) is alt.Undefined:
        chart = chart.properties(autosize=alt.AutoSizeParams(type="pad"))
    return chart.configure_axis(labelFontSize=FONT_SIZE - 2, titleFontSize=FONT_SIZE).configure_legend(
        labelFontSize=FONT_SIZE - 2, titleFontSize=FONT_SIZE).configure_title(fontSize=FONT_SIZE + 2)
