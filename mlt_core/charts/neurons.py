"""Charts of language-specific neurons: counts across depth, overlaps, live firing, ablations."""
from __future__ import annotations

import altair as alt
import pandas as pd

from .theme import FIT_X, LABEL_COLORS, label_scale, lang_scale, model_scale, style


def _langs(df: pd.DataFrame, col: str = "lang") -> list[str]:
    return list(dict.fromkeys(df[col].astype(str)))


def per_layer_chart(df: pd.DataFrame) -> alt.Chart:
    """Neurons per layer for each language: the characteristic distribution across depth.

    df: lang, layer, neurons.
    """
    return style(alt.Chart(df, title="Language-specific neurons per layer").mark_line(point=True, strokeWidth=3).encode(
        x=alt.X("layer:O", title="layer", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("neurons:Q", title="neurons"),
        color=alt.Color("lang:N", scale=lang_scale(_langs(df)), title="language", legend=alt.Legend(orient="top")),
        tooltip=["lang", "layer", "neurons"],
    ).properties(height=320))


def overlap_chart(df: pd.DataFrame, value: str = "shared") -> alt.Chart:
    """Neurons shared by each pair of languages (heatmap; the diagonal is each language's total).

    df: lang_a, lang_b, shared, jaccard.
    """
    langs = _langs(df, "lang_a")
    base = alt.Chart(df).encode(
        x=alt.X("lang_b:N", sort=langs, title=None, axis=alt.Axis(labelAngle=0)), y=alt.Y("lang_a:N", sort=langs, title=None))
    fmt = ".2f" if value == "jaccard" else "d"
    rect = base.mark_rect().encode(color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues"), title=value),
                                   tooltip=["lang_a", "lang_b", "shared", alt.Tooltip("jaccard:Q", format=".2f")])
    text = base.mark_text(fontSize=16).encode(text=alt.Text(f"{value}:Q", format=fmt))
    return style((rect + text).properties(title="Overlap between languages", width=70 * len(langs) + 40,
                                          height=60 * len(langs) + 20))


def firing_chart(df: pd.DataFrame, metric: str = "share_active") -> alt.Chart:
    """How strongly each language's neurons fire per layer on this input, one panel per model.

    df: model, lang, layer, share_active, mean_activation, share_active_all. With share_active the
    grey dashed line is the share over all neurons of the layer (what "no preference" looks like).
    """
    title = {"share_active": "share of (token, neuron) cells > 0", "mean_activation": "mean activation"}[metric]
    lines = alt.Chart().mark_line(point=True, strokeWidth=3).encode(
        x=alt.X("layer:O", axis=alt.Axis(labelAngle=0)), y=alt.Y(f"{metric}:Q", title=title),
        color=alt.Color("lang:N", scale=lang_scale(_langs(df)), title="neurons of", legend=alt.Legend(orient="top")),
        tooltip=["model", "lang", "layer", "neurons", alt.Tooltip("share_active:Q", format=".3f"),
                 alt.Tooltip("mean_activation:Q", format=".3f")])
    layers = [lines]
    if metric == "share_active":  # the same value for every language of a (model, layer): its mean is it
        layers.insert(0, alt.Chart().mark_line(strokeDash=[6, 4], color="#999999").encode(
            x="layer:O", y=alt.Y("mean(share_active_all):Q", title=title),
            tooltip=[alt.Tooltip("mean(share_active_all):Q", format=".3f", title="all neurons")]))
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
        color=alt.Color("delta:Q", scale=alt.Scale(scheme="redblue", domain=[-lim, lim]), title="Δ accuracy"),
        tooltip=["ablated", "eval_lang", "n", alt.Tooltip("accuracy:Q", format=".3f"), alt.Tooltip("delta:Q", format="+.3f")])
    text = base.mark_text(fontSize=16).encode(text=alt.Text("accuracy:Q", format=".2f"))
    return style((rect + text).properties(title="Accuracy with a language's neurons switched off",
                                          width=80 * len(cols) + 40, height=50 * len(rows) + 20))


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
