"""Charts for dataset-scale evaluation and internals; each takes a tidy frame from
`metrics.tables()` or `representations.*_table()` and returns a styled Altair chart."""
from __future__ import annotations

import altair as alt
import pandas as pd

from mlt_core.charts.theme import FONT_SIZE, LABEL_COLORS, label_scale, lang_scale, model_scale
from mlt_core.charts.theme import style as _theme_style

OUTCOME = alt.Scale(domain=["correct", "wrong"], range=[LABEL_COLORS["entailment"], LABEL_COLORS["contradiction"]])
PCT = alt.Axis(format=".0%")
FLAT = alt.Axis(labelAngle=0)
# symbolSize 400: a 20-px line, long enough to show its dash pattern (the default 10 px shows one dash).
# symbolFillColor: on a line with points (point=True) Vega-Lite otherwise draws the symbol filled black with a
# transparent stroke, and a flat stroke symbol with no stroke is invisible (only the labels showed)
DASH_LEGEND = alt.Legend(symbolType="stroke", symbolStrokeWidth=2, symbolStrokeColor="#555", symbolSize=400,
                         symbolFillColor="transparent")


def style(chart):
    """The shared theme plus readable facet headers (row/column labels), legends above the plot: these
    charts are panels side by side, and a legend on the right pushed them past a 1280-px projector's column."""
    return _theme_style(chart).configure_header(labelFontSize=FONT_SIZE - 1, titleFontSize=FONT_SIZE).configure_legend(
        orient="top", labelFontSize=FONT_SIZE - 2, titleFontSize=FONT_SIZE)


def _wrap(n: int) -> int:
    """Panels per row: side by side up to 2 (a third would not fit a projector's column)."""
    return 2 if n > 2 else max(n, 1)


def _models(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["model"]))


def _langs(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["lang"]))


