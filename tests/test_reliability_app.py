"""Issue 14, the app's side: what the app opens, uploads, CSV exports; each an error box, never a traceback."""
import csv
import io
import os
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlt_core.model import checkpoint
from mlt_core.training import jobs
from mlt_core.model.checkpoint import app_source, list_checkpoints
from mlt_core.errors import MltError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def models(tmp_path, monkeypatch):
    from tiny import make_tiny_checkpoint, use_models_dir

    d = tmp_path / "models"
    make_tiny_checkpoint(d / "inside", seed=0)
    outside = make_tiny_checkpoint(tmp_path / "elsewhere" / "secret", seed=1)
    (d / "link-out").symlink_to(outside)  # a symlink that leaves models/
    (d / "link-in").symlink_to(d / "inside")  # one that stays inside
    use_models_dir(monkeypatch, d, tmp_path / "cache")
    monkeypatch.delenv("MLT_ALLOWED_DIRS", raising=False)
    yield d
    for j in jobs.list_jobs():
        jobs.cancel_job(j["id"], grace_s=1)
    st.cache_data.clear()
    st.cache_resource.clear()


# ------------------------------------------------------------------- 8, 9: models/, Hub ids, allowed folders only
def test_a_symlink_leaving_models_is_neither_listed_nor_opened(models):
    assert [c["name"] for c in list_checkpoints(models)] == ["inside", "link-in"]
    with pytest.raises(MltError, match="link-out is outside models/: the app opens checkpoints in models/, Hub ids"):
        app_source("link-out")
    with pytest.raises(MltError, match="outside models/"):
        app_source(str(models / "link-out"))
    assert app_source("inside") == str(models / "inside") and app_source("link-in") == str(models / "link-in")
    assert app_source("FacebookAI/xlm-roberta-base") == "FacebookAI/xlm-roberta-base"  # a Hub id (loaded later)
    from ui.widgets.models import get_checkpoint

    with pytest.raises(MltError, match="outside models/"):
        get_checkpoint(str(models / "link-out"))
    assert get_checkpoint("inside").name == "inside"


def test_folders_the_operator_allows(models, monkeypatch):
    secret = models.parent / "elsewhere" / "secret"
    with pytest.raises(MltError, match="MLT_ALLOWED_DIRS="):
        app_source(str(secret))
    monkeypatch.setenv("MLT_ALLOWED_DIRS", f"/nonexistent{os.pathsep}{models.parent / 'elsewhere'}")
    assert app_source(str(secret)) == str(secret)
    assert app_source(str(models / "link-out")) == str(models / "link-out")  # its target is allowed now
    with pytest.raises(MltError, match="outside models/"):
        app_source(str(Path(checkpoint.__file__).parent))  # still not anything on the disk


SIDEBAR = """
import sys
sys.path.insert(0, {root!r})
from ui.widgets.training import render_training_sidebar
render_training_sidebar()
"""


def test_sidebar_hub_id_or_folder_field_respects_the_setting(models, tmp_path):
    at = AppTest.from_string(SIDEBAR.format(root=str(ROOT)), default_timeout=60).run()
    at.text_input(key="train_base_other").set_value(str(tmp_path / "elsewhere" / "secret"))
    at.text_input(key="train_name").set_value("x")
    at.button(key="train_start").click().run()
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and "secret is outside models/" in errors[0] and "MLT_ALLOWED_DIRS" in errors[0]
    assert jobs.list_jobs() == [] and not (models / ".jobs").exists() and not (models / "x").exists()


