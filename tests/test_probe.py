"""The probe API and forward pass on tiny real checkpoints, against direct transformers calls."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from mlt_core.api import probe
from mlt_core.data.labels import LABELS
from mlt_core.errors import MltError
from mlt_core.forward import forward
from mlt_core.model.arch import ffn_layers
from mlt_core.model.checkpoint import load_checkpoint
from mlt_core.probes.similarity import layer_similarity

ROOT = Path(__file__).resolve().parent.parent
P, H = "the boy is eating an apple", "लड़का सेब खा रहा है।"


def _direct(path, premise, hypothesis):
    """Reference: plain transformers, default attention, no mlt code."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    enc = tok(premise, hypothesis, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits[0]
    return model, tok, enc, logits.softmax(-1)


@pytest.mark.parametrize("fixture", ["tiny_xlmr", "tiny_qwen2"])
def test_probs_match_a_direct_model_call(fixture, request):
    path = request.getfixturevalue(fixture)
    res = probe([str(path)], P, H)["models"][0]
    _, tok, enc, ref = _direct(path, P, H)
    got = [res["probs"][l] for l in LABELS]
    assert np.allclose(got, ref.numpy(), atol=1e-5)
    assert sum(got) == pytest.approx(1.0, abs=1e-6)
    assert res["label"] == LABELS[int(ref.argmax())]
    assert res["tokens"] == tok.convert_ids_to_tokens(enc["input_ids"][0])


def test_mnli_ordered_checkpoint_comes_out_right(tiny_xlmr, tmp_path):
    """Same weights with classifier rows permuted to MNLI order + MNLI id2label: same answer per label name."""
    import shutil

    mnli = tmp_path / "mnli"
    shutil.copytree(tiny_xlmr, mnli)
    w = load_file(mnli / "model.safetensors")
    perm = [2, 1, 0]  # MNLI logit i = XNLI logit perm[i]
    for k in ("classifier.out_proj.weight", "classifier.out_proj.bias"):
        w[k] = w[k][perm].contiguous()
    save_file(w, mnli / "model.safetensors", metadata={"format": "pt"})
    cfg = json.loads((mnli / "config.json").read_text())
    cfg["id2label"] = {"0": "contradiction", "1": "neutral", "2": "entailment"}
    cfg["label2id"] = {v: int(k) for k, v in cfg["id2label"].items()}
    (mnli / "config.json").write_text(json.dumps(cfg))
    a, b = probe([str(tiny_xlmr), str(mnli)], P, H)["models"]
    for l in LABELS:
        assert b["probs"][l] == pytest.approx(a["probs"][l], abs=1e-6)
    # and the raw model really is permuted: its logit 0 is contradiction
    _, _, _, raw = _direct(mnli, P, H)
    assert raw[0].item() == pytest.approx(a["probs"]["contradiction"], abs=1e-5)


def _entropy_by_hand(att_row, n_keys):
    h = -sum(p * math.log(p) for p in att_row if p > 0)
    return h, (h / math.log(n_keys) if n_keys > 1 else 0.0)


@pytest.mark.parametrize("fixture", ["tiny_xlmr", "tiny_qwen2"])
def test_attention_entropy_matches_hand_loop(fixture, request):
    path = request.getfixturevalue(fixture)
    res = probe([str(path)], P, H)["models"][0]
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager").eval()
    enc = tok(P, H, return_tensors="pt")
    with torch.no_grad():
        att = model(**enc, output_attentions=True).attentions
    n = enc["input_ids"].shape[1]
    causal = fixture == "tiny_qwen2"
    for layer in range(len(att)):
        for head in range(att[layer].shape[1]):
            vals = [_entropy_by_hand(att[layer][0, head, q].tolist()[: (q + 1 if causal else n)], q + 1 if causal else n)
                    for q in range(n)]
            assert res["attention_entropy"][layer][head] == pytest.approx(np.mean([v[0] for v in vals]), abs=1e-5)
            assert res["attention_entropy_normalized"][layer][head] == pytest.approx(np.mean([v[1] for v in vals]), abs=1e-5)


def test_padding_does_not_change_a_pairs_views(tiny_xlmr):
    """Batched with a longer pair (so padded), a pair's probs/entropy equal its unbatched values."""
    ck = load_checkpoint(tiny_xlmr)
    alone = forward(ck, [(P, "a dog")])
    batch = forward(ck, [(P, "a dog"), (P + " " + P, H + " " + H)])
    assert batch.attention_mask[0].sum() < batch.attention_mask.shape[1]  # really padded
    assert torch.allclose(alone.probs[0], batch.probs[0], atol=1e-5)
    from mlt_core.probes.entropy import entropy_per_example

    assert torch.allclose(entropy_per_example(alone)[0][0], entropy_per_example(batch)[0][0], atol=1e-5)


