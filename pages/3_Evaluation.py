"""Evaluation: accuracy (with CIs), language bias, transfer, per-label errors and calibration per language."""
import streamlit as st

from mlt_core.data.langs import SAMPLE_LANGS
from mlt_core.errors import MltError
from ui import evaluation as E
from ui.widgets import state
from ui.widgets.guard import user_errors
from ui.widgets.links import ensure_app_router
from ui.widgets.models import available_checkpoints, selected_models

ensure_app_router()
for note in state.restore("eval", {}):  # a link's ?models= selects those models
    st.warning(note)
st.title("Evaluation")
st.caption("Every selected model on every chosen language, at dataset scale. Results are cached on disk per "
           "checkpoint and data shard: running again is instant, and a new model or language computes only "
           "what is missing. Same as `python -m mlt_core evaluate`.")

known = {c["name"]: c["path"] for c in available_checkpoints()}
for p in selected_models():
    known.setdefault(p.rstrip("/").split("/")[-1], p)
if not known:
    st.info("No checkpoints in models/ yet: build the demo ones on the Home page.")
    st.stop()
# in the selection's order (a link's ?models= order): model 1 first
default = [n for p in selected_models() for n, q in known.items() if q == p] or list(known)[:2]

c1, c2 = st.columns([2, 1])
names = c1.multiselect("Models", list(known), default=default, key="ev_models", max_selections=4)
limit = c2.number_input("Examples per language (0 = all)", 0, 100_000, 300, step=50, key="ev_limit")
with user_errors():
    source = E.data_picker("ev")
    if not source:
        st.info("Upload a file to evaluate on it.")
        st.stop()
    available = list(E.XNLI_LANGS) if source == "xnli" else list(dict.fromkeys(E.load_data(source, None, None)["lang"]))
# the choice lives in session state only (a widget default on top of it makes Streamlit warn); another
# data source may lack some of the languages chosen before
chosen = st.session_state.get("ev_langs", [l for l in available if l in SAMPLE_LANGS] or available[:2])
st.session_state["ev_langs"] = [l for l in chosen if l in available]
langs = st.multiselect("Languages", available, key="ev_langs")

new = None  # the settings of a Run pressed now: remembered only once they evaluate without error
if st.button("Run evaluation", type="primary", key="ev_run"):
    if not names or not langs:
        st.error("Pick at least one model and one language.", icon="⚠️")
        st.stop()
    new = {"models": [known[n] for n in names], "data": source, "langs": langs, "limit": int(limit) or None}
last = st.session_state.get(E.EVAL_KEY)
params = new or last
if not params:
    st.info("Choose models, data and languages, then **Run evaluation**.")
    st.stop()

try:
    ev, data = E.run(params)
except MltError as e:  # shown once: a failed Run is not remembered, the last good one stays the session's
    st.error(str(e), icon="⚠️")  # load_data already words it for the app
    if new is None or not last or last == new:
        st.stop()
    params = last
    st.info("Still showing the last evaluation that ran.")
    with user_errors():
        ev, data = E.run(params)
else:
    if new is not None:
        st.session_state[E.EVAL_KEY] = new
st.caption(f"Showing {', '.join(ev.models)} on {E.data_label(params['data'])}, languages {', '.join(ev.langs)}, "
           f"{params['limit'] or 'all'} examples per language"
           + (" (all from cache)" if not ev.computed else f" ({ev.computed} examples computed now)"))

figs = E.evaluation_figures(ev)
st.header("Accuracy")
acc_table = E.accuracy_table(ev)
# the 95% intervals are drawn in the chart below (and kept in the data): with them, 4 languages ran past 790 px
st.dataframe(acc_table, hide_index=True, key="ev_acc_table", column_config=E.accuracy_config(acc_table),
             column_order=[c for c in acc_table.columns if not c.endswith("CI")])
for f in figs["Accuracy"]:
    E.show_figure(f, f"ev_{f.key}")
st.header("Which labels suffer")
for f in figs["Labels"]:
    E.show_figure(f, f"ev_{f.key}")
st.header("Calibration")
st.dataframe(E.calibration_table(ev), hide_index=True, key="ev_cal_table", column_config=E.CALIBRATION_CONFIG)
for f in figs["Calibration"]:
    E.show_figure(f, f"ev_{f.key}")

st.header("Inside the models")
st.caption("Mean attention entropy per layer, CKA/cosine between two models, cross-lingual alignment of parallel "
           "pairs, linear probes and 2-D projections of mean-pooled hidden states, on the first evaluated examples of "
           "each language: kept by the evaluation's own pass (for the number below when it ran), so showing them runs "
           "no model.")
n_int = st.number_input("Examples per language for internals", 10, 2000, 100, step=10, key="ev_int_limit")
if st.button("Compute internals", key="ev_int_run"):
    st.session_state[E.INTERNALS_KEY] = {"limit": int(n_int), "params": params}
extra = {}
internals = st.session_state.get(E.INTERNALS_KEY)
if internals and internals["params"] == params:
    with user_errors():
        extra["Inside the models"] = E.internals_figures(params, internals["limit"],
                                                         [i["source"] for i in ev.models.values()])

st.header("Export")
E.report_button(ev, extra)
