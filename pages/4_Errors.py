"""Errors: misclassified examples, filterable and sortable; each with its parallel versions and every model's prediction."""
import streamlit as st

from mlt_core.errors import MltError
from mlt_core.data.labels import LABELS
from ui import errors as E
from ui.widgets import state
from ui.widgets.guard import user_errors
from ui.widgets.links import ensure_app_router, open_in_playground

ensure_app_router()
for note in state.restore("errors", {}):  # a link's ?models= selects those models
    st.warning(note)
st.title("Errors")
st.caption("What the models get wrong, most confidently wrong first. Pick a row to see the same pair in the other "
           "languages with every model's prediction, and open it in the Playground to look inside.")

params = st.session_state.get(E.EVAL_KEY)
if not params:
    st.info("No evaluation in this session yet: run one on the Evaluation page, or evaluate the selected models "
            "on the bundled sample now.")
    E.offer_quick_run()

try:
    ev, _ = E.run(params)
except MltError as e:  # e.g. an upload no longer in the cache: say so, and still offer a way on
    st.error(str(e), icon="⚠️")  # load_data already words it for the app
    st.info("Run the evaluation again on the Evaluation page, or evaluate the selected models on the bundled "
            "sample now.")
    E.offer_quick_run()
errors = E.errors_frame(ev)
st.caption(f"{len(errors)} errors in {len(ev.predictions)} predictions ({', '.join(ev.models)} on "
           f"{E.data_label(params['data'])})")

# two rows: six filters side by side left ~130 px each at 1280 px ("Choose o…", chosen chips hidden)
c = st.columns(4)
models = c[0].multiselect("Model", list(ev.models), key="err_models", placeholder="any model")
langs = c[1].multiselect("Language", ev.langs, key="err_langs", placeholder="any language")
gold = c[2].multiselect("Gold", list(LABELS), key="err_gold", placeholder="any label")
pred = c[3].multiselect("Predicted", list(LABELS), key="err_pred", placeholder="any label")
c = st.columns([1, 2])
min_conf = c[0].slider("Min confidence", 0.0, 1.0, 0.0, 0.05, key="err_conf", format="percent")
text = c[1].text_input("Search text or id", key="err_text")
view = E.filter_errors(errors, models, langs, gold, pred, min_conf, text)
if view.empty:
    st.info("No errors match these filters." if len(errors) else "No errors at all: every prediction is right.")
    st.stop()

event = st.dataframe(view, key="err_table", on_select="rerun", selection_mode="single-row", hide_index=True,
                     height=360, width="stretch",
                     # the picked row's premise and hypothesis are shown in full below: the table keeps
                     # the premise as a cue and fits 790 px (hypothesis and length stay in the data/CSV)
                     column_order=["model", "lang", "id", "gold", "predicted", "confidence", "premise"],
                     column_config={
                         "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0.0,
                                                                       max_value=1.0, width="small"),
                         "premise": st.column_config.TextColumn(width="medium"),  # truncated; hover for all
                         **{c: st.column_config.Column(width="small") for c in ("lang", "id")}})
rows = event.selection.rows if event is not None else []
if rows:
    i = rows[0]
else:
    shown = min(len(view), 500)
    i = st.selectbox("Error to inspect (or select a row above)", range(shown), key="err_pick",
                     format_func=lambda k: f"{view.at[k, 'model']} · {view.at[k, 'lang']} · {view.at[k, 'id']}: "
                                           f"{view.at[k, 'gold']} → {view.at[k, 'predicted']}")
r = view.iloc[i]

st.subheader(f"{r['id']} ({r['lang']}): {r['model']} said {r['predicted']} ({r['confidence']:.0%}), gold {r['gold']}")
st.markdown(f"**Premise:** {r['premise']}  \n**Hypothesis:** {r['hypothesis']}")
st.markdown("**The same pair in every evaluated language** (✓ right, ✗ wrong; confidence in brackets)")
parallel = E.parallel_frame(ev, r["id"])
texts = ["premise", "hypothesis"]
wide = len(parallel.columns) - 4 > 1  # 2+ models: predictions and texts as two tables, each fits 790 px
st.dataframe(parallel, hide_index=True, key="err_parallel", width="stretch",
             column_order=[c for c in parallel.columns if not (wide and c in texts)],
             column_config={"lang": st.column_config.Column(width="small"),
                            **{t: st.column_config.TextColumn(width="medium") for t in texts}})
if wide:
    st.dataframe(parallel, hide_index=True, key="err_parallel_texts", width="stretch",
                 column_order=["lang", *texts], column_config={"lang": st.column_config.Column(width="small")})
if st.button("Open this pair in the Playground", key="err_playground", type="primary"):
    with user_errors():
        open_in_playground(params["models"], r["premise"], r["hypothesis"])
