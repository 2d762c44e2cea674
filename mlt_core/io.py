"""Where the project's files live (REPO_ROOT) and the one way they are written: atomically.

Every writer puts its bytes in a temp file (or folder) with a unique name beside the target
and renames it into place (`os.replace`, atomic on POSIX within one filesystem). A reader
sees the old file or the new one, never a torn one; two concurrent writers never share a
temp name; a crash leaves at most a `.tmp-*` file, never a half-written target.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent  # the checkout: data/, models/, .mlt-cache/


def temp_path(target: str | Path) -> Path:
    """A fresh, unique temp name beside `target` (same folder, so the rename stays on one filesystem)."""
    target = Path(target)
    return target.parent / f".tmp-{target.name}-{uuid.uuid4().hex[:12]}"


def atomic_write(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` to fill a temp file, then rename it onto `target`; the temp is removed on any error."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_bytes(target: str | Path, data: bytes) -> Path:
    return atomic_write(target, lambda t: t.write_bytes(data))


def atomic_write_text(target: str | Path, text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | Path, obj, **dumps) -> Path:
    """json.dumps(obj, ensure_ascii=False, **dumps) written atomically (UTF-8)."""
    return atomic_write_text(target, json.dumps(obj, **{"ensure_ascii": False, **dumps}))


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a fresh temp folder; on a clean exit it replaces `target` (an existing one is moved aside, then
    removed), on an error it is removed and `target` is left as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            old = target.parent / f".old-{target.name}-{uuid.uuid4().hex[:12]}"
            os.replace(target, old)  # a folder cannot be replaced by rename while it has files
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
