"""Attributions: which tokens drove each model's prediction, six ways, and how faithful each way is."""
import streamlit as st

from mlt_core.attribution.attribute import METHODS
from mlt_core.attribution.faithfulness import CONVENTIONS, DEFAULT_CONVENTION, EPS
from mlt_core.charts.attributions import METRICS, chips_html, faithfulness_bars, faithfulness_lines, legend_html
from mlt_core.data.labels import LABELS
from ui import attributions as A
from ui.widgets import state
from ui.widgets.download import figure_downloads
from ui.widgets.guard import user_errors
from ui.widgets.links import ensure_app_router
from ui.widgets.models import selected_models
from ui.widgets.progress import cancelled

ensure_app_router()
st.title("Attributions")
st.caption("Token scores for the predicted (or a chosen) label: last-layer attention, attention x gradient, "
           "input x gradient, integrated gradients (Captum) and DeepLIFT (rescale rule, attention and norm scales held "
           "at the input's, Ali et al. 2022), on the word embeddings; a score is the sum over the embedding dimension, "
           "signed. Below: are they faithful? Erase the top tokens and watch "
           "the prediction (NS/NC and Soft-NS/NC, Zhao & Aletras 2024), with a random ranking as the floor. "
           "Same as `python -m mlt_core attribute --faithfulness`.")
for note in state.restore("attr", {"premise": ("attr_premise", state.parse_text()),
                                   "hypothesis": ("attr_hypothesis", state.parse_text()),
                                   "steps": ("attr_steps", state.parse_int(1, 300))}):
    st.warning(note)

paths = selected_models()
if not paths:
    st.info("No checkpoints in models/ yet: build the demo ones on the Home page.")
    st.stop()
premise0, hypothesis0 = A.default_pair()
st.session_state.setdefault("attr_premise", premise0)
st.session_state.setdefault("attr_hypothesis", hypothesis0)
c1, c2 = st.columns(2)
premise = c1.text_area("Premise", key="attr_premise", height=80)
hypothesis = c2.text_area("Hypothesis", key="attr_hypothesis", height=80)
c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
# DeepLIFT is offered but not on by default (its baseline logit is that of a treated network: see its help)
methods = c1.multiselect("Methods", list(METHODS), default=[m for m in METHODS if m != "deeplift"], key="attr_methods",
                         help="\n".join(f"- **{m}**: {h}" for m, h in METHODS.items()))
target = c2.selectbox("Explain", ["predicted", *LABELS], key="attr_target")
steps = c3.number_input("IG steps", 1, 300, 20, key="attr_steps", help="Integrated-gradients steps (batched)")
absolute = c4.toggle("|score|", key="attr_abs", help="Shade by magnitude only")
convention = st.radio("NS/NC convention", list(CONVENTIONS), horizontal=True, key="attr_convention",
                      index=list(CONVENTIONS).index(DEFAULT_CONVENTION),
                      help="\n".join(f"- **{k}**: {v}" for k, v in CONVENTIONS.items()))
if not methods:
    st.info("Pick at least one method.")
    st.stop()

# computed on a button (71 s for two base models at full size), with progress, estimate and Cancel
pair_key = (tuple(paths), premise, hypothesis, tuple(methods), target, int(steps), convention)
run = st.button("Run", type="primary", key="attr_run", help="Attribute and score faithfulness for every model")
results = {}
if cancelled("attr_cancel"):
    st.info("Cancelled. Models already finished are cached: **Run** resumes.")
elif run or st.session_state.get("attr_done") == pair_key:
    with user_errors():
        results = A.run_pairs(paths, premise, hypothesis, tuple(methods), None if target == "predicted" else target,
                              int(steps), cancel_key="attr_cancel", convention=convention)
        st.session_state["attr_done"] = pair_key
else:
    st.info(f"Press **Run** to attribute this pair with {len(methods)} methods for {len(paths)} models "
            "(seconds on small models; about a minute for two base-size models on a CPU).")

if results:
    st.html(legend_html())
for col, (path, res) in zip(st.columns(len(paths)), results.items()):
    col.subheader(A.model_name(path))
    probs = "  ".join(f"{k} {v:.2f}" for k, v in res["probs"].items())
    col.caption(f"predicts **{res['predicted']}** ({probs}); explaining **{res['target']}**")
    if res["untrained"]:
        col.warning("Untrained classification head: its predictions, and so these scores, are noise.", icon="⚠️")
    for w in res["warnings"]:
        col.warning(w, icon="⚠️")
    for m in methods:
        if m in res["errors"]:
            col.caption(f"**{m}**: n/a. {res['errors'][m]}")
            continue
        rows = res["scores"][res["scores"]["method"] == m]
        col.html(chips_html(rows, absolute=absolute, label=m))

