"""NLI pairs as one tidy DataFrame: the bundled sample, XNLI from the Hub, or local files.

Every source comes back with the same columns, NLI_COLUMNS, labels as canonical XNLI ids
(0 entailment, 1 neutral, 2 contradiction), sorted by (lang, order in the source), ids as
strings; a pair keeps its id in every language, so `parallel_pairs` finds its translations.

    load_nli()                                   bundled sample (data/sample/xnli.test.tsv)
    load_nli("xnli", ["en", "hi"], "validation")  facebook/xnli on the Hugging Face Hub
    load_nli("~/XNLI-1.0", split="dev")          folder: xnli.dev.tsv / xnli.test.tsv,
                                                 or multinli.train.LANG.tsv for split="train"
    load_nli("XNLI-MT-1.0/multinli/multinli.train.hi.tsv")   one file: XNLI TSV, XNLI-MT TSV,
                                                 JSONL, CSV or Parquet (premise, hypothesis, label)
"""
from __future__ import annotations

import csv
import os
import re
import socket
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse

import pandas as pd

from mlt_core.data.labels import LABELS, canonical_label
from mlt_core.data.langs import split_langs
from mlt_core.errors import MltError
from mlt_core.io import REPO_ROOT

NLI_COLUMNS = ["id", "lang", "premise", "hypothesis", "label"]
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
XNLI_HUB_ID = "facebook/xnli"
XNLI_LANGS = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
DOWNLOAD_HINT = (
    "To work without the Hub, download XNLI-1.0.zip (dev and test sets, 15 languages: "
    "https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip) and, for training pairs beyond English, "
    "XNLI-MT-1.0.zip (machine-translated MultiNLI, multinli/multinli.train.LANG.tsv: "
    "https://dl.fbaipublicfiles.com/XNLI/XNLI-MT-1.0.zip); unzip them into one folder and pass "
    "--data FOLDER (or one file, e.g. --data XNLI-1.0/xnli.test.tsv)"
)
# the same advice for the web app, where there is no --data flag (ui/evaluation.py swaps it in)
APP_DOWNLOAD_HINT = (
    "To work without the Hub, download XNLI-1.0.zip (https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip), "
    "unzip it under the data/ folder (e.g. data/XNLI-1.0/xnli.test.tsv) and pick 'File under data/' as the "
    "Data, or upload an NLI file, or use the bundled sample."
)
# other names for our columns: XNLI / MultiNLI files, XNLI-MT files, common exports
_ALIASES = {"premise": ("sentence1",), "hypothesis": ("sentence2", "hypo"), "label": ("gold_label",),
            "lang": ("language",), "id": ("pairID", "pair_id", "guid", "idx")}
_HUB_SPLITS = {"train": "train", "dev": "validation", "validation": "validation", "valid": "validation",
               "test": "test"}
_NOT_LANGS = {"dev", "val", "all", "tok", "raw"}


def load_nli(source: str = "sample", langs: Sequence[str] | None = None, split: str = "test",
             limit: int | None = None) -> pd.DataFrame:
    """NLI pairs from `source` ('sample', 'xnli' or a path) as a DataFrame with NLI_COLUMNS.

    langs: languages to keep (None: all the source has); a requested language with no pairs is
    an error. split: 'test', 'dev'/'validation' or 'train' (picks the file in a folder, the Hub
    split; ignored for a single file). limit: keep the first N pairs of each language.
    """
    langs = split_langs(langs)  # "en,hi", "en hi" or a list
    if limit is not None and limit < 0:
        raise MltError(f"limit must be >= 0, not {limit}")
    source = str(source)
    if source == "sample":
        if split != "test":
            raise MltError(f"the bundled sample has only a test split, not {split!r}; training pairs "
                           "come from mlt_core.data.templates.generate_pairs (train --data sample does this)")
        if not (SAMPLE_DIR / "xnli.test.tsv").exists():
            raise MltError(f"the bundled sample {SAMPLE_DIR / 'xnli.test.tsv'} is missing; "
                           "recreate it with: python -m mlt_core.data.templates --out data/sample")
        frames, origin = [_read(SAMPLE_DIR / "xnli.test.tsv", langs)], "the bundled sample"
    elif source == "xnli":
        frames, origin = _read_hub(langs, split), XNLI_HUB_ID
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise MltError(f"{source!r} is neither 'sample', 'xnli' nor an existing file or folder")
        files = _files_in(path, split, langs) if path.is_dir() else [path]
        frames, origin = [_read(f, langs) for f in files], str(path)
    df = pd.concat(frames, ignore_index=True)
    present = sorted(df["lang"].unique())
    if langs:
        missing = [l for l in langs if l not in present]
        if missing:
            raise MltError(f"no {', '.join(missing)} pairs in {origin}; it has: {', '.join(present) or 'none'}")
        df = df[df["lang"].isin(langs)]
    df = df.sort_values(["lang", "_order"], kind="stable")
    if limit is not None:
        df = df.groupby("lang", sort=False).head(limit)
    return _validated(df)


