"""Charts of the causal tools (layer swap, patching, weight change, interpolation, decision lens); each
takes the tidy frame its `mlt_core.causal` function returns and gives a styled Altair chart."""
from __future__ import annotations

import altair as alt
import pandas as pd

from mlt_core.charts.evaluation import DASH_LEGEND, PCT, style
from mlt_core.charts.theme import label_scale, lang_scale
from mlt_core.data.labels import LABELS
from mlt_core.eval.metrics import PROB_COLS

UNIT = alt.Scale(domain=[0, 1])


def _ints(values) -> alt.Axis:
    """An axis with a tick at every integer (layers, cuts): Vega's own ticks repeat labels on short ranges."""
    return alt.Axis(values=sorted({int(v) for v in values}), format="d", grid=True)


def _labels_long(df: pd.DataFrame, x: str, extra: list[str]) -> pd.DataFrame:
    long = df.melt(id_vars=[x, *extra], value_vars=PROB_COLS, var_name="label", value_name="p")
    long["label"] = long["label"].str[2:]
    return long


def _p_lines(long: pd.DataFrame, x: str, x_title: str) -> alt.Chart:
    return alt.Chart(long).mark_line(point=True, strokeWidth=2.5).encode(
        x=alt.X(f"{x}:Q", axis=_ints(long[x]), title=x_title),
        y=alt.Y("p:Q", scale=UNIT, axis=PCT, title="p(label)"),
        color=alt.Color("label:N", scale=label_scale(), sort=list(LABELS), title="label"),
        tooltip=[x, "label", alt.Tooltip("p:Q", format=".3f")])


def swap_chart(df: pd.DataFrame) -> alt.Chart:
    """Accuracy per language of A's blocks below the cut + B's from the cut on (x: cut l; solid: A's head, dashed: B's)."""
    heads = list(dict.fromkeys(df["head"]))
    langs = list(dict.fromkeys(df["lang"]))
    base = alt.Chart(df).encode(
        x=alt.X("cut:Q", axis=_ints(df["cut"]), title="cut l (blocks < l from the first model)"),
        y=alt.Y("accuracy:Q", scale=UNIT, axis=PCT, title="accuracy"),
        color=alt.Color("lang:N", scale=lang_scale(langs), title="language"),
        tooltip=["lang", "cut", "head", alt.Tooltip("accuracy:Q", format=".3f"), "n"])
    # dashes on the lines only: a dashed point layer would blank the legend's dash symbols
    lines = base.mark_line(strokeWidth=2.5).encode(
        strokeDash=alt.StrokeDash("head:N", sort=heads, title="head of", legend=DASH_LEGEND))
    points = base.mark_point(filled=True, size=50).encode(detail="head:N")
    return style((lines + points).properties(width=520, height=300, title="Layer swap: accuracy per cut"))


def swap_pair_chart(df: pd.DataFrame) -> alt.Chart:
    """p(label) for this pair per cut, one panel per head (left: the first model's head)."""
    heads = list(dict.fromkeys(df["head"]))
    return style(_p_lines(_labels_long(df, "cut", ["head"]), "cut", "cut l").properties(width=300, height=220).facet(
        column=alt.Column("head:N", sort=heads, title="head of")).properties(title="Layer swap on this pair"))


def patch_chart(df: pd.DataFrame, title: str = "Patched pooled state") -> alt.Chart:
    """The target's p(label) when the pooled token's state at layer l comes from the source (dashed: the source's own)."""
    lines = _p_lines(_labels_long(df, "layer", []), "layer", "patched layer l (0 = embeddings)")
    src = pd.DataFrame({"label": list(LABELS), "p": [df[f"source_{c}"].iloc[0] for c in PROB_COLS]})
    rules = alt.Chart(src).mark_rule(strokeDash=[5, 4]).encode(
        y="p:Q", color=alt.Color("label:N", scale=label_scale(), sort=list(LABELS)))
    return style((lines + rules).properties(width=480, height=260, title=title))


