"""The demo build (reduced size): files, configs, mlt.json, idempotence. The full build is not run in tests."""
import json

import pytest
import torch

from mlt_core.cli import main
from mlt_core.demo import build_demo
from mlt_core.demo.tiny import DEMO_VERSION, NAMES
from mlt_core.model.checkpoint import list_checkpoints, load_checkpoint


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("demo") / "models"
    lines = []
    build_demo(out, quick=True, log=lines.append)
    yield out, lines
    torch.set_num_threads(n)


def test_builds_every_checkpoint(demo):
    out, lines = demo
    assert [c["name"] for c in list_checkpoints(out)] == sorted(NAMES)
    for name in NAMES:
        files = {p.name for p in (out / name).iterdir()}
        assert {"config.json", "model.safetensors", "tokenizer.json", "mlt.json"} <= files, name
        meta = json.loads((out / name / "mlt.json").read_text())
        assert meta["demo_version"] == DEMO_VERSION and meta["demo_size"] == "quick"
    base = json.loads((out / "demo-base" / "mlt.json").read_text())
    assert base["role"] == "base" and base["untrained_head"] is True and "untrained" in base["head"]
    for name, langs in (("demo-en", ["en"]), ("demo-hi", ["hi"]), ("demo-en-hi", ["en", "hi"])):
        meta = json.loads((out / name / "mlt.json").read_text())
        assert meta["train_langs"] == langs and meta["method"] == "full" and meta["role"] == "fine-tuned"
        assert meta["hyperparameters"]["train_pairs"] == 60  # the same pair budget, split over its languages
        assert set(meta["metrics"]["accuracy"]) == {"en", "hi", "fr", "es"}
        assert meta["base"] == "demo-base" and meta["head"].startswith("new")
    assert any("built in" in l for l in lines) and any("masked-LM warm-up" in l for l in lines)
    assert not (out / ".runs").exists() or not any((out / ".runs").iterdir())


def test_base_is_an_explicit_xlmr_config(demo):
    out, _ = demo
    cfg = json.loads((out / "demo-base" / "config.json").read_text())
    ck = load_checkpoint(out / "demo-en")
    assert cfg["model_type"] == "xlm-roberta" and cfg["architectures"] == ["XLMRobertaForSequenceClassification"]
    assert cfg["type_vocab_size"] == 1 and cfg["pad_token_id"] == 1 and cfg["bos_token_id"] == 0
    assert cfg["eos_token_id"] == 2 and cfg["vocab_size"] == len(ck.tokenizer)
    assert cfg["max_position_embeddings"] == 130 and ck.max_length == 128
    assert cfg["id2label"] == {"0": "entailment", "1": "neutral", "2": "contradiction"}
    assert not ck.untrained_head and ck.label_order == [0, 1, 2]


def test_second_build_is_a_fast_no_op(demo, capsys):
    out, _ = demo
    mtimes = {n: (out / n / "model.safetensors").stat().st_mtime_ns for n in NAMES}
    assert main(["demo", "--quick", "--output-dir", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert mtimes == {n: (out / n / "model.safetensors").stat().st_mtime_ns for n in NAMES}
