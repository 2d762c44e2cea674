"""Every metric against an independent computation: by hand, a direct loop, or scipy."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlt_core.data.labels import LABELS
from mlt_core.eval import metrics as M


def test_accuracy_by_hand_with_ids_or_names():
    gold, pred = [0, 1, 2, 0, 1], [0, 1, 1, 0, 2]  # right, right, wrong, right, wrong
    assert M.accuracy(gold, pred) == pytest.approx(3 / 5)
    assert M.accuracy([LABELS[g] for g in gold], [LABELS[p] for p in pred]) == pytest.approx(0.6)


def test_confusion_and_per_label_accuracy_by_hand():
    #        gold: E  E  E  E  N  N  N  C  C  C  C  C
    gold = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2]
    pred = [0, 0, 1, 2, 1, 0, 1, 2, 2, 2, 0, 1]
    # E row: 2 right, 1 as N, 1 as C; N row: 1 as E, 2 right; C row: 1 as E, 1 as N, 3 right
    expected = np.array([[2, 1, 1],
                         [1, 2, 0],
                         [1, 1, 3]])
    np.testing.assert_array_equal(M.confusion(gold, pred), expected)
    np.testing.assert_array_equal(M.confusion([LABELS[g] for g in gold], [LABELS[q] for q in pred]), expected)
    assert M.per_label_accuracy(gold, pred) == pytest.approx({"entailment": 2 / 4, "neutral": 2 / 3,
                                                              "contradiction": 3 / 5})
    assert M.accuracy(gold, pred) == pytest.approx(7 / 12)
    # a label without gold examples has no accuracy rather than 0
    assert np.isnan(M.per_label_accuracy([0, 0, 1], [0, 1, 1])["contradiction"])
    assert M.per_label_accuracy([0, 0, 1], [0, 1, 1])["entailment"] == pytest.approx(0.5)
    # no examples: zero counts, NaN rates
    assert M.confusion([], []).tolist() == [[0] * 3] * 3 and np.isnan(M.accuracy([], []))


def test_bin_edges_are_right_closed():
    # bin m holds (m/10, (m+1)/10]: 0.7 is the top of bin 6, not the bottom of bin 7; 0 and 1 stay inside
    np.testing.assert_array_equal(M.bin_index([0.7, 0.7000001, 0.1, 1.0, 0.0, 0.35]), [6, 7, 0, 9, 0, 3])


def test_ece_mce_known_answer():
    conf = [0.95, 0.95, 0.65, 0.65, 0.65, 0.35]
    correct = [1, 0, 1, 1, 0, 0]
    # bin 9: 2 examples, accuracy 1/2, confidence 0.95 -> gap 0.45
    # bin 6: 3 examples, accuracy 2/3, confidence 0.65 -> gap 0.01667
    # bin 3: 1 example,  accuracy 0,   confidence 0.35 -> gap 0.35
    # ECE = (2 * 0.45 + 3 * (2/3 - 0.65) + 1 * 0.35) / 6 = (0.9 + 0.05 + 0.35) / 6 = 1.3 / 6
    assert M.ece(conf, correct) == pytest.approx(1.3 / 6)
    assert M.mce(conf, correct) == pytest.approx(0.45)
    r = M.reliability_bins(conf, correct)
    assert r["count"].tolist() == [0, 0, 0, 1, 0, 0, 3, 0, 0, 2]
    assert r.loc[6, "accuracy"] == pytest.approx(2 / 3) and r.loc[9, "confidence"] == pytest.approx(0.95)


def test_ece_is_zero_when_calibrated_and_matches_a_direct_loop():
    assert M.ece([0.75] * 4, [1, 1, 1, 0]) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    conf, correct = rng.uniform(1 / 3, 1, 1000), rng.integers(0, 2, 1000)
    expected = 0.0
    for m in range(10):
        lo, hi = m / 10, (m + 1) / 10
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            expected += sel.sum() / 1000 * abs(correct[sel].mean() - conf[sel].mean())
    assert M.ece(conf, correct) == pytest.approx(expected)


def test_brier_by_hand():
    probs = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
    # example 1 (gold entailment): 0.3^2 + 0.2^2 + 0.1^2 = 0.14; example 2 (gold neutral): 0.1^2 + 0.7^2 + 0.6^2 = 0.86
    assert M.brier(probs, [0, 1]) == pytest.approx((0.14 + 0.86) / 2)
    assert M.brier([[1, 0, 0]], ["entailment"]) == 0.0 and M.brier([[0, 1, 0]], [0]) == pytest.approx(2.0)
    # a class absent from gold still counts (3 classes, not the ones seen); rows from float32 softmax are fine
    assert M.brier(np.float32([[0.5, 0.25, 0.25]]), [2]) == pytest.approx(0.25 + 0.0625 + 0.5625)


def test_bootstrap_contains_estimate_shrinks_with_n_and_agrees_with_scipy():
    from scipy.stats import bootstrap

    small = np.array([1] * 30 + [0] * 20)  # accuracy 0.6, n = 50
    large = np.array([1] * 3000 + [0] * 2000)  # accuracy 0.6, n = 5000
    lo_s, hi_s = M.bootstrap_ci(small, seed=0)
    lo_l, hi_l = M.bootstrap_ci(large, seed=0)
    assert lo_s < 0.6 < hi_s and lo_l < 0.6 < hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s) / 5  # width ~ 1/sqrt(n): 100x the examples -> ~10x narrower
    assert M.bootstrap_ci(small, seed=0) == (lo_s, hi_s)  # seeded
    # normal approximation: half-width 1.96 * sqrt(p(1-p)/n)
    assert (hi_l - lo_l) / 2 == pytest.approx(1.96 * np.sqrt(0.24 / 5000), rel=0.1)
    ref = bootstrap((small,), np.mean, n_resamples=4000, method="percentile", random_state=1).confidence_interval
    assert lo_s == pytest.approx(ref.low, abs=0.03) and hi_s == pytest.approx(ref.high, abs=0.03)


def test_language_bias_and_transfer_efficiency():
    acc = {"en": 0.8, "hi": 0.6, "fr": 0.5}
    assert M.language_bias(acc, ["en"]) == pytest.approx(0.8 - (0.6 + 0.5) / 2)
    assert M.language_bias(acc, ["en", "fr"]) == pytest.approx((0.8 + 0.5) / 2 - 0.6)
    assert M.language_bias(acc, ["de"]) is None  # training language not evaluated
    assert M.language_bias({"en": 0.8}, ["en"]) is None  # nothing to compare with
    assert M.transfer_efficiency(acc, "en") == pytest.approx({"hi": 0.75, "fr": 0.625})


def _preds(model, lang, gold, pred, conf):
    probs = np.full((len(gold), 3), 0.0)
    for i, (p, c) in enumerate(zip(pred, conf)):
        probs[i] = (1 - c) / 2
        probs[i, p] = c
    df = pd.DataFrame({"model": model, "lang": lang, "gold": [LABELS[g] for g in gold],
                       "predicted": [LABELS[p] for p in pred], "confidence": conf})
    for k, col in enumerate(M.PROB_COLS):
        df[col] = probs[:, k]
    return df


def test_summarize_and_tables_from_hand_made_predictions():
    preds = pd.concat([
        _preds("m-en", "en", [0, 1, 2, 0], [0, 1, 2, 1], [0.9, 0.8, 0.7, 0.6]),  # 3/4
        _preds("m-en", "hi", [0, 1, 2, 0], [1, 1, 2, 1], [0.9, 0.8, 0.7, 0.6]),  # 2/4
        _preds("m-hi", "en", [0, 1, 2, 0], [0, 0, 0, 0], [0.5, 0.5, 0.5, 0.5]),  # 2/4
        _preds("m-hi", "hi", [0, 1, 2, 0], [0, 1, 2, 0], [0.5, 0.5, 0.5, 0.5]),  # 4/4
    ], ignore_index=True)
    s = M.summarize(preds, {"m-en": ["en"], "m-hi": ["hi"]}, n_boot=200)
    cell = {(c["model"], c["lang"]): c for c in s["cells"]}
    assert cell[("m-en", "en")]["accuracy"] == 0.75 and cell[("m-hi", "hi")]["accuracy"] == 1.0
    assert s["models"]["m-en"]["bias"] == pytest.approx(0.25)
    assert s["models"]["m-hi"]["bias"] == pytest.approx(0.5)
    assert s["models"]["m-en"]["transfer"] == {"hi": pytest.approx(0.5 / 0.75)}
    # over-confidence = mean confidence - accuracy: (0.9+0.8+0.7+0.6)/4 - 0.5
    assert cell[("m-en", "hi")]["overconfidence"] == pytest.approx(0.75 - 0.5)
    assert cell[("m-hi", "en")]["confusion"] == [[2, 0, 0], [1, 0, 0], [1, 0, 0]]
    t = M.tables(s, preds)
    acc = t["accuracy"].set_index(["model", "lang"])["accuracy"]
    assert acc[("m-en", "hi")] == 0.5
    conf = t["confusion"].set_index(["model", "lang", "gold", "predicted"])
    assert conf.loc[("m-hi", "en", "entailment", "entailment"), "rate"] == 1.0
    hist = t["confidence"]
    assert hist["count"].sum() == len(preds)  # every example in exactly one (bin, outcome)
    wrong = hist[(hist.model == "m-en") & (hist.lang == "en") & (hist.outcome == "wrong")]
    assert wrong["count"].sum() == 1 and wrong.loc[wrong["count"] > 0, "hi"].item() == pytest.approx(0.6)
    rel = t["reliability"]
    assert rel.groupby(["model", "lang"])["count"].sum().tolist() == [4, 4, 4, 4]
