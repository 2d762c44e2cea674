"""Faithfulness metrics: hand-worked numbers with a fake probability function, the erasure mechanics
on a real model, and a hand-built model where one token decides the label."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from mlt_core.attribution.attribute import prepare
from mlt_core.errors import MltError
from mlt_core.model.checkpoint import load_checkpoint
from mlt_core.attribution.faithfulness import (Scorer, evaluate_scores, faithfulness, faithfulness_dataset,
                                               hard_metrics, normalised_comprehensiveness, normalised_sufficiency,
                                               rationale, summarise)

# ------------------------------------------------------------------------------- hand-worked numbers
# 6 positions: 0 and 5 special (always kept), tokens 1..4 erasable. The fake model's p(y | kept tokens):
#   p = 0.2 + 0.6 * [token 2 kept] + 0.1 * [token 3 kept]
# full input: p = 0.9; empty rationale (only specials): p = 0.2  ->  S0 = 1 - (0.9 - 0.2) = 0.3, 1 - S0 = 0.7
# scores rank token 2 > 3 > 1 > 4; ratios 0.25, 0.5, 1.0 of n = 4 -> k = 1, 2, 4
#   k=1 R={2}:      suff keeps {2}:    p=0.8 -> S=0.9 -> NS=(0.9-0.3)/0.7=6/7; comp drops {2}: p=0.3 -> C=0.6 -> NC=6/7
#   k=2 R={2,3}:    suff p=0.9 -> S=1 -> NS=1;                         comp p=0.2 -> C=0.7 -> NC=1
#   k=4 R=all:      suff p=0.9 -> NS=1;                                comp p=0.2 -> NC=1
#   AOPC: NS = NC = (6/7 + 1 + 1) / 3 = 20/21
# soft (fake model returns the EXPECTED p under keep-probabilities q): min-max q = [1/3, 1, 2/3, 0] for tokens 1..4
#   Soft-S keeps with q:     p = 0.2 + 0.6*1 + 0.1*2/3 = 0.8667 -> S = 0.9667 -> NS = (0.9667-0.3)/0.7 = 20/21
#   Soft-C keeps with 1 - q: p = 0.2 + 0.6*0 + 0.1*1/3 = 0.2333 -> C = 0.6667 -> NC = 0.6667/0.7 = 20/21
KEEP = np.array([True, False, False, False, False, True])
SCORES = np.array([9.0, 1.0, 3.0, 2.0, 0.0, 9.0])
RATIOS = (0.25, 0.5, 1.0)


class FakeScorer:
    def hard(self, keep):
        keep = np.asarray(keep, float)
        return 0.2 + 0.6 * keep[:, 2] + 0.1 * keep[:, 3]

    def soft(self, keep_prob, generator):
        return 0.2 + 0.6 * keep_prob[:, 2] + 0.1 * keep_prob[:, 3]


def test_hand_worked_ns_nc_and_soft():
    p = SimpleNamespace(keep_always=KEEP)
    summary, per = evaluate_scores(p, {"m": SCORES}, RATIOS, draws=3, scorer=FakeScorer())
    assert per["k"].tolist() == [1, 2, 4]
    np.testing.assert_allclose(per["p_suff"], [0.8, 0.9, 0.9])
    np.testing.assert_allclose(per["p_comp"], [0.3, 0.2, 0.2])
    np.testing.assert_allclose(per["NS"], [6 / 7, 1, 1])
    np.testing.assert_allclose(per["NC"], [6 / 7, 1, 1])
    row = summary.iloc[0]
    assert row.S0 == pytest.approx(0.3) and row.p_full == pytest.approx(0.9)
    assert row.NS == pytest.approx(20 / 21) and row.NC == pytest.approx(20 / 21)
    assert row.soft_NS == pytest.approx(20 / 21) and row.soft_NC == pytest.approx(20 / 21)


def test_formulas_clip_and_degenerate():
    # p(x)=0.8, p(empty)=0.3 -> S0=0.5.  p(R)=0.95 > p(x): S=1 -> NS=1;  p(x\R)=0.85: C=0 -> NC=0
    per = hard_metrics(0.8, 0.3, np.array([0.95, 0.85, 0.6, 0.1]), ratios=(0.5, 1.0))
    np.testing.assert_allclose(per["S"], [1.0, 0.8])
    np.testing.assert_allclose(per["NS"], [1.0, (0.8 - 0.5) / 0.5])
    np.testing.assert_allclose(per["NC"], [0.0, 1.0])  # C = 0.7, 0.7 / 0.5 = 1.4 clipped to 1
    # the empty input is surer than the full one: 1 - S0 = 0, normalisation undefined -> NaN, not 0 or 1
    assert np.isnan(normalised_sufficiency(0.9, 1.0)) and np.isnan(normalised_comprehensiveness(0.2, 1.0))


def _reference_ns(suff_y_a, suff_y_zero):
    """multilingual-faith src/common_code/metrics.py normalized_sufficiency_, transcribed (mutates suff_y_zero)."""
    suff_y_zero -= 1e-4  ## to avoid nan
    norm_suff = np.maximum(0, (suff_y_a - suff_y_zero) / (1 - suff_y_zero))
    return np.clip(norm_suff, a_min=0, a_max=1)


def _reference_nc(comp_y_a, suff_y_zero):
    """... normalized_comprehensiveness_, transcribed; called after _reference_ns on the same array, as there."""
    suff_y_zero[(1 - suff_y_zero) == 0] += 0.00001
    norm_comp = np.maximum(0, comp_y_a / (1 - suff_y_zero))
    return np.clip(norm_comp, a_min=0, a_max=1)


def test_reference_convention_is_their_formula_including_the_undefined_case():
    s0 = np.array([0.3, 1.0, 0.99995, 0.5, 1.0])
    s = np.array([0.9, 1.0, 0.9, 0.2, 0.99])
    c = np.array([0.6, 0.0, 0.3, 0.1, 0.02])
    z = s0.copy()
    want_ns, want_nc = _reference_ns(s, z), _reference_nc(c, z)
    np.testing.assert_allclose(normalised_sufficiency(s, s0, "reference"), want_ns, rtol=1e-12)
    np.testing.assert_allclose(normalised_comprehensiveness(c, s0, "reference"), want_nc, rtol=1e-12)
    assert want_ns[1] == 1.0 and want_ns[4] == 0.0 and want_nc[4] == 1.0  # undefined ones get 0 or 1 there
    mlt_ns, mlt_nc = normalised_sufficiency(s, s0), normalised_comprehensiveness(c, s0)
    assert np.isnan(mlt_ns[[1, 2, 4]]).all() and np.isnan(mlt_nc[[1, 2, 4]]).all()
    np.testing.assert_allclose(mlt_ns[[0, 3]], [(0.9 - 0.3) / 0.7, 0.0])
    np.testing.assert_allclose(mlt_ns[[0, 3]], want_ns[[0, 3]], atol=2e-4)  # defined: the shift moves ~1e-4
    with pytest.raises(MltError, match="unknown convention"):
        normalised_sufficiency(s, s0, "paper")


SIGNED_LOW = np.array([9.0, 1.0, -3.0, 2.0, 0.0, 9.0])  # |.| ranks like SCORES: 2 > 3 > 1 > 4; signed puts 2 last


@pytest.mark.parametrize("method, rank_by, convention, ranked_abs", [
    ("m", "abs", "mlt", True), ("input_x_gradient", "signed", "reference", True),
    ("m", "signed", "reference", False), ("input_x_gradient", "signed", "mlt", False)])
def test_ranking_choice_reaches_hard_and_soft_metrics(method, rank_by, convention, ranked_abs):
    p = SimpleNamespace(keep_always=KEEP)
    summary, per = evaluate_scores(p, {method: SIGNED_LOW}, RATIOS, draws=3, scorer=FakeScorer(), rank_by=rank_by,
                                   convention=convention)
    row = summary.iloc[0]
    assert row.rank_by == ("abs" if ranked_abs else "signed")
    if ranked_abs:  # the hand-worked numbers above, soft ones included (q = min-max of |score|)
        np.testing.assert_allclose(per["NS"], [6 / 7, 1, 1], atol=2e-4)
        assert row.soft_NS == pytest.approx(20 / 21, abs=2e-4) and row.soft_NC == pytest.approx(20 / 21, abs=2e-4)
    else:  # signed: token 2 (worth 0.6) ranked last; soft q = min-max of [1, -3, 2, 0] = [4/5, 0, 1, 3/5]
        np.testing.assert_allclose(per["NS"].iloc[0], 1 / 7, atol=2e-4)  # k=1 R={3}: p=0.3, S=0.4 -> (0.4-0.3)/0.7
        # Soft-S keeps with q: p = 0.2 + 0.6*0 + 0.1*1 = 0.3 -> NS = 1/7; Soft-C with 1-q: p = 0.8 -> C=0.1 -> NC = 1/7
        assert row.soft_NS == pytest.approx(1 / 7, abs=2e-4) and row.soft_NC == pytest.approx(1 / 7, abs=2e-4)


def test_summarise_reports_undefined_share_next_to_means():
    per_ex = pd.DataFrame({"lang": ["en"] * 4 + ["hi"] * 2, "method": ["m"] * 6,
                           "NS": [0.5, np.nan, 0.7, np.nan, 0.2, 0.4], "NC": [0.1, np.nan, 0.3, np.nan, 0.0, 1.0],
                           "soft_NS": 0.0, "soft_NC": 0.0, "S0": [0.3, 1.0, 0.2, 0.99999, 0.5, 0.1]})
    out = summarise(per_ex).set_index("lang")
    assert out.loc["en", "undefined"] == pytest.approx(0.5) and out.loc["hi", "undefined"] == 0.0
    assert out.loc["en", "n"] == 2 and out.loc["en", "examples"] == 4
    assert out.loc["en", "NS"] == pytest.approx(0.6)


def test_rationale_topk_excludes_special_and_breaks_ties_in_order():
    keep = np.array([True, False, False, False, False, False, True])
    s = np.array([100.0, 0.5, -3.0, 0.5, 2.0, 0.1, 100.0])
    assert np.flatnonzero(rationale(s, keep, 0.2)).tolist() == [4]  # ceil(0.2*5)=1
    assert np.flatnonzero(rationale(s, keep, 0.5)).tolist() == [1, 3, 4]  # ceil(2.5)=3; 0.5 tie: position 1 first
    assert np.flatnonzero(rationale(s, keep, 0.5, rank_by="abs")).tolist() == [1, 2, 4]  # |-3|, 2, then 0.5 @1
    assert rationale(s, keep, 1.0).sum() == 5


# ------------------------------------------------------------------------------- erasure on a real model
PREMISE, HYPOTHESIS = "A man is eating food in the park.", "Someone eats."


@pytest.fixture(scope="module")
def xlmr(tiny_xlmr):
    return load_checkpoint(tiny_xlmr)


@pytest.mark.parametrize("replacement", ["pad", "mask", "attention"])
def test_scorer_erases_as_documented(xlmr, replacement):
    p = prepare(xlmr, PREMISE, HYPOTHESIS, target="neutral")
    keep = np.ones((2, len(p.tokens)), dtype=bool)
    keep[1, [2, 3, 5]] = False
    got = Scorer(p, replacement).hard(keep)
    ids, mask = p.input_ids.clone(), p.attention_mask.clone()
    if replacement == "attention":
        mask[0, [2, 3, 5]] = 0
    else:
        ids[0, [2, 3, 5]] = xlmr.tokenizer.pad_token_id if replacement == "pad" else xlmr.tokenizer.mask_token_id
    pos = torch.arange(2, 2 + ids.shape[1])[None]  # XLM-R positions of the original, unpadded input
    with torch.no_grad():
        want = xlmr.model(input_ids=ids, attention_mask=mask, position_ids=pos).logits.softmax(-1)[0, 1].item()
    assert got[0] == pytest.approx(p.probs[1], abs=1e-5)  # nothing erased = the shared forward
    assert got[1] == pytest.approx(want, abs=1e-6)


def test_soft_mask_is_seeded_bernoulli_on_embedding_elements(xlmr):
    p = prepare(xlmr, PREMISE, HYPOTHESIS)
    sc = Scorer(p)
    n = len(p.tokens)
    full = sc.soft(np.ones((1, n)), torch.Generator().manual_seed(0))
    assert full[0] == pytest.approx(p.probs[p.target], abs=1e-5)
    q = np.full((4, n), 0.5)
    a = sc.soft(q, torch.Generator().manual_seed(7))
    b = sc.soft(q, torch.Generator().manual_seed(7))
    c = sc.soft(q, torch.Generator().manual_seed(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    seen = {}  # what the first block reads: the embedding-layer output times a 0/1 mask, element-wise

    def grab(mod, args, kwargs):
        seen["x"] = kwargs.get("hidden_states", args[0] if args else None)

    h = xlmr.model.roberta.encoder.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        sc.soft(q[:1], torch.Generator().manual_seed(1))
    finally:
        h.remove()
    with torch.no_grad():
        clean = xlmr.model.roberta.embeddings(input_ids=p.input_ids)[0]  # [seq, d]
    x = seen["x"][0]
    kept = torch.isclose(x, clean, atol=1e-6)
    assert bool(((x == 0) | kept).all())  # each element either dropped or untouched
    per_token = (x == 0).float().mean(-1)  # share of dropped elements per token
    assert 0.3 < float((x == 0).float().mean()) < 0.7  # q = 0.5
    assert bool(((per_token > 0) & (per_token < 1)).any())  # dims masked independently, not whole tokens
    assert not xlmr.model.roberta.embeddings._forward_hooks  # the mask hook is gone


def test_soft_mask_does_not_leak_into_other_threads(xlmr):
    """The app shares one model between sessions (threads): a mask set in one must not touch another's pass."""
    import threading

    from mlt_core.attribution.faithfulness import embedding_mask

    enc = xlmr.tokenizer(PREMISE, HYPOTHESIS, return_tensors="pt")
    with torch.no_grad():
        clean = xlmr.model(**enc).logits
        zeros = torch.zeros(1, enc["input_ids"].shape[1], xlmr.model.config.hidden_size)
        other = {}
        with embedding_mask(xlmr.model, zeros):
            masked = xlmr.model(**enc).logits
            t = threading.Thread(target=lambda: other.setdefault("logits", xlmr.model(**enc).logits))
            t.start()
            t.join()
    assert not torch.allclose(masked, clean)
    torch.testing.assert_close(other["logits"], clean)


