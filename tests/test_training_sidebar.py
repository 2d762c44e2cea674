"""The training sidebar in AppTest: fill the form by key, start a real job, watch it finish, cancel, errors."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlt_core.model import checkpoint
from mlt_core.model.checkpoint import list_checkpoints
from mlt_core.training import jobs

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from ui.widgets.training import render_training_sidebar
render_training_sidebar()
"""


@pytest.fixture
def models(tmp_path, monkeypatch, tmp_path_factory):
    d = tmp_path / "models"
    d.mkdir()
    monkeypatch.setattr(checkpoint, "MODELS_DIR", d)
    monkeypatch.setenv("MLT_MODELS_DIR", str(d))
    # the tiny bases live in pytest's temp folder, outside models/: the "operator" allows it
    monkeypatch.setenv("MLT_ALLOWED_DIRS", str(tmp_path_factory.getbasetemp()))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield d
    for j in jobs.list_jobs():
        jobs.cancel_job(j["id"], grace_s=1)
    st.cache_data.clear()


def app() -> AppTest:
    return AppTest.from_string(SCRIPT.format(root=str(ROOT)), default_timeout=60).run()


def texts(at) -> str:
    return " ".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]
                    + [e.value for e in at.sidebar.error])


def fill(at, base, name, steps=4):
    at.text_input(key="train_base_other").set_value(str(base))
    at.multiselect(key="train_langs").set_value(["hi"])
    at.selectbox(key="train_method").set_value("full")
    at.number_input(key="train_batch_size").set_value(8)
    at.number_input(key="train_max_steps").set_value(steps)
    at.text_input(key="train_name").set_value(name)
    return at


def test_start_a_job_and_watch_it_finish(tiny_xlmr, models):
    at = app()
    assert not at.exception
    assert "No GPU found: training runs on CPU" in texts(at)
    assert "No training job yet" in texts(at)
    fill(at, tiny_xlmr, "from-ui").button(key="train_start").click().run()
    assert not at.exception and not at.sidebar.error, texts(at)
    deadline = time.time() + 180
    while "finished" not in texts(at):
        assert time.time() < deadline, texts(at)
        assert "failed" not in texts(at), texts(at)
        time.sleep(1)
        at.run()
    assert "from-ui" in [c["name"] for c in list_checkpoints(models)]
    assert "from-ui" in texts(at) and not at.exception
    assert at.sidebar.get("arrow_vega_lite_chart") or at.sidebar.get("vega_lite_chart")  # the progress chart
    meta = json.loads((models / "from-ui" / "mlt.json").read_text())
    assert meta["train_langs"] == ["hi"] and meta["hyperparameters"]["steps"] == 4
    # the new checkpoint is offered as a base now, and a duplicate name is an st.error, not a traceback
    assert "from-ui" in at.selectbox(key="train_base").options
    fill(at, tiny_xlmr, "from-ui").button(key="train_start").click().run()
    assert not at.exception and "already exists" in texts(at)


def test_cancel_from_the_sidebar(tiny_xlmr, models):
    at = fill(app(), tiny_xlmr, "long", steps=100000)
    at.button(key="train_start").click().run()
    assert "running" in texts(at)
    job_id = at.session_state["train_job"]
    deadline = time.time() + 120
    while not (jobs.progress(job_id)["event"] == "train").any():
        assert time.time() < deadline and jobs.get_job(job_id)["status"] == "running", jobs.log_tail(job_id)
        time.sleep(0.3)
    at.run()
    at.button(key="train_cancel").click().run()
    assert jobs.get_job(job_id)["status"] == "cancelled" and "cancelled" in texts(at)
    assert list_checkpoints(models) == []


def test_missing_fields_are_an_error_message(models):
    at = app()
    at.multiselect(key="train_langs").set_value([]).run()
    at.button(key="train_start").click().run()
    assert not at.exception and "Choose a base model" in texts(at)


def test_module_import_does_not_load_torch():
    code = "import sys; sys.path.insert(0, %r); import ui.widgets.training; print('torch' in sys.modules, " \
           "'transformers' in sys.modules)" % str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_empty_learning_rate_says_each_methods_default(models):
    at = app()
    lr = at.number_input(key="train_lr")
    assert lr.value is None and lr.placeholder == "by method"
    assert lr.help == "Empty: the method's default (full 2e-05, ffn 5e-05, lora 0.001, lape 0.0003, random 0.0003)"
