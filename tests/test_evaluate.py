"""evaluate() on tiny real checkpoints: equals a direct model(...) loop, caches per shard (hit, new
language, resume after a crash), refuses unmappable checkpoints, explains bad data; the CLI and store."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pandas as pd
import pytest
import torch

from mlt_core import forward as F
from mlt_core import store
from mlt_core.data.labels import LABELS
from mlt_core.data.templates import generate_pairs
from mlt_core.errors import MltError
from mlt_core.eval.evaluate import PRED_COLS, evaluate, write_outputs
from mlt_core.forward import run as forward_run  # batches() calls run.forward: patch it there
from tiny import MNLI_ID2LABEL, make_tiny_checkpoint


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MLT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def data():
    return generate_pairs(24, seed=0, split="test")  # 24 parallel pairs in en, hi, fr, es


@pytest.fixture(scope="module")
def mnli_ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny-mnli", id2label=MNLI_ID2LABEL, seed=4,
                                meta={"train_langs": ["hi"]})


def direct_predictions(path, df):
    """An independent loop: one pair at a time through HF directly, mapped by label name."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager").eval()
    names, probs = [], []
    with torch.no_grad():
        for p, h in zip(df["premise"], df["hypothesis"]):
            logits = model(**tok(p, h, return_tensors="pt")).logits[0]
            names.append(model.config.id2label[int(logits.argmax())])
            pr = logits.softmax(-1)
            probs.append([float(pr[model.config.label2id[l]]) for l in LABELS])
    return names, np.asarray(probs)


def test_predictions_equal_a_direct_model_loop(tiny_xlmr, mnli_ckpt, tiny_qwen2, data):
    df = data[data["lang"].isin(["en", "hi"])]
    # batches of 5 with padding (right-padded decoder included) vs one unpadded pair at a time
    ev = evaluate([str(tiny_xlmr), str(mnli_ckpt), str(tiny_qwen2)], df, batch_size=5, shard_size=16)
    assert list(ev.predictions.columns) == PRED_COLS
    for path in (tiny_xlmr, mnli_ckpt, tiny_qwen2):
        got = ev.predictions[ev.predictions["model"] == path.name].reset_index(drop=True)
        names, probs = direct_predictions(path, df)
        assert got["predicted"].tolist() == names
        np.testing.assert_allclose(got[["p_entailment", "p_neutral", "p_contradiction"]].to_numpy(), probs, atol=1e-5)
        assert got["id"].tolist() == df["id"].tolist() and got["gold"].tolist() == [LABELS[l] for l in df["label"]]
        np.testing.assert_allclose(got["confidence"], probs.max(1), atol=1e-5)
    # metrics are those of the predictions
    cell = next(c for c in ev.metrics["cells"] if c["model"] == mnli_ckpt.name and c["lang"] == "hi")
    sub = ev.predictions[(ev.predictions["model"] == mnli_ckpt.name) & (ev.predictions["lang"] == "hi")]
    assert cell["accuracy"] == pytest.approx((sub["gold"] == sub["predicted"]).mean())
    assert ev.models[mnli_ckpt.name]["train_langs"] == ["hi"]


def test_second_call_is_a_cache_hit_with_no_forward_and_no_load(tiny_xlmr, data):
    first = evaluate([str(tiny_xlmr)], data, ["en", "hi"], shard_size=10)
    assert first.computed == 48
    loads = []

    def loader(src):
        loads.append(src)
        raise AssertionError("a cached evaluation must not load the model")

    before = F.FORWARD_CALLS["n"]
    again = evaluate([str(tiny_xlmr)], data, ["en", "hi"], shard_size=10, loader=loader)
    assert F.FORWARD_CALLS["n"] == before and again.computed == 0 and not loads
    pd.testing.assert_frame_equal(first.predictions, again.predictions)


def test_a_new_language_computes_only_what_is_missing(tiny_xlmr, tiny_xlmr_b, data):
    evaluate([str(tiny_xlmr)], data, ["en"], shard_size=10, batch_size=4)
    before = F.FORWARD_CALLS["n"]
    ev = evaluate([str(tiny_xlmr), str(tiny_xlmr_b)], data, ["en", "hi"], shard_size=10, batch_size=4)
    # missing: tiny_xlmr on hi, tiny_xlmr_b on en and hi = 3 (model, language) cells of 24 examples;
    # each cell: shards of 10, 10, 4 -> batches of 4: 3 + 3 + 1 = 7 forwards
    assert ev.computed == 72
    assert F.FORWARD_CALLS["n"] - before == 3 * 7
    assert len(ev.predictions) == 96


