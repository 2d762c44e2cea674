"""Language neurons in the app: the Playground tab, plus the cached computations of the Language Neurons page.

The firing view reads the Playground's cached forward (`blocks.{l}.mlp.post`); only switching
neurons off runs the model again (once per model, pair and language, cached).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from mlt_core.charts.neurons import firing_chart, prediction_compare_chart
from mlt_core.labels import LABELS
from ui.download import figure_downloads
from ui.guard import user_errors
from ui.models import get_checkpoint, get_forward

NONE = "(none)"


@st.cache_data(show_spinner=False, max_entries=32)
def _load(path: str, mtime_ns: int, source: str) -> dict:
    from mlt_core.neurons import load_neurons

    return load_neurons(path, get_checkpoint(source))


def neuron_set(source: str) -> tuple[dict | None, str]:
    """(neuron object, where it comes from) for a checkpoint: its own neurons.json, else its base's, else None and a note."""
    from mlt_core.neuron_cache import neuron_file_for

    f, where = neuron_file_for(source)
    if f is None:
        return None, where
    obj = _load(str(f), f.stat().st_mtime_ns, source)
    return obj, f"{where}, identified on {obj.get('model', '?')}"


def progress_bar(text: str, cancel_key: str | None = None):
    """A progress bar with a time estimate (and a Cancel button with `cancel_key`), and its (done, total) callback.

    The first value's .empty() removes both (ui.progress.Progress)."""
    from ui.progress import Progress

    prog = Progress(text, cancel_key=cancel_key)
    prog.empty = prog.close
    return prog, prog.callback


def compute_button(source: str, key: str) -> None:
    """A button that identifies the checkpoint's neurons on the bundled corpora and saves <ckpt>/neurons.json."""
    name = Path(source).name
    if st.button(f"Compute {name}'s language neurons on the bundled text (en, hi, fr, es)", key=key):
        from mlt_core.neuron_cache import identify_checkpoint

        bar, step = progress_bar(f"Counting FFN activations of {name}…", cancel_key=f"{key}_cancel")
        with user_errors(stop=False):
            res = identify_checkpoint(get_checkpoint(source), progress=step)
            bar.empty()
            st.success(f"saved {res['path']}: " + ", ".join(f"{l} {sum(map(len, v))}" for l, v in res["neurons"].items()))
            st.rerun()


@st.cache_data(show_spinner=False, max_entries=64)
def _switched_off_probs(source: str, premise: str, hypothesis: str, neuron_path: str, mtime_ns: int, lang: str,
                        max_length: int | None) -> list[float]:
    from mlt_core.neuron_stats import switch_off

    obj = _load(neuron_path, mtime_ns, source)
    cache = switch_off(get_checkpoint(source), premise, hypothesis, obj["neurons"][lang], max_length, capture=())
    return cache.probs[0].tolist()


def _firing_rows(path: str, obj: dict, premise: str, hypothesis: str, max_length: int | None):
    from mlt_core.neuron_stats import firing, top_neurons

    cache = get_forward(path, premise, hypothesis, max_length)
    name = Path(path).name
    return (firing(cache, obj["neurons"]).assign(model=name), top_neurons(cache, obj["neurons"]).assign(model=name),
            cache.probs[0].tolist())