# ------------------------------------------------------------------- 10, 11: uploads
def test_an_upload_over_the_cap_is_one_message_and_nothing_is_stored(models, monkeypatch):
    import ui.evaluation as E
    from mlt_core import store

    monkeypatch.setattr(E, "upload_limit_mb", lambda: 1)
    row = '{"premise": "A man sleeps.", "hypothesis": "A person sleeps.", "label": "entailment", "lang": "en"}\n'
    raw = (row * (3 * 2**20 // len(row))).encode()  # ~3 MB
    with pytest.raises(MltError, match=r"^big.jsonl is 3.0 MB; uploads are capped at 1 MB. Put the file under data/"):
        E.parse_upload("big.jsonl", raw)
    assert not list(store.cache_root().rglob("*.parquet"))  # nothing parsed, nothing stored
    monkeypatch.setattr(E, "upload_limit_mb", lambda: 5)
    data_id = E.parse_upload("big.jsonl", raw)
    assert len(E.load_data(data_id, None, None)) == len(raw) // len(row.encode())


def test_the_cap_is_the_servers_upload_setting():
    import tomllib

    from ui.evaluation import upload_limit_mb

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == 25
    from streamlit import config

    old = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 7)  # as `streamlit run --server.maxUploadSize 7` would
    try:
        assert upload_limit_mb() == 7
    finally:
        config.set_option("server.maxUploadSize", old)


@pytest.mark.parametrize("raw", [b"", b"\n\n", b"   \n"])
def test_an_empty_jsonl_says_it_is_empty(raw):
    from mlt_core.data.nli import read_nli_bytes

    with pytest.raises(MltError) as e:
        read_nli_bytes(raw, "empty.jsonl")
    assert str(e.value) == "empty.jsonl: the file is empty; it needs one pair per row with premise, hypothesis, label"


# ------------------------------------------------------------------- 12: CSV exports
def test_csv_exports_escape_formula_cells():
    from mlt_core.export import to_csv
    from ui.widgets import download

    df = pd.DataFrame({"premise": ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "plain", "\tx"],
                       "delta": [-0.5, 1.0, -2.0, 0.0, 3.5, 1e-3], "=col": [1, 2, 3, 4, 5, 6]})
    rows = list(csv.reader(io.StringIO(to_csv(df))))
    assert rows[0] == ["premise", "delta", "'=col"]
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "plain", "'\tx"]
    assert [float(r[1]) for r in rows[1:]] == [-0.5, 1.0, -2.0, 0.0, 3.5, 1e-3]  # numbers stay numbers
    assert df["premise"][0] == "=HYPERLINK(\"http://x\")"  # the frame itself is untouched
    assert download.to_csv is to_csv  # the app's CSV buttons write through it



def test_home_flags_a_zero_step_checkpoint_by_the_same_rule(tmp_path):
    from tiny import make_tiny_checkpoint

    from mlt_core.model.checkpoint import load_checkpoint, read_meta
    from ui.home import untrained_head

    zero = make_tiny_checkpoint(tmp_path / "zero", meta={"role": "fine-tuned", "hyperparameters": {"steps": 0}})
    done = make_tiny_checkpoint(tmp_path / "done", meta={"role": "fine-tuned", "hyperparameters": {"steps": 30}})
    assert untrained_head(zero, read_meta(zero)) is True and load_checkpoint(zero).head_is_noise
    assert untrained_head(done, read_meta(done)) is False and not load_checkpoint(done).head_is_noise


UPLOAD = """
import sys
sys.path.insert(0, {root!r})
from ui.evaluation import parse_upload
row = '{{"premise": "A man sleeps.", "hypothesis": "A person sleeps.", "label": "entailment", "lang": "en"}}\\n'
parse_upload("pairs.jsonl", (row * 500).encode())
"""


def test_an_upload_shows_what_it_parsed(models):
    at = AppTest.from_string(UPLOAD.format(root=str(ROOT)), default_timeout=60).run()
    assert not at.exception
    status = at.main.children[0]  # st.status: "Parsing pairs.jsonl (… MB)…" while it parses, then this
    assert status.icon == ":material/check:"
    assert status.label.startswith("Parsed pairs.jsonl: 500 pairs in 1 language(s), ") and status.label.endswith(" s")