def test_resume_after_a_crash_midway(tiny_xlmr, data, monkeypatch):
    real = F.forward
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("killed")
        return real(*a, **k)

    monkeypatch.setattr(forward_run, "forward", flaky)
    with pytest.raises(RuntimeError):
        evaluate([str(tiny_xlmr)], data, ["en", "hi"], shard_size=8, batch_size=8)  # 6 shards, 1 forward each
    monkeypatch.setattr(forward_run, "forward", real)
    before = F.FORWARD_CALLS["n"]
    ev = evaluate([str(tiny_xlmr)], data, ["en", "hi"], shard_size=8, batch_size=8)
    assert ev.computed == 48 - 3 * 8 and F.FORWARD_CALLS["n"] - before == 3  # the 3 finished shards were kept
    fresh = evaluate([str(tiny_xlmr)], data, ["en", "hi"], shard_size=8, batch_size=8, cache=False)
    pd.testing.assert_frame_equal(ev.predictions, fresh.predictions, atol=1e-6)


def test_unmappable_labels_are_refused_and_the_others_go_on(tiny_xlmr, tmp_path, data):
    bad = make_tiny_checkpoint(tmp_path / "sentiment", id2label={0: "positive", 1: "negative", 2: "mixed"})
    ev = evaluate([str(bad), str(tiny_xlmr)], data, ["en"])
    assert list(ev.models) == [tiny_xlmr.name] and set(ev.predictions["model"]) == {tiny_xlmr.name}
    assert "positive" in ev.refused["sentiment"] and "entailment" in ev.refused["sentiment"]
    with pytest.raises(MltError, match="no model could be evaluated.*positive"):
        evaluate([str(bad)], data, ["en"])


def test_untrained_head_is_flagged(tmp_path, data):
    bare = make_tiny_checkpoint(tmp_path / "bare", head=False)
    ev = evaluate([str(bare)], data, ["en"])
    assert any("UNTRAINED HEAD" in w for w in ev.warnings)
    again = evaluate([str(bare)], data, ["en"])  # from the cache, still flagged
    assert again.computed == 0 and any("UNTRAINED HEAD" in w for w in again.warnings)


def test_bad_data_gets_clear_messages(tiny_xlmr, data):
    with pytest.raises(MltError, match=r"no examples for language\(s\) de .*en, hi, fr, es"):
        evaluate([str(tiny_xlmr)], data, ["en", "de"])
    broken = data.head(5).copy()
    broken.loc[3, "label"] = 7
    with pytest.raises(MltError, match=r"row 4 \(id test-000003, en\) has label 7"):
        evaluate([str(tiny_xlmr)], broken)
    with pytest.raises(MltError, match="no column.*hypothesis"):
        evaluate([str(tiny_xlmr)], data.drop(columns=["hypothesis"]))
    empty = data.head(3).copy()
    empty.loc[1, "premise"] = "  "
    with pytest.raises(MltError, match=r"row 2 .* empty premise"):
        evaluate([str(tiny_xlmr)], empty)


def test_write_outputs(tiny_xlmr, data, tmp_path):
    ev = evaluate([str(tiny_xlmr)], data, ["en", "hi"], n_boot=100)
    paths = write_outputs(ev, tmp_path / "out", {"limit": None})
    back = pd.read_parquet(paths["predictions"])
    pd.testing.assert_frame_equal(back, ev.predictions)
    m = json.loads(paths["metrics"].read_text())
    acc = {c["lang"]: c["accuracy"] for c in m["cells"]}
    for lang in ("en", "hi"):
        sub = back[back["lang"] == lang]
        assert acc[lang] == pytest.approx((sub["gold"] == sub["predicted"]).mean())
    assert m["models"][tiny_xlmr.name]["train_langs"] == ["en"]