def parallel_pairs(df: pd.DataFrame, id_) -> pd.DataFrame:
    """The rows of pair `id_` in every language it has, one per language, sorted by language."""
    rows = df[df["id"] == str(id_)]
    if rows.empty:
        example = f"; ids look like {df['id'].iloc[0]!r}" if len(df) else ""
        raise MltError(f"no pair with id {id_!r}{example}")
    return rows.sort_values("lang", kind="stable").drop_duplicates("lang").reset_index(drop=True)


def languages(df: pd.DataFrame) -> list[str]:
    """The languages in an NLI frame, sorted."""
    return sorted(df["lang"].unique())


# ------------------------------------------------------------------------------ files
def _files_in(folder: Path, split: str, langs: list[str] | None) -> list[Path]:
    """The XNLI files in `folder` (searched recursively) for `split`."""
    if split == "train":
        found = {m.group(1): f for f in sorted(folder.rglob("multinli.train.*.tsv"))
                 if (m := re.fullmatch(r"multinli\.train\.([\w-]+)\.tsv", f.name))}
        if not found:
            raise MltError(f"{folder} has no XNLI-MT training files (multinli/multinli.train.LANG.tsv). "
                           f"{DOWNLOAD_HINT}")
        missing = [l for l in langs or [] if l not in found]
        if missing:
            raise MltError(f"no {', '.join(missing)} training file in {folder}; it has: {', '.join(sorted(found))}")
        return [found[l] for l in (langs or sorted(found))]
    name = {"test": "xnli.test", "dev": "xnli.dev", "validation": "xnli.dev", "valid": "xnli.dev"}.get(split)
    if name is None:
        raise MltError(f"split must be 'train', 'dev' (or 'validation') or 'test', not {split!r}")
    for ext in (".tsv", ".jsonl"):
        found = sorted(folder.rglob(name + ext), key=lambda f: (len(f.parts), str(f)))
        if found:
            return found[:1]
    raise MltError(f"{folder} has no {name}.tsv (the XNLI-1.0 release layout). {DOWNLOAD_HINT}")


def read_nli_bytes(raw: bytes, name: str, langs: list[str] | None = None) -> pd.DataFrame:
    """An uploaded file's bytes (named `name`: its suffix picks the format) as NLI_COLUMNS, parsed in
    memory with exactly the columns, aliases and row-naming errors of load_nli. Never unpickled."""
    import io

    df = _read(Path(name), langs, content=io.BytesIO(raw))
    return _validated(df.sort_values(["lang", "_order"], kind="stable"))


