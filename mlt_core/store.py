"""Disk cache for dataset-scale results, keyed by fingerprints of (checkpoint, data, settings).

Layout: `CACHE_DIR/<kind>/<key>.<parquet|json|npz>`. Every write goes to a temp file in the
same folder and is renamed into place, so a killed process never leaves a half file that
reads as a hit. A file that cannot be read (foreign or corrupt) is recomputed, never trusted.
Nothing here unpickles: DataFrames are Parquet, dicts JSON, arrays `.npz` with
`allow_pickle=False`.

`CACHE_DIR` comes from env `MLT_CACHE_DIR` (default `<repo>/.mlt-cache`, which carries its own
`.gitignore`). The environment variable is re-read on every call, so tests can point it at a
temporary folder (monkeypatch the env var or `store.CACHE_DIR`).

Checkpoint fingerprint = sha256 over: config.json bytes; for each tokenizer file its name, size
and mtime; for each `*.safetensors` file its name, size, mtime_ns and its JSON header (tensor
names, dtypes, shapes, offsets and `__metadata__`, read from the first 8+N bytes). No weight
byte is read, so it costs microseconds even for multi-GB checkpoints. Copying a checkpoint
without preserving mtimes gives a new fingerprint (a recompute, never a wrong hit).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from mlt_core.errors import MltError
from mlt_core.io import REPO_ROOT, atomic_write

CACHE_DIR = Path(os.environ.get("MLT_CACHE_DIR") or REPO_ROOT / ".mlt-cache")
_DEFAULT_CACHE_DIR = CACHE_DIR
_SAFE = re.compile(r"[A-Za-z0-9_.-]{1,120}")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                    "sentencepiece.bpe.model", "vocab.txt", "vocab.json", "merges.txt", "spm.model")


def cache_root() -> Path:
    """The cache folder in force: `store.CACHE_DIR` if reassigned, else env MLT_CACHE_DIR, else the default."""
    if CACHE_DIR != _DEFAULT_CACHE_DIR:
        return Path(CACHE_DIR)
    return Path(os.environ.get("MLT_CACHE_DIR") or CACHE_DIR)


def _digest(data: bytes, n: int = 20) -> str:
    return hashlib.sha256(data).hexdigest()[:n]


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (settings dicts, other fingerprints, strings)."""
    return _digest(json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8"))


def _safetensors_header(f: Path) -> bytes:
    with open(f, "rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            return b"<short file>"
        (n,) = struct.unpack("<Q", raw)
        if n > 100_000_000:  # not a safetensors header; fall back to size+mtime only
            return b"<no header>"
        return fh.read(n)


def checkpoint_fingerprint(path: str | Path) -> str:
    """Cheap identity of a checkpoint folder: config + weight headers/sizes/mtimes (no weight read)."""
    p = Path(path)
    if not p.is_dir():
        p = _hub_snapshot(str(path))
        if p is None:  # a Hub id not in the local cache: its name is all we know
            return fingerprint("hub", str(path))
    h = hashlib.sha256()
    cfg = p / "config.json"
    h.update(cfg.read_bytes() if cfg.is_file() else b"<no config>")
    for name in sorted(os.listdir(p)):
        f = p / name
        if not f.is_file():
            continue
        if name.endswith(".safetensors") or name.endswith(".safetensors.index.json"):
            st = f.stat()
            h.update(f"{name}|{st.st_size}|{st.st_mtime_ns}|".encode())
            if name.endswith(".safetensors"):
                h.update(_safetensors_header(f))
        elif name in _TOKENIZER_FILES:
            st = f.stat()
            h.update(f"{name}|{st.st_size}|{st.st_mtime_ns}|".encode())
    return h.hexdigest()[:20]


def _hub_snapshot(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        cfg = try_to_load_from_cache(repo_id, "config.json")
    except Exception:
        return None
    return Path(cfg).parent if isinstance(cfg, str) else None


def data_fingerprint(df: pd.DataFrame) -> str:
    """Hash of every cell, the column names and their order (row order matters)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in df.columns]).encode())
    if len(df):
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()[:20]


def _path(kind: str, key: str, ext: str) -> Path:
    if not _SAFE.fullmatch(kind):
        raise ValueError(f"cache kind {kind!r} must be letters, digits, '_', '.', '-'")
    if not _SAFE.fullmatch(key) or key.startswith("."):
        key = fingerprint(key)
    root = cache_root()
    if not root.exists():
        root.mkdir(parents=True, exist_ok=True)
        (root / ".gitignore").write_text("*\n")
    return root / kind / f"{key}.{ext}"


def _atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    try:
        atomic_write(target, write)
    except OSError as e:
        raise MltError(f"could not write the cache file {target}: {e.strerror or e} "
                       f"(disk full or read-only? set MLT_CACHE_DIR to a writable folder)") from None


def has(kind: str, key: str, ext: str = "parquet") -> bool:
    """Whether a result is cached (ext: parquet, json or npz)."""
    return _path(kind, key, ext).is_file()


def read_frame(kind: str, key: str) -> pd.DataFrame | None:
    """The cached DataFrame, or None when absent or unreadable."""
    f = _path(kind, key, "parquet")
    if not f.is_file():
        return None
    try:
        return pd.read_parquet(f)
    except Exception:  # corrupt or foreign file: recompute
        return None


def write_frame(kind: str, key: str, df: pd.DataFrame) -> None:
    _atomic_write(_path(kind, key, "parquet"), lambda t: df.to_parquet(t, index=False))


def cached_frame(kind: str, key: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Read `<kind>/<key>.parquet` or compute it, write it atomically and return it."""
    df = read_frame(kind, key)
    if df is None:
        df = compute()
        write_frame(kind, key, df)
    return df


def read_json(kind: str, key: str) -> Any | None:
    f = _path(kind, key, "json")
    if not f.is_file():
        return None
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(kind: str, key: str, obj: Any) -> None:
    text = json.dumps(obj, ensure_ascii=False, default=str)
    _atomic_write(_path(kind, key, "json"), lambda t: t.write_text(text, encoding="utf-8"))


def cached_json(kind: str, key: str, compute: Callable[[], Any]) -> Any:
    """Read `<kind>/<key>.json` or compute a JSON-able object, write it atomically and return it."""
    obj = read_json(kind, key)
    if obj is None:
        obj = compute()
        write_json(kind, key, obj)
    return obj


def read_arrays(kind: str, key: str) -> dict[str, np.ndarray] | None:
    f = _path(kind, key, "npz")
    if not f.is_file():
        return None
    try:
        with np.load(f, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:
        return None


def write_arrays(kind: str, key: str, arrays: dict[str, np.ndarray]) -> None:
    def write(t: Path) -> None:
        with open(t, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})

    for k, v in arrays.items():
        if np.asarray(v).dtype == object:
            raise ValueError(f"array {k!r} has dtype object; the cache stores only plain arrays (no pickle)")
    _atomic_write(_path(kind, key, "npz"), write)


def cached_arrays(kind: str, key: str, compute: Callable[[], dict]) -> dict[str, np.ndarray]:
    """Read `<kind>/<key>.npz` (never pickled) or compute a dict of arrays, write it and return it."""
    arrs = read_arrays(kind, key)
    if arrs is None:
        arrs = {k: np.asarray(v) for k, v in compute().items()}
        write_arrays(kind, key, arrs)
    return arrs
