"""The Errors page's tables from an evaluation: what the models got wrong, filtered, and one pair in every language."""
from __future__ import annotations

import pandas as pd


def errors_frame(ev) -> pd.DataFrame:
    """Misclassified examples, most confidently wrong first."""
    p = ev.predictions
    wrong = p[p["gold"] != p["predicted"]].copy()
    wrong["length"] = wrong["n_tokens"]
    cols = ["model", "lang", "id", "gold", "predicted", "confidence", "length", "premise", "hypothesis"]
    return wrong.sort_values("confidence", ascending=False)[cols].reset_index(drop=True)


def parallel_frame(ev, example_id: str) -> pd.DataFrame:
    """The same pair id in every evaluated language, with each model's prediction and confidence."""
    p = ev.predictions[ev.predictions["id"] == example_id]
    base = p.drop_duplicates("lang")[["lang", "gold", "premise", "hypothesis"]].set_index("lang")
    models = list(dict.fromkeys(p["model"]))
    for m in models:
        q = p[p["model"] == m].set_index("lang")
        base[m] = [f"{'✓' if q.at[l, 'predicted'] == q.at[l, 'gold'] else '✗'} {q.at[l, 'predicted']} "
                   f"({q.at[l, 'confidence']:.0%})" if l in q.index else "–" for l in base.index]
    return base[["gold", *models, "premise", "hypothesis"]].reset_index()  # predictions before the long texts


def filter_errors(errors: pd.DataFrame, models=(), langs=(), gold=(), predicted=(), min_conf: float = 0.0,
                  text: str = "") -> pd.DataFrame:
    """Errors restricted to the chosen models/languages/labels, confidence >= min_conf, text in premise or hypothesis."""
    keep = errors["confidence"] >= min_conf
    for col, vals in (("model", models), ("lang", langs), ("gold", gold), ("predicted", predicted)):
        if vals:
            keep &= errors[col].isin(list(vals))
    if text.strip():
        t = text.strip().lower()
        keep &= errors["premise"].str.lower().str.contains(t, regex=False) | \
            errors["hypothesis"].str.lower().str.contains(t, regex=False) | (errors["id"].str.lower() == t)
    return errors[keep].reset_index(drop=True)