def test_faithfulness_pair_and_dataset(xlmr):
    res = faithfulness(xlmr, PREMISE, HYPOTHESIS, steps=8, draws=2)
    s = res["summary"]
    assert s["method"].tolist() == ["attention", "scaled_attention", "scaled_attention_per_head", "input_x_gradient",
                                    "integrated_gradients",
                                    "deeplift", "random"]
    assert "deeplift" not in res["errors"] and s.set_index("method").loc["deeplift", "p_full"] == s["p_full"].iloc[0]
    per = res["per_ratio"]
    assert sorted(per["method"].unique()) == sorted(set(s["method"]))
    assert (per.groupby("method").size() == 7).all()
    assert s["p_full"].dropna().iloc[0] == pytest.approx(res["prepared"].probs[res["prepared"].target], abs=1e-5)
    pairs = pd.DataFrame({"id": ["a", "b", "c"], "lang": ["en", "en", "hi"], "premise": [PREMISE, "A dog runs.", "एक आदमी खाना खा रहा है।"],
                          "hypothesis": [HYPOTHESIS, "An animal moves.", "कोई खा रहा है।"], "label": [0, 0, 1]})
    done = []
    per_ex = faithfulness_dataset(xlmr, pairs, methods=("attention", "deeplift"), draws=2,
                                  progress=lambda i, n: done.append((i, n)))
    assert done[-1] == (3, 3) and set(per_ex["method"]) == {"attention", "deeplift", "random"}
    summ = summarise(per_ex)
    en = per_ex[(per_ex.lang == "en") & (per_ex.method == "attention")]
    row = summ[(summ.lang == "en") & (summ.method == "attention")].iloc[0]
    assert row.n == en["NS"].notna().sum()
    if row.n:
        assert row.NC == pytest.approx(en["NC"].mean())
    with pytest.raises(MltError, match="no examples"):
        faithfulness_dataset(xlmr, pairs.iloc[:0])
    with pytest.raises(MltError, match="unknown replacement"):
        faithfulness(xlmr, PREMISE, HYPOTHESIS, methods=("attention",), replacement="zeros")


