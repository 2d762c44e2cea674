"""Each fine-tuning method trains a tiny XLM-R for a few real Trainer steps; what may change, changes.

Invariants: elements outside a method's mask are bit-identical after training, the elements
that changed are a subset of the mask, and mlt.json's trainable count is the mask size.
"""
import json

import pytest
import torch
from safetensors.torch import load_file

from mlt_core.training import methods
from mlt_core.training.config import TrainConfig
from mlt_core.training.methods import apply_method, load_base
from mlt_core.training.trainer import train

NEURONS = [[1, 5, 9], [0, 63]]  # hand-picked LAPE-style neurons of the tiny model (2 layers x 64)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add contention on a busy 2-core box
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def neuron_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("neurons") / "neurons.json"
    p.write_text(json.dumps({"settings": {"top_rate": 0.1}, "languages": ["en", "hi"], "d_ff": 64,
                             "neurons": {"hi": NEURONS, "en": [[2], [3]]}}))
    return p


def run(base, out_dir, method, **kw):
    cfg = TrainConfig(base=str(base), train_langs="hi", name=f"t-{method}", method=method, max_steps=3,
                      lr=1e-2, batch_size=8, train_size=24, eval_limit=6, evals=0, max_length=48,
                      output_dir=str(out_dir), cpu=True, **kw)
    path = train(cfg, log=lambda m: None)
    return path, json.loads((path / "mlt.json").read_text())


def changed(base, ckpt) -> dict:
    """name -> bool tensor of elements that differ (bit-wise) between two checkpoints."""
    a, b = load_file(base / "model.safetensors"), load_file(ckpt / "model.safetensors")
    assert set(a) == set(b)
    return {k: a[k] != b[k] for k in a}


def reference_masks(base, method, neuron_file):
    """The method's masks recomputed on a fresh copy of the base (deterministic: file or seeded)."""
    model = load_base(str(base))[0]
    neurons = json.loads(neuron_file.read_text())["neurons"]["hi"] if method in ("lape", "random") else None
    return apply_method(model, method, neurons=neurons, seed=0)


@pytest.mark.parametrize("method", ["full", "ffn", "lape", "random", "lora"])
def test_changed_elements_are_within_the_mask(method, tiny_xlmr, neuron_file, tmp_path):
    path, meta = run(tiny_xlmr, tmp_path, method, neuron_file=str(neuron_file), weight_decay=0.1)
    ref = reference_masks(tiny_xlmr, method, neuron_file)
    diff = changed(tiny_xlmr, path)
    n_changed, n_mask = 0, 0
    for name, d in diff.items():
        mask = ref.masks.get(name, False)
        mask = torch.ones_like(d) if mask is None else (mask if torch.is_tensor(mask) else torch.zeros_like(d))
        assert not (d & ~mask).any(), f"{method}: frozen elements of {name} changed"
        n_changed += int(d.sum())
        n_mask += int(mask.sum())
    assert meta["trainable_params"] == ref.trainable and meta["total_params"] == ref.total
    assert meta["trainable_fraction"] == pytest.approx(ref.trainable / ref.total)
    if method in ("ffn", "lape", "random"):
        # every allowed element has a non-zero gradient, so at lr 1e-2 each one moves
        assert meta["trainable_params"] == n_mask
        assert n_changed >= 0.99 * n_mask
    if method == "full":  # embedding rows of tokens never seen get no gradient; everything else moves
        assert meta["trainable_params"] == meta["total_params"] and n_changed > 0.5 * n_mask
    if method == "lora":  # merged: the whole query/value matrices (and the head) changed
        assert (path / "adapter" / "adapter_config.json").is_file()
        assert n_changed >= 0.99 * n_mask
        cfg = json.loads((tiny_xlmr / "config.json").read_text())
        d, layers, r = cfg["hidden_size"], cfg["num_hidden_layers"], 8
        head = sum(v.numel() for k, v in load_file(tiny_xlmr / "model.safetensors").items() if k.startswith("classifier"))
        assert meta["trainable_params"] == layers * 2 * r * (d + d) + head
        from mlt_core.model.checkpoint import load_checkpoint

        ck = load_checkpoint(path)  # a plain checkpoint: no peft needed to load or probe it
        assert type(ck.model).__name__ == "XLMRobertaForSequenceClassification" and not ck.untrained_head
    if method in ("lape", "random"):
        assert meta["method_info"]["neurons_per_layer"] == [3, 2]
        assert meta["method_info"]["neuron_elements"] == 5 * (2 * 32 + 1)
        assert (path / "neurons.json").is_file()


