"""Metrics over per-example predictions: accuracy with bootstrap CIs, language bias, transfer
efficiency, per-label accuracy, confusion matrices and calibration (ECE, MCE, Brier, reliability).

numpy/pandas, and scikit-learn for what it has (accuracy, confusion matrix, per-label recall,
multi-class Brier). Conventions (stated once, used everywhere):
- labels are canonical ids 0 entailment, 1 neutral, 2 contradiction (names accepted too);
- confusion[g, p] counts gold g predicted p (rows gold, columns predicted, as sklearn);
- reliability bins: 10 equal-width bins of confidence, bin m = (m/10, (m+1)/10], 0 in bin 0;
- ECE = sum_m |B_m|/n * |acc(B_m) - conf(B_m)|; MCE = max over non-empty bins of the same gap;
- Brier = mean over examples of sum over the 3 classes of (p_k - onehot_k)^2 (range 0..2;
  some papers divide by the number of classes, we do not): sklearn's multi-class
  brier_score_loss with scale_by_half=False;
- over-confidence = mean confidence - accuracy (positive: the model claims more than it gets).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, brier_score_loss, confusion_matrix, recall_score

from mlt_core.data.labels import LABELS

N_BINS = 10
PROB_COLS = [f"p_{l}" for l in LABELS]


def label_ids(labels: Iterable) -> np.ndarray:
    """Canonical ids from ids or names."""
    out = []
    for x in labels:
        out.append(LABELS.index(x) if isinstance(x, str) else int(x))
    return np.asarray(out, dtype=np.int64)


def accuracy(gold, pred) -> float:
    g, p = label_ids(gold), label_ids(pred)
    return float(accuracy_score(g, p)) if len(g) else float("nan")


def bootstrap_ci(correct, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of 0/1 `correct` (seeded, resampling examples)."""
    c = np.asarray(correct, dtype=np.float64)
    if len(c) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = c[rng.integers(0, len(c), size=(n_boot, len(c)))].mean(1)  # [n_boot]
    lo, hi = np.percentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def confusion(gold, pred) -> np.ndarray:
    """3x3 counts, rows gold, columns predicted."""
    g, p = label_ids(gold), label_ids(pred)
    if not len(g):
        return np.zeros((3, 3), dtype=np.int64)
    return confusion_matrix(g, p, labels=[0, 1, 2]).astype(np.int64)


def per_label_accuracy(gold, pred) -> dict[str, float]:
    """Recall per gold label (NaN where the label has no example)."""
    g, p = label_ids(gold), label_ids(pred)
    if not len(g):
        return {l: float("nan") for l in LABELS}
    recall = recall_score(g, p, labels=[0, 1, 2], average=None, zero_division=np.nan)
    return {l: float(r) for l, r in zip(LABELS, recall)}