def test_similarity_of_a_model_with_itself_and_across(tiny_xlmr, tiny_xlmr_b, tiny_qwen2):
    same = probe([str(tiny_xlmr), str(tiny_xlmr)], P, H)["layer_similarity"]
    assert [r["layer"] for r in same] == [0, 1, 2]  # embeddings + 2 blocks
    assert all(r["cosine"] == pytest.approx(1.0) and r["cka"] == pytest.approx(1.0) for r in same)
    diff = probe([str(tiny_xlmr), str(tiny_xlmr_b)], P, H)["layer_similarity"]
    assert all(r["cka"] is not None and r["cka"] < 0.999 for r in diff)
    # CKA by hand at the last layer: one pair has fewer tokens than dimensions, so the default is the
    # debiased estimator (unbiased HSIC, Song et al. 2012, transcribed here); the biased one on request
    a, b = load_checkpoint(tiny_xlmr), load_checkpoint(tiny_xlmr_b)
    ca, cb = forward(a, [(P, H)]), forward(b, [(P, H)])
    x, y = ca["blocks.2.hidden"][0].double().numpy(), cb["blocks.2.hidden"][0].double().numpy()
    n = x.shape[0]
    assert n < x.shape[1]

    def hsic1(k, l):
        k, l = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
        one = np.ones(n)
        return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * (one @ k @ l @ one)) / (n * (n - 3))

    kx, ky = x @ x.T, y @ y.T
    assert diff[2]["cka"] == pytest.approx(hsic1(kx, ky) / np.sqrt(hsic1(kx, kx) * hsic1(ky, ky)), rel=1e-6)
    xc, yc = x - x.mean(0), y - y.mean(0)
    biased = np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    assert layer_similarity(ca, cb, debiased=False)["cka"].iloc[2] == pytest.approx(biased, rel=1e-6)
    # cosine of mean-pooled states by hand
    pa, pb = ca["blocks.2.hidden"][0].mean(0).double(), cb["blocks.2.hidden"][0].mean(0).double()
    assert diff[2]["cosine"] == pytest.approx(float(pa @ pb / (pa.norm() * pb.norm())), abs=1e-6)


def test_one_forward_gives_every_view_and_hooks_are_removed(tiny_xlmr):
    ck = load_checkpoint(tiny_xlmr)
    cache = forward(ck, [(P, H)])
    L = ck.n_layers
    assert {f"blocks.{l}.attn.pattern" for l in range(L)} <= set(cache.acts)
    assert {f"blocks.{l}.hidden" for l in range(L + 1)} <= set(cache.acts)
    assert {f"blocks.{l}.mlp.post" for l in range(L)} <= set(cache.acts)
    assert cache["blocks.0.mlp.post"].shape[-1] == ck.model.config.intermediate_size
    for ffn in ffn_layers(ck.model):
        assert not ffn.act._forward_hooks
    # the captured FFN activation equals GELU(dense(x)) on the FFN's own input, recorded separately
    seen = {}
    def record(mod, inp, out):
        seen["x"] = inp[0].detach()  # returns None: the output is left alone

    h = ffn_layers(ck.model)[1].ins[0].register_forward_hook(record)
    try:
        forward(ck, [(P, H)], capture=())
    finally:
        h.remove()
    with torch.inference_mode():
        ref = torch.nn.functional.gelu(ffn_layers(ck.model)[1].ins[0](seen["x"]))
    assert torch.allclose(cache["blocks.1.mlp.post"], ref, atol=1e-5)


def test_hooks_removed_even_when_the_forward_fails(tiny_xlmr):
    ck = load_checkpoint(tiny_xlmr)
    with pytest.raises(Exception):
        forward(ck, [(P, H)], interventions={0: [10 ** 6]})  # index out of range inside the hook
    assert all(not f.act._forward_hooks for f in ffn_layers(ck.model))