def test_lape_selects_exactly_the_neurons(tiny_xlmr, neuron_file, tmp_path):
    path, _ = run(tiny_xlmr, tmp_path, "lape", neuron_file=str(neuron_file))
    diff = changed(tiny_xlmr, path)
    for layer, idx in enumerate(NEURONS):
        rows = diff[f"roberta.encoder.layer.{layer}.intermediate.dense.weight"].any(dim=1)  # [d_ff]
        cols = diff[f"roberta.encoder.layer.{layer}.output.dense.weight"].any(dim=0)  # [d_ff]
        assert rows.nonzero().flatten().tolist() == idx and cols.nonzero().flatten().tolist() == idx
        assert not diff[f"roberta.encoder.layer.{layer}.output.dense.bias"].any()


def test_zero_grad_and_no_decay_alone_keep_frozen_elements_bit_identical(tiny_xlmr, neuron_file, tmp_path,
                                                                           monkeypatch):
    """Without the restoring guard the masks must still hold; without the no-decay group they must not."""
    from transformers import TrainerCallback

    monkeypatch.setattr(methods, "FreezeGuard", lambda params: TrainerCallback())
    path, _ = run(tiny_xlmr, tmp_path, "lape", neuron_file=str(neuron_file), weight_decay=0.1)
    ref = reference_masks(tiny_xlmr, "lape", neuron_file)
    diff = changed(tiny_xlmr, path)
    assert all(not (diff[n] & ~m).any() for n, m in ref.masks.items() if m is not None)

    real = methods.apply_method

    def decay_everything(*a, **k):
        s = real(*a, **k)
        s.no_decay = set()
        return s

    monkeypatch.setattr(methods, "apply_method", decay_everything)
    path, _ = run(tiny_xlmr, tmp_path / "decayed", "lape", neuron_file=str(neuron_file), weight_decay=0.1)
    diff = changed(tiny_xlmr, path)
    leaked = sum(int((diff[n] & ~m).sum()) for n, m in ref.masks.items() if m is not None)
    assert leaked > 0, "the test would not notice decayed frozen weights"


def test_lape_identifies_neurons_on_the_base_and_random_matches_its_counts(tiny_xlmr, tmp_path):
    _, lape = run(tiny_xlmr, tmp_path, "lape", top_rate=0.2)
    _, rand = run(tiny_xlmr, tmp_path, "random", top_rate=0.2)
    info, rinfo = lape["method_info"], rand["method_info"]
    assert info["neurons_total"] > 0 and "identified on the base" in info["neuron_source"]
    assert rinfo["neurons_per_layer"] == info["neurons_per_layer"]
    assert rand["trainable_params"] == lape["trainable_params"]
    assert "head" in lape and lape["head"]


def test_counts_without_training(tiny_xlmr):
    model = load_base(str(tiny_xlmr))[0]
    total = sum(p.numel() for p in model.parameters())
    head = sum(p.numel() for n, p in model.named_parameters() if n.startswith("classifier"))
    ffn = sum(p.numel() for n, p in model.named_parameters()
              if ".intermediate.dense." in n or (".output.dense." in n and ".attention." not in n))
    s = apply_method(model, "ffn")
    assert s.trainable == ffn + head and s.total == total
    assert {n for n, p in model.named_parameters() if p.requires_grad} == set(s.masks)
    model = load_base(str(tiny_xlmr))[0]
    s = apply_method(model, "random", neurons=NEURONS, seed=3)
    s2 = apply_method(load_base(str(tiny_xlmr))[0], "random", neurons=NEURONS, seed=3)
    assert all(torch.equal(s.masks[k], s2.masks[k]) for k in s.masks if s.masks[k] is not None)  # seeded
    assert s.trainable == 5 * (2 * 32 + 1) + head