def test_cli_evaluate_writes_outputs_and_reports_errors(tiny_xlmr, tmp_path, capsys):
    from mlt_core.cli import main

    out = tmp_path / "run"
    rc = main(["evaluate", "--model", str(tiny_xlmr), "--data", "sample", "--langs", "en,hi", "--limit", "12",
               "--out", str(out), "--report"])
    assert rc == 0
    preds = pd.read_parquet(out / "predictions.parquet")
    assert sorted(preds["lang"].unique()) == ["en", "hi"] and len(preds) == 24
    metrics = json.loads((out / "metrics.json").read_text())
    for c in metrics["cells"]:
        sub = preds[preds["lang"] == c["lang"]]
        assert c["accuracy"] == pytest.approx((sub["gold"] == sub["predicted"]).mean())
    html = (out / "report.html").read_text()
    assert "vegaEmbed" in html and "cdn" not in html.lower().split("<script>")[0] and "Accuracy matrix" in html
    capsys.readouterr()
    rc = main(["evaluate", "--model", str(tiny_xlmr), "--data", "sample", "--langs", "xx", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "xx" in err and "Traceback" not in err


def test_store_roundtrip_fingerprints_and_atomicity(tmp_path, tiny_xlmr, cache_dir):
    calls = []
    df = pd.DataFrame({"a": ["x", "y"], "b": [1, 2]})
    f1 = store.cached_frame("t", "k", lambda: calls.append(1) or df)
    f2 = store.cached_frame("t", "k", lambda: calls.append(1) or df)
    assert len(calls) == 1 and f1.equals(f2) and f2.equals(df)
    assert store.cached_json("t", "j", lambda: {"x": [1, 2]}) == {"x": [1, 2]}
    assert store.cached_json("t", "j", lambda: 1 / 0) == {"x": [1, 2]}
    arr = store.cached_arrays("t", "a", lambda: {"v": np.arange(3), "s": np.asarray(["a", "b"])})
    assert arr["v"].tolist() == [0, 1, 2] and arr["s"].tolist() == ["a", "b"]
    assert (cache_dir / ".gitignore").read_text().strip() == "*"
    assert not [p for p in (cache_dir / "t").iterdir() if p.name.startswith(".tmp")]
    # a path-like key never escapes the cache folder
    store.cached_json("t", "../../evil", lambda: 1)
    assert not (tmp_path / "evil.json").exists() and all(p.parent == cache_dir / "t" for p in (cache_dir / "t").iterdir())
    # a corrupt file is recomputed, not trusted
    (cache_dir / "t" / "k.parquet").write_bytes(b"garbage")
    assert store.cached_frame("t", "k", lambda: df.head(1)).equals(df.head(1))
    # data fingerprint: any cell, or the row order, changes it
    assert store.data_fingerprint(df) != store.data_fingerprint(df.assign(b=[1, 3]))
    assert store.data_fingerprint(df) != store.data_fingerprint(df.iloc[::-1])
    # checkpoint fingerprint: stable, and changes when the weights file is rewritten
    fp = store.checkpoint_fingerprint(tiny_xlmr)
    assert fp == store.checkpoint_fingerprint(tiny_xlmr)
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(tiny_xlmr, copy)
    st = (copy / "model.safetensors").stat()
    os.utime(copy / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert store.checkpoint_fingerprint(copy) != store.checkpoint_fingerprint(tiny_xlmr)


def test_sdpa_pass_gives_the_same_predictions_and_always_restores_eager(tiny_xlmr, data, monkeypatch):
    from mlt_core.eval.evaluate import predict
    from mlt_core.model.checkpoint import load_checkpoint

    ck = load_checkpoint(tiny_xlmr)
    df = data.head(12)
    eager, sdpa = predict(ck, df, batch_size=4), predict(ck, df, batch_size=4, sdpa=True)
    assert eager["predicted"].tolist() == sdpa["predicted"].tolist()
    np.testing.assert_allclose(eager["confidence"], sdpa["confidence"], atol=1e-5)
    assert ck.model.config._attn_implementation == "eager"
    monkeypatch.setattr(forward_run, "forward", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        predict(ck, df, sdpa=True)
    monkeypatch.undo()
    assert ck.model.config._attn_implementation == "eager"
    assert F.forward(ck, [("a b", "c d")])["blocks.0.attn.pattern"].shape[1] == ck.n_heads  # other views still work


def test_cli_evaluate_with_internals_is_one_pass_per_language(tiny_xlmr, tmp_path):
    """--internals: the evaluation's pass keeps them (one forward per batch of each language), and the
    internals CSVs are the numbers of representations.collect on the same examples."""
    import math

    from mlt_core.eval import representations as R
    from mlt_core.model.checkpoint import load_checkpoint
    from mlt_core.cli import main
    from mlt_core.data.nli import load_nli

    out = tmp_path / "run"
    before = F.FORWARD_CALLS["n"]
    assert main(["evaluate", "--model", str(tiny_xlmr), "--data", "sample", "--langs", "en,hi", "--limit", "9",
                 "--batch-size", "4", "--internals", "--internals-limit", "6", "--out", str(out)]) == 0
    assert F.FORWARD_CALLS["n"] - before == 2 * math.ceil(9 / 4)  # no second pass for the internals
    ent = pd.read_csv(out / "internals" / "entropy.csv")
    data = load_nli("sample", ["en", "hi"], limit=9)
    ckpt = load_checkpoint(tiny_xlmr)
    old = {(ckpt.name, l): R.collect(ckpt, data[data["lang"] == l].head(6)) for l in ("en", "hi")}  # the old pass
    want = R.entropy_table(old)
    np.testing.assert_allclose(ent["entropy_norm"].to_numpy(), want["entropy_norm"].to_numpy(), rtol=1e-5)
    assert ent[["lang", "layer"]].values.tolist() == want[["lang", "layer"]].values.tolist()
