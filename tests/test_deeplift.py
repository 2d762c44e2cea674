"""DeepLIFT (mlt_core/attribution/deeplift.py) checked independently: Captum's DeepLift on an MLP with ReLU/Tanh,
summation-to-delta on tiny XLM-R and Qwen2 with the treated network's baseline logit recomputed by
hand (XLM-R), and that it differs from input x gradient on a GELU model."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mlt_core.attribution.attribute import EmbedsToLogits, attribute, baseline_embeddings, prepare, word_embeddings
from mlt_core.attribution.deeplift import deeplift, treated_modules
from mlt_core.model.checkpoint import load_checkpoint

PREMISE, HYPOTHESIS = "A man is eating food in the park.", "Someone eats."


@pytest.fixture(scope="module")
def lively(tmp_path_factory):
    from test_attribute import make_lively_checkpoint

    return load_checkpoint(make_lively_checkpoint(tmp_path_factory.mktemp("dl") / "lively-xlmr", seed=1))


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    from transformers import AutoModelForSequenceClassification

    from tiny import tiny_config, tiny_tokenizer

    torch.manual_seed(2)  # larger weights than the fixture's, so the logits depend on the words
    path = tmp_path_factory.mktemp("dlq") / "lively-qwen2"
    model = AutoModelForSequenceClassification.from_config(tiny_config("qwen2", initializer_range=0.5),
                                                           attn_implementation="eager")
    tok = tiny_tokenizer()
    model.config.pad_token_id = tok.pad_token_id
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return load_checkpoint(path)


@pytest.mark.filterwarnings("ignore:Setting forward, backward hooks")
def test_equals_captum_deeplift_on_relu_tanh_mlp():
    from captum.attr import DeepLift

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3)).eval()
    x, ref = torch.randn(4, 6), torch.randn(4, 6) * 0.3
    ours = deeplift(net, net, x, ref, target=1)
    theirs = DeepLift(net).attribute(x.clone().requires_grad_(True), baselines=ref, target=1)
    torch.testing.assert_close(ours["attr"], theirs.detach(), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(ours["attr"].sum(1), net(x)[:, 1] - net(ref)[:, 1], rtol=1e-5, atol=1e-5)
    assert ours["fidelity"] < 1e-6


def _treated_xlmr_logits(model, x, x_ref, pos):
    """XLM-R by hand on x, then on x_ref with x's attention probabilities and LayerNorm std.  # [2, n_logits]"""
    held, out = {"probs": [], "std": []}, []

    def ln(mod, h, k, replay):
        mu, std = h.mean(-1, keepdim=True), torch.sqrt(h.var(-1, unbiased=False, keepdim=True) + mod.eps)
        if replay:
            std = held["std"][k]
        else:
            held["std"].append(std)
        return (h - mu) / std * mod.weight + mod.bias

    for replay, e in ((False, x), (True, x_ref)):
        k = 0
        emb = model.roberta.embeddings
        h = e + emb.position_embeddings(pos) + emb.token_type_embeddings(torch.zeros_like(pos))
        h = ln(emb.LayerNorm, h, k, replay)
        k += 1
        for li, layer in enumerate(model.roberta.encoder.layer):
            sa = layer.attention.self
            nh, hd = sa.num_attention_heads, sa.attention_head_size
            split = lambda t: t.view(1, -1, nh, hd).transpose(1, 2)  # noqa: E731  [1, head, seq, hd]
            if replay:
                probs = held["probs"][li]
            else:
                probs = (split(sa.query(h)) @ split(sa.key(h)).transpose(-1, -2) * hd ** -0.5).softmax(-1)
                held["probs"].append(probs)
            ctx = (probs @ split(sa.value(h))).transpose(1, 2).reshape(1, -1, nh * hd)
            h = ln(layer.attention.output.LayerNorm, layer.attention.output.dense(ctx) + h, k, replay)
            k += 1
            ff = layer.output.dense(layer.intermediate.intermediate_act_fn(layer.intermediate.dense(h)))
            h = ln(layer.output.LayerNorm, ff + h, k, replay)
            k += 1
        head = model.classifier
        out.append(head.out_proj(torch.tanh(head.dense(h[:, 0]))))
    return torch.cat(out)


def test_xlmr_sums_to_treated_logit_difference(lively):
    p = prepare(lively, PREMISE, HYPOTHESIS)
    x = word_embeddings(p)
    ref = baseline_embeddings(p, x, "zero")
    r = deeplift(EmbedsToLogits(p), lively.model, x, ref, p.logit_index)
    with torch.no_grad():
        by_hand = _treated_xlmr_logits(lively.model, x, ref, p.position_ids)[:, p.logit_index]
    scale = float(by_hand.abs().max())
    assert scale > 0.1  # a real logit, not ~0
    total = float(r["attr"].sum())
    assert abs(total - float(by_hand[0] - by_hand[1])) < 1e-4 * scale
    assert r["fidelity"] < 1e-5 * scale
    # the treated baseline is not the real model on the baseline: that is what the rules change
    with torch.no_grad():
        real_ref = float(EmbedsToLogits(p)(ref)[0, p.logit_index])
    assert abs(real_ref - float(by_hand[1])) > 1e-3
    assert treated_modules(lively.model) == {"layernorm": 5, "activation": 2, "roberta_head": 1}