# ------------------------------------------------------------------------------- one token decides
def make_one_token_checkpoint(path, word="▁eating"):
    """A 1-layer XLM-R whose label is decided by whether `word` is in the input, weights set by hand.

    Ordinary tokens' and positions' embeddings are 0 in dims 0 and 1 (and zero-mean), `word`'s is
    (20, 0, ..., 0).
    Queries/keys are 0 (uniform attention), values/output are the identity and the FFN is off, so
    <s>'s final state has dim0 - dim1 > 0 exactly when `word` is present, and 0 otherwise (LayerNorm
    subtracts the same mean from both dims). Head: x = tanh(10 (h0 - h1)); logits (5x, 1, -5x):
    with the word: entailment (p ~ 0.97); without it: neutral (p(entailment) = 1/(2 + e) ~ 0.21).
    """
    from transformers import AutoModelForSequenceClassification, XLMRobertaConfig

    from tiny import XNLI_ID2LABEL, tiny_tokenizer

    tok = tiny_tokenizer()
    t = tok.convert_tokens_to_ids(word)
    cfg = XLMRobertaConfig(vocab_size=len(tok), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=8, max_position_embeddings=66, type_vocab_size=1, pad_token_id=1,
                           bos_token_id=0, eos_token_id=2, num_labels=3, id2label=XNLI_ID2LABEL,
                           label2id={v: k for k, v in XNLI_ID2LABEL.items()})
    m = AutoModelForSequenceClassification.from_config(copy.deepcopy(cfg), attn_implementation="eager")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for n, prm in m.named_parameters():
            prm.fill_(1.0 if "LayerNorm.weight" in n else 0.0)
        e = torch.randn(len(tok), 8, generator=g)
        e[:, :2] = 0.0
        e[:, 2:] -= e[:, 2:].mean(1, keepdim=True)
        e[t] = 0.0
        e[t, 0] = 20.0
        m.roberta.embeddings.word_embeddings.weight.copy_(e)
        pos = torch.randn(66, 8, generator=g)  # positions like the other tokens: 0 in dims 0, 1, zero-mean
        pos[:, :2] = 0.0
        pos[:, 2:] -= pos[:, 2:].mean(1, keepdim=True)
        m.roberta.embeddings.position_embeddings.weight.copy_(pos)
        att = m.roberta.encoder.layer[0].attention
        att.self.value.weight.copy_(torch.eye(8))
        att.output.dense.weight.copy_(torch.eye(8))
        m.classifier.dense.weight[0, 0], m.classifier.dense.weight[0, 1] = 10.0, -10.0
        m.classifier.out_proj.weight[0, 0], m.classifier.out_proj.weight[2, 0] = 5.0, -5.0
        m.classifier.out_proj.bias[1] = 1.0
    m.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    return path


