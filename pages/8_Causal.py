"""Causal: where does the trade-off live? Swap layers, patch activations, diff weights, interpolate, decision lens."""
import pandas as pd
import streamlit as st

from mlt_core.charts import causal as C
from mlt_core.data.langs import SAMPLE_LANGS
from ui import causal as Z
from ui.widgets.guard import user_errors
from ui.widgets.links import ensure_app_router

ensure_app_router()
st.title("Causal")
st.caption("Test where the English/Hindi trade-off lives instead of only where two models differ: run one model's "
           "lower layers under the other's upper layers, patch one pooled hidden state, see which weights moved, "
           "walk the straight line between two checkpoints. Same as `python -m mlt_core causal ...`.")

name_a, path_a, name_b, path_b = Z.model_pair()

(tp, th), (sp, sh) = Z.default_pairs()
st.session_state.setdefault("cz_premise", tp)
st.session_state.setdefault("cz_hypothesis", th)
st.session_state.setdefault("cz_src_premise", sp)
st.session_state.setdefault("cz_src_hypothesis", sh)
c1, c2 = st.columns(2)
premise = c1.text_area("Premise (target pair)", key="cz_premise", height=70)
hypothesis = c2.text_area("Hypothesis (target pair)", key="cz_hypothesis", height=70)

figs = []
tabs = st.tabs(["Layer swap", "Patching", "Weights", "Interpolation", "Decision lens"])

with tabs[0]:
    st.caption(f"Cut l: {name_a}'s embeddings and blocks below l, {name_b}'s blocks from l on, then {name_a}'s head "
               f"(and the mirror: {name_b}'s head). l = L with {name_a}'s head is {name_a}; l = 0 with {name_b}'s "
               "head is B when both share embeddings. Where accuracy on a language jumps is where it lives.")
    with user_errors(stop=False):
        figs.append(Z.figure("swap_pair", "This pair", C.swap_pair_chart,
                             Z.swap_pair_frame(path_a, path_b, premise, hypothesis), "cz"))
    with user_errors(stop=False):
        settings = Z.data_settings("cz_swap", 100)
        new = ({"a": path_a, "b": path_b, **settings}
               if st.button("Run swap curve", type="primary", key="cz_swap_run") and settings else None)
        figs.append(Z.run_dataset(Z.SWAP_KEY, new, Z.swap_curve, "Swapping layers…",
                                  ("swap_curve", "Accuracy per cut", C.swap_chart)))

with tabs[1]:
    st.caption("The hidden state of the pooled token (<s>, what the head reads; the last token for decoders) at "
               "layer l comes from the source: the pair's translation in the same model, or the same pair in the "
               "other model. Patching the last layer gives the source's prediction exactly.")
    c1, c2 = st.columns(2)
    src_p = c1.text_area("Source premise (e.g. the translation)", key="cz_src_premise", height=70)
    src_h = c2.text_area("Source hypothesis", key="cz_src_hypothesis", height=70)
    with user_errors(stop=False):
        figs.append(Z.figure("patch_pair", f"{name_a}: the source pair's pooled state patched in", C.patch_chart,
                             Z.patch_pair_frame(path_a, premise, hypothesis, src_p, src_h, None), "cz"))
        figs.append(Z.figure("patch_models", f"{name_b}'s pooled state patched into {name_a} (same pair)",
                             C.patch_chart, Z.patch_pair_frame(path_a, premise, hypothesis, None, None, path_b), "cz"))
    c1, c2, c3, c4 = st.columns(4)
    src_lang = c1.selectbox("Source language", SAMPLE_LANGS, index=0, key="cz_patch_src")
    tgt_lang = c2.selectbox("Target language", SAMPLE_LANGS, index=1, key="cz_patch_tgt")
    across = c3.toggle(f"Source states from {name_b}", key="cz_patch_across")
    n = c4.number_input("Parallel pairs", 2, 5000, 50, step=10, key="cz_patch_limit")
    new = ({"target": path_a, "source_model": path_b if across else None, "data": "sample", "source_lang": src_lang,
            "target_lang": tgt_lang, "limit": int(n)} if st.button("Run patching over the sample", key="cz_patch_run")
           else None)
    figs.append(Z.run_dataset(Z.PATCH_KEY, new, Z.patch_means, "Patching…",
                              ("patch_dataset", "Mean effect per layer", C.patch_dataset_chart)))

with tabs[2]:
    st.caption("||W_tuned − W_base|| / ||W_base|| per layer and module, read tensor by tensor from the safetensors "
               "files (base: mlt.json's 'base', or the one chosen here). White cells are exactly unchanged: lape/random/ffn runs show where "
               "training could write.")
    figs.append(Z.render_weights({name_a: path_a, name_b: path_b}))

with tabs[3]:
    st.caption(f"(1 − a)·{name_a} + a·{name_b} for a from 0 to 1, each a private copy evaluated per language; dashed: "
               "the task-arithmetic merge base + (A − base) + (B − base). Can one model keep both languages?")
    with user_errors(stop=False):
        settings = Z.data_settings("cz_interp", 60)
        c1, c2 = st.columns(2)
        steps = c1.number_input("Steps of a", 2, 41, 11, key="cz_interp_steps")
        merge = c2.toggle("Task arithmetic merge", value=True, key="cz_interp_merge")
        new = ({"a": path_a, "b": path_b, **settings, "steps": int(steps), "merge": bool(merge)}
               if st.button("Run interpolation", key="cz_interp_run") and settings else None)
        figs.append(Z.run_dataset(Z.INTERP_KEY, new, Z.interpolation, "Interpolating…",
                                  ("interpolation", "Accuracy along A → B", C.interpolation_chart)))

with tabs[4]:
    st.caption(f"A linear probe per layer (trained once per model on the bundled sample, {Z.LENS_LIMIT} pairs per "
               "language, and cached) reads p(label) off the pair's mean-pooled state: where the decision forms.")
    train = st.button("Train probes", key="cz_lens_run")
    with user_errors(stop=False):
        frames = [f for p in dict.fromkeys([path_a, path_b]) if (f := Z.lens_frame(p, premise, hypothesis, train))
                  is not None]
        if frames:
            figs.append(Z.figure("lens", "Decision lens", C.lens_chart, pd.concat(frames, ignore_index=True), "cz"))
        else:
            st.info("The probes are not trained yet: **Train probes** (one pass over the sample per model, cached).")

st.header("Export")
Z.report_button(figs)
