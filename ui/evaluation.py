"""Evaluation and Errors pages: data choice, a cached evaluation run with progress, figures with
downloads, the HTML report and dataset-level internals (the Errors page reads the same run: ui/errors.py).

Session state holds selections only: `EVAL_KEY` is the last successful Run's {models, data, langs,
limit} (a Run that fails is shown once and not kept);
both pages re-run `mlt_core.eval.evaluate.evaluate` on it, which reads every shard from the disk
cache (instant, no model loaded). Uploaded files are parsed in memory and kept in the store
under their content hash, so the Errors page can read them back.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from mlt_core import store
from mlt_core.data.nli import XNLI_LANGS  # noqa: F401  (the page offers these for the Hub dataset)
from mlt_core.data.nli import APP_DOWNLOAD_HINT, DOWNLOAD_HINT, read_nli_bytes
from mlt_core.errors import MltError
from mlt_core.io import REPO_ROOT
from ui.widgets.download import figure_downloads
from ui.widgets.models import get_checkpoint

EVAL_KEY = "eval_params"  # last run: {"models": [paths], "data": str, "langs": [..], "limit": int|None}
INTERNALS_KEY = "eval_internals"  # {"limit": n} once the user asked for internals
INTERNALS_LIMIT_KEY = "ev_int_limit"  # the page's "Examples per language for internals" (default 100)
DATA_DIR = REPO_ROOT / "data"
DATA_EXT = (".jsonl", ".json", ".csv", ".tsv", ".txt")
UPLOAD_PREFIX = "upload:"


def data_files() -> list[str]:
    """NLI files under data/ (relative paths; symlinks that leave data/ are skipped)."""
    if not DATA_DIR.is_dir():
        return []
    root = DATA_DIR.resolve()
    out = []
    for p in sorted(DATA_DIR.rglob("*")):
        if p.is_file() and p.suffix.lower() in DATA_EXT and p.resolve().is_relative_to(root):
            out.append(str(p.relative_to(DATA_DIR)))
    return out[:500]


def safe_data_path(rel: str) -> str:
    """The absolute path of a file under data/; refuses anything that escapes the folder."""
    p = (DATA_DIR / rel).resolve()
    if not p.is_relative_to(DATA_DIR.resolve()) or not p.is_file():
        raise MltError(f"{rel} is not a file under data/; pick one from the list")
    return str(p)


def upload_limit_mb() -> int:
    """The upload cap: Streamlit's server.maxUploadSize (.streamlit/config.toml), checked again on the server."""
    return int(st.get_option("server.maxUploadSize"))


def parse_upload(name: str, raw: bytes) -> str:
    """Parse an upload (in memory), keep it in the store under its content hash, return its data id."""
    mb, cap = len(raw) / 2**20, upload_limit_mb()
    if mb > cap:
        raise MltError(f"{Path(name).name} is {mb:.1f} MB; uploads are capped at {cap} MB. Put the file under data/ "
                       "(it is then listed here), or evaluate it with the CLI (python -m mlt_core evaluate --data FILE)")
    key = store.fingerprint("upload", name, hashlib.sha256(raw).hexdigest())
    if store.read_frame("uploads", key) is None:
        with st.status(f"Parsing {Path(name).name} ({mb:.1f} MB)…", expanded=False) as status:
            t0 = time.monotonic()
            df = read_nli_bytes(raw, name)
            status.update(label=f"Reading {len(df):,} pairs…")
            store.write_frame("uploads", key, df)
            status.update(label=f"Parsed {Path(name).name}: {len(df):,} pairs in "
                                f"{df['lang'].nunique()} language(s), {time.monotonic() - t0:.1f} s", state="complete")
    return f"{UPLOAD_PREFIX}{key}:{Path(name).name}"


def load_data(source: str, langs: tuple | None, limit: int | None, split: str = "test") -> pd.DataFrame:
    """NLI examples for a data id: "sample", "xnli", "data/<file>", or an uploaded file's id (cached)."""
    stamp = Path(safe_data_path(source[len("data/"):])).stat().st_mtime_ns if source.startswith("data/") else 0
    try:
        return _load_data(source, tuple(langs) if langs else None, limit, split, stamp)
    except MltError as e:
        raise MltError(_app_message(e)) from None


def _app_message(e: Exception) -> str:
    """An error's text with the CLI's advice (`--data FOLDER`) replaced by what to do in the app."""
    return str(e).replace(DOWNLOAD_HINT, APP_DOWNLOAD_HINT)


@st.cache_data(show_spinner="Loading data…", max_entries=16)
def _load_data(source: str, langs: tuple | None, limit: int | None, split: str, stamp: int) -> pd.DataFrame:
    """`stamp`: the file's mtime, so an edited file under data/ is read again."""
    if source.startswith(UPLOAD_PREFIX):
        df = store.read_frame("uploads", source[len(UPLOAD_PREFIX):].split(":")[0])
        if df is None:
            raise MltError("the uploaded file is no longer in the cache; upload it again")
        if langs:
            df = df[df["lang"].isin(langs)]
        return df.groupby("lang", sort=False).head(limit) if limit else df
    from mlt_core.data.nli import load_nli

    path = safe_data_path(source[len("data/"):]) if source.startswith("data/") else source
    return load_nli(source=path, langs=list(langs) if langs else None, split=split, limit=limit)