if results:
    st.header("Faithfulness of this pair")
    st.caption(f"Convention: **{convention}** ({CONVENTIONS[convention]}).")
    metric = st.radio("Curve", list(METRICS)[:2], horizontal=True, key="attr_curve",
                      format_func=lambda m: METRICS[m].replace(" (AOPC)", " per rationale size"))
for path, res in results.items():  # one model under another: six table columns do not fit a quarter screen
    col = st.container(key=f"attr_faith_box_{A.model_name(path)}")
    name = A.model_name(path)
    col.markdown(f"**{name}**: p({res['target']}) = {res['probs'][res['target']]:.3f}, "
                 f"S0 = {res['summary']['S0'].dropna().iloc[0]:.3f}" if res["summary"]["S0"].notna().any() else name)
    table = A.summary_table(res["summary"])
    s0 = res["summary"]["S0"].dropna()
    if len(s0) and 1.0 - float(s0.iloc[0]) < EPS:
        col.info(f"NS and NC are undefined for {name} on this pair: with every token erased it is at least as sure "
                 f"of {res['target']} as with all of them (S0 = 1), and both are divided by 1 − S0. "
                 + ("The reference convention scores it anyway, with S0 − 1e-4 (so 0 or 1)." if convention == "reference"
                    else "Try another pair; the dataset-scale means below leave such pairs out."))
    col.dataframe(table, hide_index=True, key=f"attr_faith_{name}", width="stretch",
                  column_config={"note": st.column_config.TextColumn(width="medium"),
                                 **{c: st.column_config.NumberColumn(format="%.3f", width="small")
                                    for c in table.columns[1:5]}})
    if len(res["per_ratio"]):
        chart = faithfulness_lines(res["per_ratio"], metric)
        col.altair_chart(chart, width="stretch", key=f"attr_curve_{name}")
        with col:
            figure_downloads(chart, res["per_ratio"], f"faithfulness-{name}", key=f"attr_dl_{name}")

st.header("At dataset scale")
st.caption("Mean NS/NC/Soft-NS/Soft-NC per method, model and language on the bundled sample (test split); "
           "NS/NC are AOPC over rationale sizes 1-100%. Integrated gradients is slow on a CPU: keep N small. "
           "Results are cached on disk per checkpoint, data and settings.")
c1, c2, c3 = st.columns([2, 1, 1])
ds_langs = c1.multiselect("Languages", list(A.SAMPLE_LANGS), default=list(A.SAMPLE_LANGS), key="attr_ds_langs")
ds_n = c2.number_input("Examples per language", 1, 300, 20, key="attr_ds_n")
ds_steps = c3.number_input("IG steps", 1, 300, 20, key="attr_ds_steps")
settings = A.dataset_settings(ds_langs, ds_n, methods, ds_steps, convention=convention)
per_example = None
with user_errors():
    if not ds_langs:
        st.info("Pick at least one language.")
    elif st.button("Run", type="primary", key="attr_ds_run"):
        per_example = A.run_dataset(paths, settings)
    else:
        per_example = A.cached_dataset(paths, settings)
        if per_example is None:
            st.info("Not computed yet for these models and settings: press **Run**.")
if per_example is not None:
    table = A.dataset_table(per_example)
    st.caption(f"Convention: **{convention}**. *undefined*: the share of each group's examples where 1 − S0 < 1e-4 "
               + ("(scored with S0 − 1e-4, as the reference code does); " if convention == "reference" else
                  "(left out of the means); ") + "*n*: examples in the means, of *examples*.")
    ds_metric = st.radio("Metric", list(METRICS), horizontal=True, key="attr_ds_metric", format_func=METRICS.get)
    chart = faithfulness_bars(table, ds_metric)
    st.altair_chart(chart, key="attr_ds_chart")
    st.dataframe(table, hide_index=True, key="attr_ds_table",
                 column_config={**{c: st.column_config.NumberColumn(format="%.3f") for c in METRICS},
                                "undefined": st.column_config.NumberColumn(format="percent")})
    figure_downloads(chart, per_example, "faithfulness-dataset", key="attr_ds_dl")

state.publish("attr", {"premise": premise, "hypothesis": hypothesis, "steps": int(steps)})