def accuracy_matrix(df: pd.DataFrame) -> alt.Chart:
    """Accuracy per model (rows) and language (columns) with its 95% bootstrap interval."""
    d = df.assign(text=[f"{a:.1%} [{lo:.0%}, {hi:.0%}]" for a, lo, hi in zip(df.accuracy, df.ci_low, df.ci_high)])
    base = alt.Chart(d).encode(x=alt.X("lang:N", sort=_langs(df), title="language", axis=FLAT),
                               y=alt.Y("model:N", sort=_models(df), title=None))
    rect = base.mark_rect().encode(
        color=alt.Color("accuracy:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), legend=None),
        tooltip=["model", "lang", "n", alt.Tooltip("accuracy:Q", format=".3f"),
                 alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f")])
    text = base.mark_text(fontSize=15).encode(
        text="text:N", color=alt.condition("datum.accuracy > 0.6", alt.value("white"), alt.value("black")))
    # discrete y: size by step (a fixed height collapses under Streamlit's renderer)
    return style((rect + text).properties(width=max(240, 150 * len(_langs(df))), height=alt.Step(56),
                                          title="Accuracy (95% bootstrap CI)"))


def accuracy_bars(df: pd.DataFrame) -> alt.Chart:
    """Accuracy per language for each model, with 95% bootstrap error bars."""
    models = _models(df)
    base = alt.Chart(df).encode(x=alt.X("lang:N", sort=_langs(df), title="language", axis=FLAT),
                                xOffset=alt.XOffset("model:N", sort=models),
                                color=alt.Color("model:N", scale=model_scale(models)))
    bars = base.mark_bar().encode(y=alt.Y("accuracy:Q", axis=PCT, scale=alt.Scale(domain=[0, 1]), title="accuracy"),
                                  tooltip=["model", "lang", alt.Tooltip("accuracy:Q", format=".3f")])
    err = base.mark_rule(color="black", strokeWidth=2).encode(y=alt.Y("ci_low:Q", title="accuracy"), y2="ci_high:Q")
    return style((bars + err).properties(width=max(300, 120 * len(_langs(df))), height=260,
                                         title="Accuracy per language"))


def bias_chart(df: pd.DataFrame) -> alt.Chart:
    """Language bias: accuracy on the training language minus mean accuracy on the others."""
    d = df.dropna(subset=["bias"])
    models = _models(df)
    bars = alt.Chart(d).mark_bar().encode(
        x=alt.X("bias:Q", axis=alt.Axis(format="+.0%"), title="bias toward training language"),
        y=alt.Y("model:N", sort=models, title=None), color=alt.Color("model:N", scale=model_scale(models), legend=None),
        tooltip=["model", "train_langs", alt.Tooltip("bias:Q", format="+.3f")])
    zero = alt.Chart(pd.DataFrame({"x": [0]})).mark_rule(color="black").encode(x="x:Q")
    return style((bars + zero).properties(width=420, height=alt.Step(44), title="Language bias"))


def transfer_chart(df: pd.DataFrame) -> alt.Chart:
    """Transfer efficiency: accuracy on a target language / accuracy on the training language (1 = no loss)."""
    models = _models(df) if len(df) else []
    base = alt.Chart(df).encode(x=alt.X("target:N", title="target language", axis=FLAT),
                                xOffset=alt.XOffset("model:N", sort=models))
    bars = base.mark_bar().encode(
        y=alt.Y("efficiency:Q", title="target / source accuracy"),
        color=alt.Color("model:N", scale=model_scale(models)),
        tooltip=["model", "source", "target", alt.Tooltip("efficiency:Q", format=".3f")])
    one = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(strokeDash=[4, 4], color="black").encode(y="y:Q")
    return style((bars + one).properties(width=360, height=240, title="Transfer efficiency"))


def per_label_chart(df: pd.DataFrame) -> alt.Chart:
    """Accuracy (recall) per gold label, per language, one panel per model."""
    return style(alt.Chart(df).mark_bar().encode(
        x=alt.X("lang:N", sort=_langs(df), title=None, axis=FLAT), xOffset=alt.XOffset("label:N", sort=list(LABEL_COLORS)),
        y=alt.Y("accuracy:Q", axis=PCT, scale=alt.Scale(domain=[0, 1]), title="recall"),
        color=alt.Color("label:N", scale=label_scale()),
        facet=alt.Facet("model:N", sort=_models(df), title=None, columns=_wrap(len(_models(df)))),
        tooltip=["model", "lang", "label", alt.Tooltip("accuracy:Q", format=".3f")],
    ).properties(width=max(200, 80 * len(_langs(df))), height=220, title="Accuracy per gold label"))


def confusion_chart(df: pd.DataFrame) -> alt.Chart:
    """Confusion matrices (rows gold, columns predicted; colour = share of the gold row) per model and language."""
    order = list(LABEL_COLORS)
    base = alt.Chart().encode(x=alt.X("predicted:N", sort=order), y=alt.Y("gold:N", sort=order))
    rect = base.mark_rect().encode(color=alt.Color("rate:Q", scale=alt.Scale(domain=[0, 1], scheme="oranges"),
                                                   title="share of gold"),
                                   tooltip=["model", "lang", "gold", "predicted", "count",
                                            alt.Tooltip("rate:Q", format=".2f")])
    text = base.mark_text(fontSize=13).encode(
        text="count:Q", color=alt.condition("datum.rate > 0.6", alt.value("white"), alt.value("black")))
    return style(alt.layer(rect, text, data=df).properties(width=140, height=140).facet(
        row=alt.Row("model:N", sort=_models(df), title=None), column=alt.Column("lang:N", sort=_langs(df), title=None)
    ).properties(title="Confusion matrices"))


def reliability_chart(df: pd.DataFrame) -> alt.Chart:
    """Reliability diagrams: accuracy vs mean confidence per confidence bin (diagonal = calibrated)."""
    langs, panels = _langs(df), []
    d = df[df["count"] > 0]
    for m in _models(df):
        diag = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
            color="gray", strokeDash=[4, 4]).encode(x="x:Q", y="y:Q")
        pts = alt.Chart(d[d["model"] == m]).mark_line(point=True).encode(
            x=alt.X("confidence:Q", scale=alt.Scale(domain=[0, 1]), title="confidence"),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title="accuracy"),
            color=alt.Color("lang:N", scale=lang_scale(langs)),
            tooltip=["lang", "bin", "count", alt.Tooltip("confidence:Q", format=".3f"),
                     alt.Tooltip("accuracy:Q", format=".3f")])
        panels.append((diag + pts).properties(width=260, height=260, title=m))
    return style(alt.concat(*panels, columns=_wrap(len(panels))).properties(title="Reliability diagrams"))


def confidence_histogram(df: pd.DataFrame) -> alt.Chart:
    """How confident each model is on examples it gets right vs wrong (counts per confidence bin)."""
    return style(alt.Chart(df).mark_bar().encode(
        x=alt.X("lo:Q", bin="binned", title="confidence", scale=alt.Scale(domain=[0, 1])), x2="hi:Q",
        y=alt.Y("count:Q", stack=True, title="examples"), color=alt.Color("outcome:N", scale=OUTCOME),
        row=alt.Row("model:N", sort=_models(df), title=None), column=alt.Column("lang:N", sort=_langs(df), title=None),
        tooltip=["model", "lang", "outcome", "count", alt.Tooltip("lo:Q", format=".2f")],
    ).properties(width=150, height=110, title="Confidence: correct vs wrong"))


def calibration_chart(df: pd.DataFrame) -> alt.Chart:
    """ECE, MCE, Brier and over-confidence (mean confidence - accuracy) per model and language."""
    cols = ["ece", "mce", "brier", "overconfidence"]
    long = df.melt(id_vars=["model", "lang"], value_vars=cols, var_name="metric", value_name="value")
    models = _models(df)
    return style(alt.Chart(long).mark_bar().encode(
        x=alt.X("lang:N", sort=_langs(df), title=None, axis=FLAT), xOffset=alt.XOffset("model:N", sort=models),
        y=alt.Y("value:Q", title=None), color=alt.Color("model:N", scale=model_scale(models)),
        column=alt.Column("metric:N", sort=cols, title=None),
        tooltip=["model", "lang", "metric", alt.Tooltip("value:Q", format=".3f")],
    ).resolve_scale(y="independent").properties(width=150, height=200, title="Calibration metrics per language"))


def entropy_chart(df: pd.DataFrame, value: str = "entropy_norm") -> alt.Chart:
    """Mean attention entropy per layer for each model (dash) and input language (colour)."""
    title = "normalised entropy (H / log n)" if value == "entropy_norm" else "entropy (nats)"
    return style(alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("layer:O", axis=FLAT), y=alt.Y(f"{value}:Q", title=title, scale=alt.Scale(zero=False)),
        color=alt.Color("lang:N", scale=lang_scale(_langs(df))),
        strokeDash=alt.StrokeDash("model:N", sort=_models(df), legend=DASH_LEGEND),
        tooltip=["model", "lang", "layer", alt.Tooltip(f"{value}:Q", format=".3f")],
    ).properties(width=480, height=320, title="Attention entropy per layer"))