def test_intervention_zeroes_exactly_the_chosen_neurons(tiny_xlmr):
    ck = load_checkpoint(tiny_xlmr)
    base = forward(ck, [(P, H)])
    off = forward(ck, [(P, H)], interventions={1: [0, 5, 7]})
    m = off["blocks.1.mlp.post"][0]
    assert torch.all(m[:, [0, 5, 7]] == 0)
    keep = [i for i in range(m.shape[-1]) if i not in (0, 5, 7)]
    assert torch.allclose(m[:, keep], base["blocks.1.mlp.post"][0][:, keep])
    assert torch.allclose(off["blocks.0.mlp.post"], base["blocks.0.mlp.post"])  # earlier layer untouched


def test_truncation_is_reported(tiny_xlmr):
    long = " ".join(["the boy is eating an apple"] * 40)
    res = probe([str(tiny_xlmr)], long, H)["models"][0]
    ck = load_checkpoint(tiny_xlmr)
    assert res["truncated"] is True
    assert len(res["tokens"]) == ck.max_length == 64  # 66 positions minus XLM-R's pad offset of 2
    assert any("truncated" in w for w in res["warnings"])


def test_untrained_head_is_flagged(tmp_path):
    from tiny import make_tiny_checkpoint

    path = make_tiny_checkpoint(tmp_path / "bare", head=False)
    res = probe([str(path)], P, H)["models"][0]
    assert res["untrained_head"] is True
    assert any("UNTRAINED HEAD" in w for w in res["warnings"])


def test_not_a_checkpoint_errors(tmp_path, tiny_xlmr):
    import shutil

    with pytest.raises(MltError, match="does not exist"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MltError, match="no config.json"):
        load_checkpoint(tmp_path / "empty")
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_xlmr, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    with pytest.raises(MltError, match="pickle"):
        load_checkpoint(pickled)
    notok = tmp_path / "notok"
    shutil.copytree(tiny_xlmr, notok)
    for f in notok.iterdir():
        if "token" in f.name or f.name == "special_tokens_map.json":
            f.unlink()
    with pytest.raises(MltError, match="tokenizer"):
        load_checkpoint(notok)
    with pytest.raises(MltError, match="premise is empty"):
        probe([str(tiny_xlmr)], "  ", H)