def _read(path: Path, langs: list[str] | None, content=None) -> pd.DataFrame:
    """One file (or `content`, a binary buffer named `path`) as raw columns (id, lang, premise,
    hypothesis, label, _order, _where)."""
    suffix = path.suffix.lower()
    src = path if content is None else content
    try:
        if suffix in (".tsv", ".txt"):
            # QUOTE_NONE: XNLI text holds bare quote characters (the Hub loader reads it the same way)
            raw = pd.read_csv(src, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
        elif suffix == ".csv":
            raw = pd.read_csv(src, dtype=str, keep_default_na=False)
        elif suffix in (".jsonl", ".json"):
            raw = pd.read_json(src, lines=suffix == ".jsonl" or _is_json_lines(src), dtype=False)
        elif suffix == ".parquet":
            raw = pd.read_parquet(src)
        else:
            raise MltError(f"{path}: unknown file type {suffix or '(none)'}; use .tsv (XNLI, XNLI-MT), "
                           ".jsonl, .csv or .parquet with columns premise, hypothesis, label")
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise MltError(f"{path}: cannot read it as {suffix.lstrip('.') or 'data'}: {str(e).splitlines()[0]}") from e
    if raw.empty and not len(raw.columns):  # an empty file (or only blank lines): there is nothing to name
        raise MltError(f"{path}: the file is empty; it needs one pair per row with premise, hypothesis, label")
    raw = raw.rename(columns=_renames(list(raw.columns)))
    missing = [c for c in ("premise", "hypothesis", "label") if c not in raw.columns]
    if missing:
        names = ", ".join(f"{c} (or {'/'.join(_ALIASES[c])})" for c in missing)
        raise MltError(f"{path}: missing column(s) {names}; it has: {', '.join(map(str, raw.columns))}")
    if "lang" not in raw.columns:
        raw["lang"] = _lang_from_name(path, langs)
    raw["lang"] = raw["lang"].astype(str).str.strip()
    order = pd.Series(range(len(raw)), index=raw.index)
    if "id" not in raw.columns:  # position within its language: parallel across aligned files
        raw["id"] = [f"row-{i:06d}" for i in raw.groupby("lang", sort=False).cumcount()]
    line = order + (1 if suffix == ".jsonl" else 2)  # 1-based; header lines count in tsv/csv
    where = f"{path}: row " + (order + 1).astype(str)
    if suffix in (".tsv", ".txt", ".csv", ".jsonl"):
        where += " (line " + line.astype(str) + ")"
    return raw.assign(_order=order, _where=where)[["id", "lang", "premise", "hypothesis", "label", "_order", "_where"]]


def _renames(columns: list[str]) -> dict[str, str]:
    renames = {}
    for ours, others in _ALIASES.items():
        if ours not in columns:
            alias = next((a for a in others if a in columns), None)
            if alias:
                renames[alias] = ours
    return renames


def _is_json_lines(src) -> bool:
    """A .json file (path or binary buffer) holding one object per line, not one array."""
    if hasattr(src, "getvalue"):
        return not src.getvalue()[:1024].lstrip().startswith(b"[")
    with open(src, encoding="utf-8") as f:
        return not f.read(1024).lstrip().startswith("[")


def _lang_from_name(path: Path, langs: list[str] | None) -> str:
    """multinli.train.hi.tsv -> 'hi'; otherwise the one requested language."""
    m = re.search(r"\.([a-z]{2,3})$", path.stem)
    if m and m.group(1) not in _NOT_LANGS:
        return m.group(1)
    if langs and len(langs) == 1:
        return langs[0]
    raise MltError(f"{path}: no lang (or language) column and no language in the file name "
                   "(like train.hi.jsonl); add the column or ask for exactly one language")


def _validated(df: pd.DataFrame) -> pd.DataFrame:
    """Canonical labels and non-empty texts, or an MltError naming the first bad row."""
    labels = []
    for value, where in zip(df["label"], df["_where"]):
        try:
            value = value.item() if hasattr(value, "item") else value  # numpy scalar -> Python
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            labels.append(canonical_label(value))
        except (ValueError, TypeError):
            raise MltError(f"{where}: label {value!r} is not one of {', '.join(LABELS)} "
                           "(contradictory and ids 0, 1, 2 also work)") from None
    for column in ("premise", "hypothesis"):
        text = df[column]
        empty = text.isna() | (text.astype(str).str.strip() == "")
        if empty.any():
            raise MltError(f"{df['_where'][empty].iloc[0]}: empty {column}; fill it in or drop the row")
    out = pd.DataFrame({
        "id": df["id"].astype(str).to_numpy(),
        "lang": df["lang"].to_numpy(),
        "premise": df["premise"].astype(str).to_numpy(),
        "hypothesis": df["hypothesis"].astype(str).to_numpy(),
        "label": pd.array(labels, dtype="int64"),
    })
    return out[NLI_COLUMNS]


# -------------------------------------------------------------------------------- Hub
def _read_hub(langs: list[str] | None, split: str) -> list[pd.DataFrame]:
    """facebook/xnli per language, after a fast check that the Hub can answer at all."""
    langs = langs or list(XNLI_LANGS)
    unknown = [l for l in langs if l not in XNLI_LANGS]
    if unknown:
        raise MltError(f"XNLI has no {', '.join(unknown)}; its languages: {', '.join(XNLI_LANGS)}")
    if split not in _HUB_SPLITS:
        raise MltError(f"split must be one of {', '.join(_HUB_SPLITS)}, not {split!r}")
    offline = _offline_reason()
    if offline is None:
        _check_reachable()
    frames = []
    for lang in langs:
        try:
            import datasets.config
            from datasets import load_dataset

            if offline and not datasets.config.HF_HUB_OFFLINE:  # imported before the variable was set:
                raise RuntimeError("datasets would still go online")  # it would try the network
            ds = load_dataset(XNLI_HUB_ID, lang, split=_HUB_SPLITS[split])
        except Exception as e:  # network, cache and Hub errors all end the same way for a user
            why = offline or f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            raise MltError(f"cannot load {XNLI_HUB_ID} ({lang}, {split}) from the Hub or its cache ({why}). "
                           f"{DOWNLOAD_HINT}") from None
        raw = ds.to_pandas()[["premise", "hypothesis", "label"]]
        order = pd.Series(range(len(raw)), index=raw.index)
        frames.append(raw.assign(  # the Hub's language configs are row-aligned: same row, same pair
            id=[f"{_HUB_SPLITS[split]}-{i:06d}" for i in order], lang=lang, _order=order,
            _where=f"{XNLI_HUB_ID} {lang} {split}: row " + (order + 1).astype(str)))
    return frames


def _offline_reason() -> str | None:
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{var} is set and the Hugging Face cache has no copy"
    return None


def _check_reachable(timeout: float = 3.0) -> None:
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise MltError(f"cannot reach the Hugging Face Hub ({host}:{port}: {e or type(e).__name__}); set "
                       f"HF_HUB_OFFLINE=1 to use a copy in the Hugging Face cache. {DOWNLOAD_HINT}") from None