def test_qwen2_sums_to_treated_logit_difference(qwen):
    p = prepare(qwen, PREMISE, HYPOTHESIS)
    x = word_embeddings(p)
    ref = baseline_embeddings(p, x, "zero")
    r = deeplift(EmbedsToLogits(p), qwen.model, x, ref, p.logit_index)
    scale = max(float(r["f_x"].abs().max()), float(r["f_ref"].abs().max()))
    assert scale > 0.1
    assert abs(float(r["attr"].sum()) - float(r["f_x"][0] - r["f_ref"][0])) < 1e-4 * scale
    assert r["fidelity"] < 1e-5 * scale  # on the input, the treated decoder is the decoder
    with torch.no_grad():
        plain = qwen.model(inputs_embeds=x, attention_mask=p.attention_mask).logits[0, p.logit_index]
    assert float(r["f_x"][0]) == pytest.approx(float(plain), abs=1e-4 * scale)
    assert treated_modules(qwen.model) == {"rmsnorm": 5, "gated_mlp": 2, "activation": 2}


@pytest.mark.parametrize("which", ["xlmr", "qwen2"])
def test_differs_from_input_x_gradient_and_reports_completeness(which, lively, qwen):
    ckpt = lively if which == "xlmr" else qwen
    dl = attribute(ckpt, PREMISE, HYPOTHESIS, "deeplift")
    ixg = attribute(ckpt, PREMISE, HYPOTHESIS, "ixg")
    words = (dl["segment"] != "special").to_numpy()  # specials: DeepLIFT's baseline keeps them, so 0 there
    assert not np.any(dl["score"].to_numpy()[~words])
    a, b = dl["score"].to_numpy()[words], ixg["score"].to_numpy()[words]
    assert np.abs(a - b).max() > 0.2 * np.abs(b).max()  # on the words themselves, not a rounding difference
    assert np.corrcoef(a, b)[0, 1] < 0.99
    assert dl.attrs["convergence_delta"] < 1e-4 * max(1.0, abs(dl.attrs["baseline_logit"]))
    # DeepLIFT adds no warning of its own (the checkpoint's load warnings, e.g. tiny Qwen2's byte-level
    # tokenizer that cannot round-trip Hindi, are passed through and are not about the attribution)
    assert [w for w in dl.attrs["warnings"] if w not in ckpt.warnings] == []


def test_rules_are_undone_and_do_not_leak_into_other_threads(lively):
    import threading

    from mlt_core.attribution import deeplift as D

    p = prepare(lively, PREMISE, HYPOTHESIS)
    x = word_embeddings(p)
    batch = torch.cat([x, baseline_embeddings(p, x)])
    f = EmbedsToLogits(p)
    with torch.no_grad():
        clean = f(batch)
        other = {}
        with D.treated(lively.model):
            held = f(batch)
            t = threading.Thread(target=lambda: other.setdefault("out", f(batch)))
            t.start()
            t.join()
        after = f(batch)
    assert not torch.allclose(held[1], clean[1])  # baseline row: the input's attention and norm scales
    torch.testing.assert_close(held[0], clean[0])
    torch.testing.assert_close(other["out"], clean)
    torch.testing.assert_close(after, clean)
    assert torch.nn.functional.softmax is D._orig_softmax
    assert not any("forward" in m.__dict__ for m in lively.model.modules())


def test_bert_encoder_the_realistic_demos_architecture(tmp_path):
    """BERT (multilingual-e5-small's family): both GELUs and the pooler's tanh get the rescale rule, the
    scores sum to the treated logit difference, and they are not InputXGradient's."""
    from transformers import AutoModelForSequenceClassification

    from tiny import tiny_config, tiny_tokenizer

    torch.manual_seed(3)
    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", initializer_range=0.5),
                                                           attn_implementation="eager")
    model.save_pretrained(tmp_path / "bert")
    tiny_tokenizer().save_pretrained(tmp_path / "bert")
    ckpt = load_checkpoint(tmp_path / "bert")
    assert treated_modules(ckpt.model) == {"layernorm": 5, "activation": 3}  # 2 blocks' GELU + the pooler's tanh
    dl = attribute(ckpt, PREMISE, HYPOTHESIS, "deeplift")
    ixg = attribute(ckpt, PREMISE, HYPOTHESIS, "ixg")
    assert dl.attrs["convergence_delta"] < 1e-4 * max(1.0, abs(dl.attrs["baseline_logit"]))
    assert [w for w in dl.attrs["warnings"] if w not in ckpt.warnings] == []
    words = (dl["segment"] != "special").to_numpy()
    assert np.corrcoef(dl["score"].to_numpy()[words], ixg["score"].to_numpy()[words])[0, 1] < 0.99
