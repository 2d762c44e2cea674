"""Causal page and Playground tab: layer swap, patching, weight change, interpolation, decision lens.

Per-pair views are cached per (models, pair) with st.cache_data; dataset-scale runs start only on
their button (with a progress bar) and are remembered in session state as their settings alone
({models, data, langs, limit...}): a rerun asks the core again, which reads its disk cache (no
model forward). Models come from ui.widgets.models.get_checkpoint (shared across sessions): the causal
core never mutates them (interpolation works on private copies).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from mlt_core.charts import causal as C
from mlt_core.errors import MltError
from mlt_core.eval.report import Figure, render_html
from ui.evaluation import load_data, show_figure
from ui.widgets.guard import user_errors
from ui.widgets.models import get_checkpoint

SWAP_KEY, PATCH_KEY, INTERP_KEY = "cz_swap", "cz_patch", "cz_interp"  # session state: last run settings
LENS_DATA, LENS_LIMIT = "sample", 100  # the probes' training data: the bundled sample, 100 pairs per language
FALLBACK = ("A man is playing a guitar on stage.", "A person is performing music.")


def model_pair() -> tuple[str, str, str, str]:
    """Two selectboxes over the checkpoints in models/ (defaults: the models selected on Home):
    (name A, path A, name B, path B). Stops the page when there is none."""
    from ui.widgets.models import available_checkpoints, selected_models

    paths = {c["name"]: c["path"] for c in available_checkpoints()}
    paths.update({p.rstrip("/").split("/")[-1]: p for p in selected_models() if p not in paths.values()})
    if not paths:
        st.info("No checkpoints in models/ yet: build the demo ones on the Home page.")
        st.stop()
    names = list(paths)
    picked = [n for n in names if paths[n] in selected_models()] + names
    c1, c2 = st.columns(2)
    a = c1.selectbox("Model A", names, index=names.index(picked[0]), key="cz_model_a")
    b = c2.selectbox("Model B", names, index=names.index(picked[1] if len(picked) > 1 else names[-1]),
                     key="cz_model_b")
    return a, paths[a], b, paths[b]


def data_settings(prefix: str, limit: int) -> dict | None:
    """Data picker, languages and examples per language: {"data", "langs", "limit"}, or None (no data yet)."""
    from ui.evaluation import XNLI_LANGS, data_picker

    source = data_picker(prefix)
    if not source:
        return None
    available = list(XNLI_LANGS) if source == "xnli" else list(dict.fromkeys(load_data(source, None, None)["lang"]))
    c1, c2 = st.columns([3, 1])
    langs = c1.multiselect("Languages", available, default=[l for l in ("en", "hi") if l in available] or available[:2],
                           key=f"{prefix}_langs")
    n = c2.number_input("Examples per language", 4, 5000, limit, step=20, key=f"{prefix}_limit")
    return {"data": source, "langs": langs, "limit": int(n)} if langs else None


def default_pairs() -> tuple[tuple[str, str], tuple[str, str]]:
    """(target pair in Hindi, its English translation) from the bundled sample, else one English pair twice."""
    try:
        df = load_data("sample", ("en", "hi"), 1)
        en, hi = df[df["lang"] == "en"].iloc[0], df[df["lang"] == "hi"].iloc[0]
        return (hi["premise"], hi["hypothesis"]), (en["premise"], en["hypothesis"])
    except (MltError, IndexError):
        return FALLBACK, FALLBACK


def progress_bar(text: str):
    """(callback(done, total, desc), close): a Streamlit progress bar for a core function."""
    bar = st.progress(0.0, text=text)

    def progress(done, total, desc):
        bar.progress(min(1.0, done / max(total, 1)), text=f"{desc}: {done}/{total}")

    return progress, bar.empty


@st.cache_data(max_entries=64, show_spinner="Swapping layers…")
def swap_pair_frame(path_a: str, path_b: str, premise: str, hypothesis: str) -> pd.DataFrame:
    from mlt_core.causal.swap import swap_pair

    return swap_pair(path_a, path_b, premise, hypothesis, loader=get_checkpoint)


@st.cache_data(max_entries=64, show_spinner="Patching…")
def patch_pair_frame(target: str, premise: str, hypothesis: str, source_premise: str | None,
                     source_hypothesis: str | None, source_model: str | None) -> pd.DataFrame:
    from mlt_core.causal.patch import patch_pair

    return patch_pair(target, premise, hypothesis, source_premise, source_hypothesis, source_model=source_model,
                      loader=get_checkpoint)


def allowed_base(path: str, chosen: str | None = None) -> str:
    """The base of checkpoint `path` that the app may open (checkpoint.app_source): `chosen`, else mlt.json's
    'base' (a folder, a name under models/, or a Hub id), else that name under models/. MltError otherwise."""
    from mlt_core.causal.layers import base_name
    from mlt_core.model.checkpoint import app_source, read_meta

    if chosen:
        return app_source(chosen)
    meta = read_meta(app_source(path))
    if not meta.get("base"):
        raise MltError(f"{path.rstrip('/').split('/')[-1]} has no 'base' in its mlt.json; choose the base above")
    try:
        return app_source(str(meta["base"]))
    except MltError:
        return app_source(base_name(meta))  # a path recorded elsewhere: the same name under models/


@st.cache_data(max_entries=32, show_spinner="Comparing weights…")
def weights_frames(path: str, base: str | None, stamp: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`stamp`: the checkpoint's fingerprint, so a retrained folder is read again."""
    from mlt_core.causal.weights import weight_changes
    from mlt_core.model.checkpoint import app_source

    return weight_changes(app_source(path), allowed_base(path, base))


