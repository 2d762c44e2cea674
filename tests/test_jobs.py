"""Background training jobs with real subprocesses: start, progress, finish, fail, cancel, one per device."""
import json
import subprocess
import sys
import threading
import time

import pytest

from mlt_core.errors import MltError
from mlt_core.model import checkpoint
from mlt_core.model.checkpoint import list_checkpoints
from mlt_core.training import jobs


@pytest.fixture
def models(tmp_path, monkeypatch):
    d = tmp_path / "models"
    monkeypatch.setattr(checkpoint, "MODELS_DIR", d)
    monkeypatch.setenv("MLT_MODELS_DIR", str(d))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return d


def args(base, name, **kw):
    a = {"base": str(base), "train_langs": ["en"], "name": name, "max_steps": 6, "batch_size": 8, "train_size": 24,
         "eval_limit": 6, "evals": 1, "max_length": 48, "cpu": True}
    return {**a, **kw}


def wait(job_id, until=lambda j: j["status"] not in jobs.ACTIVE, timeout=180):
    t = time.time()
    while time.time() - t < timeout:
        job = jobs.get_job(job_id)
        if until(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {jobs.get_job(job_id)['status']}: {jobs.log_tail(job_id)}")


def test_job_runs_to_finished_and_blocks_a_second_on_the_same_device(tiny_xlmr, models):
    job_id = jobs.start_job(args(tiny_xlmr, "j1"))
    job = jobs.get_job(job_id)
    assert job["status"] == "running" and job["device"] == "cpu" and job["checkpoint"] == "j1"
    assert job["argv"][:2] == ["--base", str(tiny_xlmr)]
    with pytest.raises(MltError, match="already running on cpu"):
        jobs.start_job(args(tiny_xlmr, "j2"))
    job = wait(job_id)
    assert job["status"] == "finished", jobs.log_tail(job_id)
    assert [c["name"] for c in list_checkpoints(models)] == ["j1"]
    df = jobs.progress(job_id)
    assert df["loss"].notna().any() and set(df["lang"].dropna()) == {"en", "hi", "fr", "es"}
    assert df["max_steps"].max() == 6 and df["event"].iloc[-1] == "done"
    assert "saved" in jobs.log_tail(job_id, 5)
    assert [j["id"] for j in jobs.list_jobs()] == [job_id]
    with pytest.raises(MltError, match="already exists"):
        jobs.start_job(args(tiny_xlmr, "j1"))


def test_failed_job_reports_the_error(tiny_xlmr, models, tmp_path):
    with pytest.raises(MltError, match="not in the sample data"):  # the CLI's checks, before any process starts
        jobs.start_job(args(tiny_xlmr, "bad", train_langs=["xx"]))
    one = tmp_path / "pairs.jsonl"  # an error only the run itself finds: the file has no hi pairs
    one.write_text(json.dumps({"premise": "A b.", "hypothesis": "C d.", "label": "entailment", "lang": "en"}) + "\n")
    job = wait(jobs.start_job(args(tiny_xlmr, "bad", train_langs=["hi"], data=str(one))))
    assert job["status"] == "failed" and "no hi pairs" in job["error"]


def test_cancel_kills_the_process_group_and_leaves_no_checkpoint(tiny_xlmr, models):
    job_id = jobs.start_job(args(tiny_xlmr, "long", max_steps=100000, evals=0, save_steps=50))
    wait(job_id, until=lambda j: (jobs.progress(job_id)["event"] == "train").any())
    pid = jobs.get_job(job_id)["pid"]
    job = jobs.cancel_job(job_id, grace_s=2)
    assert job["status"] == "cancelled" and jobs.get_job(job_id)["status"] == "cancelled"
    assert subprocess.run(["ps", "-p", str(pid)], capture_output=True).returncode != 0
    assert list_checkpoints(models) == [] and not (models / "long").exists()
    assert not [j for j in jobs.list_jobs() if j["status"] in jobs.ACTIVE]


def test_reconciles_a_dead_process_and_locks_concurrent_starts(tiny_xlmr, models, monkeypatch):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    d = jobs.jobs_dir() / "old"
    d.mkdir(parents=True)
    (d / "job.json").write_text(json.dumps({"id": "old", "status": "running", "pid": dead.pid, "device": "cpu"}))
    assert jobs.get_job("old")["status"] == "failed"  # died without a result: not "running" forever
    (d / "job.json").write_text(json.dumps({"id": "old", "status": "running", "pid": dead.pid, "device": "cpu"}))
    (d / "result.json").write_text(json.dumps({"status": "finished", "checkpoint": "x"}))
    assert jobs.get_job("old")["status"] == "finished"

    # two "browser tabs" start at once: the lock lets exactly one through
    results = []

    def start(name):
        try:
            results.append(jobs.start_job(args(tiny_xlmr, name, max_steps=100000, evals=0)))
        except MltError as e:
            results.append(e)

    threads = [threading.Thread(target=start, args=(n,)) for n in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [r for r in results if isinstance(r, str)]
    assert len(started) == 1 and isinstance([r for r in results if r not in started][0], MltError)
    jobs.cancel_job(started[0], grace_s=1)


def test_gpu_info_parses_nvidia_smi_and_honours_cuda_visible_devices(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"  # a stand-in that prints what the real one prints for this query
    smi.write_text("#!/bin/sh\necho '0, NVIDIA H100 80GB HBM3, 81559'\necho '1, NVIDIA A10, 23028.0'\n")
    smi.chmod(0o755)
    monkeypatch.setattr(jobs.shutil, "which", lambda name: str(smi) if name == "nvidia-smi" else None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert jobs.gpu_info() == [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_mib": 81559},
                               {"index": 1, "name": "NVIDIA A10", "memory_mib": 23028}]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert jobs.gpu_info() == [{"index": 1, "name": "NVIDIA A10", "memory_mib": 23028}]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # GPUs hidden on purpose
    assert jobs.gpu_info() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setattr(jobs.shutil, "which", lambda name: None)  # no driver
    assert jobs.gpu_info() == []


def test_helpers():
    assert jobs.as_argv({"base": "b", "train_langs": ["en", "hi"], "overwrite": True, "lr": None, "resume": False}) == \
        ["--base", "b", "--train-langs", "en,hi", "--overwrite"]
    with pytest.raises(MltError, match="invalid checkpoint name"):
        jobs.start_job({"base": "b", "train_langs": "en", "name": "../x"})