def render_neurons_panel(model_paths: list[str], premise: str, hypothesis: str, max_length: int | None = None) -> None:
    """How each language's LAPE neurons fire on this pair, per layer, and what switching them off does."""
    if not model_paths:
        st.info("Pick at least one model on the Home page.")
        return
    sets, firing_frames, tops, probs = {}, [], {}, {}
    for i, path in enumerate(model_paths):
        name = Path(path).name
        with user_errors(stop=False):
            obj, where = neuron_set(path)
            if obj is None:
                st.info(f"**{name}**: {where}.")
                compute_button(path, key=f"neurons_panel_compute_{i}")
                continue
            st.caption(f"**{name}**: neurons from {where}.")
            f, t, p = _firing_rows(path, obj, premise, hypothesis, max_length)
            sets[path], tops[name], probs[path] = obj, t, p
            firing_frames.append(f)
    if not firing_frames:
        return
    df = pd.concat(firing_frames, ignore_index=True)
    metric = st.radio("Show", ["share_active", "mean_activation"], horizontal=True, key="neurons_panel_metric",
                      format_func={"share_active": "share firing (> 0)", "mean_activation": "mean activation"}.get)
    chart = firing_chart(df, metric)
    with st.container(key="neurons_panel_firing_chart"):  # browser tests find `.st-key-<key>`
        st.altair_chart(chart, width="content")
    figure_downloads(chart, df, "language_neuron_firing", key="neurons_panel_dl")
    with st.expander("Top neurons of each language on this pair"):
        for name, t in tops.items():
            st.markdown(f"**{name}**")
            st.dataframe(t, hide_index=True, width="stretch", key=f"neurons_panel_top_{name}")
    langs = list(dict.fromkeys(l for obj in sets.values() for l in obj["neurons"]))
    off = st.selectbox("Switch off (zero) the neurons of", [NONE] + langs, key="neurons_panel_off",
                       help="Runs each model once more with that language's neurons set to 0 in every layer.")
    if off == NONE:
        return
    from mlt_core.neuron_stats import probs_frame

    cols = st.columns(len(sets))
    for col, (path, obj) in zip(cols, sets.items()):
        name = Path(path).name
        with col, user_errors(stop=False):
            n_off = sum(map(len, obj["neurons"].get(off, [])))
            if not n_off:
                st.info(f"{name}'s neuron file has no {off} neurons: nothing to switch off.")
                continue
            new = _switched_off_probs(path, premise, hypothesis, obj["path"], Path(obj["path"]).stat().st_mtime_ns,
                                      off, max_length)
            before, after = probs[path], new
            a, b = LABELS[max(range(3), key=before.__getitem__)], LABELS[max(range(3), key=after.__getitem__)]
            st.markdown(f"**{name}**, {n_off} {off} neurons off: **{a}** ({max(before):.2f}) → **{b}** ({max(after):.2f})")
            st.altair_chart(prediction_compare_chart(probs_frame(before, after)), width="stretch")


# ----------------------------------------------------------------------------- the Language Neurons page
def render_neuron_overview(source: str) -> dict | None:
    """Neurons per layer per language and the overlap between languages, for one checkpoint."""
    from mlt_core.charts.neurons import overlap_chart, per_layer_chart
    from mlt_core.neurons import overlap_table, per_layer_table

    obj, where = None, ""
    with user_errors(stop=False):  # e.g. a neuron file from another architecture
        obj, where = neuron_set(source)
    if obj is None:
        if where:
            st.info(where + ".")
        compute_button(source, key="neurons_page_compute")
        return None
    s, tokens = obj.get("settings", {}), obj.get("token_counts", {})
    st.caption(f"From {where}. " + ", ".join(f"{k}={v}" for k, v in s.items())
               + (". Tokens counted: " + ", ".join(f"{l} {n:,}" for l, n in tokens.items()) if tokens else ""))
    for w in obj.get("warnings", []):
        st.warning(w, icon="⚠️")
    per_layer = per_layer_table(obj)
    totals = per_layer.groupby("lang", sort=False)["neurons"].sum()
    st.markdown(" · ".join(f"**{l}**: {n} neurons" for l, n in totals.items()))
    left, right = st.columns(2)
    with left:
        chart = per_layer_chart(per_layer)
        with st.container(key="neurons_page_layers_chart"):
            st.altair_chart(chart, width="stretch")
        figure_downloads(chart, per_layer, "neurons_per_layer", key="neurons_page_layers_dl")
    with right:
        value = st.radio("Overlap as", ["shared", "jaccard"], horizontal=True, key="neurons_page_overlap_value")
        ov = overlap_table(obj)
        chart = overlap_chart(ov, value)
        with st.container(key="neurons_page_overlap_chart"):
            st.altair_chart(chart, width="stretch")
        figure_downloads(chart, ov, "neuron_overlap", key="neurons_page_overlap_dl")
    return obj


