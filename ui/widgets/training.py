"""Train a checkpoint from the sidebar: a form that starts `python -m mlt_core train` in the background,
its live progress (loss and per-language accuracy), log, Cancel, and the job history.

Job state lives on disk (mlt_core.training.jobs), so a refresh or a restart of the app loses nothing.
Never imports torch or transformers: the page stays snappy while a job trains in another process.
"""
from __future__ import annotations

import time

import altair as alt
import pandas as pd
import streamlit as st

from mlt_core.training import jobs
from mlt_core.charts.theme import lang_scale
from mlt_core.model.checkpoint import app_source, list_checkpoints
from mlt_core.errors import MltError
from mlt_core.training import DEFAULT_LR, METHODS
from ui.widgets.models import available_checkpoints

from mlt_core.data.langs import SAMPLE_LANGS as LANGS  # (the bundled sample's languages)
XNLI_LANGS = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
NO_GPU = "No GPU found: training runs on CPU — fine for the demo-size models, slow for xlm-roberta-base"
JOB_KEY = "train_job"  # session_state: id of the job this tab follows


def progress_chart(df: pd.DataFrame) -> alt.Chart:
    """Training loss and per-language eval accuracy against step, from `jobs.progress` rows."""
    loss = df.dropna(subset=["loss"]).astype({"loss": float})
    acc = df.dropna(subset=["accuracy"]).astype({"accuracy": float})
    x = alt.X("step:Q", title="step", axis=alt.Axis(format="d", tickMinStep=1))
    charts = []
    if len(loss):
        charts.append(alt.Chart(loss).mark_line(point=True).encode(
            x, alt.Y("loss:Q", title="training loss"), tooltip=["step", "epoch", "loss"]).properties(height=130))
    if len(acc):
        charts.append(alt.Chart(acc).mark_line(point=True).encode(
            x, alt.Y("accuracy:Q", title="eval accuracy", scale=alt.Scale(domain=[0, 1])),
            alt.Color("lang:N", title=None, scale=lang_scale(sorted(acc["lang"].unique())),
                      legend=alt.Legend(orient="bottom", columns=2)),  # the sidebar is narrow
            tooltip=["step", "lang", alt.Tooltip("accuracy:Q", format=".3f")]).properties(height=130))
    return alt.vconcat(*charts)


@st.cache_data(ttl=60, show_spinner=False)
def _gpus() -> list[dict]:
    return jobs.gpu_info()


def _bases() -> list[str]:
    """Local checkpoints as starting points: bases (role "base") first, then fine-tuned ones."""
    rows = list_checkpoints()
    return [r["name"] for r in sorted(rows, key=lambda r: (r["meta"].get("role") != "base", r["name"]))]