def similarity_chart(df: pd.DataFrame, title: str = "Model similarity per layer") -> alt.Chart:
    """Linear CKA and mean cosine between two models' pooled states, per layer and input language. Dashed in
    the CKA panel: the noise floor, CKA of shuffled pairs (the same states, the example correspondence broken):
    a CKA curve means something only where it stands above its floor. The CKA panel's title names the
    estimator (debiased where examples < dimensions)."""
    values = [c for c in ("cka", "cka_floor", "cosine") if c in df]
    long = df.melt(id_vars=["lang", "layer"], value_vars=values, var_name="measure").dropna(subset=["value"])
    est = "/".join(dict.fromkeys(df["estimator"])) if "estimator" in df and len(df) else ""
    cka_panel = f"CKA ({est})" if est else "cka"
    long["panel"] = long["measure"].map({"cka": cka_panel, "cka_floor": cka_panel, "cosine": "cosine"})
    long["series"] = long["measure"].map({"cka": "value", "cka_floor": "noise floor (shuffled)", "cosine": "value"})
    return style(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("layer:O", axis=FLAT), y=alt.Y("value:Q", title=None),
        color=alt.Color("lang:N", scale=lang_scale(_langs(df))),
        strokeDash=alt.StrokeDash("series:N", sort=["value", "noise floor (shuffled)"], legend=DASH_LEGEND,
                                  title=None),
        column=alt.Column("panel:N", title=None, sort=[cka_panel, "cosine"]),
        tooltip=["lang", "layer", "measure", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=320, height=230, title=title))


