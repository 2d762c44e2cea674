"""Attributions checked against independent computations: IG completeness, hand-computed
gradient x input, the attention rows, DeepLift's rescale rule on a toy ReLU net; bad input; CLI.
DeepLIFT on transformers: tests/test_deeplift.py."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mlt_core.attribution.attribute import Prepared, attribute, attribute_dict, attribute_prepared, method_name, prepare
from mlt_core.cli import main
from mlt_core.errors import MltError
from mlt_core.forward import forward
from mlt_core.model.checkpoint import Checkpoint, load_checkpoint

PREMISE, HYPOTHESIS = "A man is eating food in the park.", "Someone eats."


@pytest.fixture(scope="module")
def xlmr(tiny_xlmr):
    return load_checkpoint(tiny_xlmr)


def make_lively_checkpoint(path, seed: int = 0):
    """A tiny XLM-R with larger random weights (init std 0.5), so its logits really depend on the words
    (at the default 0.02 the empty input is usually as confident as the full one)."""
    from transformers import AutoModelForSequenceClassification

    from tiny import tiny_config, tiny_tokenizer

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(tiny_config("xlmr", initializer_range=0.5),
                                                           attn_implementation="eager")
    model.save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def lively_xlmr(tmp_path_factory):
    return load_checkpoint(make_lively_checkpoint(tmp_path_factory.mktemp("lively") / "lively-xlmr"))


@pytest.fixture(scope="module")
def qwen(tiny_qwen2):
    return load_checkpoint(tiny_qwen2)


@pytest.fixture(scope="module")
def mnli_ordered(tmp_path_factory):
    from tiny import MNLI_ID2LABEL, make_tiny_checkpoint

    return load_checkpoint(make_tiny_checkpoint(tmp_path_factory.mktemp("m") / "mnli", "xlmr", MNLI_ID2LABEL, seed=3))


def _embeds_logits(ckpt, embeds, ids):
    """The model on word embeddings, positions as XLM-R computes them from the ids (independent of mlt)."""
    kw = {}
    if ckpt.model.config.model_type == "xlm-roberta":
        kw["position_ids"] = ckpt.model.roberta.embeddings.create_position_ids_from_input_ids(ids, 1)
    return ckpt.model(inputs_embeds=embeds, **kw).logits  # [n, n_logits]


@pytest.mark.parametrize("family", ["xlmr", "qwen"])
def test_ig_completeness(family, lively_xlmr, qwen):
    """Sum of IG attributions = f(x) - f(baseline) for the target logit (with enough steps)."""
    ckpt = lively_xlmr if family == "xlmr" else qwen
    df = attribute(ckpt, PREMISE, HYPOTHESIS, "ig", target="contradiction", steps=300, internal_batch_size=100)
    cache = forward(ckpt, [(PREMISE, HYPOTHESIS)], capture=())
    ids = cache.input_ids  # [1, seq]
    special = np.array([s is None for s in cache.seq_ids[0]])
    with torch.no_grad():
        x = ckpt.model.get_input_embeddings()(ids)  # [1, seq, d]
        base = x.clone()
        base[0, torch.as_tensor(~special)] = 0.0  # baseline: non-special word embeddings zero
        li = ckpt.label_order[2]
        fx = cache.logits[0, 2].item()  # canonical contradiction, from the shared forward
        fb = _embeds_logits(ckpt, base, ids)[0, li].item()
    assert df.attrs["target"] == "contradiction"
    assert abs(fx - fb) > 1e-4  # a real difference to account for
    assert df["score"].sum() == pytest.approx(fx - fb, rel=2e-3, abs=1e-6)
    assert np.allclose(df.loc[df.segment == "special", "score"], 0.0, atol=1e-9)  # unchanged in the baseline
    assert not any("not converged" in w for w in df.attrs["warnings"])
    if family == "xlmr":  # too few steps: said so, not hidden
        rough = attribute(ckpt, PREMISE, HYPOTHESIS, "ig", target="contradiction", steps=1)
        assert any("not converged" in w for w in rough.attrs["warnings"])


def test_input_x_gradient_matches_hand_gradient(mnli_ordered):
    """InputXGradient = (d logit / d embedding) * embedding summed over d, with MNLI label order mapped."""
    ckpt = mnli_ordered
    assert ckpt.label_order == [2, 1, 0]
    df = attribute(ckpt, PREMISE, HYPOTHESIS, "input_x_gradient", target="entailment")
    enc = ckpt.tokenizer(PREMISE, HYPOTHESIS, return_tensors="pt")
    x = ckpt.model.get_input_embeddings()(enc["input_ids"]).detach().requires_grad_(True)
    logit = _embeds_logits(ckpt, x, enc["input_ids"])[0, 2]  # entailment is logit 2 in MNLI order
    (g,) = torch.autograd.grad(logit, x)
    expected = (g * x).sum(-1)[0].detach().numpy()
    assert df["token"].tolist() == ckpt.tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    np.testing.assert_allclose(df["score"].to_numpy(), expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("family", ["xlmr", "qwen"])
def test_attention_and_scaled_attention_rows(family, xlmr, qwen):
    ckpt = xlmr if family == "xlmr" else qwen
    enc = ckpt.tokenizer(PREMISE, HYPOTHESIS, return_tensors="pt")
    x = ckpt.model.get_input_embeddings()(enc["input_ids"]).detach()
    kw = {}
    if family == "xlmr":
        kw["position_ids"] = ckpt.model.roberta.embeddings.create_position_ids_from_input_ids(enc["input_ids"], 1)
    out = ckpt.model(inputs_embeds=x, output_attentions=True, **kw)
    attn = out.attentions[-1]  # [1, head, q, k]
    row = 0 if family == "xlmr" else enc["input_ids"].shape[1] - 1  # <s> or the last token
    pred = int(out.logits[0].argmax())
    (g,) = torch.autograd.grad(out.logits[0, pred], attn)
    p = prepare(ckpt, PREMISE, HYPOTHESIS)
    assert ckpt.label_order[p.target] == pred  # default target: the prediction
    att = attribute_prepared(p, "attention")["score"].to_numpy()
    sca = attribute_prepared(p, "scaled_attention_per_head")["score"].to_numpy()
    ref = attribute_prepared(p, "scaled_attention")["score"].to_numpy()
    np.testing.assert_allclose(att, attn[0, :, row, :].mean(0).detach().numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sca, (attn * g)[0, :, row, :].mean(0).detach().numpy(), rtol=1e-4, atol=1e-8)
    # multilingual-faith: attention_gradients = weights[:, :, 0, :].mean(1) (grad); (attentions * attention_gradients)
    want = (attn[0, :, row, :].mean(0) * g[0, :, row, :].mean(0)).detach().numpy()
    np.testing.assert_allclose(ref, want, rtol=1e-4, atol=1e-10)
    assert att.sum() == pytest.approx(1.0, abs=1e-5)  # one softmax row


def test_segments_aliases_and_json(xlmr, tiny_xlmr):
    df = attribute(xlmr, PREMISE, HYPOTHESIS, "ixg")
    pd.testing.assert_frame_equal(attribute(str(tiny_xlmr), PREMISE, HYPOTHESIS, "ixg"), df)  # a path works too
    assert list(df.columns) == ["position", "token", "segment", "score"]
    segs = df["segment"].tolist()
    assert segs[0] == "special" and segs[-1] == "special" and {"premise", "hypothesis"} <= set(segs)
    assert segs.index("hypothesis") > max(i for i, s in enumerate(segs) if s == "premise")
    assert method_name("IG") == "integrated_gradients" and method_name("dl") == "deeplift"
    d = attribute_dict(xlmr, PREMISE, HYPOTHESIS, "attention")
    assert json.loads(json.dumps(d))["tokens"][0]["token"] == "<s>"


def test_bad_input(xlmr):
    with pytest.raises(MltError, match="premise is empty"):
        attribute(xlmr, "  ", HYPOTHESIS, "ig")
    with pytest.raises(MltError, match="unknown attribution method"):
        attribute(xlmr, PREMISE, HYPOTHESIS, "lime")
    with pytest.raises(MltError, match="unknown target label"):
        attribute(xlmr, PREMISE, HYPOTHESIS, "attention", target="maybe")
    long = " ".join(["a man is eating food"] * 40)  # far past the tiny model's 64 tokens
    df = attribute(xlmr, long, HYPOTHESIS, "attention")
    assert df.attrs["truncated"] and len(df) == xlmr.max_length
    assert any("truncated" in w for w in df.attrs["warnings"])


class ToyReLU(nn.Module):
    """mean-pooled word embeddings -> Linear -> ReLU -> Linear: DeepLift's rules cover it exactly."""

    def __init__(self, vocab=12, d=4, h=5):
        super().__init__()
        torch.manual_seed(0)
        self.emb, self.l1, self.act, self.l2 = nn.Embedding(vocab, d), nn.Linear(d, h), nn.ReLU(), nn.Linear(h, 3)
        self.config = SimpleNamespace(model_type="toy")

    def get_input_embeddings(self):
        return self.emb

    def forward(self, inputs_embeds, attention_mask=None, position_ids=None, return_dict=True):
        return SimpleNamespace(logits=self.l2(self.act(self.l1(inputs_embeds.mean(1)))))