def data_label(source: str) -> str:
    return source.rsplit(":", 1)[-1] + " (uploaded)" if source.startswith(UPLOAD_PREFIX) else source


def data_picker(key: str = "ev") -> str:
    """Widgets choosing the data: bundled sample, a file under data/, or an upload; returns the data id."""
    files = data_files()
    kinds = ["Bundled sample"] + (["File under data/"] if files else []) + ["Upload a file", "XNLI (Hub)"]
    kind = st.radio("Data", kinds, horizontal=True, key=f"{key}_data_kind")
    if kind == "File under data/":
        return "data/" + st.selectbox("File", files, key=f"{key}_data_file")
    if kind == "Upload a file":
        up = st.file_uploader("JSONL, CSV, TSV or Parquet with premise, hypothesis, label (+ lang, id)",
                              type=["jsonl", "json", "csv", "tsv", "txt", "parquet"], key=f"{key}_upload")
        return parse_upload(up.name, up.getvalue()) if up is not None else ""
    return "xnli" if kind.startswith("XNLI") else "sample"


def run(params: dict, show_progress: bool = True):
    """`evaluate()` for the stored selections, with a progress bar while anything is computed.

    Raises MltError (data that cannot be loaded, bad languages...); the caller decides what stays."""
    from mlt_core.eval.evaluate import evaluate

    data = load_data(params["data"], tuple(params["langs"]), params.get("limit"))
    from ui.widgets.progress import Progress

    bar = Progress("Evaluating…", cancel_key="ev_cancel") if show_progress else None

    def progress(done, total, desc):
        if bar is not None:
            bar.step(done, total, f"{desc}: {done}/{total} examples")

    try:
        # the same (eager) pass keeps the internals of the shards (256 examples) holding the first "examples
        # for internals" of each language: the section below reads them, running no model
        keep = int(st.session_state.get(INTERNALS_LIMIT_KEY) or 100)
        ev = evaluate(params["models"], data, params["langs"] or None, progress=progress, loader=get_checkpoint,
                      internals=keep)
    finally:
        if bar is not None:
            bar.close()
    for name, msg in ev.refused.items():
        st.error(f"{name} was not evaluated: {msg}", icon="⚠️")
    for w in ev.warnings:
        st.warning(w, icon="⚠️")
    return ev, data


def evaluation_figures(ev) -> dict:
    """The page's figures, by section (the same list the HTML report draws)."""
    from mlt_core.eval.report import evaluation_figures as figures

    return figures(ev)


def accuracy_table(ev) -> pd.DataFrame:
    """Model x language accuracy, its 95% bootstrap interval, and the model's language bias."""
    rows = []
    for m, info in ev.metrics["models"].items():
        row = {"model": m, "trained on": ",".join(info["train_langs"]) or "?"}
        for c in ev.metrics["cells"]:
            if c["model"] == m:
                row[c["lang"]] = c["accuracy"]
                row[f"{c['lang']} 95% CI"] = f"{c['ci_low']:.0%} to {c['ci_high']:.0%}"  # accuracy: percent
        row["bias"] = float("nan") if info["bias"] is None else info["bias"]  # never a raw "None"
        rows.append(row)
    return pd.DataFrame(rows)


def accuracy_config(table: pd.DataFrame) -> dict:
    """One format per kind: accuracy and bias (a difference of accuracies) in percent."""
    cfg = {c: st.column_config.NumberColumn(c, format="percent") for c in table.columns
           if c not in ("model", "trained on", "bias") and not c.endswith("CI")}
    cfg["bias"] = st.column_config.NumberColumn("bias (own − other languages)", format="percent",
                                                help="empty: trained on every language shown (or none of them)")
    return cfg


CALIBRATION_CONFIG = {
    "accuracy": st.column_config.NumberColumn(format="percent"),
    "mean_confidence": st.column_config.NumberColumn("mean confidence", format="percent"),
    "overconfidence": st.column_config.NumberColumn("over-confidence", format="percent"),
    **{c: st.column_config.NumberColumn(c.upper() if c != "brier" else "Brier", format="%.3f")
       for c in ("ece", "mce", "brier")},
}


def calibration_table(ev) -> pd.DataFrame:
    """ECE, MCE, Brier and over-confidence per (model, language)."""
    from mlt_core.eval.metrics import tables

    return tables(ev.metrics)["calibration"]


def show_figure(fig, key: str) -> None:
    """One figure: title, its help line, the chart, and CSV/SVG/PNG downloads."""
    import altair as alt

    if fig.chart is None or getattr(fig.chart, "title", alt.Undefined) is alt.Undefined:
        st.markdown(f"**{fig.title}**")  # the chart carries no title of its own: no heading twice
    st.caption((fig.help or "").strip().splitlines()[0])
    if fig.chart is not None:
        with st.container(key=f"{key}_chart"):  # browser tests find `.st-key-<key>_chart`
            st.altair_chart(fig.chart, width="content")
    with st.expander("data and downloads"):
        st.dataframe(fig.data, hide_index=True, key=f"{key}_df")
        figure_downloads(fig.chart, fig.data, fig.key, key=key, image=True)