def render_ablation(source: str, obj: dict) -> None:
    """Accuracy per evaluation language with each language's neurons switched off, on the bundled sample."""
    from mlt_core.charts.neurons import ablation_chart
    from mlt_core.neuron_cache import ablation_cached, eval_data

    limit = st.number_input("Examples per language (bundled sample, test split)", 10, 10_000, 100, step=50,
                            key="neurons_ablation_limit")
    with user_errors(stop=False):
        data = eval_data("sample", limit=int(limit))
        ckpt = get_checkpoint(source)
        if ckpt.head_is_noise:
            st.warning(f"{ckpt.name} has an untrained classification head: its accuracy is chance whatever "
                       "is switched off. Pick a fine-tuned checkpoint to see what its neurons do.", icon="⚠️")
        df = ablation_cached(ckpt, data, obj["neurons"], peek=True)
        n_runs = (1 + len(obj["neurons"])) * len(data)
        if df is None and st.button(f"Compute the ablation matrix ({n_runs:,} pair forwards)", key="neurons_ablation_run"):
            bar, step = progress_bar("Evaluating with neurons switched off…", cancel_key="neurons_ablation_cancel")
            df = ablation_cached(ckpt, data, obj["neurons"], progress=step)
            bar.empty()
        if df is None:
            st.caption("Not computed yet for this checkpoint, neuron file and data (results are cached on disk).")
            return
        chart = ablation_chart(df)
        st.altair_chart(chart, width="stretch")
        own = df[df.ablated != "none"]
        if len(own):
            worst = own.groupby("ablated")["delta"].min()
            hits = sum(((own.ablated == l) & (own.eval_lang == l) & (own.delta == worst[l]) & (own.delta < 0)).any()
                       for l in worst.index)
            st.caption(f"Switching off language L's neurons hurts L most (a real drop, the largest of its row) for "
                       f"{hits} of {len(worst)} languages; Tang et al. 2024 report this for LLMs.")
        figure_downloads(chart, df, "neuron_ablation", key="neurons_ablation_dl")


def render_comparison(paths: dict[str, str], default: list[str]) -> None:
    """The base model's language neurons inside tuned checkpoints, and neurons re-identified per checkpoint."""
    from mlt_core.charts.neurons import compare_probs_chart, jaccard_chart
    from mlt_core.neuron_cache import compare_checkpoints, default_corpora

    names = st.multiselect("Checkpoints (the first is the base)", list(paths), default=default,
                           key="neurons_compare_models", max_selections=4)
    if len(names) < 2:
        st.caption("Pick the base model and at least one tuned checkpoint.")
        return
    with user_errors(stop=False):
        corpora, _ = default_corpora()
        ckpts = [get_checkpoint(paths[n]) for n in names]
        res = compare_checkpoints(ckpts, corpora, peek=True)
        n_lines = len(names) * sum(map(len, corpora.values()))
        if res is None and st.button(f"Count activations of {len(names)} checkpoints ({n_lines:,} sentences)",
                                     key="neurons_compare_run"):
            bar, step = progress_bar("Counting FFN activations…", cancel_key="neurons_compare_cancel")
            res = compare_checkpoints(ckpts, corpora, progress=step)
            bar.empty()
        if res is None:
            st.caption("Not computed yet for these checkpoints (results are cached on disk).")
            return
        probs, overlap = res
        left, right = st.columns(2)
        with left:
            chart = compare_probs_chart(probs)
            st.altair_chart(chart, width="stretch")
            figure_downloads(chart, probs, "base_neurons_in_checkpoints", key="neurons_compare_probs_dl")
        with right:
            chart = jaccard_chart(overlap)
            st.altair_chart(chart, width="stretch")
            figure_downloads(chart, overlap, "neuron_jaccard_vs_base", key="neurons_compare_jaccard_dl")