def render_weights(models: dict[str, str]) -> Figure | None:
    """The weights tab: a base picker (default: each model's mlt.json), the heatmap side by side, and the
    number of FFN neurons each layer changed."""
    from mlt_core import store
    from ui.widgets.models import available_checkpoints

    others = [c["name"] for c in available_checkpoints()]
    choice = st.selectbox("Base", ["from each model's mlt.json", *others], key="cz_weights_base")
    base = None if choice not in others else next(c["path"] for c in available_checkpoints() if c["name"] == choice)
    frames, neurons = [], []
    for name, path in models.items():
        try:
            m, nr = weights_frames(path, base, store.checkpoint_fingerprint(path))
        except MltError as e:
            st.error(f"**{name}**: {e}", icon="⚠️")
            continue
        frames.append(m)
        neurons.append(nr.groupby(["model", "layer"], as_index=False)["changed"].sum()
                       .rename(columns={"changed": "FFN neurons changed"}))
    if not frames:
        return None
    fig = figure("weights", "Relative weight change", C.weights_heatmap, pd.concat(frames, ignore_index=True), "cz")
    st.dataframe(pd.concat(neurons, ignore_index=True), hide_index=True, key="cz_weights_neurons")
    return fig


def lens_frame(path: str, premise: str, hypothesis: str, train: bool = False) -> pd.DataFrame | None:
    """The decision lens of one model on the pair; None while its probes are not trained (train=True trains them)."""
    from mlt_core.causal.lens import lens_pair, probes_for
    from ui.widgets.models import get_forward

    data = load_data(LENS_DATA, None, LENS_LIMIT)
    progress, close = progress_bar("Training probes…") if train else (None, lambda: None)
    try:
        probes = probes_for(path, data, limit=LENS_LIMIT, loader=get_checkpoint, progress=progress,
                            cached_only=not train)
    finally:
        close()
    if probes is None:
        return None
    return lens_pair(path, premise, hypothesis, probes, cache=get_forward(path, premise, hypothesis))


def figure(key: str, title: str, chart_fn, df: pd.DataFrame, prefix: str) -> Figure:
    """Draw one figure (chart, help line, CSV/SVG/PNG downloads) and return it for the report."""
    fig = Figure(key, title, chart_fn.__doc__, chart_fn(df), df)
    show_figure(fig, f"{prefix}_{key}")
    return fig