def internals_stats(models: tuple, source: str, langs: tuple, data_limit: int | None, limit: int,
                    show_progress: bool = False) -> dict:
    """Pooled states and attention entropy per (model, language) on the first `limit` of the evaluated
    examples (the evaluation's data: `data_limit` per language): kept by the evaluation's own pass
    (run()), so read from the store; only a shard evaluated without them runs (once, keeping both)."""
    from mlt_core.eval.representations import internals

    data = load_data(source, langs or None, data_limit)
    bar = st.progress(0.0, text="Capturing internals…") if show_progress else None

    def progress(done, total, desc):
        if bar is not None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"{desc}: {done}/{total} examples")

    try:
        return internals(list(models), data, list(langs) or None, limit=limit, loader=get_checkpoint,
                         progress=progress)
    finally:
        if bar is not None:
            bar.empty()


@st.cache_data(max_entries=32, show_spinner="Fitting probes…")
def probe_frame(models: tuple, source: str, langs: tuple, data_limit: int | None, limit: int,
                model: str) -> pd.DataFrame:
    from mlt_core.eval.representations import probe_table

    return probe_table(internals_stats(models, source, langs, data_limit, limit), model)


@st.cache_data(max_entries=32, show_spinner="Projecting…")
def projection_frame(models: tuple, source: str, langs: tuple, data_limit: int | None, limit: int, model: str,
                     layer: int, method: str) -> pd.DataFrame:
    from mlt_core.eval.representations import projection

    return projection(internals_stats(models, source, langs, data_limit, limit), model, layer, method)


@st.cache_data(max_entries=16, show_spinner="Aligning translated words…")
def word_alignment_frame(models: tuple, source: str, langs: tuple) -> pd.DataFrame:
    """Word alignment per layer for each model (mlt_core.eval.word_alignment) on the data's parallel premises."""
    from mlt_core.eval.word_alignment import word_alignment

    data = load_data(source, langs or None, None)
    return pd.concat([word_alignment(get_checkpoint(m), data, list(langs) or None) for m in models],
                     ignore_index=True)


def internals_figures(params: dict, limit: int, models: list | None = None, key: str = "int") -> list:
    """Widgets + figures of the internals section (for `models`, default all); returns the Figures drawn."""
    from mlt_core.eval import representations as R
    from mlt_core.eval.report import internals_figures as figures

    args = (tuple(models or params["models"]), params["data"], tuple(params["langs"]), params.get("limit"),
            int(limit))
    stats = internals_stats(*args, show_progress=True)
    names = list(dict.fromkeys(k[0] for k in stats))
    t = {"entropy": R.entropy_table(stats),
         "probes": pd.concat([probe_frame(*args, m) for m in names], ignore_index=True),
         "norms": R.norm_table(stats)}
    c = st.columns(4)
    entropy = c[0].radio("Entropy", ["entropy_norm", "entropy"], horizontal=True, key=f"{key}_ent_kind",
                         format_func=lambda v: "normalised (H / log n)" if v == "entropy_norm" else "raw (nats)")
    if len(names) >= 2:
        a = c[1].selectbox("Similarity: model A", names, index=0, key=f"{key}_sim_a")
        b = c[2].selectbox("Similarity: model B", names, index=1, key=f"{key}_sim_b")
        t["similarity"] = R.similarity_table(stats, a, b).assign(models=f"{a} vs {b}")
    if len({k[1] for k in stats}) >= 2:
        t["alignment"] = pd.concat([R.alignment_table(stats, m) for m in names], ignore_index=True)
        wa = word_alignment_frame(args[0], args[1], args[2])
        if len(wa):
            t["word_alignment"] = wa
    c = st.columns(4)
    m = c[0].selectbox("Projection of", names, key=f"{key}_proj_model")
    n_layers = next(s["pooled"].shape[1] for k, s in stats.items() if k[0] == m)
    layer = c[1].slider("Layer", 0, n_layers - 1, n_layers - 1, key=f"{key}_proj_layer")
    method = c[2].radio("Method", ["pca", "tsne"], horizontal=True, key=f"{key}_proj_method", format_func=str.upper)
    color = c[3].radio("Colour by", ["lang", "label"], horizontal=True, key=f"{key}_proj_color")
    t["projection"] = projection_frame(*args, m, layer, method)
    figs = figures(t, entropy, color)
    for f in figs:
        show_figure(f, f"{key}_{f.key}")
    return figs


def report_button(ev, extra: dict | None = None, key: str = "ev_report") -> None:
    """Export the whole page as one self-contained HTML file (opens offline)."""
    from mlt_core.eval.report import evaluation_report

    if st.button("Build HTML report", key=f"{key}_build"):
        st.session_state[f"{key}_ready"] = True
    if st.session_state.get(f"{key}_ready"):
        st.download_button("⬇ Download report.html", evaluation_report(ev, extra).encode("utf-8"),
                           "mlt-evaluation-report.html", "text/html", key=f"{key}_download")