def test_true_top_token_beats_random_on_one_token_model(tmp_path):
    ckpt = load_checkpoint(make_one_token_checkpoint(tmp_path / "one-token"))
    p = prepare(ckpt, PREMISE, HYPOTHESIS)
    assert p.target == 0 and p.probs[0] > 0.95  # entailment, because "▁eating" is there
    pos = p.tokens.index("▁eating")
    true = np.where(np.arange(len(p.tokens)) == pos, 1.0, 0.0)
    rand = {f"random{s}": np.random.default_rng(s).standard_normal(len(true)) for s in range(12)}
    res = faithfulness(ckpt, PREMISE, HYPOTHESIS, methods=("integrated_gradients",), steps=50, draws=8)
    ig = res["scores"].sort_values("position")["score"].to_numpy()
    assert int(np.argmax(np.where(p.keep_always, -np.inf, ig))) == pos  # IG finds the deciding token
    summary, per = evaluate_scores(p, {"true": true, "ig": ig, **rand}, draws=8)
    s = summary.set_index("method")
    assert s.loc["true", "NC"] == pytest.approx(1.0, abs=1e-6)  # erasing the word always flips it back
    assert s.loc["true", "NS"] > 0.95 and s.loc["ig", "NC"] == pytest.approx(1.0, abs=1e-6)
    assert s.loc["true", "soft_NC"] == pytest.approx(1.0, abs=1e-6)  # q=1: all its elements dropped
    for name, sc in rand.items():  # a random order only scores when the word happens to be in R
        in_r = [rationale(sc, p.keep_always, r)[pos] for r in per["ratio"].unique()]
        assert s.loc[name, "NC"] == pytest.approx(np.mean(in_r), abs=0.02)
    r_nc = s.loc[list(rand), "NC"]
    assert r_nc.mean() < 0.75 and (r_nc <= s.loc["true", "NC"] + 1e-9).all()
    assert s.loc[list(rand), "soft_NC"].mean() < s.loc["true", "soft_NC"] - 0.2