def norm_chart(df: pd.DataFrame) -> alt.Chart:
    """Mean L2 norm of the hidden states per layer (over tokens and examples), per input language (colour) and
    model (dash). Layer 0 is the embedding output. A sharp rise or collapse in the last layers is the
    deep-layer degradation that seed 001 reports for some models."""
    return style(alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("layer:O", axis=FLAT), y=alt.Y("norm:Q", title="mean ‖h‖₂", scale=alt.Scale(zero=False)),
        color=alt.Color("lang:N", scale=lang_scale(_langs(df))),
        strokeDash=alt.StrokeDash("model:N", sort=_models(df), legend=DASH_LEGEND),
        tooltip=["model", "lang", "layer", alt.Tooltip("norm:Q", format=".3f"), alt.Tooltip("norm_sd:Q", format=".3f")],
    ).properties(width=480, height=300, title="Hidden-state norm per layer"))


def word_alignment_chart(df: pd.DataFrame) -> alt.Chart:
    """Translated words inside each model, per layer: mean cosine of a lexicon word's state in one language with
    its translation's in the other (solid), against other words of that language (dashed, the baseline
    anisotropy gives). The gap between the two lines is the alignment."""
    long = df.melt(id_vars=["model", "pair", "layer"], value_vars=["matched", "random"], var_name="measure")
    return style(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("layer:O", axis=FLAT), y=alt.Y("value:Q", title="cosine"), color=alt.Color("pair:N"),
        strokeDash=alt.StrokeDash("measure:N", sort=["matched", "random"], legend=DASH_LEGEND),
        column=alt.Column("model:N", sort=_models(df), title=None),
        tooltip=["model", "pair", "layer", "measure", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=320, height=230, title="Word alignment: translations vs random words"))


def alignment_chart(df: pd.DataFrame) -> alt.Chart:
    """Cross-lingual alignment of parallel pairs per layer: matched vs mismatched cosine, retrieval acc@1."""
    long = df.melt(id_vars=["model", "pair", "layer"], value_vars=["matched", "mismatched", "retrieval"],
                   var_name="measure")
    long["panel"] = long["measure"].map({"matched": "cosine", "mismatched": "cosine", "retrieval": "retrieval acc@1"})
    return style(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("layer:O", axis=FLAT), y=alt.Y("value:Q", title=None), color=alt.Color("pair:N"),
        strokeDash=alt.StrokeDash("measure:N", sort=["matched", "mismatched", "retrieval"], legend=DASH_LEGEND),
        column=alt.Column("panel:N", title=None), row=alt.Row("model:N", sort=_models(df), title=None),
        tooltip=["model", "pair", "layer", "measure", alt.Tooltip("value:Q", format=".3f")],
    ).resolve_scale(y="independent").properties(width=320, height=200, title="Cross-lingual alignment"))


def probe_chart(df: pd.DataFrame) -> alt.Chart:
    """Held-out accuracy of a linear probe per layer (solid) vs the majority-class baseline (dashed)."""
    models = _models(df)
    long = df.melt(id_vars=["model", "target", "layer"], value_vars=["accuracy", "baseline"], var_name="kind")
    return style(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("layer:O", axis=FLAT),
        y=alt.Y("value:Q", axis=PCT, scale=alt.Scale(domain=[0, 1]), title="held-out accuracy"),
        color=alt.Color("model:N", scale=model_scale(models)), strokeDash=alt.StrokeDash("kind:N", legend=DASH_LEGEND),
        column=alt.Column("target:N", title="probe target"),
        tooltip=["model", "target", "layer", "kind", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=320, height=230, title="Linear probes per layer"))


def projection_chart(df: pd.DataFrame, color_by: str = "lang") -> alt.Chart:
    """Pooled hidden states projected to 2-D, one point per example, coloured by language or label."""
    scale = lang_scale(_langs(df)) if color_by == "lang" else label_scale()
    m, layer, method = df["model"].iloc[0], int(df["layer"].iloc[0]), df["method"].iloc[0].upper()
    return style(alt.Chart(df).mark_circle(size=45, opacity=0.75).encode(
        x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None), color=alt.Color(f"{color_by}:N", scale=scale),
        tooltip=["id", "lang", "label"],
    ).properties(width=460, height=380, title=f"{m}: layer {layer} ({method})"))
