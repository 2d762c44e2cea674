"""Charts of language-specific neurons: counts across depth, overlaps, live firing, ablations."""
from __future__ import annotations

import altair as alt
import pandas as pd

from mlt_core.charts.theme import FIT_X, LABEL_COLORS, label_scale, lang_scale, model_scale, style


def _langs(df: pd.DataFrame, col: str = "lang") -> list[str]:
    return list(dict.fromkeys(df[col].astype(str)))


def per_layer_chart(df: pd.DataFrame) -> alt.Chart:
    """Neurons per layer for each language: the characteristic distribution across depth.

    df: lang, layer, neurons.
    """
    return style(alt.Chart(df, title="Language-specific neurons per layer").mark_line(point=True, strokeWidth=3).encode(
        x=alt.X("layer:O", title="layer", axis=alt.Axis(labelAngle=0, labelOverlap="greedy")),
        y=alt.Y("neurons:Q", title="neurons"),
        color=alt.Color("lang:N", scale=lang_scale(_langs(df)), title="language", legend=alt.Legend(orient="top")),
        tooltip=["lang", "layer", "neurons"],
    ).properties(height=320, autosize=FIT_X))  # 24 layers: as wide as its column, labels thinned


def overlap_chart(df: pd.DataFrame, value: str = "shared") -> alt.Chart:
    """Neurons shared by each pair of languages (heatmap; the diagonal is each language's total).

    df: lang_a, lang_b, shared, jaccard.
    """
    langs = _langs(df, "lang_a")
    base = alt.Chart(df).encode(
        x=alt.X("lang_b:N", sort=langs, title=None, axis=alt.Axis(labelAngle=0)), y=alt.Y("lang_a:N", sort=langs, title=None))
    fmt = ".2f" if value == "jaccard" else "d"
    rect = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues"),
                        legend=alt.Legend(title=value, orient="bottom", direction="horizontal", gradientLength=160)),
        tooltip=["lang_a", "lang_b", "shared", alt.Tooltip("jaccard:Q", format=".2f")])
    # dark cells get white numbers: black text on the darkest blue is unreadable on a projector
    text = base.mark_text(fontSize=16).encode(
        text=alt.Text(f"{value}:Q", format=fmt),
        color=alt.condition(f"datum.{value} > {float(df[value].max() or 0) * 0.6}", alt.value("white"), alt.value("black")))
    # as wide as its column (fit-x), the legend below: a legend on the right ran past a projector's edge
    return style((rect + text).properties(title="Overlap between languages", height=60 * len(langs) + 20,
                                          autosize=FIT_X))


def firing_chart(df: pd.DataFrame, metric: str = "share_active") -> alt.Chart:
    """How strongly each language's neurons fire per layer on this input, one panel per model.

    df: model, lang, layer, share_active, mean_activation, share_active_all. With share_active the
    grey dashed line is the share over all neurons of the layer (what "no preference" looks like).
    """
    title = {"share_active": "share of (token, neuron) cells > 0", "mean_activation": "mean activation"}[metric]
    langs = _langs(df)
    x = alt.X("layer:O", axis=alt.Axis(labelAngle=0, labelOverlap="greedy"))
    enc = dict(x=x, y=alt.Y(f"{metric}:Q", title=title),
               color=alt.Color("lang:N", scale=lang_scale(langs), title="neurons of", legend=alt.Legend(orient="top")))
    tips = ["model", "lang", "layer", "neurons", alt.Tooltip("share_active:Q", format=".3f"),
            alt.Tooltip("mean_activation:Q", format=".3f")]
    lines = alt.Chart().mark_line(strokeWidth=3).encode(**enc)
    # languages whose neurons fire alike sit on the same point: a shape each, hollow, drawn largest first,
    # so every language stays visible where they coincide
    shapes = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down"]
    points = alt.Chart().mark_point(filled=False, strokeWidth=2.5).encode(
        **enc, shape=alt.Shape("lang:N", scale=alt.Scale(domain=langs, range=shapes[:len(langs)] or shapes),
                               title="neurons of", legend=alt.Legend(orient="top")),
        size=alt.Size("lang:N", scale=alt.Scale(domain=langs, range=[260 - 50 * i for i in range(len(langs))] or [100]),
                      legend=None),
        tooltip=tips)
    layers = [lines, points]
    if metric == "share_active":  # the same value for every language of a (model, layer): its mean is it
        layers.insert(0, alt.Chart().mark_line(color="#999999").encode(
            x=x, y=alt.Y("mean(share_active_all):Q", title=title),
            strokeDash=alt.StrokeDash("ref:N", scale=alt.Scale(domain=["all neurons of the layer"], range=[[6, 4]]),
                                      title=None, legend=alt.Legend(orient="top", symbolStrokeColor="#999999",
                                                                   symbolType="stroke", symbolSize=400, symbolStrokeWidth=2)),
            tooltip=[alt.Tooltip("mean(share_active_all):Q", format=".3f", title="all neurons")],
        ).transform_calculate(ref="'all neurons of the layer'"))
    models = list(dict.fromkeys(df["model"]))  # the selection's order; two panels per row fit a projector
    return style(alt.layer(*layers, data=df).properties(width=340, height=240).facet(
        facet=alt.Facet("model:N", title=None, sort=models), columns=min(len(models), 2)))


