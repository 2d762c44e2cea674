"""mlt_core.io: the one atomic-write helper, used by every writer of project files."""
import json
import os
import threading
from pathlib import Path

import pytest

from mlt_core import io


def _hammer(write, target: Path, n_threads=4, rounds=60):
    """Threads write distinct large payloads to one file while a reader checks every read is a whole payload."""
    payloads = [{"writer": w, "blob": chr(ord("a") + w) * 300_000} for w in range(n_threads)]
    errors, torn, stop = [], [], threading.Event()

    def writer(w):
        try:
            for _ in range(rounds):
                write(target, payloads[w])
        except Exception as e:  # noqa: BLE001  (a racing fixed temp name fails here: FileNotFoundError)
            errors.append(e)

    def reader():
        while not stop.is_set():
            try:
                text = target.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            try:
                obj = json.loads(text)
                assert obj == payloads[obj["writer"]]
            except (ValueError, AssertionError, KeyError):
                torn.append(len(text))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(n_threads)]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert not errors, errors[:3]
    assert not torn, f"{len(torn)} torn reads"
    assert json.loads(target.read_text(encoding="utf-8")) in payloads
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temp left behind


def test_concurrent_writers_never_tear_a_file(tmp_path):
    _hammer(io.atomic_write_json, tmp_path / "state.json")


def test_jobs_and_train_state_files_are_race_free(tmp_path):
    # both once used one fixed `<name>.tmp` for every writer
    from mlt_core.training import jobs, trainer as train

    _hammer(jobs._write, tmp_path / "jobs" / "job.json")
    _hammer(lambda p, o: train._write_json(str(p), o), tmp_path / "train" / "result.json")


def test_temp_names_are_unique_and_beside_the_target(tmp_path, monkeypatch):
    seen, real = [], os.replace
    monkeypatch.setattr(io.os, "replace", lambda src, dst: (seen.append((Path(src), Path(dst))), real(src, dst))[1])
    target = tmp_path / "x.json"
    for i in range(3):
        io.atomic_write_text(target, str(i))
    srcs = [s for s, _ in seen]
    assert len(set(srcs)) == 3 and all(d == target for _, d in seen)
    assert all(s.parent == tmp_path and s.name.startswith(".tmp-x.json-") and s != target.with_suffix(".json.tmp")
               for s in srcs)
    assert target.read_text() == "2"


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.txt"
    io.atomic_write_text(target, "old")

    def boom(t: Path):
        t.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        io.atomic_write(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_dir_replaces_a_folder_whole_or_not_at_all(tmp_path):
    target = tmp_path / "ckpt"
    with io.atomic_dir(target) as d:
        (d / "a").write_text("1")
        assert not target.exists()  # nothing visible until the block ends
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with io.atomic_dir(target) as d:
        (d / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]  # replaced, not merged
    with pytest.raises(RuntimeError):
        with io.atomic_dir(target) as d:
            (d / "c").write_text("3")
            raise RuntimeError("crash mid-save")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_no_module_keeps_its_own_rename_dance():
    # every os.replace in the library goes through mlt_core/io.py
    root = Path(io.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "io.py" and ("os.replace(" in p.read_text() or '.tmp"' in p.read_text())]
    assert offenders == []