def _cli(*args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mlt_core", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_cli_json_and_table(tiny_xlmr, tiny_xlmr_b):
    r = _cli("probe", "--model", str(tiny_xlmr), "--model", str(tiny_xlmr_b), "--premise", P, "--hypothesis", H, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [m["name"] for m in out["models"]] == ["tiny-xlmr", "tiny-xlmr-b"]
    assert out["models"][0] == probe([str(tiny_xlmr)], P, H)["models"][0]
    assert len(out["layer_similarity"]) == 3
    r = _cli("probe", "--model", str(tiny_xlmr), "--premise", P, "--hypothesis", H)
    assert r.returncode == 0 and "tiny-xlmr" in r.stdout and "normalised" in r.stdout


@pytest.mark.parametrize("args,msg", [
    (["--model", "/no/such/dir", "--premise", "a", "--hypothesis", "b"], "does not exist"),
    (["--model", "{ck}", "--premise", "", "--hypothesis", "b"], "premise is empty"),
])
def test_cli_bad_input_is_one_line_without_traceback(args, msg, tiny_xlmr):
    r = _cli("probe", *[a.replace("{ck}", str(tiny_xlmr)) for a in args])
    assert r.returncode == 2
    assert msg in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error:")


def test_hooks_act_only_for_their_own_call_across_threads(tiny_xlmr):
    """Two browser sessions share one cached model: one session's intervention must not leak."""
    import threading

    from mlt_core.forward import hooks

    ck = load_checkpoint(tiny_xlmr)
    clean = forward(ck, [(P, H)], capture=())
    entered, release, other = threading.Event(), threading.Event(), {}

    def session_a():  # holds hooks that zero every neuron of layer 0, and waits
        with hooks(ck.model, {}, {0: list(range(ck.model.config.intermediate_size))}):
            entered.set()
            release.wait(30)

    t = threading.Thread(target=session_a)
    t.start()
    entered.wait(30)
    try:
        other["cache"] = forward(ck, [(P, H)], capture=())  # session B, same model, meanwhile
    finally:
        release.set()
        t.join()
    assert torch.allclose(other["cache"].probs, clean.probs)
    zeroed = forward(ck, [(P, H)], capture=(), interventions={0: list(range(ck.model.config.intermediate_size))})
    assert not torch.allclose(zeroed.probs, clean.probs)  # the intervention itself does act


def test_a_probe_added_through_the_registry_reaches_the_cli_and_the_json(tiny_xlmr, tiny_xlmr_b, capsys):
    # a throw-away probe, registered here only: no other file knows about it
    import pandas as pd

    from mlt_core import probes
    from mlt_core.cli import main

    def n_tokens(cache, i=0):
        """How many tokens the model saw (padding excluded)."""
        return pd.DataFrame({"n": [int(cache.attention_mask[i].sum())]})

    def same_argmax(a, b, i=0):
        """Whether the two models predict the same label."""
        return pd.DataFrame({"same": [bool(a.probs[i].argmax() == b.probs[i].argmax())]})

    def decoder_only(cache, i=0):
        """Never runs on an encoder."""
        raise AssertionError("ran on an incompatible model")

    probes.register("n_tokens_test", n_tokens)
    probes.register("same_argmax_test", same_argmax, kind="pair")
    probes.register("decoder_only_test", decoder_only, families=("decoder",))
    try:
        args = ["probe", "--model", str(tiny_xlmr), "--model", str(tiny_xlmr_b), "--premise", P, "--hypothesis", H]
        assert main([*args, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        expected_n = [len(m["tokens"]) for m in out["models"]]  # no padding for one example
        assert [m["probes"]["n_tokens_test"] for m in out["models"]] == [[{"n": n}] for n in expected_n]
        same = out["models"][0]["label"] == out["models"][1]["label"]
        assert out["pair_probes"]["same_argmax_test"] == [{"same": same}]
        entries = {e["name"]: e for e in out["registry"]}
        assert entries["n_tokens_test"] == {"name": "n_tokens_test", "kind": "model", "skipped": None,
                                            "help": "How many tokens the model saw (padding excluded)."}
        assert entries["same_argmax_test"]["kind"] == "pair"
        assert "decoder" in entries["decoder_only_test"]["skipped"]
        assert all("decoder_only_test" not in m["probes"] for m in out["models"])
        assert main(args) == 0
        text = capsys.readouterr().out
        assert "-- n_tokens_test: How many tokens the model saw (padding excluded)." in text
        assert "-- same_argmax_test (tiny-xlmr vs tiny-xlmr-b): Whether the two models predict the same label." in text
        assert "-- decoder_only_test: skipped: decoder_only_test runs on decoder models" in text
        # one model: the pair probe is not run (and not reported as a failure)
        assert main(["probe", "--model", str(tiny_xlmr), "--premise", P, "--hypothesis", H, "--json"]) == 0
        one = json.loads(capsys.readouterr().out)
        assert one["pair_probes"] == {} and "second" in {e["name"]: e for e in one["registry"]}["same_argmax_test"]["skipped"]
    finally:
        for name in ("n_tokens_test", "same_argmax_test", "decoder_only_test"):
            probes.unregister(name)
    assert "n_tokens_test" not in probes.REGISTRY and "n_tokens_test" not in probes.PROBES


def test_residual_names_say_input_or_output_of_a_block(tiny_xlmr):
    from mlt_core.forward import act_name

    ck = load_checkpoint(tiny_xlmr)
    layers = ck.model.roberta.encoder.layer
    seen = {}
    handles = [m.register_forward_pre_hook(lambda mod, args, l=l: seen.__setitem__(("in", l), args[0].detach().clone()))
               for l, m in enumerate(layers)]
    handles += [m.register_forward_hook(lambda mod, args, out, l=l: seen.__setitem__(
        ("out", l), (out[0] if isinstance(out, tuple) else out).detach().clone())) for l, m in enumerate(layers)]
    try:
        cache = forward(ck, [(P, H)])
    finally:
        for h in handles:
            h.remove()
    L = ck.n_layers
    for l in range(L):
        assert act_name(l, "resid_pre") == f"blocks.{l}.resid_pre"
        assert torch.allclose(cache[act_name(l, "resid_pre")], seen[("in", l)], atol=1e-6)  # what block l took in
        assert torch.allclose(cache[act_name(l, "resid_post")], seen[("out", l)], atol=1e-6)  # what it gave out
    # the alias keeps HF's L+1 hidden states: 0 = embeddings (block 0's input), L = the last block's output
    assert cache["blocks.0.hidden"] is cache[act_name(0, "resid_pre")]
    assert cache[f"blocks.{L}.hidden"] is cache[act_name(L - 1, "resid_post")]
    assert act_name(L, "resid_pre") not in cache.acts and act_name(L, "resid_post") not in cache.acts
    with pytest.raises(ValueError, match="unknown activation kind"):
        act_name(0, "resid_mid")
