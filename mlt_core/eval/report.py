"""A self-contained HTML report of an evaluation: every chart as its Vega-Lite spec, rendered by
vega/vega-lite/vega-embed inlined from the installed vl-convert package (no CDN: the file opens
offline), plus the tables behind them.

`evaluation_figures(ev)` is the one list of figures both the Evaluation page and the report
draw, so the page and its export never disagree.
"""
from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from mlt_core.charts import evaluation as C
from mlt_core.eval.metrics import tables


@dataclass
class Figure:
    key: str  # stable id: widget keys and file names
    title: str
    help: str  # one line shown under the figure
    chart: Any  # Altair chart, or None for a table-only figure
    data: pd.DataFrame


def evaluation_figures(ev) -> dict[str, list[Figure]]:
    """Sections of figures for an `evaluate.Evaluation` (accuracy, labels, calibration)."""
    t = tables(ev.metrics, ev.predictions)
    acc = [Figure("accuracy_matrix", "Accuracy matrix", C.accuracy_matrix.__doc__, C.accuracy_matrix(t["accuracy"]),
                  t["accuracy"]),
           Figure("accuracy_bars", "Accuracy per language", C.accuracy_bars.__doc__, C.accuracy_bars(t["accuracy"]),
                  t["accuracy"])]
    if t["bias"]["bias"].notna().any():
        acc.append(Figure("bias", "Language bias", C.bias_chart.__doc__, C.bias_chart(t["bias"]), t["bias"]))
    if len(t["transfer"]):
        acc.append(Figure("transfer", "Transfer efficiency", C.transfer_chart.__doc__, C.transfer_chart(t["transfer"]),
                          t["transfer"]))
    labels = [Figure("per_label", "Per-label accuracy", C.per_label_chart.__doc__, C.per_label_chart(t["per_label"]),
                     t["per_label"]),
              Figure("confusion", "Confusion matrices", C.confusion_chart.__doc__, C.confusion_chart(t["confusion"]),
                     t["confusion"])]
    calib = [Figure("calibration", "ECE, MCE, Brier, over-confidence", C.calibration_chart.__doc__,
                    C.calibration_chart(t["calibration"]), t["calibration"]),
             Figure("reliability", "Reliability diagrams", C.reliability_chart.__doc__,
                    C.reliability_chart(t["reliability"]), t["reliability"]),
             Figure("confidence", "Confidence histograms", C.confidence_histogram.__doc__,
                    C.confidence_histogram(t["confidence"]), t["confidence"])]
    return {"Accuracy": acc, "Labels": labels, "Calibration": calib}


def internals_tables(stats: dict, model_a: str | None = None, model_b: str | None = None,
                     layer: int | None = None, method: str = "pca", projected: str | None = None,
                     word_alignment: pd.DataFrame | None = None) -> dict:
    """Tables of the internals section from `representations.internals()` stats (defaults: first two
    models, last layer, PCA of the first model); `word_alignment` (mlt_core.eval.word_alignment) is added as given."""
    from mlt_core.eval import representations as R

    names = list(dict.fromkeys(k[0] for k in stats))
    langs = list(dict.fromkeys(k[1] for k in stats))
    projected = projected or names[0]
    n_layers = next(s["pooled"].shape[1] for k, s in stats.items() if k[0] == projected)
    t = {"entropy": R.entropy_table(stats),
         "probes": pd.concat([R.probe_table(stats, m) for m in names], ignore_index=True),
         "projection": R.projection(stats, projected, n_layers - 1 if layer is None else layer, method),
         "norms": R.norm_table(stats)}
    if word_alignment is not None and len(word_alignment):
        t["word_alignment"] = word_alignment
    if len(names) >= 2:
        a, b = model_a or names[0], model_b or names[1]
        t["similarity"] = R.similarity_table(stats, a, b).assign(models=f"{a} vs {b}")
    if len(langs) >= 2:
        t["alignment"] = pd.concat([R.alignment_table(stats, m) for m in names], ignore_index=True)
    return t