def prediction_compare_chart(df: pd.DataFrame) -> alt.Chart:
    """Probabilities before and after switching neurons off.  df: label, condition, prob."""
    return style(alt.Chart(df).mark_bar().encode(
        y=alt.Y("label:N", sort=list(LABEL_COLORS), title=None),
        yOffset=alt.YOffset("condition:N", sort=["original", "switched off"]),
        x=alt.X("prob:Q", scale=alt.Scale(domain=[0, 1]), title="probability"),
        color=alt.Color("label:N", scale=label_scale(), legend=None),
        opacity=alt.Opacity("condition:N", scale=alt.Scale(domain=["original", "switched off"], range=[1.0, 0.45]),
                            title=None, legend=alt.Legend(orient="top")),  # side by side per model: no room right
        tooltip=["label", "condition", alt.Tooltip("prob:Q", format=".3f")],
    ).properties(height=200, autosize=FIT_X))


def ablation_chart(df: pd.DataFrame) -> alt.Chart:
    """Accuracy per evaluation language (columns) with each language's neurons switched off (rows).

    df: ablated, eval_lang, accuracy, delta. Colour: change from the "none" row (red = worse).
    """
    rows = ["none"] + [a for a in _langs(df, "ablated") if a != "none"]
    cols = _langs(df, "eval_lang")
    lim = max(0.05, float(df["delta"].abs().max() or 0))
    base = alt.Chart(df).encode(
        x=alt.X("eval_lang:N", sort=cols, title="evaluated on", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("ablated:N", sort=rows, title="neurons switched off"))
    rect = base.mark_rect().encode(
        color=alt.Color("delta:Q", scale=alt.Scale(scheme="redblue", domain=[-lim, lim]),
                        legend=alt.Legend(title="Δ accuracy", orient="bottom", direction="horizontal",
                                          gradientLength=160, format="+.0%")),
        tooltip=["ablated", "eval_lang", "n", alt.Tooltip("accuracy:Q", format=".3f"), alt.Tooltip("delta:Q", format="+.3f")])
    text = base.mark_text(fontSize=16).encode(text=alt.Text("accuracy:Q", format=".0%"))  # accuracy: percent
    return style((rect + text).properties(title="Accuracy with a language's neurons switched off",
                                          height=50 * len(rows) + 20, autosize=FIT_X))


def compare_probs_chart(df: pd.DataFrame) -> alt.Chart:
    """Activation probability of the base model's language-L neurons on L text, per checkpoint.

    df: checkpoint, set_lang, text_lang, prob (rows with set_lang == text_lang are drawn).
    """
    d = df[(df.set_lang == df.text_lang) & df.prob.notna()]  # a language without neurons has no bar
    names = list(dict.fromkeys(d["checkpoint"]))
    return style(alt.Chart(d, title="Base model's L neurons on L text").mark_bar().encode(
        x=alt.X("set_lang:N", title="language (neurons and text)", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("checkpoint:N", sort=names),
        y=alt.Y("prob:Q", title="mean activation probability"),
        color=alt.Color("checkpoint:N", scale=model_scale(names), sort=names, legend=alt.Legend(orient="top")),
        tooltip=["checkpoint", "set_lang", "neurons", alt.Tooltip("prob:Q", format=".3f")],
    ).properties(height=300, autosize=FIT_X))


def jaccard_chart(df: pd.DataFrame) -> alt.Chart:
    """Jaccard overlap of each checkpoint's re-identified neurons with the base's, per language.

    df: checkpoint, lang, jaccard, neurons, base_neurons, shared.
    """
    names = list(dict.fromkeys(df["checkpoint"]))
    return style(alt.Chart(df, title="Re-identified neurons vs the base's (Jaccard)").mark_bar().encode(
        x=alt.X("lang:N", title="language", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("checkpoint:N", sort=names),
        y=alt.Y("jaccard:Q", scale=alt.Scale(domain=[0, 1]), title="Jaccard overlap"),
        color=alt.Color("checkpoint:N", scale=model_scale(names), sort=names, legend=alt.Legend(orient="top")),
        tooltip=["checkpoint", "lang", "neurons", "base_neurons", "shared", alt.Tooltip("jaccard:Q", format=".2f")],
    ).properties(height=300, autosize=FIT_X))