def test_deeplift_rescale_rule_on_toy_relu_net():
    model = ToyReLU().eval()
    ids = torch.tensor([[0, 5, 7, 9, 2]])
    special = np.array([True, False, False, False, True])
    ckpt = Checkpoint(name="toy", source="toy", model=model, tokenizer=None, meta={}, label_order=[0, 1, 2],
                      untrained_head=False, family="encoder")
    p = Prepared(ckpt=ckpt, input_ids=ids, attention_mask=torch.ones_like(ids), position_ids=None,
                 tokens=list("abcde"), segments=["special", "premise", "premise", "hypothesis", "special"],
                 special=special, keep_always=special, pooled=0, attn_last=torch.zeros(1, 5, 5),
                 probs=np.array([0.2, 0.3, 0.5]), target=2, truncated=False)
    scores = attribute_prepared(p, "deeplift")["score"].to_numpy()
    with torch.no_grad():  # the rescale rule by hand
        x = model.emb(ids)[0]  # [5, d]
        b = x.clone()
        b[torch.as_tensor(~special)] = 0.0
        h, h0 = model.l1(x.mean(0)), model.l1(b.mean(0))  # [hidden]
        m = torch.where((h - h0).abs() > 1e-10, (h.relu() - h0.relu()) / (h - h0), (h > 0).float())
        contrib = (model.l2.weight[2] * m) @ model.l1.weight  # [d]: d logit_2 / d mean-input, DeepLift multipliers
        expected = (((x - b) / x.shape[0]) * contrib).sum(-1).numpy()
        f_delta = (model.l2(model.l1(x.mean(0)).relu()) - model.l2(model.l1(b.mean(0)).relu()))[2].item()
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-7)
    assert scores.sum() == pytest.approx(f_delta, abs=1e-5)  # summation-to-delta, exactly


def test_cli_attribute_json(tiny_xlmr, capsys):
    rc = main(["attribute", "--model", str(tiny_xlmr), "--premise", PREMISE, "--hypothesis", HYPOTHESIS,
               "--method", "ig", "--steps", "16", "--target", "neutral", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["target"] == "neutral" and list(out["methods"]) == ["integrated_gradients"]
    api = attribute(load_checkpoint(tiny_xlmr), PREMISE, HYPOTHESIS, "ig", target="neutral", steps=16)
    np.testing.assert_allclose(out["methods"]["integrated_gradients"], api["score"].to_numpy(), rtol=1e-4, atol=1e-8)
    assert out["tokens"] == api["token"].tolist()
    rc = main(["attribute", "--model", str(tiny_xlmr), "--premise", PREMISE, "--hypothesis", HYPOTHESIS,
               "--method", "deeplift", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and list(out["methods"]) == ["deeplift"] and not out["errors"]
    rc = main(["attribute", "--model", str(tiny_xlmr), "--premise", PREMISE, "--hypothesis", " ", "--json"])
    assert rc == 2 and "hypothesis is empty" in capsys.readouterr().err
