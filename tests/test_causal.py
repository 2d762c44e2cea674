"""Causal tools on tiny XLM-R and Qwen2 checkpoints: every number checked against a model built by hand
(state-dict entries copied), a plain forward, or a direct sklearn / safetensors computation."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from mlt_core import forward as F
from mlt_core.causal.interpolate import interpolation_curve, merged_model, mixed_models
from mlt_core.causal.lens import apply_probes, fit_probes, lens_pair, probes_for
from mlt_core.causal.patch import patch_dataset, patch_logits, patch_pair
from mlt_core.causal.swap import swap_curve, swap_logits, swap_pair
from mlt_core.causal.weights import weight_changes
from mlt_core.data.nli import load_nli
from mlt_core.errors import MltError
from mlt_core.model.checkpoint import load_checkpoint
from mlt_core.training.config import TrainConfig
from mlt_core.training.trainer import train
from tiny import make_tiny_checkpoint

PAIRS = [("The cat sat on the mat near the door.", "A cat is sitting."),
         ("He went home early because he was tired.", "He stayed at work."),
         ("यह एक छोटा घर है।", "घर बड़ा है।")]
NEURONS = [[1, 5, 9], [0, 63]]  # LAPE-style neurons of the tiny model (2 layers x 64)
HEAD_KEYS = ("classifier.", "score.", "model.norm.", "bert.pooler.")  # "the head": final norm (decoders) or pooler (BERT) + classifier
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MLT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def qwen_pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("qwen")
    meta = {"base": "tiny-qwen2", "train_langs": ["en"], "method": "full"}
    return make_tiny_checkpoint(d / "qa", "qwen2", seed=2, meta=meta), make_tiny_checkpoint(d / "qb", "qwen2", seed=3, meta=meta)


@pytest.fixture(scope="module")
def trained(tiny_xlmr, tmp_path_factory):
    """Real training through train(): lape on NEURONS (embeddings, attention, norms frozen) and full."""
    d = tmp_path_factory.mktemp("trained")
    nf = d / "neurons.json"
    nf.write_text(json.dumps({"settings": {"top_rate": 0.1}, "languages": ["en", "hi"], "d_ff": 64,
                              "neurons": {"hi": NEURONS, "en": [[2], [3]]}}))
    out = {}
    for method in ("lape", "full"):
        cfg = TrainConfig(base=str(tiny_xlmr), train_langs="hi", name=f"t-{method}", method=method, max_steps=3,
                          lr=1e-2, batch_size=8, train_size=24, eval_limit=6, evals=0, max_length=48,
                          output_dir=str(d / "models"), cpu=True, neuron_file=str(nf) if method == "lape" else None)
        out[method] = train(cfg, log=lambda m: None)
    return out


def hand_built(a, b, cut: int, head: str):
    """A's checkpoint with B's blocks >= cut (and B's head if head == 'b') copied in, as a plain HF model."""
    from transformers import AutoModelForSequenceClassification

    sa, sb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    sd = dict(sa)
    for k, v in sb.items():
        m = re.search(r"\.(?:layer|layers)\.(\d+)\.", k)
        if (m and int(m.group(1)) >= cut) or (head == "b" and k.startswith(HEAD_KEYS)):
            sd[k] = v
    model = AutoModelForSequenceClassification.from_pretrained(a, attn_implementation="eager").eval()
    model.load_state_dict(sd)
    return model


def plain_logits(model, ckpt, pairs):
    enc = ckpt.tokenizer([p for p, _ in pairs], [h for _, h in pairs], padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.double().numpy()


@pytest.fixture(scope="module")
def bert_pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("bert")
    meta = {"base": "tiny-bert", "train_langs": ["en"], "method": "full"}
    return make_tiny_checkpoint(d / "ba", "bert", seed=5, meta=meta), make_tiny_checkpoint(d / "bb", "bert", seed=6, meta=meta)


@pytest.mark.parametrize("family", ["xlmr", "bert", "qwen2"])
def test_swap_at_every_cut_equals_a_model_built_by_copying_state_dict_entries(family, tiny_xlmr, tiny_xlmr_b, qwen_pair,
                                                                               bert_pair):
    pa, pb = {"xlmr": (tiny_xlmr, tiny_xlmr_b), "bert": bert_pair, "qwen2": qwen_pair}[family]
    a, b = load_checkpoint(pa), load_checkpoint(pb)
    got = swap_logits(a, b, PAIRS)  # [cut, head, n, 3]
    assert got.shape == (a.n_layers + 1, 2, len(PAIRS), 3)
    for cut in range(a.n_layers + 1):
        for h, head in enumerate("ab"):
            want = plain_logits(hand_built(pa, pb, cut, head), a, PAIRS)
            np.testing.assert_allclose(got[cut, h], want, atol=1e-6, err_msg=f"cut {cut} head {head}")
    # l = L with A's head is A; the hybrids differ from A below the top (the test can tell them apart)
    np.testing.assert_allclose(got[-1, 0], F.forward(a, PAIRS, capture=()).logits.double().numpy(), atol=1e-6)
    assert np.abs(got[0, 0] - got[-1, 0]).max() > 1e-5


def with_embeddings_of(src, dst, out):
    """A copy of checkpoint dst whose embedding tensors are src's."""
    shutil.copytree(dst, out)
    s, d = load_file(src / "model.safetensors"), load_file(dst / "model.safetensors")
    d.update({k: v for k, v in s.items() if "embed" in k})
    save_file(d, out / "model.safetensors", metadata={"format": "pt"})
    return out


@pytest.mark.parametrize("family", ["xlmr", "qwen2"])
def test_swap_at_cut_zero_with_b_head_is_b_when_embeddings_are_shared(family, tiny_xlmr, tiny_xlmr_b, qwen_pair,
                                                                      tmp_path):
    pa, pb = (tiny_xlmr, tiny_xlmr_b) if family == "xlmr" else qwen_pair
    a = load_checkpoint(pa)
    b_raw = load_checkpoint(pb)
    b = load_checkpoint(with_embeddings_of(pa, pb, tmp_path / "b-shared"))
    got = swap_logits(a, b, PAIRS)
    np.testing.assert_allclose(got[0, 1], F.forward(b, PAIRS, capture=()).logits.double().numpy(), atol=1e-6)
    # with B's own (different) embeddings, cut 0 is not B
    assert np.abs(swap_logits(a, b_raw, PAIRS)[0, 1] - F.forward(b_raw, PAIRS, capture=()).logits.numpy()).max() > 1e-5


def test_swap_from_base_to_a_lape_model_ends_at_the_lape_model(tiny_xlmr, trained):
    """lape freezes the embeddings: A = its base, B = the lape model; cut 0 with B's head is B."""
    a, b = load_checkpoint(tiny_xlmr), load_checkpoint(trained["lape"])
    got = swap_logits(a, b, PAIRS)
    np.testing.assert_allclose(got[0, 1], F.forward(b, PAIRS, capture=()).logits.double().numpy(), atol=1e-6)
    np.testing.assert_allclose(got[-1, 0], F.forward(a, PAIRS, capture=()).logits.double().numpy(), atol=1e-6)


def test_swap_refuses_other_architectures_and_bases(tiny_xlmr, tiny_qwen2, tmp_path):
    with pytest.raises(MltError, match="architecture.*model_type xlm-roberta vs qwen2"):
        swap_logits(load_checkpoint(tiny_xlmr), load_checkpoint(tiny_qwen2), PAIRS)
    other = make_tiny_checkpoint(tmp_path / "other", seed=4, meta={"base": "some-other-base", "train_langs": ["hi"]})
    with pytest.raises(MltError, match="some-other-base.*not the same base"):
        swap_logits(load_checkpoint(tiny_xlmr), load_checkpoint(other), PAIRS)


def test_swap_curve_counts_correct_hybrids_and_is_cached(tiny_xlmr, tiny_xlmr_b):
    a, b = load_checkpoint(tiny_xlmr), load_checkpoint(tiny_xlmr_b)
    data = load_nli("sample", ["en", "hi"], limit=10)
    curve = swap_curve(a, b, data, ["en", "hi"], batch_size=4)
    assert len(curve) == 2 * 2 * (a.n_layers + 1)
    for lang in ("en", "hi"):
        d = data[data["lang"] == lang]
        logits = swap_logits(a, b, list(zip(d["premise"], d["hypothesis"])))
        acc = (logits.argmax(-1) == d["label"].to_numpy()).mean(-1)  # [cut, head]
        c = curve[curve["lang"] == lang]
        for h, name in enumerate((a.name, b.name)):
            np.testing.assert_allclose(c[c["head"] == name].sort_values("cut")["accuracy"], acc[:, h])
    before = F.FORWARD_CALLS["n"]
    again = swap_curve(a, b, data, ["en", "hi"], batch_size=4)
    assert F.FORWARD_CALLS["n"] == before and again.equals(curve)


def test_swap_pair_probabilities_sum_to_one_and_match_the_logits(tiny_xlmr, tiny_xlmr_b):
    a, b = load_checkpoint(tiny_xlmr), load_checkpoint(tiny_xlmr_b)
    df = swap_pair(a, b, *PAIRS[0])
    p = torch.softmax(torch.as_tensor(swap_logits(a, b, PAIRS[:1])[:, 1, 0]), -1).numpy()
    got = df[df["head"] == b.name].sort_values("cut")[["p_entailment", "p_neutral", "p_contradiction"]].to_numpy()
    np.testing.assert_allclose(got, p, atol=1e-9)


@pytest.mark.parametrize("family", ["xlmr", "qwen2"])
def test_patch_with_source_equal_to_target_changes_nothing(family, tiny_xlmr, qwen_pair):
    m = load_checkpoint(tiny_xlmr if family == "xlmr" else qwen_pair[0])
    clean, src, patched = patch_logits(m, PAIRS, m, PAIRS)
    plain = F.forward(m, PAIRS, capture=()).logits.double().numpy()
    np.testing.assert_allclose(clean, plain, atol=1e-6)
    for l in range(m.n_layers + 1):
        np.testing.assert_allclose(patched[l], plain, atol=1e-6, err_msg=f"layer {l}")


@pytest.mark.parametrize("family", ["xlmr", "qwen2"])
def test_patching_the_last_layer_reproduces_the_source_prediction(family, tiny_xlmr, qwen_pair):
    m = load_checkpoint(tiny_xlmr if family == "xlmr" else qwen_pair[0])
    source = PAIRS[1:] + PAIRS[:1]  # another pair for each target
    clean, src, patched = patch_logits(m, PAIRS, m, source)
    np.testing.assert_allclose(src, F.forward(m, source, capture=()).logits.double().numpy(), atol=1e-6)
    np.testing.assert_allclose(patched[-1], src, rtol=0, atol=1e-7)  # the head reads only the pooled token
    assert np.abs(clean - src).max() > 1e-5  # the pairs differ, so this is not trivially true
    if family == "xlmr":  # layer 0: <s> has the same embedding in every pair (position 0), so nothing moves
        np.testing.assert_allclose(patched[0], clean, atol=1e-6)
        assert np.abs(patched[1] - clean).max() > 1e-6


def sharpened(src, out, factor: float = 300.0):
    """A copy of src whose output layer is scaled: a random tiny head is nearly uniform, this one is not."""
    shutil.copytree(src, out)
    sd = load_file(src / "model.safetensors")
    sd = {k: v * factor if k.startswith(("classifier.out_proj", "score")) else v for k, v in sd.items()}
    save_file(sd, out / "model.safetensors", metadata={"format": "pt"})
    return out


def spread_checkpoint(path, seed: int, init: float = 0.5):
    """A tiny XLM-R whose weights are drawn wide (initializer_range 0.5, not 0.02): its pooled state, and so
    its prediction, depends on the input, as a trained model's does (a default random one predicts one label)."""
    from transformers import AutoModelForSequenceClassification

    from tiny import tiny_config, tiny_tokenizer

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(tiny_config("xlmr", initializer_range=init),
                                                           attn_implementation="eager")
    model.save_pretrained(path, safe_serialization=True)
    tiny_tokenizer().save_pretrained(path)
    (path / "mlt.json").write_text(json.dumps({"base": "tiny-xlmr", "train_langs": ["en"]}))
    return path


def test_patch_pair_and_dataset_means(tiny_xlmr, tiny_xlmr_b, tmp_path):
    a = load_checkpoint(spread_checkpoint(tmp_path / "a", seed=0))
    b = load_checkpoint(sharpened(tiny_xlmr_b, tmp_path / "b"))
    df = patch_pair(a, *PAIRS[0], *PAIRS[1])
    assert df["moved"].iloc[-1] == pytest.approx(1.0, abs=1e-6)  # last layer: the source's probabilities
    assert df["predicted"].iloc[-1] == df["source_label"].iloc[0]
    across = patch_pair(a, *PAIRS[0], source_model=b)  # B's pooled state of the same pair into A
    clean, src, patched = patch_logits(a, PAIRS[:1], b, PAIRS[:1])
    np.testing.assert_allclose(across["p_neutral"], torch.softmax(torch.as_tensor(patched[:, 0]), -1)[:, 1].numpy())
    data = load_nli("sample", ["en", "hi"], limit=12)
    mean = patch_dataset(a, data, "en", "hi", limit=12, batch_size=5)
    en, hi = data[data["lang"] == "en"].set_index("id"), data[data["lang"] == "hi"].set_index("id")
    per = [patch_pair(a, hi.at[i, "premise"], hi.at[i, "hypothesis"], en.at[i, "premise"], en.at[i, "hypothesis"])
           for i in hi.index]
    np.testing.assert_allclose(mean["p_source_label"], np.mean([p["p_source_label"] for p in per], 0), atol=1e-9)
    agree = np.mean([p["predicted"] == p["source_label"] for p in per], 0)
    np.testing.assert_allclose(mean["agree_source"], agree)
    assert mean["agree_source"].iloc[-1] == 1.0 and mean["n"].iloc[0] == 12
    # moved: over pairs whose predictions differ, total gain in p(source label) / total gap
    differ = [p for p in per if p["source_label"].iloc[0] != p["target_label"].iloc[0]]
    assert mean["n_differ"].iloc[0] == len(differ) > 0
    gain = sum(p["p_source_label"].to_numpy() - p[f"clean_p_{p['source_label'].iloc[0]}"].iloc[0] for p in differ)
    gap = sum(p[f"source_p_{p['source_label'].iloc[0]}"].iloc[0] - p[f"clean_p_{p['source_label'].iloc[0]}"].iloc[0]
              for p in differ)
    np.testing.assert_allclose(mean["moved"], gain / gap, atol=1e-9)
    assert mean["moved"].iloc[-1] == pytest.approx(1.0) and mean["moved"].iloc[0] == pytest.approx(0.0, abs=1e-9)


def test_weights_of_lape_change_only_its_neurons_and_the_head(tiny_xlmr, trained):
    mods, neu = weight_changes(trained["lape"])  # base from mlt.json
    moved = mods.set_index(["layer", "module"])
    for (layer, module), r in moved.iterrows():
        if module in ("ffn.in", "ffn.out") or layer == "head":
            assert r["n_changed"] > 0 and r["rel_change"] > 0, (layer, module)
        else:
            assert r["n_changed"] == 0 and r["rel_change"] == 0.0, (layer, module)
    for layer, idx in enumerate(NEURONS):
        got = neu[(neu["layer"] == layer) & neu["changed"]]["neuron"].tolist()
        assert got == idx
    # independently: the relative change of one module from the raw tensors
    t, b = load_file(trained["lape"] / "model.safetensors"), load_file(tiny_xlmr / "model.safetensors")
    k = "roberta.encoder.layer.1.intermediate.dense."
    d2 = sum(float(((t[k + s] - b[k + s]) ** 2).sum()) for s in ("weight", "bias"))
    b2 = sum(float((b[k + s] ** 2).sum()) for s in ("weight", "bias"))
    assert moved.loc[("1", "ffn.in"), "rel_change"] == pytest.approx((d2 / b2) ** 0.5, rel=1e-5)


def test_weights_of_full_fine_tuning_change_everywhere(tiny_xlmr, trained):
    mods, neu = weight_changes(trained["full"], tiny_xlmr)
    assert (mods["n_changed"] > 0).all() and (mods["rel_change"] > 0).all()
    assert {"embed", "attn.q", "attn.k", "attn.v", "attn.o", "ffn.in", "ffn.out", "norm", "head"} <= set(mods["module"])
    assert neu["changed"].all()


def test_weights_refuse_a_checkpoint_without_base(tiny_xlmr, tmp_path):
    p = make_tiny_checkpoint(tmp_path / "nobase", meta={"train_langs": ["en"]})
    with pytest.raises(MltError, match="no 'base'"):
        weight_changes(p)


@pytest.mark.parametrize("family", ["xlmr", "qwen2"])
def test_interpolation_ends_are_a_and_b_and_the_middle_is_the_average(family, tiny_xlmr, tiny_xlmr_b, qwen_pair):
    pa, pb = (tiny_xlmr, tiny_xlmr_b) if family == "xlmr" else qwen_pair
    a, b = load_checkpoint(pa), load_checkpoint(pb)
    before = {k: v.clone() for k, v in a.model.state_dict().items()}
    got = {alpha: F.forward(m, PAIRS, capture=()).logits.numpy() for alpha, m in mixed_models(a, b, [0.0, 0.5, 1.0])}
    np.testing.assert_allclose(got[0.0], F.forward(a, PAIRS, capture=()).logits.numpy(), atol=1e-6)
    np.testing.assert_allclose(got[1.0], F.forward(b, PAIRS, capture=()).logits.numpy(), atol=1e-6)
    sa, sb = load_file(pa / "model.safetensors"), load_file(pb / "model.safetensors")
    from transformers import AutoModelForSequenceClassification

    mid = AutoModelForSequenceClassification.from_pretrained(pa, attn_implementation="eager").eval()
    mid.load_state_dict({k: (sa[k] + sb[k]) / 2 for k in sa})
    np.testing.assert_allclose(got[0.5], plain_logits(mid, a, PAIRS), atol=1e-6)
    assert all(torch.equal(v, a.model.state_dict()[k]) for k, v in before.items())  # A itself untouched


def test_task_arithmetic_merge_is_a_plus_b_minus_base(tiny_xlmr, trained):
    a, b = load_checkpoint(trained["lape"]), load_checkpoint(trained["full"])
    merged, notes = merged_model(a, b, str(tiny_xlmr))
    sa, sb, s0 = (load_file(p / "model.safetensors") for p in (trained["lape"], trained["full"], tiny_xlmr))
    sd = merged.model.state_dict()
    for k in ("roberta.encoder.layer.0.attention.self.query.weight", "classifier.out_proj.weight",
              "roberta.embeddings.word_embeddings.weight"):
        torch.testing.assert_close(sd[k], sa[k] + sb[k] - s0[k])
    assert notes == []


def test_interpolation_curve_ends_match_plain_evaluation(tiny_xlmr, tiny_xlmr_b):
    from mlt_core.eval.evaluate import predict

    a, b = load_checkpoint(tiny_xlmr), load_checkpoint(tiny_xlmr_b)
    data = load_nli("sample", ["en", "hi"], limit=8)
    curve = interpolation_curve(a, b, data, ["en", "hi"], steps=3, base=str(tiny_xlmr))
    assert sorted(curve["alpha"].dropna().unique().tolist()) == [0.0, 0.5, 1.0]
    for m, alpha in ((a, 0.0), (b, 1.0)):
        for lang in ("en", "hi"):
            p = predict(m, data[data["lang"] == lang])
            row = curve[(curve["alpha"] == alpha) & (curve["lang"] == lang)]
            assert row["accuracy"].item() == pytest.approx((p["gold"] == p["predicted"]).mean())
    merge = curve[curve["kind"] == "task arithmetic"]
    # base = A here, so the merge is B itself
    for lang in ("en", "hi"):
        p = predict(b, data[data["lang"] == lang])
        assert merge[merge["lang"] == lang]["accuracy"].item() == pytest.approx((p["gold"] == p["predicted"]).mean())


def test_lens_probes_match_sklearn_and_are_cached(tiny_xlmr):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlt_core.eval.representations import _stack, internals, train_mask

    m = load_checkpoint(tiny_xlmr)
    data = load_nli("sample", ["en", "hi"], limit=30)
    probes = probes_for(m, data, limit=30)
    stats = internals([m], data, ["en", "hi"], limit=30)
    layer = m.n_layers
    x, meta = _stack(stats, m.name, layer)
    y = np.concatenate([stats[(m.name, l)]["labels"] for l in ("en", "hi")])
    tr = train_mask(meta["id"])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x[tr], y[tr])
    pooled = np.stack([s["pooled"] for s in (stats[(m.name, "en")],)])[0]  # [n, L+1, d]
    np.testing.assert_allclose(apply_probes(probes, pooled)[:, layer], clf.predict_proba(pooled[:, layer]), atol=1e-6)
    assert probes["accuracy"][layer] == pytest.approx((clf.predict(x[~tr]) == y[~tr]).mean())
    before = F.FORWARD_CALLS["n"]
    again = probes_for(m, data, limit=30)  # from the store: no forward at all
    assert F.FORWARD_CALLS["n"] == before and np.array_equal(again["coef"], probes["coef"])
    df = lens_pair(m, *PAIRS[0], probes)
    assert len(df) == m.n_layers + 1
    np.testing.assert_allclose(df[["p_entailment", "p_neutral", "p_contradiction"]].sum(axis=1), 1.0)
    assert fit_probes(stats, m.name)["coef"].shape == (m.n_layers + 1, 3, m.model.config.hidden_size)


def test_cli_runs_each_analysis_and_refuses_with_a_message(tiny_xlmr, tiny_xlmr_b, tiny_qwen2, tmp_path, capsys):
    from mlt_core.cli import main

    out = tmp_path / "swap.csv"
    assert main(["causal", "swap", "--model", str(tiny_xlmr), "--model", str(tiny_xlmr_b), "--langs", "en",
                 "--limit", "4", "--out", str(out)]) == 0
    import pandas as pd

    df = pd.read_csv(out)
    assert set(df["cut"]) == {0, 1, 2} and set(df["head"]) == {"tiny-xlmr", "tiny-xlmr-b"}
    report = tmp_path / "w.html"
    assert main(["causal", "weights", "--model", str(tiny_xlmr_b), "--base", str(tiny_xlmr), "--json",
                 "--report", str(report)]) == 0
    assert "Relative weight change" in report.read_text(encoding="utf-8")
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {r["module"] for r in rows} >= {"attn.q", "ffn.in", "head"}
    assert main(["causal", "swap", "--model", str(tiny_xlmr), "--model", str(tiny_qwen2), "--langs", "en"]) == 2
    assert "do not share an architecture" in capsys.readouterr().err
    assert main(["causal", "patch", "--model", str(tiny_xlmr), "--premise", "a", "--hypothesis", "b"]) == 2


def test_patching_across_models_at_the_last_layer_is_a_head_on_b_state(tiny_xlmr, tiny_xlmr_b, tmp_path):
    """Independently: A's classifier on B's last hidden states (HF output_hidden_states) at <s>."""
    a = load_checkpoint(sharpened(tiny_xlmr, tmp_path / "a"))
    b = load_checkpoint(sharpened(tiny_xlmr_b, tmp_path / "b"))
    clean, src, patched = patch_logits(a, PAIRS, b, PAIRS)
    enc = b.tokenizer([p for p, _ in PAIRS], [h for _, h in PAIRS], padding=True, return_tensors="pt")
    with torch.no_grad():
        hb = b.model(**enc, output_hidden_states=True).hidden_states[-1]  # [n, seq, d]
        want = a.model.classifier(hb).double().numpy()  # reads <s> only
    np.testing.assert_allclose(patched[-1], want, atol=1e-6)
    assert np.abs(patched[-1] - src).max() > 1e-3  # A's head, not B's: not B's prediction


def test_every_chart_compiles_and_carries_its_data(tiny_xlmr, tiny_xlmr_b):
    import pandas as pd

    import vl_convert as vlc

    from mlt_core.charts import causal as C

    a, b = load_checkpoint(tiny_xlmr), load_checkpoint(tiny_xlmr_b)
    data = load_nli("sample", ["en", "hi"], limit=4)
    probes = probes_for(a, load_nli("sample", limit=30), limit=30)
    frames = {C.swap_chart: swap_curve(a, b, data), C.swap_pair_chart: swap_pair(a, b, *PAIRS[0]),
              C.patch_chart: patch_pair(a, *PAIRS[0], *PAIRS[1]), C.patch_dataset_chart: patch_dataset(a, data, "en", "hi"),
              C.weights_heatmap: weight_changes(tiny_xlmr_b, tiny_xlmr)[0],
              C.interpolation_chart: interpolation_curve(a, b, data, steps=2, base=str(tiny_xlmr)),
              C.lens_chart: pd.concat([lens_pair(a, *PAIRS[0], probes), lens_pair(a, *PAIRS[1], probes).assign(model="x")])}
    for fn, df in frames.items():
        chart = fn(df)
        assert vlc.vegalite_to_vega(chart.to_json()).get("marks"), fn.__name__  # Vega compiles it and draws marks
        spec = chart.to_dict()
        rows = sum(len(v) for v in spec.get("datasets", {}).values())
        assert rows >= len(df), fn.__name__  # the chart draws the whole table (long forms have more rows)


def test_a_swap_curve_costs_one_forward_and_half_the_blocks_per_cut(tiny_xlmr, tiny_xlmr_b):
    """The performance contract, counted: 1 recorded forward of A + L(L+1)/2 block calls of B for all L+1 cuts
    (both heads) = (L+3)/2 forward-equivalents per example, within the issue's bound L/2 + 2."""
    from mlt_core.causal import layers as CL

    a, b = load_checkpoint(tiny_xlmr), load_checkpoint(tiny_xlmr_b)
    L = a.n_layers
    f0, b0 = F.FORWARD_CALLS["n"], CL.BLOCK_CALLS["n"]
    swap_logits(a, b, PAIRS)
    forwards, blocks = F.FORWARD_CALLS["n"] - f0, CL.BLOCK_CALLS["n"] - b0
    assert forwards == 1 and blocks == L * (L + 1) // 2
    assert forwards + blocks / L <= L / 2 + 2


def test_merge_averages_the_heads_over_an_untrained_base_head(tiny_xlmr, tiny_xlmr_b, tmp_path):
    base = make_tiny_checkpoint(tmp_path / "base", seed=7, meta={"role": "base", "train_langs": []})
    a, b = load_checkpoint(tiny_xlmr), load_checkpoint(tiny_xlmr_b)
    merged, notes = merged_model(a, b, str(base))
    sa, sb, s0 = (load_file(p / "model.safetensors") for p in (tiny_xlmr, tiny_xlmr_b, base))
    sd = merged.model.state_dict()
    torch.testing.assert_close(sd["classifier.out_proj.weight"], (sa["classifier.out_proj.weight"] +
                                                                 sb["classifier.out_proj.weight"]) / 2)
    k = "roberta.encoder.layer.1.output.dense.weight"
    torch.testing.assert_close(sd[k], sa[k] + sb[k] - s0[k])
    assert notes and "untrained classifier" in notes[0]


def test_a_renamed_copy_hits_the_cache_under_its_own_name(tiny_xlmr, tiny_xlmr_b, tmp_path):
    data = load_nli("sample", ["en"], limit=4)
    a = load_checkpoint(tiny_xlmr)
    swap_curve(a, load_checkpoint(tiny_xlmr_b), data)
    renamed = load_checkpoint(shutil.copytree(tiny_xlmr_b, tmp_path / "renamed"))  # copy2 keeps mtimes
    before = F.FORWARD_CALLS["n"]
    curve = swap_curve(a, renamed, data)
    assert F.FORWARD_CALLS["n"] == before and set(curve["head"]) == {"tiny-xlmr", "renamed"}
    mods, _ = weight_changes(tiny_xlmr_b, tiny_xlmr)
    assert set(weight_changes(tmp_path / "renamed", tiny_xlmr)[0]["model"]) == {"renamed"} != set(mods["model"])


def test_recording_ignores_another_sessions_forward_and_survives_nesting(tiny_xlmr):
    """The app shares a model across threads: another thread's forward during our recording is not recorded;
    forward() entering its own owned hooks inside ours does not switch ours off."""
    import threading

    from mlt_core.causal.layers import record

    m = load_checkpoint(tiny_xlmr)
    with record(m.model) as rec:
        t = threading.Thread(target=lambda: F.forward(m, PAIRS[:1], capture=("mlp",)))  # other owned hooks too
        t.start()
        t.join()
        assert rec.resid_pre == []
        cache = F.forward(m, PAIRS, capture=("hidden", "mlp"))
    assert len(rec.resid_pre) == m.n_layers + 1 and rec.resid_pre[0].shape[0] == len(PAIRS)
    for l in range(m.n_layers + 1):  # block inputs = HF hidden_states (XLM-R: no final norm)
        torch.testing.assert_close(rec.resid_pre[l].float(), cache[f"blocks.{l}.hidden"])
    assert all(not b._forward_pre_hooks for b in m.model.roberta.encoder.layer)  # removed on exit
