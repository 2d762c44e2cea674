"""Background training jobs for the app: `python -m mlt_core train ...` as a detached process.

State lives on disk in models/.jobs/<job_id>/ (job.json, progress.jsonl, log.txt, result.json),
so a browser refresh or an app restart loses nothing. One job at a time per device: starting
a second one on a busy device raises MltError (no queue: the user decides what runs next).
A lock file (fcntl) makes check-and-start atomic, so two tabs cannot both start a job.
Never imports torch: GPUs are listed with nvidia-smi, keeping the app snappy.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from mlt_core.errors import MltError
from mlt_core.io import REPO_ROOT, atomic_write_json
from mlt_core.model import checkpoint as ckpt

ACTIVE = ("queued", "running")
_PROCS: dict[str, subprocess.Popen] = {}  # jobs started by this process: poll() reaps them


def jobs_dir() -> Path:
    return Path(ckpt.MODELS_DIR) / ".jobs"


def gpu_info() -> list[dict]:
    """Visible CUDA devices [{index, name, memory_mib}] via nvidia-smi; [] without one."""
    smi = shutil.which("nvidia-smi")
    if not smi or os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = [{"index": int(i), "name": n.strip(), "memory_mib": int(float(m))}
            for i, n, m in (line.split(",") for line in out.strip().splitlines() if line.count(",") == 2)]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        keep = [int(v) for v in visible.split(",") if v.strip().isdigit()]
        gpus = [g for g in gpus if g["index"] in keep]
    return gpus


@contextmanager
def _lock():
    jobs_dir().mkdir(parents=True, exist_ok=True)
    with open(jobs_dir() / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read(path: Path, default=None):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _write(path: Path, obj: dict) -> None:
    atomic_write_json(path, obj, indent=1)


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (tells a live job from a reused pid); None if unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(job: dict) -> bool:
    pid = job.get("pid")
    if not pid:
        return False
    proc = _PROCS.get(job["id"])
    if proc is not None:
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False  # a zombie is dead
    except OSError:
        pass
    started = _start_time(pid)
    return started is None or job.get("pid_start") in (None, started)


def as_argv(train_args: dict | list) -> list[str]:
    """CLI arguments of `train` from a list, or from a dict {"base": ..., "train_langs": ["en"], "overwrite": True}."""
    if isinstance(train_args, (list, tuple)):
        return [str(a) for a in train_args]
    argv = []
    for k, v in train_args.items():
        flag = "--" + k.replace("_", "-")
        if v is None or v is False:
            continue
        if v is True:
            argv.append(flag)
        else:
            argv += [flag, ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)]
    return argv


def _arg(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv and argv.index(flag) + 1 < len(argv) else None


def _pick_device(device: str | None, busy: set) -> str:
    devices = [f"cuda:{g['index']}" for g in gpu_info()] or ["cpu"]
    if device:
        if device not in devices:
            raise MltError(f"device {device} not found; available: {', '.join(devices)}")
        if device in busy:
            raise MltError(f"a training job is already running on {device}; wait for it or cancel it")
        return device
    free = [d for d in devices if d not in busy]
    if not free:
        raise MltError(f"a training job is already running on {', '.join(sorted(busy))}; wait for it or cancel it")
    return free[0]


def start_job(train_args: dict | list, device: str | None = None, command: str = "train",
              label: str | None = None) -> str:
    """Launch a training job in the background; returns its id. MltError if its device is busy.

    `command` another mlt_core command taking --progress-file/--result-file (the demo build), shown as `label`.
    """
    argv = as_argv(train_args)
    name = _arg(argv, "--name") if command == "train" else label or command
    if not name:
        raise MltError("give the new checkpoint a name")
    from mlt_core.training.config import check_argv

    if command == "train":
        check_argv(argv)  # the CLI's own checks (and the run lock), before any process starts
    with _lock():
        busy = {j["device"] for j in list_jobs() if j["status"] in ACTIVE}
        dev = _pick_device(device, busy)
        if command == "train" and (Path(ckpt.MODELS_DIR) / name).exists() and "--overwrite" not in argv:
            raise MltError(f"a checkpoint named {name} already exists; choose another name")
        job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        d = jobs_dir() / job_id
        d.mkdir(parents=True)
        cmd = [sys.executable, "-m", "mlt_core", command, *argv,
               "--progress-file", str(d / "progress.jsonl"), "--result-file", str(d / "result.json")]
        env = {**os.environ, "MLT_MODELS_DIR": str(ckpt.MODELS_DIR), "PYTHONUNBUFFERED": "1",
               "TOKENIZERS_PARALLELISM": "false"}
        env["CUDA_VISIBLE_DEVICES"] = dev.split(":")[1] if dev.startswith("cuda") else ""
        job = {"id": job_id, "argv": argv, "command": cmd, "kind": command, "status": "queued", "device": dev,
               "checkpoint": name, "pid": None, "created": time.time(), "started": None, "ended": None, "error": None}
        _write(d / "job.json", job)
        with open(d / "log.txt", "ab") as log:
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        _PROCS[job_id] = proc
        job.update(status="running", pid=proc.pid, pid_start=_start_time(proc.pid), started=time.time())
        _write(d / "job.json", job)
    return job_id


def get_job(job_id: str) -> dict:
    """job.json, reconciled with reality: a dead process is finished (result.json) or failed."""
    d = jobs_dir() / job_id
    job = _read(d / "job.json")
    if job is None:
        raise MltError(f"no job {job_id}")
    if job["status"] in ACTIVE and not _alive(job):
        result = _read(d / "result.json", {})
        proc = _PROCS.pop(job_id, None)
        code = proc.returncode if proc is not None else None
        if result.get("status") == "finished":
            job.update(status="finished", checkpoint_path=result.get("checkpoint"))
        else:
            err = result.get("error") or (f"exit code {code}" if code is not None else "process ended without a result")
            job.update(status="failed", error=err)
        job["ended"] = job.get("ended") or time.time()
        _write(d / "job.json", job)
    return job


def list_jobs() -> list[dict]:
    """All jobs, newest first."""
    root = jobs_dir()
    if not root.is_dir():
        return []
    out = []
    for job_id in sorted((p.name for p in root.iterdir() if (p / "job.json").is_file()), reverse=True):
        try:
            out.append(get_job(job_id))
        except (MltError, KeyError, TypeError):  # an unreadable job.json: skip it, never break the page
            continue
    return out


def cancel_job(job_id: str, grace_s: float = 5.0) -> dict:
    """SIGTERM the job's process group, SIGKILL it after `grace_s`; the partial run is never listed as a model."""
    job = get_job(job_id)
    if job["status"] not in ACTIVE:
        return job
    pgid = job["pid"]
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        t = time.time()
        while time.time() - t < wait and _alive(job):
            time.sleep(0.05)
        if not _alive(job):
            break
    _PROCS.pop(job_id, None)
    job.update(status="cancelled", ended=time.time())
    _write(jobs_dir() / job_id / "job.json", job)
    return job


def log_tail(job_id: str, n: int = 40) -> str:
    """The last `n` lines of the job's log."""
    try:
        with open(jobs_dir() / job_id / "log.txt", "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 64 * 1024))
            lines = f.read().decode("utf-8", "replace").replace("\r", "\n").splitlines()
    except OSError:
        return ""
    return "\n".join([l for l in lines if l.strip()][-n:])


def progress(job_id: str):
    """Progress as a tidy DataFrame: event, step, max_steps, epoch, time, loss, lang, accuracy (one row per eval language)."""
    import pandas as pd

    rows = []
    try:
        lines = (jobs_dir() / job_id / "progress.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a line being written
        base = {k: r.get(k) for k in ("event", "step", "max_steps", "epoch", "time", "loss")}
        acc = r.get("eval_accuracy") or {}
        rows += [{**base, "lang": l, "accuracy": a} for l, a in acc.items()] or [{**base, "lang": None, "accuracy": None}]
    cols = ["event", "step", "max_steps", "epoch", "time", "loss", "lang", "accuracy"]
    return pd.DataFrame(rows, columns=cols)