def bin_index(conf, n_bins: int = N_BINS) -> np.ndarray:
    """Bin m holds confidences in (m/n_bins, (m+1)/n_bins]; 0 goes to bin 0."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.digitize(np.asarray(conf, dtype=np.float64), edges, right=True) - 1, 0, n_bins - 1)


def reliability_bins(conf, correct, n_bins: int = N_BINS) -> pd.DataFrame:
    """One row per bin: bin, lo, hi, count, accuracy, confidence (NaN for empty bins)."""
    conf = np.asarray(conf, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    b = bin_index(conf, n_bins)
    count = np.bincount(b, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(b, weights=correct, minlength=n_bins) / count
        mconf = np.bincount(b, weights=conf, minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame({"bin": np.arange(n_bins), "lo": edges[:-1], "hi": edges[1:], "count": count,
                         "accuracy": acc, "confidence": mconf})


def ece(conf, correct, n_bins: int = N_BINS) -> float:
    """Expected calibration error: bin-size-weighted mean |accuracy - confidence|."""
    r = reliability_bins(conf, correct, n_bins)
    r = r[r["count"] > 0]
    n = r["count"].sum()
    return float((r["count"] / n * (r["accuracy"] - r["confidence"]).abs()).sum()) if n else float("nan")


def mce(conf, correct, n_bins: int = N_BINS) -> float:
    """Maximum calibration error: largest |accuracy - confidence| over non-empty bins."""
    r = reliability_bins(conf, correct, n_bins)
    r = r[r["count"] > 0]
    return float((r["accuracy"] - r["confidence"]).abs().max()) if len(r) else float("nan")


def brier(probs, gold) -> float:
    """Multi-class Brier: mean over examples of sum over classes of (p - onehot)^2 (0 best, 2 worst)."""
    p = np.asarray(probs, dtype=np.float64)  # [n, 3]
    g = label_ids(gold)
    if len(g) == 0:
        return float("nan")
    with warnings.catch_warnings():  # float32 softmax rows sum to 1 only within ~1e-7: sklearn would warn
        warnings.filterwarnings("ignore", message="The y_prob values do not sum to one")
        return float(brier_score_loss(g, p, labels=list(range(p.shape[1])), scale_by_half=False))


def language_bias(acc_by_lang: dict[str, float], train_langs: Sequence[str]) -> float | None:
    """Mean accuracy on the training language(s) minus mean accuracy on the other evaluated ones."""
    own = [acc_by_lang[l] for l in train_langs if l in acc_by_lang]
    other = [a for l, a in acc_by_lang.items() if l not in train_langs]
    if not own or not other:
        return None
    return float(np.mean(own) - np.mean(other))


def transfer_efficiency(acc_by_lang: dict[str, float], source: str) -> dict[str, float]:
    """Accuracy on each other language divided by accuracy on the source (training) language."""
    if source not in acc_by_lang or not acc_by_lang[source]:
        return {}
    return {l: float(a / acc_by_lang[source]) for l, a in acc_by_lang.items() if l != source}


def cell_metrics(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict:
    """All per-(model, language) numbers from predictions with columns gold, predicted, p_*, confidence."""
    gold, pred = label_ids(df["gold"]), label_ids(df["predicted"])
    correct = gold == pred
    lo, hi = bootstrap_ci(correct, n_boot=n_boot, seed=seed)
    conf = df["confidence"].to_numpy(dtype=np.float64)
    acc = float(correct.mean()) if len(df) else float("nan")
    return {
        "n": int(len(df)), "accuracy": acc, "ci_low": lo, "ci_high": hi,
        "per_label": per_label_accuracy(gold, pred), "confusion": confusion(gold, pred).tolist(),
        "ece": ece(conf, correct), "mce": mce(conf, correct), "brier": brier(df[PROB_COLS].to_numpy(), gold),
        "mean_confidence": float(conf.mean()) if len(df) else float("nan"),
        "overconfidence": float(conf.mean() - acc) if len(df) else float("nan"),
        "reliability": reliability_bins(conf, correct).to_dict("records"),
    }


def summarize(preds: pd.DataFrame, train_langs: dict[str, Sequence[str]] | None = None,
              n_boot: int = 1000, seed: int = 0) -> dict:
    """Aggregate metrics JSON: {"cells": [{model, lang, ...cell_metrics}], "models": {model: {...}}}.

    `train_langs` maps model name -> its training languages (mlt.json `train_langs`); bias and
    transfer efficiency are None/empty for models without one among the evaluated languages.
    """
    train_langs = train_langs or {}
    cells, models = [], {}
    for (m, l), g in preds.groupby(["model", "lang"], sort=False):
        cells.append({"model": m, "lang": l, **cell_metrics(g, n_boot, seed)})
    for m in dict.fromkeys(preds["model"]):
        acc = {c["lang"]: c["accuracy"] for c in cells if c["model"] == m}
        tl = [l for l in train_langs.get(m, []) if l]
        source = next((l for l in tl if l in acc), None)
        models[m] = {"train_langs": list(tl), "bias": language_bias(acc, tl),
                     "source": source, "transfer": transfer_efficiency(acc, source) if source else {}}
    return {"cells": cells, "models": models}


def tables(summary: dict, preds: pd.DataFrame | None = None, hist_bins: int = 20) -> dict[str, pd.DataFrame]:
    """Tidy frames for charts and CSV downloads from `summarize()` (+ predictions for histograms).

    accuracy (model, lang, n, accuracy, ci_low, ci_high), bias (model, train_langs, bias),
    transfer (model, source, target, efficiency), per_label (model, lang, label, accuracy),
    confusion (model, lang, gold, predicted, count, rate), calibration (model, lang, accuracy,
    mean_confidence, overconfidence, ece, mce, brier), reliability (model, lang, bin, lo, hi, count,
    accuracy, confidence), confidence (model, lang, lo, hi, outcome, count).
    """
    cells = summary["cells"]
    keys = [{"model": c["model"], "lang": c["lang"]} for c in cells]
    t = {"accuracy": pd.DataFrame([{**k, **{f: c[f] for f in ("n", "accuracy", "ci_low", "ci_high")}}
                                    for k, c in zip(keys, cells)])}
    t["bias"] = pd.DataFrame([{"model": m, "train_langs": ",".join(i["train_langs"]), "bias": i["bias"]}
                              for m, i in summary["models"].items()])
    t["transfer"] = pd.DataFrame([{"model": m, "source": i["source"], "target": l, "efficiency": e}
                                  for m, i in summary["models"].items() for l, e in i["transfer"].items()],
                                 columns=["model", "source", "target", "efficiency"])
    t["per_label"] = pd.DataFrame([{**k, "label": l, "accuracy": a}
                                   for k, c in zip(keys, cells) for l, a in c["per_label"].items()])
    conf_rows = []
    for k, c in zip(keys, cells):
        m = np.asarray(c["confusion"])
        for g in range(3):
            for p in range(3):
                conf_rows.append({**k, "gold": LABELS[g], "predicted": LABELS[p], "count": int(m[g, p]),
                                  "rate": float(m[g, p] / m[g].sum()) if m[g].sum() else float("nan")})
    t["confusion"] = pd.DataFrame(conf_rows)
    t["calibration"] = pd.DataFrame([{**k, **{f: c[f] for f in ("accuracy", "mean_confidence", "overconfidence",
                                                                "ece", "mce", "brier")}} for k, c in zip(keys, cells)])
    t["reliability"] = pd.DataFrame([{**k, **r} for k, c in zip(keys, cells) for r in c["reliability"]])
    if preds is not None:
        edges = np.linspace(0, 1, hist_bins + 1)
        rows = []
        for (m, l), g in preds.groupby(["model", "lang"], sort=False):
            ok = (g["gold"] == g["predicted"]).to_numpy()
            b = bin_index(g["confidence"], hist_bins)
            for outcome, sel in (("correct", ok), ("wrong", ~ok)):
                counts = np.bincount(b[sel], minlength=hist_bins)
                rows += [{"model": m, "lang": l, "lo": edges[i], "hi": edges[i + 1], "outcome": outcome,
                          "count": int(counts[i])} for i in range(hist_bins)]
        t["confidence"] = pd.DataFrame(rows)
    return t