def _form() -> None:
    bases = _bases()
    base = st.selectbox("Base model", bases or ["(no local model)"], key="train_base",
                        help="A checkpoint in models/; or type a Hub id or folder below")
    other = st.text_input("…or a Hub id / folder", key="train_base_other", placeholder="FacebookAI/xlm-roberta-base",
                          help="A Hub id, or a folder in models/ or in one the server allows (MLT_ALLOWED_DIRS)")
    data = st.selectbox("Data", ["sample", "xnli"], key="train_data",
                        help="sample: generated pairs + the bundled held-out sample (offline); xnli: the Hub dataset")
    langs = st.multiselect("Training languages", XNLI_LANGS if data == "xnli" else LANGS, default=["en"],
                           key="train_langs")
    method = st.selectbox("Method", list(METHODS), key="train_method",
                          help="  \n".join(f"**{k}**: {v}" for k, v in METHODS.items()))
    c1, c2 = st.columns(2)
    epochs = c1.number_input("Epochs", 0.1, 100.0, 3.0, step=0.5, key="train_epochs")
    lr = c2.number_input("Learning rate", 0.0, 1.0, value=None, format="%.1e", key="train_lr",
                         placeholder="by method", help="Empty: the method's default ("
                         + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    batch = c1.number_input("Batch size", 1, 1024, 16, key="train_batch_size")
    steps = c2.number_input("Max steps", 0, 10_000_000, 0, key="train_max_steps", help="0: run the epochs")
    name = st.text_input("Output name", key="train_name", placeholder="e.g. xlmr-hi-lape")
    if not st.button("Start training", key="train_start", type="primary"):
        return
    base = other.strip() or (base if bases else "")
    if not base or not langs or not name.strip():
        st.error("Choose a base model, at least one language, and a name for the new checkpoint.")
        return
    try:
        base = app_source(base) if other.strip() else base  # models/, a Hub id, or an operator-allowed folder
    except MltError as e:
        st.error(str(e))
        return
    args = {"base": base, "train_langs": list(langs), "method": method, "data": data, "epochs": epochs,
            "lr": lr, "batch_size": int(batch), "max_steps": int(steps) or None, "name": name.strip()}
    try:
        st.session_state[JOB_KEY] = jobs.start_job(args)
    except MltError as e:
        st.error(str(e))


def _current_job() -> dict | None:
    job_id = st.session_state.get(JOB_KEY)
    try:
        if job_id:
            return jobs.get_job(job_id)
    except MltError:
        pass
    found = jobs.list_jobs()
    return found[0] if found else None


def _job_body() -> None:
    job = _current_job()
    if job is None:
        st.caption("No training job yet.")
        return
    active = job["status"] in jobs.ACTIVE
    st.markdown(f"**{job['checkpoint']}** on {job['device']}: **{job['status']}**")
    df = jobs.progress(job["id"])
    steps = df.dropna(subset=["step"])
    if len(steps):
        step, total = int(steps["step"].iloc[-1]), int(steps["max_steps"].max() or 0)
        frac = 1.0 if job["status"] == "finished" else (min(step / total, 1.0) if total else 0.0)
        st.progress(frac, text=f"step {step} / {total}" + (f" · {steps['time'].iloc[-1]:.0f}s" if active else ""))
    if df["loss"].notna().any() or df["accuracy"].notna().any():
        st.altair_chart(progress_chart(df), width="stretch")
    if job["status"] == "failed":
        st.error(job.get("error") or "the job failed; see its log")
    with st.expander("Log", expanded=job["status"] == "failed"):
        st.code(jobs.log_tail(job["id"], 20) or "(empty)", language=None)
    if active and st.button("Cancel", key="train_cancel"):
        jobs.cancel_job(job["id"])
        st.rerun()
    if active and st.session_state.get("_train_was_active") is None:
        st.session_state["_train_was_active"] = job["id"]
    if not active and st.session_state.pop("_train_was_active", None) == job["id"]:
        available_checkpoints.clear()  # cached for a few seconds: the rerun would still list the old ones
        st.rerun()  # the job just ended: rerun the whole app so model lists pick up the new checkpoint


_job_live = st.fragment(run_every=2)(_job_body)
_job_static = st.fragment(_job_body)


def _history() -> None:
    rows = jobs.list_jobs()
    if len(rows) > 1 or (rows and rows[0]["status"] not in jobs.ACTIVE):
        with st.expander("Job history"):
            table = pd.DataFrame([{"name": j["checkpoint"], "status": j["status"], "device": j["device"],
                                   "started": time.strftime("%m-%d %H:%M", time.localtime(j.get("started") or j["created"]))}
                                  for j in rows])
            st.dataframe(table, hide_index=True, key="train_history")
            followed = st.selectbox("Follow job", [j["id"] for j in rows], key="train_follow",
                                    format_func=lambda i: next(f"{j['checkpoint']} ({j['status']})" for j in rows
                                                               if j["id"] == i))
            if followed != st.session_state.get(JOB_KEY) and st.button("Show", key="train_show"):
                st.session_state[JOB_KEY] = followed
                st.rerun()


def _panel(title: bool) -> None:
    if title:
        st.subheader("Train a checkpoint")
    if not _gpus():
        st.caption(NO_GPU)
    _form()
    job = _current_job()
    (_job_live if job and job["status"] in jobs.ACTIVE else _job_static)()
    _history()


def render_training_sidebar() -> None:
    """Start, watch and cancel training jobs; draws in the sidebar (or in the `with` container it is called in)."""
    try:
        from streamlit.delta_generator_singletons import get_last_dg_added_to_context_stack

        inside = get_last_dg_added_to_context_stack() is not None
    except ImportError:
        inside = False
    if inside:  # e.g. the home page's "Train a checkpoint" expander
        _panel(title=False)
    else:
        with st.sidebar:
            _panel(title=True)