def run_dataset(state_key: str, params: dict | None, compute, label: str, fig: tuple) -> Figure | None:
    """Remember `params` (a Run pressed now), compute the last remembered run (from the disk cache when
    done before) and draw its figure `fig` = (key, title, chart builder); None when nothing was asked.
    Errors become messages."""
    if params is not None:
        st.session_state[state_key] = params
    params = st.session_state.get(state_key)
    if not params:
        return None
    progress, close = progress_bar(label)
    try:
        df = compute(params, progress)
    except MltError as e:
        st.error(str(e), icon="⚠️")
        return None
    finally:
        close()
    if "note" in df.columns and len(df) and df["note"].iloc[0]:
        st.caption(df["note"].iloc[0])
    return figure(*fig, df, "cz")


def swap_curve(params: dict, progress) -> pd.DataFrame:
    from mlt_core.causal.swap import swap_curve as curve

    data = load_data(params["data"], tuple(params["langs"]), params["limit"])
    return curve(params["a"], params["b"], data, params["langs"], progress=progress, loader=get_checkpoint)


def patch_means(params: dict, progress) -> pd.DataFrame:
    from mlt_core.causal.patch import patch_dataset

    data = load_data(params["data"], (params["source_lang"], params["target_lang"]), None)
    return patch_dataset(params["target"], data, params["source_lang"], params["target_lang"],
                         source_model=params.get("source_model"), limit=params["limit"], progress=progress,
                         loader=get_checkpoint)


def interpolation(params: dict, progress) -> pd.DataFrame:
    from mlt_core.causal.interpolate import interpolation_curve

    data = load_data(params["data"], tuple(params["langs"]), params["limit"])
    base = allowed_base(params["a"]) if params["merge"] else None  # never a folder the app may not open
    return interpolation_curve(params["a"], params["b"], data, params["langs"], steps=params["steps"],
                               merge=params["merge"], base=base, progress=progress, loader=get_checkpoint)


def report_button(figs: list, key: str = "cz_report") -> None:
    """Every causal figure on the page as one self-contained HTML file."""
    figs = [f for f in figs if f is not None]
    if not figs:
        return
    if st.button("Build HTML report", key=f"{key}_build"):
        st.session_state[f"{key}_ready"] = True
    if st.session_state.get(f"{key}_ready"):
        html = render_html("mlt causal report", {"Where the trade-off lives": figs})
        st.download_button("⬇ Download report.html", html.encode("utf-8"), "mlt-causal-report.html", "text/html",
                           key=f"{key}_download")


def render_playground_tab(runs, premise: str, hypothesis: str) -> None:
    """Playground tab: the layer swap and cross-model patching of this pair for models 1 and 2, and each
    model's decision lens when its probes are trained. Off until switched on (it costs ~L forwards)."""
    if len(runs) < 2:
        st.info("Select two models of one base on the Home page to swap their layers on this pair.")
        return
    on = st.toggle("Run the causal views for this pair (~L forwards)", key="pg_causal_on",
                   help="Layer swap and cross-model patching run blocks of both models from every layer.")
    if not on:
        st.caption("Layer swap, patching across models and the decision lens of models 1 and 2; the Causal page "
                   "has the dataset-scale versions.")
        return
    a, b = runs[0], runs[1]
    with user_errors(stop=False):
        df = swap_pair_frame(a.path, b.path, premise, hypothesis)
        with st.container(key="pg_causal_swap"):
            figure("swap_pair", f"Layer swap {a.name} → {b.name}", C.swap_pair_chart, df, "pg_causal")
        df = patch_pair_frame(a.path, premise, hypothesis, None, None, b.path)
        figure("patch_models", f"{b.name}'s pooled state patched into {a.name}", C.patch_chart, df, "pg_causal")
    with user_errors(stop=False):
        frames = [f for r in runs[:2] if (f := lens_frame(r.path, premise, hypothesis)) is not None]
        if frames:
            figure("lens", "Decision lens", C.lens_chart, pd.concat(frames, ignore_index=True), "pg_causal")
        else:
            st.caption("Decision lens: train the probes once on the Causal page (Decision lens tab).")