def test_load_base_shares_load_checkpoints_loader(tiny_xlmr, tmp_path, monkeypatch):
    # one loader for both: load_base refuses what load_checkpoint refuses, with the same message
    from mlt_core.errors import MltError
    from mlt_core.model import checkpoint
    from tiny import make_tiny_checkpoint

    pickle_only = tmp_path / "pickled"
    pickle_only.mkdir()
    (pickle_only / "config.json").write_text("{}")
    (pickle_only / "pytorch_model.bin").write_bytes(b"x")
    msgs = []
    for load in (load_base, checkpoint.load_checkpoint):
        with pytest.raises(MltError) as e:
            load(str(pickle_only))
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1] and "pickle" in msgs[0]
    calls = []
    real = checkpoint.load_pretrained
    monkeypatch.setattr(checkpoint, "load_pretrained", lambda *a, **k: (calls.append(k), real(*a, **k))[1])
    # a bare encoder (no head): a new 3-way head in canonical order, reported as new
    bare = make_tiny_checkpoint(tmp_path / "bare", "xlmr", head=False)
    model, tok, label_map, head = load_base(str(bare))
    assert label_map == [0, 1, 2] and head.startswith("new:")
    assert model.config.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    assert model.classifier.out_proj.out_features == 3
    # an MNLI-ordered 3-way head is kept, its logits mapped by name
    mnli = make_tiny_checkpoint(tmp_path / "mnli", "xlmr", id2label={0: "contradiction", 1: "neutral", 2: "entailment"})
    _, _, label_map, head = load_base(str(mnli))
    assert label_map == [2, 1, 0] and head == "from the base checkpoint"
    assert len(calls) == 2 and all(k.get("ignore_mismatched_sizes") for k in calls)


def test_one_definition_of_the_shared_constants():
    from mlt_core import io
    from mlt_core.data import langs, templates
    from mlt_core.data.templates import generate_pairs
    from mlt_core.model import checkpoint
    from mlt_core.training import methods

    # the sample's languages: what the templates really generate
    assert tuple(dict.fromkeys(generate_pairs(40, seed=0, split="train")["lang"])) == langs.SAMPLE_LANGS
    assert templates.LANGS is langs.SAMPLE_LANGS
    assert methods.HEAD_NAMES is checkpoint.HEAD_NAMES
    assert checkpoint.is_head("classifier.out_proj.weight") and checkpoint.is_head("score.weight")
    assert not checkpoint.is_head("roberta.encoder.layer.0.attention.self.query.weight")
    assert (io.REPO_ROOT / "mlt_core" / "io.py").is_file() and checkpoint.REPO_ROOT is io.REPO_ROOT


def test_no_import_cycle_between_methods_and_train():
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, mlt_core.training.methods; "
            "bad = any(n in sys.modules for n in ('mlt_core.training.trainer', 'mlt_core.training.config')); "
            "import mlt_core.training as t, mlt_core.training.methods as m; "
            "print(bad, tuple(t.METHODS) == m.SUPPORTED)")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root)
    assert out.stdout.split() == ["False", "True"], out.stderr[-500:]
    # and the reason train imports methods inside _train: `import mlt_core.training.trainer` stays free of torch
    light = subprocess.run([sys.executable, "-c", "import sys, mlt_core.training.trainer; print('torch' in sys.modules)"],
                           capture_output=True, text=True, timeout=120, cwd=root)
    assert light.stdout.strip() == "False", light.stderr[-500:]


def test_lora_on_bert_targets_query_and_value(tmp_path):
    """The realistic demo is BERT (multilingual-e5-small): LoRA finds its attention.self.query/value, and only those."""
    from tiny import make_tiny_checkpoint

    bert = make_tiny_checkpoint(tmp_path / "bert", family="bert")
    cfg = json.loads((bert / "config.json").read_text())
    d, layers, r = cfg["hidden_size"], cfg["num_hidden_layers"], 8
    s = apply_method(load_base(str(bert))[0], "lora", lora_r=r)
    trainable = {n for n, p in s.model.named_parameters() if p.requires_grad}
    expect = {f"base_model.model.bert.encoder.layer.{l}.attention.self.{m}.lora_{ab}.default.weight"
              for l in range(layers) for m in ("query", "value") for ab in "AB"}
    expect |= {f"base_model.model.classifier.modules_to_save.default.{w}" for w in ("weight", "bias")}
    assert trainable == expect
    assert s.trainable == layers * 2 * r * (d + d) + (d * 3 + 3)  # A [r, d] + B [d, r] per target; head d -> 3
    assert s.info["lora_targets"] == 2 * layers