def patch_dataset_chart(df: pd.DataFrame) -> alt.Chart:
    """Mean over parallel pairs per patched layer: share predicting the source's label, the target's, and p(source label)."""
    long = df.melt(id_vars=["layer"], value_vars=["agree_source", "agree_target", "p_source_label"],
                   var_name="measure", value_name="value")
    names = {"agree_source": "predicts the source's label", "agree_target": "keeps the target's label",
             "p_source_label": "mean p(source's label)"}
    long["measure"] = long["measure"].map(names)
    return style(alt.Chart(long).mark_line(point=True, strokeWidth=2.5).encode(
        x=alt.X("layer:Q", axis=_ints(df["layer"]), title="patched layer l"), y=alt.Y("value:Q", scale=UNIT, axis=PCT, title=None),
        color=alt.Color("measure:N", sort=list(names.values()), title=None),
        tooltip=["layer", "measure", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=480, height=260, title=f"Patching over {int(df['n'].iloc[0])} parallel pairs"))


def weights_heatmap(df: pd.DataFrame) -> alt.Chart:
    """||W_tuned - W_base|| / ||W_base|| per layer (rows) and module (columns); white: exactly unchanged."""
    d = df.assign(changed=df["n_changed"] > 0, text=[("0" if n == 0 else f"{r:.2g}") for r, n in
                                                     zip(df["rel_change"], df["n_changed"])])
    layers = list(dict.fromkeys(d["layer"]))
    modules = [m for m in ("embed", "attn.q", "attn.k", "attn.v", "attn.o", "ffn.in", "ffn.out", "norm", "head", "other")
               if m in set(d["module"])]
    base = alt.Chart(d).encode(x=alt.X("module:N", sort=modules, title=None, axis=alt.Axis(labelAngle=-60, labelOverlap=False)),
                               y=alt.Y("layer:N", sort=layers, title="layer"))
    rect = base.mark_rect(stroke="#ddd").encode(
        color=alt.condition("datum.n_changed > 0", alt.Color("rel_change:Q", scale=alt.Scale(scheme="oranges"),
                                                               title="relative change"), alt.value("white")),
        tooltip=["model", "layer", "module", alt.Tooltip("rel_change:Q", format=".3g"), "n_changed", "n_params"])
    text = base.mark_text(fontSize=9).encode(text="text:N")
    # 30-px cells: two panels of 10 modules fit a 790-px column (a 1280-px projector); more models wrap
    return style(alt.layer(rect, text, data=d).properties(width=alt.Step(30), height=alt.Step(24)).facet(
        facet=alt.Facet("model:N", title=None), columns=2).properties(title="Relative weight change vs the base"))


def interpolation_chart(df: pd.DataFrame) -> alt.Chart:
    """Accuracy per language of (1 - a) A + a B (lines); dashed: the task-arithmetic merge base + (A - base) + (B - base)."""
    langs = list(dict.fromkeys(df["lang"]))
    color = alt.Color("lang:N", scale=lang_scale(langs), title="language")
    interp = df[df["kind"] == "interpolation"]
    lines = alt.Chart(interp).mark_line(point=True, strokeWidth=2.5).encode(
        x=alt.X("alpha:Q", scale=UNIT, title=f"a   (0 = {df['model_a'].iloc[0]}, 1 = {df['model_b'].iloc[0]})"),
        y=alt.Y("accuracy:Q", scale=UNIT, axis=PCT, title="accuracy"), color=color,
        tooltip=["lang", alt.Tooltip("alpha:Q", format=".2f"), alt.Tooltip("accuracy:Q", format=".3f")])
    merge = df[df["kind"] != "interpolation"]
    layers = [lines]
    if len(merge):
        layers.append(alt.Chart(merge).mark_rule(strokeDash=[6, 4], strokeWidth=2).encode(
            y="accuracy:Q", color=color, tooltip=["kind", "lang", alt.Tooltip("accuracy:Q", format=".3f")]))
    return style(alt.layer(*layers).properties(width=520, height=300, title="Interpolating A → B"))


def lens_chart(df: pd.DataFrame) -> alt.Chart:
    """p(label) read off every layer by a linear probe, per model (grey dashed: the probe's held-out accuracy)."""
    models = list(dict.fromkeys(df["model"]))
    long = _labels_long(df, "layer", ["model"])
    acc = df[["layer", "model"]].assign(label="probe accuracy", p=df["probe_accuracy"])
    d = pd.concat([long, acc], ignore_index=True)
    lines = _p_lines(d, "layer", "layer (0 = embeddings)").transform_filter("datum.label != 'probe accuracy'")
    dashed = alt.Chart(d).mark_line(strokeDash=[4, 3], color="#777").encode(
        x="layer:Q", y="p:Q", tooltip=["layer", alt.Tooltip("p:Q", format=".3f", title="probe accuracy")],
    ).transform_filter("datum.label == 'probe accuracy'")
    return style(alt.layer(lines, dashed, data=d).properties(width=300, height=220).facet(
        column=alt.Column("model:N", sort=models, title=None)).properties(title="Decision lens"))
