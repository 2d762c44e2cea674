"""One owner per training run: an flock on models/.runs/NAME.lock, held for the run's lifetime.

The kernel drops an flock when its holder dies (even by SIGKILL), so a lock left by a killed run
is stale by construction: the next run takes it over. The file also records the holder's pid,
for the refusal message. CLI runs and the app's background jobs (which run the CLI) share it.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from mlt_core.errors import MltError


def lock_path(models: Path, name: str) -> Path:
    return Path(models) / ".runs" / f"{name}.lock"


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def holder(models: Path, name: str) -> int | None:
    """The pid of the live run that holds NAME's lock, or None (no lock, or a stale one)."""
    path = lock_path(models, name)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _pid(path) or -1
    finally:
        os.close(fd)  # closing drops the probe's shared lock too
    return None


@contextmanager
def run_lock(models: Path, name: str, log=None):
    """Hold NAME's run lock for the `with` block; MltError at once if a live run holds it.

    Yields the pid of a dead previous holder whose stale lock was taken over (or None)."""
    path = lock_path(models, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tries = 5  # holder() probes with a brief shared lock: a few quick retries before refusing
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            tries -= 1
            if tries > 0:
                time.sleep(0.05)
                continue
            pid = _pid(path)
            raise MltError(f"another run of {name} is in progress (pid {pid or 'unknown'}); wait for it to end, "
                           "cancel it, or choose another --name") from None
        try:  # the previous holder may have unlinked the file between our open and flock: retry on the new one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    stale = _pid(path)
    if stale is not None and stale != os.getpid() and log:
        log(f"took over the stale lock of {name} (pid {stale} is gone)")
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        yield stale
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)
