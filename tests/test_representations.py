"""Dataset-level internals against independent computations: pooled states and entropy from a
direct HF forward, CKA invariances, alignment/retrieval by hand, probes and PCA vs numpy/sklearn."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mlt_core import forward as F
from mlt_core.data.labels import LABELS
from mlt_core.data.templates import generate_pairs
from mlt_core.eval import representations as R
from mlt_core.probes.similarity import linear_cka


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MLT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def data():
    return generate_pairs(12, seed=1, split="test")


def test_collect_matches_a_direct_forward(tiny_xlmr, data):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    df = data[data["lang"] == "hi"].head(6)
    stats = R.internals([str(tiny_xlmr)], df, ["hi"], limit=6, batch_size=4)[(tiny_xlmr.name, "hi")]
    tok = AutoTokenizer.from_pretrained(tiny_xlmr)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_xlmr, attn_implementation="eager").eval()
    for i, (p, h) in enumerate(zip(df["premise"], df["hypothesis"])):
        with torch.no_grad():
            out = model(**tok(p, h, return_tensors="pt"), output_hidden_states=True, output_attentions=True)
        for l, hs in enumerate(out.hidden_states):  # one example, no padding: the plain token mean
            np.testing.assert_allclose(stats["pooled"][i, l], hs[0].mean(0).numpy(), atol=1e-5)
            np.testing.assert_allclose(stats["norm"][i, l], np.linalg.norm(hs[0].numpy(), axis=-1).mean(), rtol=1e-5)
        for l, att in enumerate(out.attentions):  # entropy of each query row, averaged over queries
            a = att[0].double()  # [head, q, k]
            ent = -(a * a.clamp_min(1e-300).log()).sum(-1).mean(-1)  # [head]
            np.testing.assert_allclose(stats["entropy"][i, l], ent.numpy(), atol=1e-4)
            np.testing.assert_allclose(stats["entropy_norm"][i, l], (ent / np.log(a.shape[-1])).numpy(), atol=1e-4)
    assert stats["ids"].tolist() == df["id"].tolist() and stats["labels"].tolist() == df["label"].tolist()
    norms = R.norm_table({(tiny_xlmr.name, "hi"): stats})
    assert norms["layer"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(norms["norm"], stats["norm"].mean(0), rtol=1e-6)
    table = R.entropy_table({(tiny_xlmr.name, "hi"): stats})
    assert table.loc[table.layer == 1, "entropy"].item() == pytest.approx(float(stats["entropy"][:, 1].mean()), rel=1e-6)


def test_internals_are_cached(tiny_xlmr, data):
    R.internals([str(tiny_xlmr)], data, ["en", "hi"], limit=5)
    before = F.FORWARD_CALLS["n"]

    def loader(src):
        raise AssertionError("cached internals must not load the model")

    again = R.internals([str(tiny_xlmr)], data, ["en", "hi"], limit=5, loader=loader)
    assert F.FORWARD_CALLS["n"] == before and again[(tiny_xlmr.name, "en")]["pooled"].shape[0] == 5


def _stats(ids, pooled, labels=None):
    n = len(ids)
    return {"ids": np.asarray(ids), "labels": np.asarray(labels if labels is not None else [0] * n),
            "pooled": np.asarray(pooled, dtype=np.float32), "entropy": np.zeros((n, 1, 1)),
            "entropy_norm": np.zeros((n, 1, 1))}


def test_similarity_cka_invariances_and_id_matching():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2, 8))  # [n, layer, d]
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))  # orthogonal
    y = 3.0 * x @ q  # rotated and scaled: CKA 1, cosine not
    ids = [f"p{i}" for i in range(40)]
    stats = {("a", "en"): _stats(ids, x), ("b", "en"): _stats(ids[::-1], y[::-1])}  # b stored in reverse order
    sim = R.similarity_table(stats, "a", "b")
    assert sim["cka"].tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    assert linear_cka(x[:, 0], rng.normal(size=(40, 8))) < 0.6  # unrelated -> far from 1
    stats[("b", "en")] = _stats(ids, x)  # identical: cosine 1
    assert R.similarity_table(stats, "a", "b")["cosine"].tolist() == pytest.approx([1.0, 1.0])


def test_alignment_by_hand():
    eye = np.eye(3)
    r = R.alignment(eye, eye)  # matched cos 1, mismatched 0, every row retrieves itself
    assert (r["matched"], r["mismatched"], r["retrieval"]) == pytest.approx((1.0, 0.0, 1.0))
    r = R.alignment(eye, eye[[1, 2, 0]])  # shuffled partners: matched 0, mismatched (3 ones of 6) 0.5, retrieval 0
    assert (r["matched"], r["mismatched"], r["retrieval"]) == pytest.approx((0.0, 0.5, 0.0))
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0, 1.0], [0.0, 1.0]])  # cos(x0,y0)=1/sqrt2, cos(x1,y1)=1, cos(x0,y1)=0, cos(x1,y0)=1/sqrt2
    r = R.alignment(x, y)
    s = 1 / np.sqrt(2)
    assert r["matched"] == pytest.approx((s + 1) / 2) and r["mismatched"] == pytest.approx(s / 2)
    assert r["retrieval"] == pytest.approx(1.0)  # x0 -> y0 (0.707 > 0), x1 -> y1 (1 > 0.707)
    stats = {("m", "en"): _stats(["a", "b"], x[:, None]), ("m", "hi"): _stats(["b", "a"], y[::-1][:, None])}
    t = R.alignment_table(stats, "m")  # pairs matched by id despite the different order
    assert t["pair"].tolist() == ["en-hi"] and t["matched"].item() == pytest.approx((s + 1) / 2)


def test_probe_and_projection_against_independent_fits():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    ids = [f"id{i}" for i in range(60)]
    labels = rng.integers(0, 3, 60)
    stats = {}
    for k, lang in enumerate(["en", "hi"]):
        pooled = rng.normal(size=(60, 2, 6))
        pooled[:, 1, 0] += 8.0 * k  # layer 1 separates languages, layer 0 does not
        stats[("m", lang)] = _stats(ids, pooled, labels)
    t = R.probe_table(stats, "m", targets=("language",)).set_index("layer")
    assert t.loc[1, "accuracy"] == 1.0 and t.loc[0, "accuracy"] < 0.8
    # the split is by id: an id is on the same side in both languages; the baseline is the majority share
    tr = R.train_mask(ids)
    assert t.loc[1, "n_test"] == 2 * int((~tr).sum()) and t.loc[1, "baseline"] == pytest.approx(0.5)
    x = np.concatenate([stats[("m", l)]["pooled"][:, 0] for l in ("en", "hi")])
    y = np.repeat(["en", "hi"], 60)
    mask = np.concatenate([tr, tr])
    mu, sd = x[mask].mean(0), x[mask].std(0)
    ref = LogisticRegression(max_iter=500).fit((x[mask] - mu) / sd, y[mask])
    assert t.loc[0, "accuracy"] == pytest.approx((ref.predict((x[~mask] - mu) / sd) == y[~mask]).mean())
    # PCA = projection on the top-2 right singular vectors of the centred matrix (up to sign)
    pj = R.projection(stats, "m", 1, "pca")
    xc = np.concatenate([stats[("m", l)]["pooled"][:, 1] for l in ("en", "hi")]).astype(np.float64)
    xc -= xc.mean(0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    np.testing.assert_allclose(np.abs(pj[["x", "y"]].to_numpy()), np.abs(xc @ vt[:2].T), atol=1e-4)
    assert pj["lang"].tolist() == ["en"] * 60 + ["hi"] * 60 and set(pj["label"]) <= set(LABELS)
    ts = R.projection(stats, "m", 1, "tsne")
    assert ts[["x", "y"]].notna().all().all() and len(ts) == 120


def _kornblith_cka(x, y, debiased=False):
    """google-research/representation_similarity (Kornblith et al. 2019) gram_linear + center_gram + cka, transcribed."""
    def center_gram(gram, unbiased=False):
        gram = gram.copy()
        if unbiased:
            n = gram.shape[0]
            np.fill_diagonal(gram, 0)
            means = np.sum(gram, 0, dtype=np.float64) / (n - 2)
            means -= np.sum(means) / (2 * (n - 1))
            gram -= means[:, None]
            gram -= means[None, :]
            np.fill_diagonal(gram, 0)
        else:
            means = np.mean(gram, 0, dtype=np.float64)
            means -= np.mean(means) / 2
            gram -= means[:, None]
            gram -= means[None, :]
        return gram

    gram_x, gram_y = center_gram(x @ x.T, debiased), center_gram(y @ y.T, debiased)
    scaled_hsic = gram_x.ravel().dot(gram_y.ravel())
    return scaled_hsic / (np.linalg.norm(gram_x) * np.linalg.norm(gram_y))


def test_debiased_cka_is_the_reference_estimator_and_removes_the_noise_floor():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 12))
    y = x @ rng.normal(size=(12, 20)) + rng.normal(size=(30, 20))
    assert linear_cka(x, y, debiased=True) == pytest.approx(_kornblith_cka(x, y, True), rel=1e-9)
    assert linear_cka(x, y) == pytest.approx(_kornblith_cka(x, y), rel=1e-9)
    a, b = rng.normal(size=(200, 768)), rng.normal(size=(200, 768))  # independent noise, n < d (the case)
    biased, deb = linear_cka(a, b), linear_cka(a, b, debiased=True)
    assert biased == pytest.approx(0.79, abs=0.02) and abs(deb) < 0.03
    assert linear_cka(a, b, debiased=None) == deb and linear_cka(a[:, :20], b[:, :20], debiased=None) == \
        linear_cka(a[:, :20], b[:, :20])  # auto: debiased only where n < d
    assert np.isnan(linear_cka(a[:3], b[:3], debiased=True))  # the unbiased HSIC needs n >= 4


def test_similarity_table_draws_the_shuffled_floor():
    from mlt_core.probes.similarity import cka_noise_floor

    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 1, 64))  # n = 20 < d = 64: debiased by default
    y = x + 0.3 * rng.normal(size=(20, 1, 64))
    ids = [f"p{i}" for i in range(20)]
    stats = {("a", "en"): _stats(ids, x), ("b", "en"): _stats(ids, y)}
    sim = R.similarity_table(stats, "a", "b").iloc[0]
    assert sim.estimator == "debiased"
    assert sim.cka == pytest.approx(_kornblith_cka(x[:, 0].astype(np.float32).astype(float),
                                                   y[:, 0].astype(np.float32).astype(float), True), rel=1e-6)
    rng0 = np.random.default_rng(0)  # seed = the layer (0), as documented
    floor = np.mean([_kornblith_cka(x[:, 0].astype(np.float32).astype(float),
                                    y[rng0.permutation(20), 0].astype(np.float32).astype(float), True)
                     for _ in range(5)])
    assert sim.cka_floor == pytest.approx(floor, rel=1e-6) and abs(sim.cka_floor) < 0.2 < sim.cka
    assert np.isnan(cka_noise_floor(x[:, 0], y[:, 0], True, shuffles=0))
    biased = R.similarity_table(stats, "a", "b", debiased=False).iloc[0]
    assert biased.estimator == "biased" and biased.cka_floor > sim.cka_floor  # the biased floor sits high
    from mlt_core.charts.evaluation import similarity_chart

    spec = similarity_chart(R.similarity_table(stats, "a", "b")).to_dict()
    vals = spec["datasets"][next(iter(spec["datasets"]))]
    assert {v["series"] for v in vals} == {"value", "noise floor (shuffled)"}
    assert {v["panel"] for v in vals} == {"CKA (debiased)", "cosine"}
