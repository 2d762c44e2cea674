"""AppTest of the app shell (app.py) and the Home page, on tiny checkpoints in a temp models/ dir."""
from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import mlt_core.model.checkpoint as ckpt_mod
from tiny import make_tiny_checkpoint, use_models_dir

APP = str(Path(__file__).resolve().parent.parent / "app.py")
META_EN = {"base": "tiny-xlmr", "train_langs": ["en"], "method": "full", "role": "fine-tuned",
           "metrics": {"accuracy": {"en": 0.812, "hi": 0.433}}}
META_HI = {"base": "tiny-xlmr", "train_langs": ["hi"], "method": "lora", "role": "fine-tuned",
           "metrics": {"accuracy": {"en": 0.5, "hi": 0.75}}}


pytestmark = pytest.mark.usefixtures("route_through_app")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Tiny checkpoints: two fine-tuned-looking ones, a bare encoder (no head), a demo-style base."""
    root = tmp_path_factory.mktemp("home-ckpts")
    make_tiny_checkpoint(root / "m-en", seed=0, meta=META_EN)
    make_tiny_checkpoint(root / "m-hi", seed=1, meta=META_HI)
    make_tiny_checkpoint(root / "m-nohead", seed=2, head=False, meta={"base": "tiny-xlmr", "method": "random-init"})
    make_tiny_checkpoint(root / "m-base", seed=3, meta={"role": "base", "base": "random init", "method": "mlm"})
    return root


def run_app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def test_page_titles_and_urls_come_from_filenames():
    from ui.widgets.links import page_title, page_url_path

    assert page_title(Path("pages/5_Language_Neurons.py")) == "Language Neurons"
    assert page_title(Path("pages/1_Home.py")) == "Home"
    assert page_url_path(Path("pages/12_Errors_and_Bias.py")) == "Errors_and_Bias"


def test_every_page_file_is_in_the_navigation(models_dir):
    at = run_app()
    files = sorted(p.name for p in (Path(APP).parent / "pages").glob("*.py") if not p.name.startswith("_"))
    assert "1_Home.py" in files and "2_Playground.py" in files
    for f in files:  # raises ValueError for a file st.navigation did not register
        at.switch_page(f"pages/{f}")


def test_home_lists_checkpoints_with_metadata(models_dir):
    at = run_app()
    assert not at.exception
    df = at.dataframe[0].value
    assert sorted(df["name"]) == ["m-base", "m-en", "m-hi", "m-nohead"]
    row = df.set_index("name").loc["m-en"]
    assert row["train_langs"] == "en" and row["method"] == "full" and row["base"] == "tiny-xlmr"
    assert row["acc_en"] == "81.2%" and row["acc_hi"] == "43.3%"  # mlt.json's 0.812, 0.433, one format
    assert df.set_index("name").loc["m-hi", "acc_hi"] == "75.0%"
    assert df.set_index("name").loc["m-base", "acc_en"] == "—"  # no accuracy: a dash, not "None"


def test_untrained_head_flag_matches_the_loader(models_dir):
    at = run_app()
    flags = at.dataframe[0].value.set_index("name")["untrained_head"].to_dict()
    assert flags == {"m-en": False, "m-hi": False, "m-nohead": True, "m-base": True}
    # the cheap check agrees with actually loading (the loader only sees missing head weights)
    assert ckpt_mod.load_checkpoint(models_dir / "m-nohead").untrained_head is True
    assert ckpt_mod.load_checkpoint(models_dir / "m-en").untrained_head is False
    warned = " ".join(w.value for w in at.warning)
    assert "m-nohead" in warned and "m-base" in warned and "m-en" not in warned


def test_multiselect_sets_selection_and_url(models_dir):
    at = run_app()
    assert at.multiselect(key="home_models").value == ["m-base", "m-en"]  # default: the first two found
    at.multiselect(key="home_models").set_value(["m-hi", "m-en"]).run()
    assert at.session_state["selected_models"] == [str(models_dir / "m-hi"), str(models_dir / "m-en")]
    assert at.query_params["models"] == ["m-hi", "m-en"]
    sidebar = " ".join(h.value for h in at.sidebar.get("html"))
    assert sidebar.index("m-hi") < sidebar.index("m-en")


def test_emptying_the_multiselect_keeps_the_previous_selection(models_dir):
    at = run_app()
    at.multiselect(key="home_models").set_value(["m-hi"]).run()
    at.multiselect(key="home_models").set_value([]).run()
    assert at.session_state["selected_models"] == [str(models_dir / "m-hi")]
    assert any("at least one model" in i.value for i in at.info)


def test_url_restores_models_and_refuses_paths(models_dir):
    at = run_app(models=["m-hi", "../../etc", str(models_dir / "m-en")])
    assert at.session_state["selected_models"] == [str(models_dir / "m-hi")]
    assert at.multiselect(key="home_models").value == ["m-hi"]
    assert any("unknown model" in w.value and "../../etc" in w.value for w in at.warning)


def test_training_panel_broken_is_a_note(models_dir, monkeypatch):
    broken = types.ModuleType("ui.widgets.training")

    def render_training_sidebar():
        raise RuntimeError("boom")

    broken.render_training_sidebar = render_training_sidebar
    monkeypatch.setitem(sys.modules, "ui.widgets.training", broken)
    at = run_app()
    assert not at.exception and at.dataframe  # the page itself still renders
    exp = [e for e in at.sidebar.get("expander") if e.label == "Train a checkpoint"][0]
    assert "failed (RuntimeError)" in " ".join(c.value for c in exp.caption)


@pytest.fixture
def empty_models(tmp_path, monkeypatch):
    d = tmp_path / "empty-models"
    d.mkdir()
    use_models_dir(monkeypatch, d)
    yield d
    st.cache_data.clear()
    st.cache_resource.clear()


def test_fresh_clone_builds_demo_with_streamed_output(empty_models, built, monkeypatch):
    import ui.home as cat

    script = (f"import shutil; print('[demo] step one', flush=True); print('[demo] step two', flush=True); "
              f"shutil.copytree({str(built / 'm-en')!r}, {str(empty_models / 'demo-en')!r})")
    monkeypatch.setattr(cat, "build_demo_command", lambda: [sys.executable, "-c", script])
    at = run_app()
    assert not at.dataframe and at.button(key="home_build_demo")
    at.button(key="home_build_demo").click().run()
    assert not at.exception
    assert list(at.dataframe[0].value["name"]) == ["demo-en"]


def test_failed_demo_build_shows_its_output(empty_models, monkeypatch):
    import ui.home as cat

    monkeypatch.setattr(cat, "build_demo_command",
                        lambda: [sys.executable, "-c", "print('error: no space left'); raise SystemExit(3)"])
    at = run_app()
    at.button(key="home_build_demo").click().run()
    status = at.get("status")[0]
    assert status.label == "Building the demo checkpoints failed (exit code 3)" and status.state == "error"
    assert any("python -m mlt_core demo" in e.value for e in at.error)
    assert "error: no space left" in " ".join(c.value for c in at.code)
    assert not at.exception


def test_run_streaming_passes_each_line(tmp_path):
    from ui.home import run_streaming

    seen = []
    rc = run_streaming([sys.executable, "-c", "import sys; print('a'); print('b'); sys.exit(4)"], seen.append)
    assert rc == 4 and seen == ["a", "b"]


def test_checkpoint_table_reads_sharded_index(tmp_path):
    from ui.home import checkpoint_table

    d = tmp_path / "sharded"
    d.mkdir()
    (d / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"roberta.embeddings.word_embeddings.weight": "a.safetensors",
                        "classifier.out_proj.weight": "b.safetensors"}}))
    df = checkpoint_table([{"name": "sharded", "path": str(d), "meta": {}}])
    assert bool(df.loc[0, "untrained_head"]) is False
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"roberta.x": "a.safetensors"}}))
    assert bool(checkpoint_table([{"name": "s", "path": str(d), "meta": {}}]).loc[0, "untrained_head"]) is True


def test_sidebar_keeps_the_selected_models_when_a_page_stops_early(models_dir):
    """The Errors page stops (st.stop) before any evaluation: the shared sidebar must still list the models."""
    at = run_app(models=["m-en", "m-hi"])
    at.switch_page("pages/4_Errors.py").run()
    assert not at.exception and any("No evaluation in this session yet" in i.value for i in at.info)
    sidebar = " ".join([m.value for m in at.sidebar.markdown] + [h.proto.body for h in at.sidebar.get("html")])
    assert "Selected models" in sidebar and "1. m-en" in sidebar and "2. m-hi" in sidebar
