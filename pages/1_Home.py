"""Home: the checkpoints in models/ and which of them (1 to 4) every page compares."""
import streamlit as st

from mlt_core.demo import e5_source, is_toy
from ui.widgets import state
from ui.widgets.links import ensure_app_router
from ui.widgets.models import MAX_MODELS, available_checkpoints, selected_models
from ui.home import build_demo_command, checkpoint_table, run_streaming

ensure_app_router()
st.title("mlt: what fine-tuning in one language does to the others")
st.caption("XLM-R-style encoders fine-tuned on NLI in English vs Hindi: accuracy per language, bias, calibration, "
           "and where inside the model they diverge. Pick the models to compare, then open a page on the left.")
for note in state.restore("home", {}):
    st.warning(note)

rows = available_checkpoints()
if not rows:
    st.info("No checkpoints in models/ yet. Build the demo ones from the bundled data: a few minutes on a CPU, "
            "no download (the same as `python -m mlt_core demo`). Keep this page open while it runs.")
    if st.button("Build demo checkpoints", key="home_build_demo", type="primary"):
        with st.status("Building demo checkpoints…", expanded=True) as status:
            box, lines = st.empty(), []

            def show(line: str) -> None:
                lines.append(line)
                box.code("\n".join(lines[-30:]), language=None)

            rc = run_streaming(build_demo_command(), show)
            if rc == 0:
                status.update(label="Demo checkpoints built", state="complete", expanded=False)
                available_checkpoints.clear()
                st.rerun()
            status.update(label=f"Building the demo checkpoints failed (exit code {rc})", state="error")
            st.error("The build stopped; its last lines are above. Run `python -m mlt_core demo` in a terminal "
                     "for the full log.", icon="⚠️")
    st.stop()

table = checkpoint_table(rows)
paths = dict(zip(table["name"], table["path"]))
untrained = dict(zip(table["name"], table["untrained_head"]))

st.subheader("Checkpoints")
acc_cols = [c for c in table.columns if c.startswith("acc_")]
shown = table.drop(columns=["path"])
for c in acc_cols:  # one format for accuracy (73.7%), a dash where there is none (a base): no raw "None"
    shown[c] = [f"{100 * a:.1f}%" if isinstance(a, (int, float)) and a == a else "—" for a in shown[c]]
st.dataframe(  # every column fits a 1280-px projector: short labels, accuracy columns named by language
    shown, hide_index=True, width="stretch", key="home_table",
    column_config={
        "name": st.column_config.TextColumn("name", width="small"),
        "base": st.column_config.TextColumn("base", width="small", help="what it was fine-tuned from"),
        "method": st.column_config.TextColumn("method", width="small"),
        "untrained_head": st.column_config.CheckboxColumn("⚠ head", width="small",
                                                          help="untrained classifier head: predictions are noise"),
        "train_langs": st.column_config.TextColumn("trained on", width="small"),
        **{c: st.column_config.TextColumn(c[4:], width="small", help=f"accuracy on {c[4:]} (bundled sample)")
           for c in acc_cols},
    },
)
toys = [r["name"] for r in rows if is_toy(r["meta"])]
if toys:
    st.info(f"**{', '.join(toys)}: toy demo checkpoints**, a 0.3M-parameter encoder trained from scratch on template "
            "sentences, not a pretrained multilingual model: what they show across languages is not the real "
            "effect. `python -m mlt_core demo` builds the realistic set (multilingual-e5-small).", icon="🧸")
e5 = [r["name"] for r in rows if r["meta"].get("demo_size") == "e5-small"]
if e5:
    st.caption(f"{', '.join(e5)}: intfloat/multilingual-e5-small (12 layers x 12 heads, XLM-R's tokenizer; "
               f"{e5_source(rows)}), FFN + head fine-tuned on generated NLI pairs; accuracy on the bundled sample.")
for name in [n for n, u in untrained.items() if u]:
    st.warning(f"**{name}**: untrained classification head. Its predictions are noise; comparing against it "
               "is meaningless (use it for representations, attention and language neurons).", icon="⚠️")

st.subheader("Compare")
current = [state.model_name(p) for p in selected_models() if state.model_name(p) in paths]
st.session_state["home_models"] = current  # mirror the shared selection (it may change on other pages)


def _apply_selection() -> None:
    picked = st.session_state.get("home_models") or []
    if picked:
        state.set_selected_models([paths[n] for n in picked])
    else:
        st.session_state["_home_empty_pick"] = True


st.multiselect(
    f"Models to compare (1 to {MAX_MODELS}; models 1 and 2 are compared layer by layer)", list(paths),
    key="home_models", max_selections=MAX_MODELS, on_change=_apply_selection,
    format_func=lambda n: f"{n}  ⚠ untrained head" if untrained.get(n) else n,
)
if st.session_state.pop("_home_empty_pick", False):
    st.info("Keep at least one model selected; the previous selection stays.")
if st.button("Open the Playground →", key="home_open_playground", type="primary"):
    st.switch_page("pages/2_Playground.py")

state.publish("home", {})