def test_cli_faithfulness_conventions_and_undefined_shares(tmp_path, capsys):
    """Same examples under both conventions: the undefined share is the same; mlt leaves those examples out of
    the means (n = examples x (1 - undefined)), reference keeps every one (n = examples)."""
    import json

    from test_attribute import make_lively_checkpoint

    from mlt_core.cli import main

    path = make_lively_checkpoint(tmp_path / "lively", seed=4)
    out = {}
    for conv in ("mlt", "reference"):
        rc = main(["faithfulness", "--model", str(path), "--langs", "en", "hi", "--limit", "3", "--method", "ixg",
                   "--draws", "1", "--convention", conv, "--json"])
        assert rc == 0
        out[conv] = json.loads(capsys.readouterr().out)
        assert out[conv]["convention"] == conv
    mlt, ref = (pd.DataFrame(out[c]["means"]).set_index(["lang", "method"]) for c in ("mlt", "reference"))
    assert set(mlt.index.get_level_values("method")) == {"input_x_gradient", "random"}
    np.testing.assert_allclose(mlt["undefined"], ref["undefined"])
    assert (ref["n"] == ref["examples"]).all() and (ref["examples"] == 3).all()
    np.testing.assert_allclose(mlt["n"], mlt["examples"] * (1 - mlt["undefined"]))
    with pytest.raises(SystemExit):
        main(["faithfulness", "--model", str(path), "--limit", "1", "--convention", "paper"])
    assert "invalid choice: 'paper'" in capsys.readouterr().err