def internals_figures(t: dict, entropy: str = "entropy_norm", color_by: str = "lang") -> list[Figure]:
    """Figures of the internals section from `internals_tables()` (the page builds the same tables with widgets)."""
    figs = [Figure("attention_entropy", "Attention entropy per layer", C.entropy_chart.__doc__,
                   C.entropy_chart(t["entropy"], entropy), t["entropy"])]
    if "similarity" in t:
        pair = t["similarity"]["models"].iloc[0] if len(t["similarity"]) else "models"
        figs.append(Figure("similarity", f"{pair}: CKA and cosine per layer", C.similarity_chart.__doc__,
                           C.similarity_chart(t["similarity"], pair), t["similarity"]))
    if "alignment" in t:
        figs.append(Figure("alignment", "Cross-lingual alignment of parallel pairs", C.alignment_chart.__doc__,
                           C.alignment_chart(t["alignment"]), t["alignment"]))
    if "word_alignment" in t:
        figs.append(Figure("word_alignment", "Word alignment per layer", C.word_alignment_chart.__doc__,
                           C.word_alignment_chart(t["word_alignment"]), t["word_alignment"]))
    if "norms" in t and len(t["norms"]):
        figs.append(Figure("norms", "Hidden-state norm per layer", C.norm_chart.__doc__, C.norm_chart(t["norms"]),
                           t["norms"]))
    figs.append(Figure("probes", "Linear probes per layer", C.probe_chart.__doc__, C.probe_chart(t["probes"]),
                       t["probes"]))
    figs.append(Figure("projection", "2-D projection of pooled states", C.projection_chart.__doc__,
                       C.projection_chart(t["projection"], color_by), t["projection"]))
    return figs


@lru_cache(maxsize=1)
def _vega_bundle() -> str:
    import vl_convert as vlc

    # vega-embed + vega-lite + vega as globals; no network needed at view time
    return vlc.javascript_bundle().replace("</script", "<\\/script")


def _script_json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


CSS = """body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans Devanagari',sans-serif;
margin:2rem auto;max-width:1400px;padding:0 1rem;color:#222}h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;
padding-bottom:.2rem;margin-top:2.5rem}.help{color:#555;margin:.2rem 0 .6rem}.fig{margin:1.2rem 0 2rem;overflow-x:auto}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;
text-align:right}th{background:#f4f4f4}details{margin:.4rem 0}.warn{background:#fff3cd;padding:.5rem;border-radius:4px}"""


def _table(df: pd.DataFrame, max_rows: int = 200) -> str:
    shown = df.head(max_rows)
    more = f"<p class='help'>first {max_rows} of {len(df)} rows</p>" if len(df) > max_rows else ""
    return shown.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="–", border=0, escape=True) + more


def render_html(title: str, sections: dict[str, list], notes: list[str] | None = None, static: bool = False) -> str:
    """One HTML document: sections of Figures (chart + table) / DataFrames / text. `static`: inline SVG, no JS."""
    parts, specs = [], []
    for heading, items in sections.items():
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for item in items:
            if isinstance(item, str):
                parts.append(f"<p>{html.escape(item)}</p>")
            elif isinstance(item, pd.DataFrame):
                parts.append(_table(item))
            else:
                fid = f"fig-{len(specs) + len(parts)}"
                parts.append(f"<div class='fig'><h3>{html.escape(item.title)}</h3>"
                             f"<p class='help'>{html.escape((item.help or '').strip().splitlines()[0])}</p>")
                if item.chart is not None:
                    if static:
                        import vl_convert as vlc

                        parts.append(vlc.vegalite_to_svg(item.chart.to_json()))
                    else:
                        parts.append(f"<div id='{fid}'></div>")
                        specs.append((fid, item.chart.to_dict()))
                parts.append(f"<details><summary>data ({len(item.data)} rows)</summary>{_table(item.data)}</details>"
                             "</div>")
    notes_html = "".join(f"<p class='warn'>{html.escape(n)}</p>" for n in notes or [])
    script = ""
    if specs:
        calls = "\n".join(f"vegaEmbed('#{fid}', {_script_json(spec)}, {{actions: {{export: true, source: false, "
                          f"compiled: false, editor: false}}}}).catch(e => document.getElementById('{fid}')"
                          f".textContent = 'chart failed: ' + e);" for fid, spec in specs)
        script = f"<script>{_vega_bundle()}</script>\n<script>\n{calls}\n</script>"
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class='help'>generated {time.strftime('%Y-%m-%d %H:%M')} by mlt</p>{notes_html}"
            + "\n".join(parts) + script + "</body></html>")


def evaluation_report(ev, extra: dict[str, list] | None = None, title: str = "mlt evaluation report",
                      static: bool = False) -> str:
    """The whole evaluation (+ optional extra sections, e.g. internals) as one offline HTML page."""
    models = pd.DataFrame([{"model": m, "source": i["source"], "train_langs": ",".join(i["train_langs"]),
                            "n": int((ev.predictions["model"] == m).sum())} for m, i in ev.models.items()])
    sections: dict[str, list] = {"Models": [models]}
    sections.update(evaluation_figures(ev))
    sections.update(extra or {})
    notes = list(ev.warnings) + [f"refused {k}: {v}" for k, v in ev.refused.items()]
    return render_html(title, sections, notes, static=static)
