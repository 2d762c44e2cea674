"""Home page: the checkpoints in models/ as a table, without loading any model, and the demo build.

"Untrained head" without loading: mlt.json says so (`role == "base"` or `untrained_head`), or the
safetensors header has no classifier tensor (only the header is read, never the weights).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pandas as pd

from mlt_core.model.checkpoint import meta_says_untrained

from mlt_core.io import REPO_ROOT
from mlt_core.model.checkpoint import HEAD_NAMES as HEAD_PREFIXES


def safetensors_keys(path: str | Path) -> list[str]:
    """Tensor names of a checkpoint folder (header / index only)."""
    p = Path(path)
    index = p / "model.safetensors.index.json"
    if index.is_file():
        return list(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}))
    from safetensors import safe_open

    keys = []
    for f in sorted(p.glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as sf:
            keys.extend(sf.keys())
    return keys


def has_head_weights(path: str | Path) -> bool:
    """True if the checkpoint stores classifier weights (any architecture's head name)."""
    try:
        keys = safetensors_keys(path)
    except Exception:  # unreadable header: loading would fail too; say "no head"
        return False
    return any(k.split(".")[0] in HEAD_PREFIXES or any(f".{h}." in f".{k}" for h in HEAD_PREFIXES) for k in keys)


def untrained_head(path: str | Path, meta: dict) -> bool:
    """Is this checkpoint's classifier untrained? (mlt.json role/flag, else no head weights on disk)."""
    return meta_says_untrained(meta) or not has_head_weights(path)


def _accuracy(meta: dict) -> dict:
    acc = (meta.get("metrics") or {}).get("accuracy") or {}
    return {str(k): float(v) for k, v in acc.items() if isinstance(v, (int, float))}


def checkpoint_table(rows: list[dict]) -> pd.DataFrame:
    """One row per checkpoint: name, base, train_langs, method, untrained_head, acc_<lang>..., path."""
    out = []
    for r in rows:
        meta = r.get("meta") or {}
        langs = meta.get("train_langs") or []
        rec = {
            "name": r["name"],
            "base": str(meta.get("base", "")),
            "train_langs": ", ".join(langs) if isinstance(langs, list) else str(langs),
            "method": str(meta.get("method", "")),
            "untrained_head": untrained_head(r["path"], meta),
        }
        rec.update({f"acc_{l}": a for l, a in sorted(_accuracy(meta).items())})
        if meta.get("error"):
            rec["note"] = meta["error"]
        rec["path"] = r["path"]
        out.append(rec)
    df = pd.DataFrame(out)
    if df.empty:
        return df
    acc_cols = sorted(c for c in df.columns if c.startswith("acc_"))
    first = ["name", "base", "train_langs", "method", "untrained_head"]
    rest = [c for c in df.columns if c not in first + acc_cols + ["path"]]
    return df[first + acc_cols + rest + ["path"]]


def build_demo_command() -> list[str]:
    return [sys.executable, "-u", "-m", "mlt_core", "demo"]


def run_streaming(cmd: list[str], on_line: Callable[[str], None], env: dict | None = None) -> int:
    """Run `cmd` from the repo root, calling on_line for each output line; kill it if we are interrupted."""
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    try:
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
        return proc.wait()
    finally:  # the page was left or rerun mid-build: do not leave an orphan
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
