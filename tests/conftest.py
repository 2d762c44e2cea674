import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "MLT_CACHE_DIR" not in os.environ:  # a private result cache: never what using the app left in .mlt-cache
    import atexit
    import shutil
    import tempfile

    os.environ["MLT_CACHE_DIR"] = tempfile.mkdtemp(prefix="mlt-test-cache-")
    atexit.register(shutil.rmtree, os.environ["MLT_CACHE_DIR"], True)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory):
    from tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-xlmr", "xlmr", seed=0)


@pytest.fixture(scope="session")
def tiny_xlmr_b(tmp_path_factory):
    from tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-xlmr-b", "xlmr", seed=1)


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory):
    from tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-qwen2", "qwen2", seed=2)


@pytest.fixture
def models_dir(built, tmp_path, monkeypatch):
    """A fresh copy of the module's `built` checkpoints as models/, with a private result cache."""
    import shutil

    import streamlit as st

    d = tmp_path / "models"
    shutil.copytree(built, d)
    from tiny import use_models_dir

    use_models_dir(monkeypatch, d, tmp_path / "cache")
    yield d
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def route_through_app(monkeypatch):
    """Run every AppTest run through app.py, as production does.

    A live server leaves Streamlit's legacy pages/ mode once app.py has run (process-wide), but
    AppTest re-enters it before every run and would then run a page file alone.
    """
    from streamlit.runtime.scriptrunner import script_runner

    def run_main(main_script_path: str) -> None:
        code = compile(Path(main_script_path).read_text(encoding="utf-8"), main_script_path, "exec")
        exec(code, {"__name__": "__main__", "__file__": main_script_path})  # noqa: S102

    monkeypatch.setattr(script_runner, "_mpa_v1", run_main)


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module (`pytestmark = pytest.mark.usefixtures("one_thread")`): tiny models
    only gain contention from threads on a busy 2-core box."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
