import json

import pytest

from mlt_core.errors import MltError
from mlt_core.model.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint


def test_save_is_atomic_and_complete(tiny_xlmr, tmp_path):
    ck = load_checkpoint(tiny_xlmr)
    out = save_checkpoint(ck.model, ck.tokenizer, tmp_path / "m1", {"method": "full", "train_langs": ["en"]})
    meta = json.loads((out / "mlt.json").read_text())
    assert meta["method"] == "full" and "created" in meta
    assert [c["name"] for c in list_checkpoints(tmp_path)] == ["m1"]
    again = load_checkpoint(out)
    assert again.meta["train_langs"] == ["en"]
    with pytest.raises(MltError, match="already exists"):
        save_checkpoint(ck.model, ck.tokenizer, out, {})


def test_a_crash_mid_save_leaves_nothing_that_looks_like_a_checkpoint(tiny_xlmr, tmp_path, monkeypatch):
    ck = load_checkpoint(tiny_xlmr)

    def boom(*a, **k):
        raise RuntimeError("killed")

    monkeypatch.setattr(ck.tokenizer, "save_pretrained", boom)
    with pytest.raises(RuntimeError):
        save_checkpoint(ck.model, ck.tokenizer, tmp_path / "m2", {})
    assert not (tmp_path / "m2").exists()
    assert list(tmp_path.iterdir()) == []
    assert list_checkpoints(tmp_path) == []


def test_overwrite_replaces_whole(tiny_xlmr, tmp_path):
    ck = load_checkpoint(tiny_xlmr)
    save_checkpoint(ck.model, ck.tokenizer, tmp_path / "m", {"v": 1})
    save_checkpoint(ck.model, ck.tokenizer, tmp_path / "m", {"v": 2}, overwrite=True)
    assert json.loads((tmp_path / "m" / "mlt.json").read_text())["v"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_listing_skips_hidden_and_incomplete(tmp_path, tiny_xlmr):
    import shutil

    shutil.copytree(tiny_xlmr, tmp_path / ".tmp-x")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    shutil.copytree(tiny_xlmr, tmp_path / "ok")
    assert [c["name"] for c in list_checkpoints(tmp_path)] == ["ok"]
